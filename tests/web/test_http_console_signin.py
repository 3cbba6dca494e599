"""The console's sign-in: operator accounts, the session cookie, the CSRF header, and users'
administration. A signed-in user acts with their role's permissions, like an API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from web_harness import FakeStationCommands, core_services

from evcms.domain.access import Role
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.clock import FixedClock
from evcms.services.operators import OperatorAccounts
from evcms.services.remote_operations import RemoteOperations
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.storage.operators import (
    MemoryOperatorSessionRepository,
    MemoryOperatorStore,
    MemoryOperatorUserRepository,
)
from evcms.web.app import create_app
from evcms.web.auth import CSRF_HEADER, SESSION_COOKIE
from evcms.web.deps import WebDeps

PASSWORD = "correct horse battery"


@dataclass
class Console:
    client: httpx.AsyncClient
    operators: OperatorAccounts
    clock: FixedClock
    admin_key: str

    async def sign_in(self, email: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["csrf_token"])


@pytest.fixture
async def console() -> AsyncIterator[Console]:
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    bus = InProcessBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    store = MemoryOperatorStore()
    operators = OperatorAccounts(
        users=MemoryOperatorUserRepository(store),
        sessions=MemoryOperatorSessionRepository(store),
        hasher=station_hasher(),  # a cheap argon2 profile: tests sign in often
        clock=clock,
    )
    for email, role in (("admin@ops.test", Role.ADMIN), ("viewer@ops.test", Role.VIEWER),
                        ("tech@ops.test", Role.TECHNICIAN)):
        await operators.add_user(email, PASSWORD, role, name=email.split("@")[0])
    app = create_app(
        WebDeps(
            network=core.network,
            access=core.access,
            operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (b"", "text/plain"),
            health=lambda: None,  # type: ignore[arg-type,return-value]
            ocpp_url="ws://127.0.0.1:9000/ocpp/{station_id}",
            operators=operators,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield Console(client, operators, clock, core.keys[Role.ADMIN])
    await bus.close()


async def test_a_signed_in_user_reads_with_the_cookie_and_writes_with_the_csrf_header(
    console: Console,
) -> None:
    csrf = await console.sign_in("ADMIN@ops.test ")  # the address is matched case-insensitively
    cookie = console.client.cookies.get(SESSION_COOKIE)
    assert cookie is not None and cookie.startswith("ops_")

    me = (await console.client.get("/api/v1/auth/me")).json()
    assert me["user"]["email"] == "admin@ops.test"
    assert me["user"]["role"] == "admin"
    assert "manage_access" in me["user"]["permissions"]
    assert me["csrf_token"] == csrf

    assert (await console.client.get("/api/v1/stations")).status_code == 200
    refused = await console.client.post("/api/v1/sites", json={"id": "north", "name": "North"})
    assert refused.status_code == 403
    assert CSRF_HEADER in refused.json()["detail"]
    wrong = await console.client.post(
        "/api/v1/sites", json={"id": "north", "name": "North"}, headers={CSRF_HEADER: "nope"}
    )
    assert wrong.status_code == 403
    made = await console.client.post(
        "/api/v1/sites", json={"id": "north", "name": "North"}, headers={CSRF_HEADER: csrf}
    )
    assert made.status_code == 201, made.text


async def test_the_role_of_the_user_is_enforced_by_the_api(console: Console) -> None:
    csrf = await console.sign_in("viewer@ops.test")
    assert (await console.client.get("/api/v1/stations")).status_code == 200
    response = await console.client.post(
        "/api/v1/stations", json={"id": "CP-9"}, headers={CSRF_HEADER: csrf}
    )
    assert response.status_code == 403
    assert "user 'viewer@ops.test' has role 'viewer'" in response.json()["detail"]


async def test_wrong_passwords_are_refused_alike_and_then_blocked(console: Console) -> None:
    for email in ("admin@ops.test", "nobody@ops.test"):
        response = await console.client.post(
            "/api/v1/auth/login", json={"email": email, "password": "wrong password!"}
        )
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong e-mail address or password"
    for _ in range(5):  # five wrong passwords for one address
        await console.client.post(
            "/api/v1/auth/login", json={"email": "tech@ops.test", "password": "wrong password!"}
        )
    blocked = await console.client.post(
        "/api/v1/auth/login", json={"email": "tech@ops.test", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    console.clock.advance(15 * 60)
    assert (
        await console.client.post(
            "/api/v1/auth/login", json={"email": "tech@ops.test", "password": PASSWORD}
        )
    ).status_code == 200


async def test_logout_and_expiry_end_the_session(console: Console) -> None:
    await console.sign_in("admin@ops.test")
    assert (await console.client.post("/api/v1/auth/logout")).status_code == 204
    assert console.client.cookies.get(SESSION_COOKIE) is None
    assert (await console.client.get("/api/v1/stations")).status_code == 401

    await console.sign_in("admin@ops.test")
    console.clock.advance(12 * 3600)
    gone = await console.client.get("/api/v1/stations")
    assert gone.status_code == 401
    assert "sign in again" in gone.json()["detail"]


async def test_admins_manage_users_and_disabling_ends_sessions(console: Console) -> None:
    admin = {"Authorization": f"Bearer {console.admin_key}"}
    created = await console.client.post(
        "/api/v1/users",
        json={"email": "new@ops.test", "password": PASSWORD, "role": "operator"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    again = await console.client.post(
        "/api/v1/users",
        json={"email": "NEW@ops.test", "password": PASSWORD, "role": "operator"},
        headers=admin,
    )
    assert again.status_code == 409
    short = await console.client.post(
        "/api/v1/users", json={"email": "x@ops.test", "password": "short", "role": "viewer"},
        headers=admin,
    )
    assert short.status_code == 422
    assert "at least" in short.json()["detail"]

    await console.sign_in("new@ops.test")
    assert (await console.client.get("/api/v1/stations")).status_code == 200
    console.client.cookies.clear()
    disabled = await console.client.patch(
        f"/api/v1/users/{user_id}", json={"disabled": True}, headers=admin
    )
    assert disabled.json()["disabled"] is True
    login = await console.client.post(
        "/api/v1/auth/login", json={"email": "new@ops.test", "password": PASSWORD}
    )
    assert login.status_code == 403


async def test_an_admin_cannot_lock_themselves_out(console: Console) -> None:
    csrf = await console.sign_in("admin@ops.test")
    me = (await console.client.get("/api/v1/auth/me")).json()["user"]
    response = await console.client.patch(
        f"/api/v1/users/{me['id']}", json={"role": "viewer"}, headers={CSRF_HEADER: csrf}
    )
    assert response.status_code == 409
    listed = await console.client.get("/api/v1/users")
    assert sorted(u["email"] for u in listed.json()) == [
        "admin@ops.test", "tech@ops.test", "viewer@ops.test",
    ]
