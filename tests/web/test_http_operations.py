"""Remote operations over HTTP: neutral and version-specific operations, the audit trail, bulk
operations and the stored configuration; roles and the 4xx messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from web_harness import OCPP_URL, core_services

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_config import StationConfiguration
from evcms.station_gateway.operation_commands import OperationCommands
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.storage.operations import MemoryOperationRepository
from evcms.storage.station_config import MemoryStationConfigRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps


@dataclass
class Stations:
    versions: dict[str, str] = field(default_factory=dict)
    answers: dict[str, CommandReply] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any], float | None]] = field(default_factory=list)

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.versions

    def version_of(self, station_id: StationId) -> str | None:
        return self.versions.get(station_id)

    async def call(
        self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CommandReply:
        self.calls.append((station_id, action, payload, timeout))
        return self.answers.get(action, CommandReply(CommandOutcome.RESULT, {"status": "Accepted"}))


@dataclass
class App:
    client: httpx.AsyncClient
    stations: Stations
    ops: RemoteOperations
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def app() -> AsyncIterator[App]:
    db = MemoryDatabase()
    registered = MemoryStationRepository(db)
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    bus = InProcessBus()
    stations = Stations(versions={"CP-16": "ocpp1.6", "CP-201": "ocpp2.0.1"})
    core = await core_services(db, registered, clock, bus, stations)
    config = StationConfiguration(store=MemoryStationConfigRepository(), events=bus, clock=clock)
    ops = RemoteOperations(
        commands=stations,
        operations=MemoryOperationRepository(),
        translator=OperationCommands(),
        events=bus,
        clock=clock,
        configuration=config,
        stations=registered,
    )
    web = create_app(
        WebDeps(
            network=core.network,
            access=core.access,
            operations=ops,
            message_log=MemoryMessageLog(db),
            metrics=lambda: (b"", "text/plain"),
            health=lambda: asyncio.sleep(0, {"status": "ok"}),
            ocpp_url=OCPP_URL,
            configuration=config,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://evcms.test"
    ) as client:
        harness = App(client, stations, ops, core.keys)
        for station_id in ("CP-16", "CP-201", "CP-OFF"):
            response = await client.post("/api/v1/stations", json={"id": station_id}, headers=harness.auth())
            assert response.status_code == 201
        yield harness
    await bus.close()


async def test_a_neutral_operation_answers_with_its_record(app: App) -> None:
    response = await app.client.post(
        "/api/v1/stations/CP-201/operations/change-availability",
        json={"status": "Inoperative", "evse_id": 1},
        headers=app.auth(Role.TECHNICIAN),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "ChangeAvailability" and body["operation"] == "change_availability"
    assert body["request"] == {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    assert (body["outcome"], body["status"]) == ("result", "Accepted")
    assert body["requested_by"] == "technician key"
    listed = await app.client.get("/api/v1/operations", headers=app.auth(Role.VIEWER))
    assert [o["id"] for o in listed.json()["operations"]] == [body["id"]]
    one = await app.client.get(f"/api/v1/operations/{body['id']}", headers=app.auth(Role.VIEWER))
    assert one.json() == body


async def test_the_answers_of_each_outcome(app: App) -> None:
    url = "/api/v1/stations/{}/operations/reset"
    offline = await app.client.post(url.format("CP-OFF"), json={}, headers=app.auth())
    assert offline.status_code == 409
    assert offline.json()["detail"] == "station CP-OFF is not connected"
    assert offline.json()["operation"]["outcome"] == "disconnected"

    app.stations.answers["Reset"] = CommandReply(CommandOutcome.TIMEOUT)
    late = await app.client.post(url.format("CP-16") + "?timeout=2", json={"type": "Hard"}, headers=app.auth())
    assert late.status_code == 504
    assert late.json()["detail"] == "station CP-16 did not answer Reset in time"
    assert app.stations.calls[-1][3] == 2.0

    app.stations.answers["Reset"] = CommandReply(CommandOutcome.ERROR, error_code="NotSupported")
    error = await app.client.post(url.format("CP-16"), json={}, headers=app.auth())
    assert error.status_code == 200 and error.json()["error_code"] == "NotSupported"

    one_evse = await app.client.post(url.format("CP-16"), json={"evse_id": 1}, headers=app.auth())
    assert one_evse.status_code == 422
    assert one_evse.json()["detail"] == (
        "Reset was not sent to CP-16: OCPP 1.6 has no reset of one EVSE (reset the whole station)"
    )
    outcomes = await app.client.get("/api/v1/stations/CP-16/operations", headers=app.auth())
    assert [o["outcome"] for o in outcomes.json()["operations"]] == ["rejected", "error", "timeout"]
    timeouts = await app.client.get("/api/v1/operations?outcome=timeout", headers=app.auth())
    assert [o["station_id"] for o in timeouts.json()["operations"]] == ["CP-16"]


async def test_bad_input_gets_a_message_saying_what_to_fix(app: App) -> None:
    bad = await app.client.post(
        "/api/v1/stations/CP-16/operations/unlock-connector", json={"evse_id": 0}, headers=app.auth()
    )
    assert bad.status_code == 422
    assert "evse_id" in bad.json()["detail"]
    unknown_message = await app.client.post(
        "/api/v1/stations/CP-16/operations/trigger-message", json={"message": "Coffee"}, headers=app.auth()
    )
    assert unknown_message.status_code == 422 and "message" in unknown_message.json()["detail"]
    profile = {
        "evse_id": 0,
        "profile": {
            "id": 1, "stack_level": 0, "purpose": "TxProfile", "kind": "Absolute",
            "schedule": {"unit": "A", "periods": [{"start_offset": 0, "limit": 16}]},
        },
    }
    tx_on_station = await app.client.post(
        "/api/v1/stations/CP-16/operations/set-charging-profile", json=profile, headers=app.auth()
    )
    assert tx_on_station.status_code == 422
    assert tx_on_station.json()["detail"] == "a TxProfile is set on an EVSE (evse_id of 1 or more)"
    missing = await app.client.post("/api/v1/stations/NOPE/operations/clear-cache", headers=app.auth())
    assert missing.status_code == 404 and missing.json()["detail"] == "station 'NOPE' does not exist"
    assert app.stations.calls == []


async def test_version_specific_operations(app: App) -> None:
    wrong = await app.client.post(
        "/api/v1/stations/CP-16/operations/GetVariables", json={"getVariableData": []}, headers=app.auth()
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == (
        "GetVariables is an OCPP 2.0.1 or OCPP 2.1 operation; station CP-16 speaks OCPP 1.6"
    )
    unknown = await app.client.post("/api/v1/stations/CP-16/operations/Coffee", json={}, headers=app.auth())
    assert unknown.status_code == 404 and "GetConfiguration" in unknown.json()["detail"]

    app.stations.answers["GetConfiguration"] = CommandReply(
        CommandOutcome.RESULT,
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    )
    got = await app.client.post(
        "/api/v1/stations/CP-16/operations/GetConfiguration", json={"key": ["HeartbeatInterval"]}, headers=app.auth()
    )
    assert got.status_code == 200 and got.json()["status"] == "Accepted"
    config = await app.client.get("/api/v1/stations/CP-16/configuration", headers=app.auth(Role.VIEWER))
    assert config.status_code == 200
    body = config.json()
    assert body["keys"] == [
        {"key": "HeartbeatInterval", "value": "300", "readonly": False, "reported_at": "2026-03-01T12:00:00Z"}
    ]
    assert body["reported_at"] == "2026-03-01T12:00:00Z"
    report = await app.client.post(
        "/api/v1/stations/CP-201/operations/GetBaseReport", json={"reportBase": "FullInventory"}, headers=app.auth()
    )
    assert isinstance(report.json()["request"]["requestId"], int)


async def test_roles(app: App) -> None:
    viewer = app.auth(Role.VIEWER)
    refused = await app.client.post("/api/v1/stations/CP-16/operations/clear-cache", headers=viewer)
    assert refused.status_code == 403
    assert "operate_stations" in refused.json()["detail"]
    bulk = await app.client.post(
        "/api/v1/operations/bulk",
        json={"operation": "clear_cache", "target": {"station_ids": ["CP-16"]}},
        headers=viewer,
    )
    assert bulk.status_code == 403
    for url in ("/api/v1/operations", "/api/v1/operations/bulk", "/api/v1/stations/CP-16/configuration",
                "/api/v1/stations/CP-16/operations", "/api/v1/stations/CP-16/device-events",
                "/api/v1/stations/CP-16/security-events", "/api/v1/stations/CP-16/data-transfers"):
        assert (await app.client.get(url, headers=viewer)).status_code == 200, url
        assert (await app.client.get(url)).status_code == 401, url
    assert app.stations.calls == []


async def test_bulk_operation(app: App) -> None:
    started = await app.client.post(
        "/api/v1/operations/bulk",
        json={
            "operation": "reset",
            "params": {"type": "Hard"},
            "target": {"station_ids": ["CP-16", "CP-201", "CP-OFF"]},
        },
        headers=app.auth(Role.OPERATOR),
    )
    assert started.status_code == 202, started.text
    bulk_id = started.json()["id"]
    await app.ops.wait_for_bulks()
    progress = (await app.client.get(f"/api/v1/operations/bulk/{bulk_id}", headers=app.auth())).json()
    assert (progress["total"], progress["done"]) == (3, 3)
    assert progress["by_outcome"] == {"disconnected": 1, "result": 2}
    assert progress["params"] == {"type": "Hard"}
    per_station = {s["station_id"]: (s["outcome"], len(s["operation_ids"])) for s in progress["stations"]}
    assert per_station == {"CP-16": ("result", 1), "CP-201": ("result", 1), "CP-OFF": ("disconnected", 1)}
    listed = await app.client.get("/api/v1/operations/bulk", headers=app.auth())
    assert [b["id"] for b in listed.json()] == [bulk_id]
    of_bulk = [o["bulk_id"] for o in (await app.client.get("/api/v1/operations", headers=app.auth())).json()["operations"]]
    assert of_bulk == [bulk_id] * 3


async def test_bulk_input_errors(app: App) -> None:
    async def post(body: dict[str, Any]) -> httpx.Response:
        return await app.client.post("/api/v1/operations/bulk", json=body, headers=app.auth())

    bad_params = await post({"operation": "reset", "params": {"type": "Sideways"}, "target": {"station_ids": ["CP-16"]}})
    assert bad_params.status_code == 422 and bad_params.json()["detail"].startswith("params of reset:")
    no_target = await post({"operation": "clear_cache", "target": {}})
    assert no_target.status_code == 422 and "station_ids" in no_target.json()["detail"]
    unknown = await post({"operation": "clear_cache", "target": {"station_ids": ["X-1"]}})
    assert unknown.status_code == 422 and unknown.json()["detail"] == "unknown stations: X-1"
    nothing = await post({"operation": "clear_cache", "target": {"model": "None-such"}})
    assert nothing.status_code == 422 and nothing.json()["detail"] == "no station matches: the stations of model None-such"
    missing = await app.client.get("/api/v1/operations/bulk/99", headers=app.auth())
    assert missing.status_code == 404
