"""/api/v1/webhooks over the memory twin and a fake sender: CRUD, the secret shown once, the
delivery log, a test ping, redelivery, roles and 4xx messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
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
from evcms.domain.webhooks import AttemptOutcome, RetryPolicy
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.remote_operations import RemoteOperations
from evcms.services.webhooks import WebhookPolicy, Webhooks
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.storage.webhooks import MemoryWebhookRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps
from evcms.web.event_schemas import EVENT_TYPES

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Sender:
    codes: list[int] = field(default_factory=list)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptOutcome:
        code = self.codes.pop(0) if self.codes else 200
        return AttemptOutcome(code, None if code < 300 else f"HTTP {code}", 5)


@dataclass
class HookWeb:
    client: httpx.AsyncClient
    webhooks: Webhooks
    sender: Sender
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
async def web() -> AsyncIterator[HookWeb]:
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    clock = FixedClock(T0)
    bus = InProcessBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    sender = Sender()

    async def no_site(_: object) -> None:
        return None

    webhooks = Webhooks(
        repository=MemoryWebhookRepository(), sender=sender, clock=clock, serialise=lambda e: None,
        event_types=EVENT_TYPES, site_of=no_site,
        policy=WebhookPolicy(retry=RetryPolicy(base_seconds=0.001, max_attempts=1)),
    )
    await webhooks.start()
    app = create_app(
        WebDeps(
            network=core.network, access=core.access, operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db), metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(), ocpp_url=OCPP_URL, webhooks=webhooks,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield HookWeb(client, webhooks, sender, core.keys)
    await bus.close()


async def test_crud_with_the_secret_shown_once(web: HookWeb) -> None:
    admin = web.auth()
    created = await web.client.post(
        "/api/v1/webhooks", json={"url": "https://ops.example.com/hook", "event_types": ["alert", "station.disconnected"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["event_types"] == ["alert", "station.disconnected"]
    shown = await web.client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin)
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert [h["id"] for h in (await web.client.get("/api/v1/webhooks", headers=admin)).json()["webhooks"]] == [hook["id"]]
    changed = await web.client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"enabled": False, "station_id": "CP-1"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["station_id"], changed.json()["url"]) == (False, "CP-1", "https://ops.example.com/hook")
    cleared = await web.client.patch(f"/api/v1/webhooks/{hook['id']}", json={"station_id": None}, headers=admin)
    assert cleared.json()["station_id"] is None
    assert (await web.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin)).status_code == 204
    assert (await web.client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin)).status_code == 404


async def test_a_test_ping_its_log_and_a_redelivery(web: HookWeb) -> None:
    admin = web.auth()
    hook = (await web.client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["alert"], "secret": "0123456789abcdef"},
        headers=admin,
    )).json()
    assert hook["secret"] == "0123456789abcdef"
    web.sender.codes = [502]
    ping = await web.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin)
    assert ping.status_code == 202 and ping.json()["event_type"] == "ping"
    await web.webhooks.send_due()
    log = (await web.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin)).json()
    [delivery] = log["deliveries"]
    assert delivery["status"] == "failed"
    assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempt_log"]] == [(1, 502, "HTTP 502")]
    again = await web.client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver", headers=admin)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    twice = await web.client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver", headers=admin)
    assert twice.status_code == 409 and "still pending" in twice.json()["detail"]
    await web.webhooks.send_due()
    done = (await web.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=admin)).json()
    assert done["status"] == "delivered" and [a["status_code"] for a in done["attempt_log"]] == [502, 200]
    failed_only = await web.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"}, headers=admin)
    assert failed_only.json()["deliveries"] == []


async def test_roles_and_bad_input(web: HookWeb) -> None:
    operator = web.auth(Role.TECHNICIAN)
    denied = await web.client.get("/api/v1/webhooks", headers=operator)
    assert denied.status_code == 403 and "manage_network" in denied.json()["detail"]
    admin = web.auth()
    for body, message in [
        ({"url": "not a url", "event_types": ["alert"]}, "url must be an absolute http:// or https:// URL"),
        ({"url": "http://x/y", "event_types": ["alarm"]}, "unknown event type(s) alarm; known: station.connected"),
        ({"url": "http://x/y", "event_types": ["alert"], "secret": "123"}, "secret must have at least 16 characters"),
        ({"url": "http://x/y", "event_types": ["alert"], "site_id": "Not A Slug"}, "site"),
    ]:
        response = await web.client.post("/api/v1/webhooks", json=body, headers=admin)
        assert response.status_code in (400, 422), response.text
        assert message in response.json()["detail"], response.json()["detail"]
    missing = await web.client.post("/api/v1/webhooks/nope/test", headers=admin)
    assert missing.status_code == 404 and missing.json()["detail"] == "no webhook subscription nope"
    no_body = await web.client.post("/api/v1/webhooks", headers=admin)
    assert no_body.status_code == 422
