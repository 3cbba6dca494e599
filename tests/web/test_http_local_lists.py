"""/api/v1/stations/{id}/local-list, .../local-list/sync, .../local-list/version, .../clear-cache.

The web app over the in-memory twins with a real LocalLists service and the real 1.6 / 2.0.1
translation (``LocalListCommands``) over a scripted station that keeps its list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from web_harness import METRICS_BODY, METRICS_TYPE, OCPP_URL, Health

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.domain.stations import Station
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.access import AccessControl
from evcms.services.clock import FixedClock
from evcms.services.local_lists import LocalListPolicy, LocalLists
from evcms.services.network import NetworkAdmin
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.services.tokens import TokenAdmin
from evcms.station_gateway.local_list_commands import LocalListCommands
from evcms.storage.local_lists import MemoryLocalListRepository
from evcms.storage.memory import (
    MemoryApiKeyRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemorySiteRepository,
    MemoryStationRepository,
    MemoryTokenRepository,
)
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class ScriptedStations:
    """StationCommands: connected stations with a version; answers by action."""

    versions: dict[StationId, str] = field(default_factory=dict)
    answers: dict[str, CommandReply] = field(default_factory=dict)
    calls: list[tuple[StationId, str, dict[str, Any]]] = field(default_factory=list)
    list_version: int = 0

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.versions

    def version_of(self, station_id: StationId) -> str | None:
        return self.versions.get(station_id)

    async def call(
        self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CommandReply:
        if station_id not in self.versions:
            return CommandReply(CommandOutcome.DISCONNECTED)
        self.calls.append((station_id, action, payload))
        if action in self.answers:
            return self.answers[action]
        if action == "SendLocalList":
            self.list_version = payload.get("listVersion", payload.get("versionNumber", 0))
            return CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
        if action == "GetLocalListVersion":
            field_name = "listVersion" if self.versions[station_id] == "ocpp1.6" else "versionNumber"
            return CommandReply(CommandOutcome.RESULT, {field_name: self.list_version})
        return CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})


@dataclass
class ListsWeb:
    client: httpx.AsyncClient
    stations: ScriptedStations
    tokens: TokenAdmin
    lists: LocalLists
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def web() -> AsyncIterator[ListsWeb]:
    db = MemoryDatabase()
    clock = FixedClock(START)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    for sid in ("CP-16", "CP-201", "CP-OFF"):
        await stations.add(Station(StationId(sid), START))
    scripted = ScriptedStations({StationId("CP-16"): "ocpp1.6", StationId("CP-201"): "ocpp2.0.1"})
    hasher = station_hasher()
    lifecycle = StationLifecycle(
        stations=stations,
        hasher=hasher,
        events=bus,
        clock=clock,
        policy=LifecyclePolicy("off", True, 300, 60),
    )
    access = AccessControl(keys=MemoryApiKeyRepository(db), clock=clock)
    keys = {}
    for role in Role:
        _, secret = await access.create_key(f"{role.value} key", role)
        keys[role] = secret
    token_repository = MemoryTokenRepository(db)
    lists = LocalLists(
        lists=MemoryLocalListRepository(),
        tokens=token_repository,
        stations=stations,
        commands=LocalListCommands(scripted),
        clock=clock,
        policy=LocalListPolicy(auto_sync=False),
    )
    app = create_app(
        WebDeps(
            network=NetworkAdmin(
                sites=MemorySiteRepository(db),
                stations=stations,
                hasher=hasher,
                commands=scripted,
                lifecycle=lifecycle,
                clock=clock,
            ),
            access=access,
            operations=RemoteOperations(commands=scripted),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            clock=clock,
            local_lists=lists,
        )
    )
    tokens = TokenAdmin(tokens=token_repository, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield ListsWeb(client, scripted, tokens, lists, keys)
    await lists.close()
    await bus.close()


async def test_sync_sends_the_list_and_get_shows_its_state(web: ListsWeb) -> None:
    await web.tokens.issue("CARD-1")
    await web.tokens.issue("CARD-2", group_id="FLEET")
    before = await web.client.get("/api/v1/stations/CP-16/local-list", headers=web.auth(Role.VIEWER))
    assert before.status_code == 200, before.text
    assert before.json() | {"updated_at": None} == {
        "station_id": "CP-16",
        "status": "pending",
        "version": 0,
        "entries": 0,
        "synced_at": None,
        "error": None,
        "updated_at": None,
        "connected": True,
    }

    response = await web.client.post("/api/v1/stations/CP-16/local-list/sync", headers=web.auth(Role.OPERATOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "sent" and body["update_type"] == "Full" and body["version"] == 1
    assert body["station_answer"] == {"outcome": "result", "payload": {"status": "Accepted"}}
    assert body["local_list"]["status"] == "in_sync" and body["local_list"]["entries"] == 2
    _, action, payload = web.stations.calls[-1]
    assert action == "SendLocalList"
    assert payload == {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": "CARD-1", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "CARD-2", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}},
        ],
    }

    again = await web.client.post("/api/v1/stations/CP-16/local-list/sync", headers=web.auth())
    assert again.json()["outcome"] == "up_to_date" and again.json()["messages"] == 0
    forced = await web.client.post(
        "/api/v1/stations/CP-16/local-list/sync", params={"full": "true"}, headers=web.auth()
    )
    assert forced.json()["update_type"] == "Full" and forced.json()["version"] == 2

    state = await web.client.get("/api/v1/stations/CP-16/local-list", headers=web.auth(Role.VIEWER))
    assert (state.json()["version"], state.json()["entries"], state.json()["synced_at"]) == (
        2,
        2,
        "2026-03-01T12:00:00Z",
    )


async def test_a_2_0_1_station_gets_id_tokens_and_long_ones_are_skipped_on_1_6(web: ListsWeb) -> None:
    await web.tokens.issue("CARD-1")
    await web.tokens.issue("A-CARD-ID-LONGER-THAN-TWENTY")
    response = await web.client.post("/api/v1/stations/CP-201/local-list/sync", headers=web.auth())
    assert response.json()["skipped"] == []
    _, _, payload = web.stations.calls[-1]
    assert payload == {
        "versionNumber": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": "A-CARD-ID-LONGER-THAN-TWENTY", "type": "ISO14443"},
                "idTokenInfo": {"status": "Accepted"},
            },
            {"idToken": {"idToken": "CARD-1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}},
        ],
    }
    response = await web.client.post("/api/v1/stations/CP-16/local-list/sync", headers=web.auth())
    assert response.json()["skipped"] == ["A-CARD-ID-LONGER-THAN-TWENTY"]
    assert response.json()["local_list"]["entries"] == 1


async def test_a_refused_list_shows_failed_with_the_reason(web: ListsWeb) -> None:
    await web.tokens.issue("CARD-1")
    web.stations.answers["SendLocalList"] = CommandReply(CommandOutcome.RESULT, {"status": "Failed"})
    response = await web.client.post("/api/v1/stations/CP-16/local-list/sync", headers=web.auth())
    assert response.status_code == 200
    assert response.json()["outcome"] == "refused"
    assert response.json()["local_list"]["status"] == "failed"
    assert response.json()["local_list"]["error"] == "the station answered Failed"


async def test_version_check_compares_with_what_evcms_sent(web: ListsWeb) -> None:
    await web.tokens.issue("CARD-1")
    await web.client.post("/api/v1/stations/CP-201/local-list/sync", headers=web.auth())
    response = await web.client.post("/api/v1/stations/CP-201/local-list/version", headers=web.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["station_version"], body["evcms_version"], body["in_sync"]) == (1, 1, True)
    assert body["station_answer"]["payload"] == {"versionNumber": 1}
    assert web.stations.calls[-1][1:] == ("GetLocalListVersion", {})

    web.stations.list_version = 0
    response = await web.client.post("/api/v1/stations/CP-201/local-list/version", headers=web.auth())
    assert response.json()["in_sync"] is False
    assert response.json()["local_list"]["status"] == "failed"


async def test_clear_cache_passes_the_station_answer(web: ListsWeb) -> None:
    web.stations.answers["ClearCache"] = CommandReply(CommandOutcome.RESULT, {"status": "Rejected"})
    response = await web.client.post("/api/v1/stations/CP-16/clear-cache", headers=web.auth(Role.OPERATOR))
    assert response.status_code == 200
    assert response.json() == {"outcome": "result", "payload": {"status": "Rejected"}}
    assert web.stations.calls[-1][1:] == ("ClearCache", {})


@pytest.mark.parametrize(
    "path",
    ["local-list/sync", "local-list/version", "clear-cache"],
)
async def test_an_offline_station_is_409_and_an_unknown_one_404(web: ListsWeb, path: str) -> None:
    response = await web.client.post(f"/api/v1/stations/CP-OFF/{path}", headers=web.auth())
    assert response.status_code == 409, response.text
    assert response.json() == {"detail": "station CP-OFF is not connected"}
    response = await web.client.post(f"/api/v1/stations/NOPE/{path}", headers=web.auth())
    assert response.status_code == 404
    assert web.stations.calls == []


async def test_a_station_that_does_not_answer_is_504(web: ListsWeb) -> None:
    await web.tokens.issue("CARD-1")
    web.stations.answers["SendLocalList"] = CommandReply(CommandOutcome.TIMEOUT)
    response = await web.client.post("/api/v1/stations/CP-16/local-list/sync", headers=web.auth())
    assert response.status_code == 504
    assert "did not answer SendLocalList in time" in response.json()["detail"]
    state = await web.client.get("/api/v1/stations/CP-16/local-list", headers=web.auth())
    assert state.json()["status"] == "failed"


async def test_permissions(web: ListsWeb) -> None:
    for path in ("local-list/sync", "local-list/version", "clear-cache"):
        response = await web.client.post(f"/api/v1/stations/CP-16/{path}", headers=web.auth(Role.VIEWER))
        assert response.status_code == 403, path
    response = await web.client.get("/api/v1/stations/CP-16/local-list")
    assert response.status_code == 401
    assert web.stations.calls == []


async def test_without_the_service_the_endpoints_answer_503() -> None:
    from web_harness import build_web

    async with build_web() as plain:
        await plain.stations.add(Station(StationId("CP-1"), START))
        response = await plain.client.get("/api/v1/stations/CP-1/local-list", headers=plain.auth())
        assert response.status_code == 503
        assert "not enabled" in response.json()["detail"]
