"""The alerts service over the in-memory twins and a fake clock: events in, alerts stored and
published, a restart that opens no duplicates, acknowledgement, comments, rules, e-mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from evcms.domain.alerts import AlertKind, AlertStatus, Severity
from evcms.domain.events import (
    AlertChanged,
    ConnectorStatusChanged,
    Event,
    SecurityEventReported,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, Presence, Station
from evcms.mail import OutboxMailer
from evcms.services.alert_mail import AlertMail, parse_recipients
from evcms.services.alerts import AlertFilter, Alerts
from evcms.services.clock import FixedClock
from evcms.services.ports import ServiceError
from evcms.storage.alerts import MemoryAlertRepository
from evcms.storage.drivers import MemoryOutbox
from evcms.storage.memory import MemoryDatabase, MemoryStationRepository

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")


@dataclass
class Bus:
    events: list[Event] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def subscribe(self, handler, **_):  # type: ignore[no-untyped-def]
        return lambda: None

    def alerts(self) -> list[tuple[str, str]]:
        return [(e.kind, e.change) for e in self.events if isinstance(e, AlertChanged)]


@dataclass
class Presences:
    live: dict[StationId, Presence] = field(default_factory=dict)

    def live_presence(self, station_id: StationId) -> Presence | None:
        return self.live.get(station_id)


@dataclass
class World:
    alerts: Alerts
    repository: MemoryAlertRepository
    bus: Bus
    clock: FixedClock
    presence: Presences
    stations: MemoryStationRepository

    async def connect(self) -> None:
        now = self.clock.now()
        self.presence.live[CP] = Presence(CP, True, now, now, "ocpp1.6")
        await self.alerts.on_event(StationConnected(CP, "ocpp1.6", now))

    async def disconnect(self) -> None:
        self.presence.live.pop(CP, None)
        await self.alerts.on_event(StationDisconnected(CP, self.clock.now(), "closed"))

    async def status(self, status: ConnectorStatus, error: str = "NoError") -> None:
        state = ConnectorState(CP, 1, 1, status, self.clock.now(), error)
        await self.alerts.on_event(ConnectorStatusChanged(state))

    async def restarted(self) -> Alerts:
        again = Alerts(
            repository=self.repository, events=self.bus, clock=self.clock, presence=self.presence,
            stations=self.stations, heartbeat_interval=60,
        )
        await again.start()
        return again


@pytest.fixture
async def world() -> World:
    clock = FixedClock(T0)
    stations = MemoryStationRepository(MemoryDatabase())
    await stations.add(Station(CP, T0))
    repository = MemoryAlertRepository()
    bus = Bus()
    presence = Presences()
    alerts = Alerts(
        repository=repository, events=bus, clock=clock, presence=presence, stations=stations,
        heartbeat_interval=60,
    )
    await alerts.start()
    return World(alerts, repository, bus, clock, presence, stations)


async def test_a_station_offline_past_the_grace_period_alerts_and_resolves_when_back(world: World) -> None:
    await world.connect()
    await world.disconnect()
    world.clock.advance(60)
    assert await world.alerts.check() == 0  # a quick reconnect does not alert
    world.clock.advance(61)
    assert await world.alerts.check() == 1
    [alert] = world.alerts.open_alerts()
    assert (alert.kind, alert.severity, alert.status) == (AlertKind.STATION_OFFLINE, Severity.CRITICAL, AlertStatus.OPEN)
    await world.alerts.check()
    assert len(await world.repository.list(AlertFilter())) == 1  # no second alert
    await world.connect()
    assert world.alerts.open_alerts() == []
    stored = await world.repository.get(alert.id)
    assert stored is not None and stored.status is AlertStatus.RESOLVED and stored.resolved_at == world.clock.now()
    assert world.bus.alerts() == [("station_offline", "opened"), ("station_offline", "resolved")]


async def test_a_silent_connected_station_alerts(world: World) -> None:
    await world.connect()
    world.clock.advance(3 * 60 + 1)  # three heartbeat intervals without a message
    assert await world.alerts.check() == 1
    assert world.alerts.open_alerts()[0].details["reason"] == "silent"


async def test_a_fault_opens_updates_and_resolves_and_a_restart_opens_no_duplicate(world: World) -> None:
    await world.connect()
    await world.status(ConnectorStatus.FAULTED, "GroundFailure")
    await world.status(ConnectorStatus.FAULTED, "GroundFailure")
    [alert] = world.alerts.open_alerts()
    assert alert.count == 2
    restarted = await world.restarted()
    assert [a.id for a in restarted.open_alerts()] == [alert.id]
    state = ConnectorState(CP, 1, 1, ConnectorStatus.FAULTED, world.clock.now(), "GroundFailure")
    await restarted.on_event(ConnectorStatusChanged(state))
    assert len(await world.repository.list(AlertFilter())) == 1
    await restarted.on_event(ConnectorStatusChanged(ConnectorState(CP, 1, 1, ConnectorStatus.AVAILABLE, world.clock.now())))
    assert restarted.open_alerts() == []
    assert world.bus.alerts() == [
        ("connector_faulted", "opened"),
        ("connector_faulted", "updated"),
        ("connector_faulted", "updated"),
        ("connector_faulted", "resolved"),
    ]


async def test_stuck_preparing_resolves_when_charging_starts(world: World) -> None:
    await world.connect()
    await world.status(ConnectorStatus.PREPARING)
    world.clock.advance(901)
    world.presence.live[CP] = Presence(CP, True, T0, world.clock.now(), "ocpp1.6")
    await world.alerts.check()
    assert [a.kind for a in world.alerts.open_alerts()] == [AlertKind.STUCK_PREPARING]
    await world.status(ConnectorStatus.CHARGING)
    assert world.alerts.open_alerts() == []


async def test_acknowledge_and_comment(world: World) -> None:
    await world.connect()
    await world.status(ConnectorStatus.FAULTED)
    [alert] = world.alerts.open_alerts()
    world.clock.advance(5)
    acked = await world.alerts.acknowledge(alert.id, "ops", "on my way")
    assert (acked.acknowledged_by, acked.acknowledged_at, acked.is_open) == ("ops", world.clock.now(), True)
    again = await world.alerts.acknowledge(alert.id, "someone else")
    assert again.acknowledged_by == "ops"
    assert [c.text for c in await world.alerts.comments(alert.id)] == ["on my way"]
    with pytest.raises(ServiceError, match="needs some text"):
        await world.alerts.comment(alert.id, "ops", "   ")
    assert ("connector_faulted", "acknowledged") in world.bus.alerts()
    assert ("connector_faulted", "commented") in world.bus.alerts()


async def test_a_security_alert_resolves_when_acknowledged(world: World) -> None:
    await world.alerts.on_event(SecurityEventReported(CP, "TamperDetectionActivated", None, T0))
    [alert] = world.alerts.open_alerts()
    assert alert.severity is Severity.CRITICAL
    resolved = await world.alerts.acknowledge(alert.id, "ops")
    assert resolved.status is AlertStatus.RESOLVED and world.alerts.open_alerts() == []


async def test_rules_are_tuned_and_kept(world: World) -> None:
    rule = await world.alerts.change_rule(AlertKind.STATION_OFFLINE, by="ops", thresholds={"grace_seconds": 5})
    assert rule.threshold("grace_seconds") == 5
    with pytest.raises(ServiceError, match="has no threshold"):
        await world.alerts.change_rule(AlertKind.STATION_OFFLINE, by="ops", thresholds={"nope": 1})
    restarted = await world.restarted()
    assert restarted.rules()[0].threshold("grace_seconds") == 5
    await world.connect()
    await world.disconnect()
    world.clock.advance(6)
    assert await world.alerts.check() == 1


async def test_alert_mail_goes_to_the_outbox_from_the_minimum_severity() -> None:
    outbox = MemoryOutbox()
    mail = AlertMail(
        mailer=OutboxMailer(outbox=outbox, clock=FixedClock(T0)),
        recipients=parse_recipients("ops@example.com, tech@example.com ,"),
        min_severity=Severity.WARNING,
    )
    opened = AlertChanged(CP, 7, "connector_faulted", "critical", "open", "opened", "Faulted (GroundFailure)", T0, 1, 1)
    await mail.on_event(opened)
    await mail.on_event(AlertChanged(CP, 8, "suspended_ev", "info", "open", "opened", "x", T0))  # below
    await mail.on_event(AlertChanged(CP, 7, "connector_faulted", "critical", "open", "acknowledged", "x", T0))
    mails = list(outbox.store.mails.values())
    assert [m.to_address for m in mails] == ["ops@example.com", "tech@example.com"]
    assert mails[0].subject == "[evcms critical] OPEN: CP-1: Faulted (GroundFailure)"
    assert "Alert 7 opened" in mails[0].body and "connector_faulted" in mails[0].body
