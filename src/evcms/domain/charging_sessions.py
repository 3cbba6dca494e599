"""Charging sessions as a fold over their events (pure).

Every station message about a session becomes a ``SessionEvent`` with a ``key`` that is the same
when the station sends the message again (a retry, an offline replay). Events are stored once per
key; the session is the fold of its events sorted by ``(seq_no, at, key)``. So:

- a message delivered twice changes nothing the second time (same key, event already stored);
- events delivered out of order end in the same state as in order (the fold sorts them);
- an event that arrives after the session ended (a late meter value) is still counted.

Keys and sequence numbers: OCPP 2.0.1 TransactionEvents carry ``seqNo`` (key ``seq:N``). OCPP 1.6
has none: StartTransaction is ``start`` (seq 0), MeterValues ``meter:<timestamp>`` (seq 1, ordered
by time), StopTransaction ``stop`` (seq ``STOP_SEQ``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from evcms.domain.ids import StationId
from evcms.domain.metering import (
    ZERO,
    EnergyCounter,
    Measurand,
    MeterSample,
)

STOP_SEQ = 2**31 - 1


class SessionStatus(enum.StrEnum):
    ACTIVE = "Active"
    ENDED = "Ended"


class EventKind(enum.StrEnum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One station message about a session, version-neutral."""

    key: str
    kind: EventKind
    seq_no: int
    at: datetime  # the station's timestamp
    samples: tuple[MeterSample, ...] = ()
    meter_wh: Decimal | None = None  # 1.6 meterStart / meterStop
    id_token: str | None = None
    reason: str | None = None  # 2.0.1 triggerReason / stoppedReason, 1.6 stop reason
    offline: bool = False
    charging_state: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    number_of_phases: int | None = None  # 2.0.1 numberOfPhasesUsed


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the events of a session add up to."""

    status: SessionStatus = SessionStatus.ACTIVE
    started_at: datetime | None = None
    ended_at: datetime | None = None
    id_token: str | None = None
    stop_id_token: str | None = None
    stop_reason: str | None = None
    meter_start_wh: Decimal | None = None
    meter_stop_wh: Decimal | None = None
    energy: EnergyCounter = field(default_factory=EnergyCounter)
    last_seq_no: int = -1
    last_at: datetime | None = None
    offline: bool = False
    charging_state: str | None = None
    number_of_phases: int | None = None
    power_w: Decimal | None = None
    soc_percent: Decimal | None = None
    last_sample_at: datetime | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    seen_start: bool = False

    @property
    def energy_wh(self) -> Decimal:
        return self.energy.energy_wh

    def follows(self, event: SessionEvent) -> bool:
        """Whether ``event`` comes after every event applied so far (incremental apply is exact).

        Strictly after: an event equal in (seq_no, at) to the last one is that event again (applying
        it twice would count its samples twice) or a different message whose place among its equals
        only a refold can tell.
        """
        if self.last_at is None:
            return True
        return (event.seq_no, event.at) > (self.last_seq_no, self.last_at)


_BEGIN = "Transaction.Begin"
_END = "Transaction.End"


def _sort_key(event: SessionEvent) -> tuple[int, datetime, str]:
    # the key breaks ties between different messages with equal (seq_no, at): any arrival order
    # folds the same
    return (event.seq_no, event.at, event.key)


def begin_register(event: SessionEvent) -> Decimal | None:
    """The register at the start: 1.6 meterStart, else a Transaction.Begin energy sample."""
    if event.meter_wh is not None:
        return event.meter_wh
    for sample in event.samples:
        if sample.is_energy_register and sample.context == _BEGIN:
            return sample.value
    return None


def _has_stop_register(event: SessionEvent) -> bool:
    return event.meter_wh is not None or any(
        s.is_energy_register and s.context == _END for s in event.samples
    )


def apply(state: SessionState, event: SessionEvent) -> SessionState:
    """Apply one event that follows all applied so far (see ``SessionState.follows``).

    Which register readings count (``metering.energy_wh`` over what is left):

    - the register at the start (1.6 meterStart, a Transaction.Begin sample) is the baseline; a
      Transaction.Begin sample once the baseline is known is not a reading (1.6 stations repeat it
      in MeterValues and in StopTransaction's transactionData);
    - a sample older than the newest sample already applied is stale, not a restart of the
      register (transactionData repeats the session's samples): skipped. Skipping is safe, since
      only differences count; counting it would add the whole register;
    - the register at the stop (1.6 meterStop, a Transaction.End sample) always counts.

    Power is 0 from the end on. Of several Ended events, the last (in fold order) that carries the
    stop register sets the end; one without a register only ends a session not yet ended (evcms
    force-closing a stuck session must not hide the station's own stop, in whatever order).
    """
    changes: dict[str, object] = {"last_seq_no": event.seq_no, "last_at": event.at}
    counter = state.energy
    ended = state.status is SessionStatus.ENDED
    meter_start = state.meter_start_wh
    if event.kind is EventKind.STARTED:
        changes.update(seen_start=True, started_at=event.at)
        start = begin_register(event)
        if start is not None:
            meter_start = start
            if counter.last_register_wh is None:
                counter = EnergyCounter.starting_at(start)
    elif state.started_at is None:
        changes["started_at"] = event.at  # a session known only from later messages
    if event.id_token and state.id_token is None:
        changes["id_token"] = event.id_token
    if event.offline:
        changes["offline"] = True
    if event.charging_state is not None:
        changes["charging_state"] = event.charging_state
    if event.number_of_phases is not None:
        changes["number_of_phases"] = event.number_of_phases
    for name in ("evse_id", "connector_id"):
        value = getattr(event, name)
        if value is not None and getattr(state, name) is None:
            changes[name] = value
    newest_before = state.last_sample_at
    for sample in sorted(event.samples, key=lambda s: s.at):
        if sample.is_energy_register:
            if sample.context == _BEGIN:
                if meter_start is None:
                    meter_start = sample.value
                if counter.last_register_wh is None:
                    counter = counter.add(sample.value)
            elif (
                sample.context == _END
                or newest_before is None
                or sample.at >= newest_before
            ):
                counter = counter.add(sample.value)
        if sample.phase is None and sample.measurand == Measurand.POWER_IMPORT and not ended:
            changes["power_w"] = sample.value
        if sample.measurand == Measurand.SOC:
            changes["soc_percent"] = sample.value
        if state.last_sample_at is None or sample.at >= state.last_sample_at:
            changes["last_sample_at"] = sample.at
    if meter_start is not None:
        changes["meter_start_wh"] = meter_start
    if event.kind is EventKind.ENDED and (not ended or _has_stop_register(event)):
        changes.update(
            status=SessionStatus.ENDED,
            ended_at=event.at,
            stop_reason=event.reason,
            stop_id_token=event.id_token,
            power_w=ZERO,
        )
        if event.meter_wh is not None:
            changes["meter_stop_wh"] = event.meter_wh
            counter = counter.add(event.meter_wh)
        else:
            end = [s for s in event.samples if s.is_energy_register and s.context == _END]
            if end:
                changes["meter_stop_wh"] = max(end, key=lambda s: s.at).value
    changes["energy"] = counter
    return replace(state, **changes)  # type: ignore[arg-type]


def fold(events: Iterable[SessionEvent]) -> SessionState:
    """The state of a session from all its events, in any order, duplicates ignored."""
    unique: dict[str, SessionEvent] = {}
    for event in events:
        unique.setdefault(event.key, event)
    state = SessionState()
    for event in sorted(unique.values(), key=_sort_key):
        state = apply(state, event)
    return state


def apply_or_refold(
    state: SessionState, event: SessionEvent, all_events: Sequence[SessionEvent] | None
) -> SessionState:
    """Apply in order when possible; otherwise refold from every event (``all_events``)."""
    if state.follows(event):
        return apply(state, event)
    if all_events is None:
        raise ValueError("an out-of-order event needs all the session's events to refold")
    return fold([*all_events, event])


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """A stored session: identity plus its folded state."""

    id: int
    station_id: StationId
    transaction_id: str  # 1.6: our integer as text; 2.0.1: the station's transactionId
    state: SessionState
    evse_id: int
    connector_id: int
    created_at: datetime
    updated_at: datetime
    driver_id: str | None = None
    ocpp_version: str = ""
    closed_by: str | None = None  # who force-closed it, if anyone
    close_note: str | None = None


__all__ = [
    "STOP_SEQ",
    "ChargingSession",
    "EventKind",
    "SessionEvent",
    "SessionState",
    "SessionStatus",
    "apply",
    "apply_or_refold",
    "fold",
]
