"""/api/v1/alerts, /api/v1/stations/{id}/alerts and /api/v1/alert-rules over the in-memory twins:
roles, filters, acknowledge and comments, rule changes, and 4xx messages that say what to fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.events import ConnectorStatusChanged, SecurityEventReported
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, Presence, Station
from evcms.messaging.bus import InProcessBus
from evcms.services.alerts import Alerts
from evcms.services.clock import FixedClock
from evcms.services.remote_operations import RemoteOperations
from evcms.storage.alerts import MemoryAlertRepository
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")


class Presences:
    def live_presence(self, station_id: StationId) -> Presence | None:
        return Presence(station_id, True, T0, T0, "ocpp1.6")


@dataclass
class AlertWeb:
    client: httpx.AsyncClient
    alerts: Alerts
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def web() -> AsyncIterator[AlertWeb]:
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    await stations.add(Station(CP, T0))
    clock = FixedClock(T0)
    bus = InProcessBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    alerts = Alerts(
        repository=MemoryAlertRepository(), events=bus, clock=clock, presence=Presences(),
        stations=stations, heartbeat_interval=60,
    )
    await alerts.start()
    app = create_app(
        WebDeps(
            network=core.network, access=core.access, operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db), metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(), ocpp_url=OCPP_URL, alerts=alerts,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield AlertWeb(client, alerts, core.keys)
    await bus.close()


async def fault(web: AlertWeb, connector: int = 1) -> None:
    state = ConnectorState(CP, connector, 1, ConnectorStatus.FAULTED, T0, "GroundFailure")
    await web.alerts.on_event(ConnectorStatusChanged(state))


async def test_alerts_are_listed_filtered_and_shown_with_comments(web: AlertWeb) -> None:
    await fault(web, 1)
    await web.alerts.on_event(SecurityEventReported(CP, "StartupOfTheDevice", None, T0))
    viewer = web.auth(Role.VIEWER)
    listed = await web.client.get("/api/v1/alerts", headers=viewer)
    assert listed.status_code == 200, listed.text
    assert [a["kind"] for a in listed.json()["alerts"]] == ["security_event", "connector_faulted"]
    only = await web.client.get("/api/v1/alerts", params={"severity": "critical", "status": "open"}, headers=viewer)
    [alert] = only.json()["alerts"]
    assert alert["summary"] == "Faulted (GroundFailure) on EVSE 1 connector 1"
    assert alert["details"] == {"status": "Faulted", "error_code": "GroundFailure"}
    station = await web.client.get(f"/api/v1/stations/{CP}/alerts", params={"kind": "security_event"}, headers=viewer)
    assert [a["severity"] for a in station.json()["alerts"]] == ["info"]
    none = await web.client.get("/api/v1/stations/CP-2/alerts", headers=viewer)
    assert none.json()["alerts"] == []

    acked = await web.client.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge", json={"comment": "crew sent"}, headers=web.auth(Role.TECHNICIAN)
    )
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["acknowledged"] is True and body["acknowledged_by"] == "technician key"
    assert [c["text"] for c in body["comments"]] == ["crew sent"]
    comment = await web.client.post(
        f"/api/v1/alerts/{alert['id']}/comments", json={"text": "cable replaced"}, headers=web.auth(Role.OPERATOR)
    )
    assert comment.status_code == 201, comment.text
    shown = await web.client.get(f"/api/v1/alerts/{alert['id']}", headers=viewer)
    assert [c["text"] for c in shown.json()["comments"]] == ["crew sent", "cable replaced"]
    assert (await web.client.get("/api/v1/alerts", params={"acknowledged": "false"}, headers=viewer)).json()["alerts"][0]["kind"] == "security_event"


async def test_roles(web: AlertWeb) -> None:
    await fault(web)
    assert (await web.client.get("/api/v1/alerts")).status_code == 401
    viewer = web.auth(Role.VIEWER)
    denied = await web.client.post("/api/v1/alerts/1/acknowledge", headers=viewer)
    assert denied.status_code == 403 and "operate_stations" in denied.json()["detail"]
    assert (await web.client.post("/api/v1/alerts/1/comments", json={"text": "x"}, headers=viewer)).status_code == 403
    rule = await web.client.put("/api/v1/alert-rules/boot_loop", json={"enabled": False}, headers=web.auth(Role.TECHNICIAN))
    assert rule.status_code == 403 and "manage_network" in rule.json()["detail"]
    assert (await web.client.get("/api/v1/alert-rules", headers=viewer)).status_code == 200


async def test_bad_requests_say_what_to_fix(web: AlertWeb) -> None:
    admin = web.auth()
    missing = await web.client.get("/api/v1/alerts/99", headers=admin)
    assert missing.status_code == 404 and missing.json()["detail"] == "no alert 99"
    bad_kind = await web.client.get("/api/v1/alerts", params={"kind": "nope"}, headers=admin)
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json()["detail"]
    naive = await web.client.get("/api/v1/alerts", params={"from": "2026-03-01T12:00:00"}, headers=admin)
    assert naive.status_code == 422 and "give a time zone" in naive.json()["detail"]
    await fault(web)
    empty = await web.client.post("/api/v1/alerts/1/comments", json={"text": ""}, headers=admin)
    assert empty.status_code == 422 and "text" in empty.json()["detail"]
    threshold = await web.client.put(
        "/api/v1/alert-rules", json={"rules": [{"kind": "station_offline", "thresholds": {"grace": 5}}]}, headers=admin
    )
    assert threshold.status_code == 422
    assert threshold.json()["detail"] == "rule 'station_offline' has no threshold 'grace' (its thresholds: grace_seconds, missed_heartbeats)"
    zero = await web.client.put("/api/v1/alert-rules/station_offline", json={"thresholds": {"grace_seconds": 0}}, headers=admin)
    assert zero.status_code == 422 and "whole number >= 1" in zero.json()["detail"]


async def test_rules_are_listed_with_defaults_and_changed(web: AlertWeb) -> None:
    admin = web.auth()
    listed = (await web.client.get("/api/v1/alert-rules", headers=admin)).json()["rules"]
    offline = next(r for r in listed if r["kind"] == "station_offline")
    assert offline == {"kind": "station_offline", "enabled": True, "severity": "critical",
                       "thresholds": {"grace_seconds": 120, "missed_heartbeats": 3}}
    changed = await web.client.put(
        "/api/v1/alert-rules",
        json={"rules": [{"kind": "station_offline", "thresholds": {"grace_seconds": 30}},
                        {"kind": "suspended_ev", "enabled": False, "severity": "warning"}]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    rules = {r["kind"]: r for r in changed.json()["rules"]}
    assert rules["station_offline"]["thresholds"] == {"grace_seconds": 30, "missed_heartbeats": 3}
    assert (rules["suspended_ev"]["enabled"], rules["suspended_ev"]["severity"]) == (False, "warning")
