"""Charging sessions as a fold over their events: scenarios as stations produce them, properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.charging_sessions import (
    STOP_SEQ,
    EventKind,
    SessionEvent,
    SessionState,
    SessionStatus,
    apply,
    apply_or_refold,
    fold,
)
from evcms.domain.metering import Measurand, MeterSample, energy_wh

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
D = Decimal
ENERGY = Measurand.ENERGY_IMPORT_REGISTER.value
STARTED, UPDATED, ENDED = EventKind.STARTED, EventKind.UPDATED, EventKind.ENDED


# --- builders -----------------------------------------------------------------------------


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reg(
    minutes: float,
    wh: str | Decimal,
    context: str | None = None,
    *,
    phase: str | None = None,
    location: str | None = None,
) -> MeterSample:
    """An energy import register sample (already normalised to Wh)."""
    return MeterSample(at(minutes), ENERGY, D(wh), "Wh", phase=phase, location=location, context=context)


def power(minutes: float, w: str | Decimal, *, phase: str | None = None) -> MeterSample:
    return MeterSample(at(minutes), Measurand.POWER_IMPORT.value, D(w), "W", phase=phase)


def soc(minutes: float, percent: str | Decimal) -> MeterSample:
    return MeterSample(at(minutes), Measurand.SOC.value, D(percent), "Percent", location="EV")


# OCPP 1.6: StartTransaction / MeterValues / StopTransaction


def v16_start(minutes: float, meter_start: str, id_tag: str = "RFID-1", connector: int = 1) -> SessionEvent:
    return SessionEvent(
        "start", STARTED, 0, at(minutes), meter_wh=D(meter_start), id_token=id_tag,
        evse_id=connector, connector_id=connector,
    )


def v16_meter(*samples: MeterSample) -> SessionEvent:
    first = min(s.at for s in samples)
    return SessionEvent(f"meter:{first.isoformat()}", UPDATED, 1, first, samples=samples)


def v16_stop(
    minutes: float, meter_stop: str, reason: str | None = "Local", id_tag: str | None = "RFID-1",
    samples: tuple[MeterSample, ...] = (),
) -> SessionEvent:
    return SessionEvent(
        "stop", ENDED, STOP_SEQ, at(minutes), meter_wh=D(meter_stop), id_token=id_tag, reason=reason,
        samples=samples,
    )


# OCPP 2.0.1: TransactionEvent Started / Updated / Ended


def v201(
    seq: int, kind: EventKind, minutes: float, *samples: MeterSample, **fields: object
) -> SessionEvent:
    return SessionEvent(f"seq:{seq}", kind, seq, at(minutes), samples=samples, **fields)  # type: ignore[arg-type]


def folded_in_arrival_order(arrivals: list[SessionEvent]) -> SessionState:
    """What the service does: apply each event as it arrives, refolding from what it has stored."""
    state, stored = SessionState(), list[SessionEvent]()
    for event in arrivals:
        state = apply_or_refold(state, event, stored)
        stored.append(event)
    return state


# --- scenarios: OCPP 1.6 ------------------------------------------------------------------

V16_SESSION = [
    v16_start(0, "1000"),
    v16_meter(reg(5, "1500"), power(5, "7200")),
    v16_meter(reg(10, "2500"), power(10, "11000"), reg(10, "1300", phase="L1")),
    v16_stop(15, "3000", reason="Local", id_tag="RFID-1"),
]


def test_v16_a_session_from_start_to_stop() -> None:
    state = fold(V16_SESSION)
    assert state.status is SessionStatus.ENDED
    assert (state.started_at, state.ended_at) == (at(0), at(15))
    assert (state.id_token, state.stop_id_token, state.stop_reason) == ("RFID-1", "RFID-1", "Local")
    assert (state.meter_start_wh, state.meter_stop_wh) == (D("1000"), D("3000"))
    assert state.energy_wh == D("2000")
    assert state.power_w == 0  # nothing flows after the end
    assert (state.evse_id, state.connector_id) == (1, 1)
    assert state.seen_start
    assert state.last_sample_at == at(10)


def test_v16_an_active_session_shows_live_energy_and_power() -> None:
    state = fold(V16_SESSION[:3])
    assert state.status is SessionStatus.ACTIVE
    assert state.ended_at is None and state.stop_id_token is None and state.meter_stop_wh is None
    assert state.energy_wh == D("1500")
    assert state.power_w == D("11000")  # the total, not the L1 sample


def test_v16_stopped_by_another_card() -> None:
    state = fold([v16_start(0, "0", id_tag="CARD-A"), v16_stop(30, "4200", "Local", "MASTER")])
    assert (state.id_token, state.stop_id_token) == ("CARD-A", "MASTER")
    assert state.energy_wh == D("4200")


def test_v16_stop_without_id_tag_and_reason() -> None:
    state = fold([v16_start(0, "100"), v16_stop(30, "200", reason=None, id_tag=None)])
    assert state.status is SessionStatus.ENDED
    assert (state.stop_id_token, state.stop_reason) == (None, None)
    assert state.energy_wh == D("100")


def test_v16_the_meter_restarted_during_the_session() -> None:
    events = [
        v16_start(0, "5000"),
        v16_meter(reg(5, "5200")),
        v16_meter(reg(10, "100")),  # rebooted: counts from zero
        v16_stop(15, "300"),
    ]
    assert fold(events).energy_wh == D("200") + D("100") + D("200")


def test_v16_a_stop_for_a_transaction_never_seen() -> None:
    state = fold([v16_stop(42, "98765", reason="PowerLoss", id_tag="RFID-9")])
    assert state.status is SessionStatus.ENDED
    assert state.started_at == at(42) == state.ended_at
    assert not state.seen_start
    assert state.meter_stop_wh == D("98765") and state.meter_start_wh is None
    assert state.energy_wh == 0  # nothing to compare meterStop with
    assert state.stop_reason == "PowerLoss"


def test_v16_meter_values_and_stop_without_start() -> None:
    state = fold([v16_meter(reg(5, "1200")), v16_meter(reg(10, "1700")), v16_stop(15, "2000")])
    assert state.started_at == at(5)
    assert state.energy_wh == D("800")


def test_v16_stop_with_transaction_data() -> None:
    data = (reg(0, "1000", "Transaction.Begin"), reg(7, "1400", "Sample.Periodic"), reg(15, "2000", "Transaction.End"))
    state = fold([v16_start(0, "1000"), v16_meter(reg(5, "1300")), v16_stop(15, "2000", samples=data)])
    # 1000 -> 1300 -> (1000: a Begin sample carried in the stop, older than 1300) ...
    # the rule counts readings in event order, so a 1.6 transactionData must not restart the count
    assert state.energy_wh == D("1000")


def test_v16_a_signed_value_without_a_plain_twin_is_not_a_reading() -> None:
    # the 1.6 gateway keeps such values as a placeholder sample: value 0, no unit
    carrier = MeterSample(at(5), ENERGY, D(0), "", signed="OCMF|{...}", context="Signed")
    events = [v16_start(0, "1000"), v16_meter(carrier), v16_meter(reg(10, "1500")), v16_stop(15, "2000")]
    assert fold(events).energy_wh == D("1000")  # not a restart of the register at 0


def test_v16_a_meter_values_message_with_several_timestamps() -> None:
    batch = v16_meter(reg(3, "1300"), reg(1, "1100"), reg(2, "1200"), power(3, "9000"), power(1, "1000"))
    state = fold([v16_start(0, "1000"), batch])
    assert state.energy_wh == D("300")
    assert state.power_w == D("9000")
    assert state.last_sample_at == at(3)


# --- scenarios: OCPP 2.0.1 ----------------------------------------------------------------

V201_SESSION = [
    v201(0, STARTED, 0, reg(0, "10000", "Transaction.Begin", location="Outlet"),
         id_token="APP-7", evse_id=2, connector_id=1, charging_state="EVConnected", reason="Authorized"),
    v201(1, UPDATED, 1, reg(1, "10100", "Sample.Periodic"), power(1, "7400"), soc(1, "20"),
         charging_state="Charging", reason="ChargingStateChanged"),
    v201(2, UPDATED, 16, reg(16, "12000", "Sample.Periodic"), reg(16, "4000", "Sample.Periodic", phase="L1"),
         reg(16, "99999", "Sample.Periodic", location="EV"), power(16, "11000"), power(16, "3700", phase="L1"),
         soc(16, "35"), reason="MeterValuePeriodic"),
    v201(3, ENDED, 30, reg(30, "15000", "Transaction.End"), soc(30, "48"),
         charging_state="EVConnected", reason="EVDisconnected", id_token="APP-7"),
]


def test_v201_a_session_from_started_to_ended() -> None:
    state = fold(V201_SESSION)
    assert state.status is SessionStatus.ENDED
    assert (state.started_at, state.ended_at) == (at(0), at(30))
    assert (state.id_token, state.stop_id_token, state.stop_reason) == ("APP-7", "APP-7", "EVDisconnected")
    assert (state.meter_start_wh, state.meter_stop_wh) == (D("10000"), D("15000"))
    assert state.energy_wh == D("5000")  # the Begin sample is the start, not an extra reading
    assert state.power_w == 0
    assert state.soc_percent == D("48")
    assert state.charging_state == "EVConnected"
    assert (state.evse_id, state.connector_id) == (2, 1)
    assert not state.offline
    assert state.last_seq_no == 3


def test_v201_while_charging() -> None:
    state = fold(V201_SESSION[:3])
    assert state.status is SessionStatus.ACTIVE
    assert state.energy_wh == D("2000")  # phase and EV-side registers do not count
    assert state.power_w == D("11000")
    assert state.soc_percent == D("35")
    assert state.charging_state == "Charging"


def test_v201_offline_transaction_replayed() -> None:
    events = [
        v201(0, STARTED, 0, reg(0, "500", "Transaction.Begin"), offline=True, id_token="RFID-2"),
        v201(1, UPDATED, 10, reg(10, "900", "Sample.Periodic"), offline=True),
        v201(2, ENDED, 20, reg(20, "1500", "Transaction.End"), reason="Local", offline=False),
    ]
    state = fold(events)
    assert state.offline
    assert state.energy_wh == D("1000")
    assert folded_in_arrival_order(events[::-1]) == state


def test_v201_ended_without_an_end_sample() -> None:
    events = [v201(0, STARTED, 0, reg(0, "500", "Transaction.Begin")), v201(1, UPDATED, 5, reg(5, "800")),
              v201(2, ENDED, 9, reason="PowerLoss")]
    state = fold(events)
    assert state.meter_stop_wh is None
    assert state.energy_wh == D("300")
    assert state.ended_at == at(9)
    assert state.stop_id_token is None


def test_v201_started_without_meter_values_takes_the_begin_sample_that_follows() -> None:
    events = [
        v201(0, STARTED, 0, id_token="T"),
        v201(1, UPDATED, 1, reg(1, "7000", "Transaction.Begin")),
        v201(2, UPDATED, 5, reg(5, "7600", "Sample.Periodic")),
    ]
    state = fold(events)
    assert state.energy_wh == D("600")
    assert state.meter_start_wh == D("7000")


def test_v201_started_with_begin_and_first_periodic_sample() -> None:
    started = v201(0, STARTED, 0, reg(1, "1250", "Sample.Periodic"), reg(0, "1000", "Transaction.Begin"))
    assert fold([started]).energy_wh == D("250")
    assert fold([started]).meter_start_wh == D("1000")


def test_v201_begin_sample_repeated_in_the_first_update() -> None:
    events = [v201(0, STARTED, 0, reg(0, "1000", "Transaction.Begin")),
              v201(1, UPDATED, 0, reg(0, "1000", "Transaction.Begin")),
              v201(2, UPDATED, 5, reg(5, "1100"))]
    assert fold(events).energy_wh == D("100")


def test_v201_ended_only() -> None:
    state = fold([v201(7, ENDED, 50, reg(50, "3000", "Transaction.End"), reason="Remote")])
    assert state.status is SessionStatus.ENDED
    assert state.started_at == at(50)
    assert state.meter_stop_wh == D("3000")
    assert state.energy_wh == 0


def test_power_stays_zero_after_the_end() -> None:
    # A station that reports a sample after Ended (higher seqNo): the session stays ended and idle.
    events = [*V201_SESSION, v201(4, UPDATED, 31, power(31, "50"), reg(31, "15000"))]
    state = fold(events)
    assert state.status is SessionStatus.ENDED
    assert state.power_w == 0
    assert state.energy_wh == D("5000")


# --- order, duplicates, ties --------------------------------------------------------------


def test_a_duplicate_of_the_last_event_changes_nothing_when_applied_again() -> None:
    events = [v16_start(0, "1000"), v16_meter(reg(1, "1100"), reg(2, "1200"))]
    state = folded_in_arrival_order([*events, events[-1]])
    assert state == fold(events)
    assert state.energy_wh == D("200")


def test_events_with_equal_seq_no_and_time_fold_the_same_in_any_order() -> None:
    # Two different messages with the same (seq_no, at): the order between them is the key's.
    a = SessionEvent("meter:a", UPDATED, 1, at(5), samples=(reg(5, "1300"), power(5, "1000")))
    b = SessionEvent("meter:b", UPDATED, 1, at(5), samples=(reg(5, "1200"), power(5, "2000")))
    start = v16_start(0, "1000")
    assert fold([start, a, b]) == fold([start, b, a])
    assert folded_in_arrival_order([start, a, b]) == folded_in_arrival_order([start, b, a]) == fold([b, a, start])


def test_out_of_order_without_the_stored_events_is_an_error() -> None:
    state = fold(V201_SESSION[2:])
    with pytest.raises(ValueError, match="out-of-order"):
        apply_or_refold(state, V201_SESSION[0], None)


def test_apply_in_order_equals_fold() -> None:
    state = SessionState()
    for event in V201_SESSION:
        assert state.follows(event)
        state = apply(state, event)
    assert state == fold(V201_SESSION)


# --- properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """Generated events of one session, and the register readings the energy rule sees."""

    events: list[SessionEvent]
    start: Decimal | None
    readings: list[Decimal]
    stop: Decimal | None


wh = st.decimals(min_value=0, max_value=10**9, places=2)
steps = st.decimals(min_value=0, max_value=30_000, places=2)


@st.composite
def register_series(draw: st.DrawFn) -> list[Decimal]:
    """Mostly rising, sometimes flat, now and then a reset to a lower value."""
    series = [draw(wh)]
    for _ in range(draw(st.integers(1, 14))):
        move = draw(st.sampled_from(["rise", "rise", "rise", "flat", "reset"]))
        if move == "rise":
            series.append(series[-1] + draw(steps))
        elif move == "flat":
            series.append(series[-1])
        else:
            series.append(draw(st.decimals(min_value=0, max_value=series[-1], places=2)))
    return series


@st.composite
def sessions(draw: st.DrawFn, version: str | None = None) -> Session:
    version = version or draw(st.sampled_from(["1.6", "2.0.1"]))
    series = draw(register_series())
    with_start = draw(st.booleans()) or draw(st.booleans())
    with_end = draw(st.booleans())
    first, *middle, last = series if len(series) > 1 else [*series, series[0]]
    clock = 0

    def tick() -> float:
        nonlocal clock
        clock += draw(st.integers(1, 30))
        return clock

    def extras(minutes: float) -> list[MeterSample]:
        """What stations send besides the total register: noise for the energy rule."""
        out = []
        if draw(st.booleans()):
            out.append(power(minutes, draw(st.decimals(0, 350_000, places=1))))
        if draw(st.booleans()):
            out.append(soc(minutes, D(draw(st.integers(0, 100)))))
        if draw(st.booleans()):
            out.append(reg(minutes, draw(wh), phase=draw(st.sampled_from(["L1", "L2", "L3"]))))
        if draw(st.booleans()):
            out.append(reg(minutes, draw(wh), location="EV"))
        return out

    # the middle readings, in groups of 0..3 per Updated message
    groups: list[list[Decimal]] = []
    rest = list(middle)
    while rest or (not groups and draw(st.booleans())):
        size = draw(st.integers(0, min(3, len(rest)))) if rest else 0
        if size == 0 and rest and not draw(st.booleans()):
            size = 1  # keep the number of groups finite
        groups.append(rest[:size])
        rest = rest[size:]

    events: list[SessionEvent] = []
    seq = draw(st.integers(0, 3))  # 2.0.1 seqNo starts at 0, but a stored session may begin later
    token = draw(st.sampled_from(["RFID-1", "APP-2", None]))
    offline = draw(st.booleans())
    t = tick()
    if with_start:
        if version == "1.6":
            events.append(SessionEvent("start", STARTED, 0, at(t), meter_wh=first, id_token=token,
                                       evse_id=1, connector_id=1))
        else:
            events.append(SessionEvent(f"seq:{seq}", STARTED, seq, at(t),
                                       samples=(reg(t, first, "Transaction.Begin"), *extras(t)),
                                       id_token=token, offline=offline, evse_id=1, connector_id=2,
                                       charging_state="EVConnected"))
    seq += 1
    for group in groups:
        t = tick()
        samples = [*extras(t)]
        for i, value in enumerate(group):
            samples.append(reg(t + i, value, "Sample.Periodic"))
        t = clock = clock + len(group)
        if not samples:
            samples = [power(t, "0")]
        if version == "1.6":
            event = SessionEvent(f"meter:{min(s.at for s in samples).isoformat()}", UPDATED, 1,
                                 min(s.at for s in samples), samples=tuple(samples))
        else:
            event = SessionEvent(f"seq:{seq}", UPDATED, seq, min(s.at for s in samples),
                                 samples=tuple(draw(st.permutations(samples))), offline=offline,
                                 charging_state=draw(st.sampled_from([None, "Charging", "SuspendedEV"])))
        events.append(event)
        seq += 1
    t = tick()
    if with_end or not events:
        if version == "1.6":
            events.append(SessionEvent("stop", ENDED, STOP_SEQ, at(t), meter_wh=last, id_token=token,
                                       reason="Local"))
        else:
            events.append(SessionEvent(f"seq:{seq}", ENDED, seq, at(t),
                                       samples=(*extras(t), reg(t, last, "Transaction.End")),
                                       offline=offline, reason="EVDisconnected", charging_state="Idle"))
    ended = events[-1].kind is ENDED
    return Session(
        events,
        start=first if with_start else None,
        readings=[v for g in groups for v in g],
        stop=last if ended else None,
    )


@given(sessions())
def test_fold_counts_the_energy_rule(session: Session) -> None:
    state = fold(session.events)
    assert state.energy_wh == energy_wh(session.start, session.readings, session.stop)
    assert state.energy_wh >= 0


@given(sessions(), st.data())
def test_fold_of_any_permutation_is_the_same(session: Session, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(session.events))
    assert fold(shuffled) == fold(session.events)


@given(sessions(), st.data())
def test_duplicates_anywhere_change_nothing(session: Session, data: st.DataObject) -> None:
    arrivals = list(session.events)
    for event in data.draw(st.lists(st.sampled_from(session.events), max_size=6)):
        arrivals.insert(data.draw(st.integers(0, len(arrivals))), event)
    assert fold(arrivals) == fold(session.events)
    assert folded_in_arrival_order(arrivals) == fold(session.events)


@given(sessions(), st.data())
def test_applying_in_any_arrival_order_ends_as_the_fold(session: Session, data: st.DataObject) -> None:
    arrivals = data.draw(st.permutations(session.events))
    assert folded_in_arrival_order(arrivals) == fold(session.events)


@given(sessions())
def test_applying_in_order_never_needs_a_refold(session: Session) -> None:
    ordered = sorted(session.events, key=lambda e: (e.seq_no, e.at, e.key))
    state = SessionState()
    for event in ordered:
        assert state.follows(event)
        state = apply(state, event)
    assert state == fold(session.events)


@given(sessions())
def test_what_the_fold_always_knows(session: Session) -> None:
    state = fold(session.events)
    assert state.started_at is not None
    assert state.started_at <= max(e.at for e in session.events)
    ended = any(e.kind is ENDED for e in session.events)
    assert (state.status is SessionStatus.ENDED) is ended
    assert (state.ended_at is not None) is ended
    if ended:
        assert state.power_w == 0
        assert state.meter_stop_wh == session.stop
    if any(e.kind is STARTED for e in session.events):
        assert state.seen_start
        assert state.meter_start_wh == session.start


@given(sessions(), st.data())
def test_a_session_known_only_from_its_end(session: Session, data: st.DataObject) -> None:
    ended = [e for e in session.events if e.kind is ENDED]
    if not ended:
        return
    state = fold(ended)
    assert state.status is SessionStatus.ENDED
    assert state.started_at == ended[0].at == state.ended_at
    assert state.energy_wh == 0


@given(sessions(version="1.6"))
def test_v16_transaction_data_repeating_the_session_changes_nothing(session: Session) -> None:
    stop = session.events[-1]
    if stop.kind is not ENDED:
        return
    others = [e for e in session.events if e is not stop]
    end = MeterSample(stop.at, ENERGY, stop.meter_wh or D(0), "Wh", context="Transaction.End")
    repeated = (*(s for e in others for s in e.samples), end)
    with_data = SessionEvent(stop.key, ENDED, stop.seq_no, stop.at, samples=repeated,
                             meter_wh=stop.meter_wh, id_token=stop.id_token, reason=stop.reason)
    assert fold([*others, with_data]).energy_wh == fold(session.events).energy_wh


@given(sessions(version="2.0.1"), st.data())
def test_v201_seq_no_orders_even_when_the_clock_jumps(session: Session, data: st.DataObject) -> None:
    # a station's clock set mid-session: timestamps jump, seqNo still orders the messages
    jumped = [
        SessionEvent(e.key, e.kind, e.seq_no, e.at + timedelta(hours=data.draw(st.integers(-48, 48))),
                     e.samples, e.meter_wh, e.id_token, e.reason, e.offline, e.charging_state,
                     e.evse_id, e.connector_id)
        for e in session.events
    ]
    expected = fold(jumped)
    assert fold(data.draw(st.permutations(jumped))) == expected
    assert folded_in_arrival_order(data.draw(st.permutations(jumped))) == expected


def test_a_stale_sample_is_not_a_register_restart() -> None:
    # a MeterValues message held back by the station arrives after newer ones were applied
    events = [v16_start(0, "1000"), v16_meter(reg(10, "2000")),
              SessionEvent("late", UPDATED, 2, at(11), samples=(reg(5, "1500"),)),
              v16_stop(20, "2500")]
    assert fold(events).energy_wh == D("1500")


def test_the_end_register_always_counts() -> None:
    events = [v201(0, STARTED, 0, reg(0, "100", "Transaction.Begin")), v201(1, UPDATED, 10, reg(10, "400")),
              v201(2, ENDED, 5, reg(5, "900", "Transaction.End"))]  # clock set back before the end
    state = fold(events)
    assert state.energy_wh == D("800")
    assert state.meter_stop_wh == D("900")


def evcms_close(minutes: float) -> SessionEvent:
    """evcms force-closing a stuck session (as services.charging does)."""
    return SessionEvent(f"evcms:stuck:{minutes}", ENDED, STOP_SEQ - 1, at(minutes), reason="StuckSession")


def test_a_forced_close_does_not_hide_the_station_end_v201() -> None:
    events = [*V201_SESSION, evcms_close(600)]
    state = fold(events)
    assert (state.ended_at, state.stop_reason, state.meter_stop_wh) == (at(30), "EVDisconnected", D("15000"))
    assert state.stop_id_token == "APP-7"
    assert state.energy_wh == D("5000")


def test_a_stuck_session_closed_by_evcms_then_the_station_stop_arrives_v16() -> None:
    closed = fold([*V16_SESSION[:3], evcms_close(600)])
    assert closed.status is SessionStatus.ENDED
    assert (closed.ended_at, closed.stop_reason, closed.power_w) == (at(600), "StuckSession", 0)
    assert closed.energy_wh == D("1500")
    state = folded_in_arrival_order([*V16_SESSION[:3], evcms_close(600), V16_SESSION[3]])
    assert state == fold([*V16_SESSION, evcms_close(600)])
    assert (state.ended_at, state.stop_reason, state.meter_stop_wh) == (at(15), "Local", D("3000"))
    assert state.energy_wh == D("2000")


def test_a_later_ended_with_a_register_moves_the_end() -> None:
    events = [*V201_SESSION, v201(4, ENDED, 40, reg(40, "16000", "Transaction.End"), reason="Other")]
    state = fold(events)
    assert (state.ended_at, state.stop_reason, state.meter_stop_wh) == (at(40), "Other", D("16000"))
    assert state.energy_wh == D("6000")
