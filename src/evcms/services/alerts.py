"""Alerts: rules applied to what stations do, the alerts' life cycle, and their history.

``Alerts.on_event`` (a bus subscriber) turns station events into facts and ``check`` (a chore
run every few seconds) looks at presence, connector statuses and sessions; both hand the facts to
the pure rules (:func:`evcms.domain.alerts.decide`) and apply what they decide: store the alert,
then publish ``AlertChanged``. The open alerts are kept in memory (loaded from storage at
start, so a restart opens no duplicates); all changes go through one lock, so an operator's
acknowledgement and the rules never race.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from evcms.domain.alerts import (
    DEFAULT_RULES,
    RESOLVED_BY_ACKNOWLEDGEMENT,
    Alert,
    AlertComment,
    AlertKey,
    AlertKind,
    AlertRule,
    AlertStatus,
    Booted,
    Check,
    ConnectorFacts,
    Decision,
    DiagnosticsReported,
    Fact,
    FirmwareReported,
    InvalidRule,
    MeterReceived,
    Open,
    ProblemReported,
    Resolve,
    SecurityReported,
    SessionFacts,
    Severity,
    StationFacts,
    StatusReported,
    Update,
    changed_rule,
    decide,
)
from evcms.domain.events import (
    AlertChanged,
    ConnectorStatusChanged,
    DeviceEventReported,
    DiagnosticsStatusChanged,
    Event,
    FirmwareStatusChanged,
    MeterSampled,
    SecurityEventReported,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, Presence, Station
from evcms.services.ports import AlreadyExists, Clock, EventBus, NotFound, ServiceError

log = logging.getLogger(__name__)

MAX_COMMENT = 4000

# The events the rules look at (subscribe with these types).
ALERT_FACTS: tuple[type[Event], ...] = (
    StationConnected,
    StationDisconnected,
    StationBooted,
    ConnectorStatusChanged,
    SessionStarted,
    SessionUpdated,
    SessionEnded,
    MeterSampled,
    SecurityEventReported,
    DeviceEventReported,
    FirmwareStatusChanged,
    DiagnosticsStatusChanged,
)
BOOTS_KEPT = 64  # recent boot times kept per station (the boot-loop rule's window is shorter)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: AlertStatus | None = None
    station_id: StationId | None = None
    kind: AlertKind | None = None
    severity: Severity | None = None
    acknowledged: bool | None = None
    opened_from: datetime | None = None  # inclusive
    opened_until: datetime | None = None  # exclusive


class AlertRepository(Protocol):
    async def add(self, alert: Alert) -> Alert: ...  # a new open alert, its id assigned; AlreadyExists

    async def save(self, alert: Alert) -> None: ...  # NotFound

    async def get(self, alert_id: int) -> Alert | None: ...

    async def open_alerts(self) -> builtins.list[Alert]: ...

    async def list(
        self, filter: AlertFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Alert]: ...  # newest (highest id) first

    async def add_comment(self, alert_id: int, author: str, text: str, at: datetime) -> AlertComment: ...

    async def comments(self, alert_id: int) -> builtins.list[AlertComment]: ...  # oldest first

    async def rules(self) -> builtins.list[AlertRule]: ...  # the stored (changed) ones

    async def save_rule(self, rule: AlertRule, at: datetime, by: str) -> None: ...


class PresenceSource(Protocol):
    """Who is connected to this node and when they last spoke (StationLifecycle)."""

    def live_presence(self, station_id: StationId) -> Presence | None: ...


class StationDirectory(Protocol):
    async def list(self) -> builtins.list[Station]: ...

    async def presence(self, station_id: StationId) -> Presence | None: ...

    async def connector_states(self, station_id: StationId) -> builtins.list[ConnectorState]: ...


@dataclass(slots=True)
class _Session:
    transaction_id: str
    evse_id: int
    connector_id: int
    last_meter_at: datetime
    charging_state: str | None


class Alerts:
    def __init__(
        self,
        *,
        repository: AlertRepository,
        events: EventBus,
        clock: Clock,
        presence: PresenceSource,
        stations: StationDirectory,
        heartbeat_interval: int,
    ) -> None:
        self._repository = repository
        self._events = events
        self._clock = clock
        self._presence = presence
        self._stations = stations
        self._heartbeat = heartbeat_interval
        self._lock = asyncio.Lock()
        self._open: dict[AlertKey, Alert] = {}
        self._rules: dict[AlertKind, AlertRule] = dict(DEFAULT_RULES)
        self._offline_since: dict[StationId, datetime] = {}
        self._connectors: dict[StationId, dict[tuple[int, int], ConnectorFacts]] = {}
        self._sessions: dict[StationId, dict[int, _Session]] = {}
        self._boots: dict[StationId, deque[datetime]] = {}

    # -- start-up ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the rules and the open alerts; learn which stations were online before."""
        for rule in await self._repository.rules():
            self._rules[rule.kind] = rule
        self._open = {a.key: a for a in await self._repository.open_alerts()}
        now = self._clock.now()
        for station in await self._stations.list():
            stored = await self._stations.presence(station.id)
            live = self._presence.live_presence(station.id)
            if live is None and stored is not None and stored.last_message_at is not None:
                # it was online before this node started: it has the grace period to return
                self._offline_since.setdefault(station.id, now)
            for state in await self._stations.connector_states(station.id):
                self._connectors.setdefault(station.id, {})[(state.evse_id, state.connector_id)] = (
                    ConnectorFacts(state.evse_id, state.connector_id, state.status, state.updated_at)
                )

    # -- facts from the bus ------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        now = self._clock.now()
        if isinstance(event, AlertChanged):
            return
        if isinstance(event, StationConnected):
            self._offline_since.pop(event.station_id, None)
            await self.check([event.station_id])
        elif isinstance(event, StationDisconnected):
            self._offline_since[event.station_id] = now
        elif isinstance(event, StationBooted):
            boots = self._boots.setdefault(event.station_id, deque(maxlen=BOOTS_KEPT))
            boots.append(now)
            await self._decide(Booted(event.station_id, now, tuple(boots)))
        elif isinstance(event, ConnectorStatusChanged):
            await self._status(event.state, now)
        elif isinstance(event, SessionStarted | SessionUpdated):
            session = event.session
            known = self._sessions.setdefault(session.station_id, {})
            state = session.state
            evse = state.evse_id if state.evse_id is not None else session.evse_id
            connector = state.connector_id if state.connector_id is not None else session.connector_id
            current = known.get(session.id)
            known[session.id] = _Session(
                session.transaction_id,
                evse,
                connector,
                current.last_meter_at if current is not None else now,
                state.charging_state,
            )
        elif isinstance(event, SessionEnded):
            ended = self._sessions.get(event.session.station_id, {}).pop(event.session.id, None)
            if ended is not None:
                await self.check([event.session.station_id])
        elif isinstance(event, MeterSampled):
            await self._meter(event, now)
        elif isinstance(event, SecurityEventReported):
            await self._decide(SecurityReported(event.station_id, event.kind, now, event.tech_info))
        elif isinstance(event, DeviceEventReported):
            if event.variable == "Problem":
                active = event.actual_value.strip().lower() == "true" and not event.cleared
                await self._decide(
                    ProblemReported(
                        event.station_id,
                        event.component,
                        active,
                        now,
                        event.evse_id,
                        event.connector_id,
                        event.tech_info,
                    )
                )
        elif isinstance(event, FirmwareStatusChanged):
            await self._decide(
                FirmwareReported(event.station_id, event.status, event.failed, event.finished, now)
            )
        elif isinstance(event, DiagnosticsStatusChanged):
            await self._decide(
                DiagnosticsReported(event.station_id, event.status, event.failed, event.finished, now)
            )

    async def _status(self, state: ConnectorState, now: datetime) -> None:
        place = (state.evse_id, state.connector_id)
        known = self._connectors.setdefault(state.station_id, {})
        current = known.get(place)
        if current is None or current.status is not state.status:
            known[place] = ConnectorFacts(state.evse_id, state.connector_id, state.status, now)
        await self._decide(
            StatusReported(
                state.station_id,
                state.evse_id,
                state.connector_id,
                state.status,
                state.error_code,
                now,
                state.info,
                state.vendor_error_code,
            )
        )
        await self.check([state.station_id])  # Preparing/SuspendedEV alerts resolve at once

    async def _meter(self, event: MeterSampled, now: datetime) -> None:
        session = self._sessions.get(event.station_id, {}).get(event.session_id)
        if session is not None:
            session.last_meter_at = now
        key = AlertKey(
            AlertKind.NO_METER_VALUES,
            event.station_id,
            event.evse_id,
            event.connector_id,
            event.transaction_id,
        )
        if key in self._open:
            await self._decide(
                MeterReceived(
                    event.station_id, event.evse_id, event.connector_id, event.transaction_id, now
                )
            )

    # -- the periodic check ------------------------------------------------------------------

    async def check(self, station_ids: Sequence[StationId] | None = None) -> int:
        """Look at the stations (all registered ones when None); returns the changes made."""
        now = self._clock.now()
        if station_ids is None:
            station_ids = [s.id for s in await self._stations.list()]
            for gone in set(self._offline_since) - set(station_ids):  # deleted stations
                self._offline_since.pop(gone, None)
        facts = tuple(self._facts(station_id, now) for station_id in station_ids)
        return await self._decide(Check(now, facts, self._heartbeat))

    def _facts(self, station_id: StationId, now: datetime) -> StationFacts:
        live = self._presence.live_presence(station_id)
        sessions = tuple(
            SessionFacts(s.transaction_id, s.evse_id, s.connector_id, s.last_meter_at, s.charging_state)
            for s in self._sessions.get(station_id, {}).values()
        )
        connectors = tuple(self._connectors.get(station_id, {}).values())
        boots = tuple(self._boots.get(station_id, ()))
        if live is not None:
            return StationFacts(
                station_id, True, live.last_message_at, None, connectors, sessions, boots
            )
        # not connected here: only what happens on connectors of a live station matters
        return StationFacts(
            station_id, False, None, self._offline_since.get(station_id), (), (), boots
        )

    # -- applying decisions ------------------------------------------------------------------

    async def _decide(self, fact: Fact) -> int:
        async with self._lock:
            decisions = decide(self._open, self._rules, fact)
            for decision in decisions:
                await self._apply(decision)
            return len(decisions)

    async def _apply(self, decision: Decision) -> None:
        if isinstance(decision, Open):
            fresh = Alert(
                0,
                decision.key,
                decision.severity,
                AlertStatus.OPEN,
                decision.summary,
                decision.at,
                decision.at,
                1,
                dict(decision.details),
            )
            try:
                alert = await self._repository.add(fresh)
            except AlreadyExists:  # opened by another node meanwhile: adopt it
                found = [a for a in await self._repository.open_alerts() if a.key == decision.key]
                if found:
                    self._open[decision.key] = found[0]
                return
            self._open[alert.key] = alert
            self._publish(alert, "opened", decision.at)
        elif isinstance(decision, Update):
            current = self._open[decision.key]
            alert = replace(
                current,
                severity=decision.severity,
                summary=decision.summary,
                details=dict(decision.details),
                last_seen_at=decision.at,
                count=current.count + 1,
            )
            await self._repository.save(alert)
            self._open[alert.key] = alert
            self._publish(alert, "updated", decision.at)
        elif isinstance(decision, Resolve):
            current = self._open[decision.key]
            await self._resolve(current, decision.at, decision.reason)

    async def _resolve(self, current: Alert, at: datetime, reason: str) -> Alert:
        alert = replace(current, status=AlertStatus.RESOLVED, resolved_at=at, resolution=reason)
        await self._repository.save(alert)
        self._open.pop(alert.key, None)
        self._publish(alert, "resolved", at)
        return alert

    def _publish(self, alert: Alert, change: str, at: datetime) -> None:
        key = alert.key
        self._events.publish(
            AlertChanged(
                station_id=key.station_id,
                alert_id=alert.id,
                kind=key.kind.value,
                severity=alert.severity.value,
                status=alert.status.value,
                change=change,
                summary=alert.summary,
                at=at,
                evse_id=key.evse_id,
                connector_id=key.connector_id,
                acknowledged=alert.acknowledged,
            )
        )

    # -- operators ---------------------------------------------------------------------------

    def open_alerts(self) -> builtins.list[Alert]:
        """The open alerts as this node knows them (oldest first)."""
        return sorted(self._open.values(), key=lambda a: a.id)

    async def list(
        self, filter: AlertFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Alert]:
        return await self._repository.list(filter, limit=limit, before_id=before_id)

    async def get(self, alert_id: int) -> Alert:
        alert = await self._repository.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        return alert

    async def comments(self, alert_id: int) -> builtins.list[AlertComment]:
        await self.get(alert_id)
        return await self._repository.comments(alert_id)

    async def acknowledge(self, alert_id: int, by: str, comment: str | None = None) -> Alert:
        """An operator saw it (who and when are kept; a second acknowledgement changes
        nothing). Alerts that have no cleared signal (security events) resolve with it."""
        if comment is not None:
            await self.comment(alert_id, by, comment)
        async with self._lock:
            alert = await self.get(alert_id)
            if alert.acknowledged:
                return alert
            now = self._clock.now()
            alert = replace(alert, acknowledged_by=by, acknowledged_at=now)
            if alert.is_open and alert.kind in RESOLVED_BY_ACKNOWLEDGEMENT:
                return await self._resolve(alert, now, f"acknowledged by {by}")
            await self._repository.save(alert)
            if alert.is_open:
                self._open[alert.key] = alert
            self._publish(alert, "acknowledged", now)
            return alert

    async def comment(self, alert_id: int, by: str, text: str) -> AlertComment:
        text = text.strip()
        if not text:
            raise ServiceError("a comment needs some text", 422)
        if len(text) > MAX_COMMENT:
            raise ServiceError(f"a comment may have at most {MAX_COMMENT} characters", 422)
        alert = await self.get(alert_id)
        now = self._clock.now()
        comment = await self._repository.add_comment(alert_id, by, text, now)
        self._publish(alert, "commented", now)
        return comment

    # -- rules -------------------------------------------------------------------------------

    def rules(self) -> builtins.list[AlertRule]:
        return [self._rules[kind] for kind in AlertKind]

    async def change_rule(
        self,
        kind: AlertKind,
        *,
        by: str,
        enabled: bool | None = None,
        severity: Severity | None = None,
        thresholds: Mapping[str, int] | None = None,
    ) -> AlertRule:
        async with self._lock:
            try:
                rule = changed_rule(
                    self._rules[kind], enabled=enabled, severity=severity, thresholds=thresholds
                )
            except InvalidRule as exc:
                raise ServiceError(str(exc), 422) from exc
            await self._repository.save_rule(rule, self._clock.now(), by)
            self._rules[kind] = rule
            return rule

