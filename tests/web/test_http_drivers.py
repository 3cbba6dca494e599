"""Driver accounts over HTTP: registration, confirmation, login, reset, /me, and what operators
see — with the two kinds of credentials kept apart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from web_harness import FakeStationCommands

from evcms.domain.access import Role
from evcms.mail import OutboxMailer
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.access import AccessControl
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.network import NetworkAdmin
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.memory import (
    MemoryApiKeyRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemorySiteRepository,
    MemoryStationRepository,
)
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "Correct-horse-7"


@dataclass
class DriverWeb:
    client: httpx.AsyncClient
    store: MemoryDriverStore
    clock: FixedClock
    keys: dict[Role, str]

    def operator(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def last_link_token(self, to: str) -> str:
        mail = max((m for m in self.store.mails.values() if m.to_address == to), key=lambda m: m.id)
        found = re.search(r"\?token=([A-Za-z0-9_-]+)", mail.body)
        assert found, mail.body
        return found.group(1)

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.client.post(f"/api/v1{path}", json=body, headers=headers)

    async def signed_up(self, email: str = "ana@example.com", name: str = "Ana") -> dict[str, str]:
        """Register, confirm and log in; the driver's auth header."""
        registered = await self.post("/drivers/register", {"email": email, "password": PASSWORD, "name": name})
        assert registered.status_code == 201, registered.text
        confirmed = await self.post("/drivers/verify-email", {"token": self.last_link_token(email)})
        assert confirmed.status_code == 200, confirmed.text
        login = await self.post("/drivers/login", {"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['token']}"}


async def _build(with_drivers: bool = True) -> AsyncIterator[DriverWeb]:
    db = MemoryDatabase()
    clock = FixedClock(T0)
    hasher = station_hasher()  # cheap argon2 for tests
    bus = InProcessBus()
    commands = FakeStationCommands()
    stations = MemoryStationRepository(db)
    lifecycle = StationLifecycle(
        stations=stations,
        hasher=hasher,
        events=bus,
        clock=clock,
        policy=LifecyclePolicy("off", False, 300, 60),
    )
    network = NetworkAdmin(
        sites=MemorySiteRepository(db),
        stations=stations,
        hasher=hasher,
        commands=commands,
        lifecycle=lifecycle,
        clock=clock,
    )
    access = AccessControl(keys=MemoryApiKeyRepository(db), clock=clock)
    keys = {role: (await access.create_key(f"{role.value} key", role))[1] for role in Role}
    store = MemoryDriverStore()
    outbox = MemoryOutbox(store)
    accounts = DriverAccounts(
        drivers=MemoryDriverRepository(store),
        tokens=MemoryDriverAuthTokenRepository(store),
        mailer=OutboxMailer(outbox=outbox, clock=clock),
        outbox=outbox,
        hasher=hasher,
        clock=clock,
        policy=DriverPolicy(public_base_url="http://evcms.test"),
    )

    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    app = create_app(
        WebDeps(
            network=network,
            access=access,
            operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (b"", "text/plain"),
            health=health,
            ocpp_url="ws://127.0.0.1:9000/ocpp/{station_id}",
            drivers=accounts if with_drivers else None,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield DriverWeb(client, store, clock, keys)
    await bus.close()


@pytest.fixture
async def web() -> AsyncIterator[DriverWeb]:
    async for built in _build():
        yield built


# -- registration, confirmation, login --------------------------------------------------------


async def test_a_driver_registers_confirms_logs_in_and_sees_their_profile(web: DriverWeb) -> None:
    registered = await web.post(
        "/drivers/register",
        {"email": "Ana@Example.com", "password": PASSWORD, "name": "Ана", "language": "bg"},
    )
    assert registered.status_code == 201
    body = registered.json()
    assert body["email"] == "ana@example.com" and body["language"] == "bg"
    assert body["status"] == "active" and body["email_verified"] is False
    assert "password" not in registered.text and "hash" not in registered.text

    refused = await web.post("/drivers/login", {"email": "ana@example.com", "password": PASSWORD})
    assert refused.status_code == 403
    assert "confirm your e-mail address first" in refused.json()["detail"]

    token = web.last_link_token("ana@example.com")
    confirmed = await web.post("/drivers/verify-email", {"token": token})
    assert confirmed.status_code == 200 and confirmed.json()["email_verified"] is True
    again = await web.post("/drivers/verify-email", {"token": token})
    assert again.status_code == 400 and "already used" in again.json()["detail"]

    login = await web.post("/drivers/login", {"email": "ANA@example.com", "password": PASSWORD})
    assert login.status_code == 200
    session = login.json()
    assert session["token"].startswith("drv_") and session["token_type"] == "bearer"
    assert session["expires_at"] == "2026-03-31T12:00:00Z"
    assert session["driver"]["id"] == body["id"]

    me = await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ana@example.com" and me.json()["name"] == "Ана"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"email": "nope", "password": PASSWORD}, "exactly one '@'"),
        ({"email": "ana@example.com", "password": "short"}, "at least 10 characters"),
        ({"email": "ana@example.com", "password": PASSWORD, "language": "de"}, "body field 'language'"),
        ({"email": "ana@example.com"}, "body field 'password': Field required"),
        ({"email": "ana@example.com", "password": PASSWORD, "admin": True}, "body field 'admin'"),
    ],
)
async def test_a_bad_registration_is_422_saying_what_to_fix(
    web: DriverWeb, body: dict[str, Any], says: str
) -> None:
    response = await web.post("/drivers/register", body)
    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert not web.store.drivers


async def test_an_address_registers_once(web: DriverWeb) -> None:
    await web.signed_up()
    response = await web.post(
        "/drivers/register", {"email": "ANA@example.com", "password": "Another-pass-1"}
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


async def test_a_wrong_password_and_an_unknown_address_get_the_same_401(web: DriverWeb) -> None:
    await web.signed_up()
    wrong = await web.post("/drivers/login", {"email": "ana@example.com", "password": "Wrong-pass-1"})
    unknown = await web.post("/drivers/login", {"email": "bob@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail address or password"}


async def test_a_new_confirmation_link_is_answered_the_same_for_every_address(
    web: DriverWeb,
) -> None:
    await web.post("/drivers/register", {"email": "ana@example.com", "password": PASSWORD})
    known = await web.post("/drivers/verify-email/resend", {"email": "ana@example.com"})
    unknown = await web.post("/drivers/verify-email/resend", {"email": "bob@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(web.store.mails) == 2


async def test_logout_ends_the_session(web: DriverWeb) -> None:
    driver = await web.signed_up()
    out = await web.client.post("/api/v1/drivers/logout", headers=driver)
    assert out.status_code == 204
    me = await web.client.get("/api/v1/me", headers=driver)
    assert me.status_code == 401
    assert me.json()["detail"] == "invalid, expired or logged-out driver token; log in again"


# -- password reset ---------------------------------------------------------------------------


async def test_a_password_reset_never_reveals_an_account_and_ends_every_session(
    web: DriverWeb,
) -> None:
    driver = await web.signed_up()
    known = await web.post("/drivers/password-reset/request", {"email": "ana@example.com"})
    unknown = await web.post("/drivers/password-reset/request", {"email": "bob@example.com"})
    invalid = await web.post("/drivers/password-reset/request", {"email": "not an address"})
    assert known.status_code == unknown.status_code == invalid.status_code == 202
    assert known.json() == unknown.json() == invalid.json()

    token = web.last_link_token("ana@example.com")
    weak = await web.post("/drivers/password-reset/confirm", {"token": token, "password": "weak"})
    assert weak.status_code == 422 and "at least 10 characters" in weak.json()["detail"]

    done = await web.post(
        "/drivers/password-reset/confirm", {"token": token, "password": "Brand-new-pass-9"}
    )
    assert done.status_code == 200
    assert (await web.client.get("/api/v1/me", headers=driver)).status_code == 401
    old = await web.post("/drivers/login", {"email": "ana@example.com", "password": PASSWORD})
    assert old.status_code == 401
    new = await web.post("/drivers/login", {"email": "ana@example.com", "password": "Brand-new-pass-9"})
    assert new.status_code == 200
    reused = await web.post(
        "/drivers/password-reset/confirm", {"token": token, "password": "Other-new-pass-9"}
    )
    assert reused.status_code == 400 and "already used" in reused.json()["detail"]


async def test_an_expired_reset_link_is_400(web: DriverWeb) -> None:
    await web.signed_up()
    await web.post("/drivers/password-reset/request", {"email": "ana@example.com"})
    web.clock.advance(3600)
    response = await web.post(
        "/drivers/password-reset/confirm",
        {"token": web.last_link_token("ana@example.com"), "password": "Brand-new-pass-9"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "this password reset link has expired; ask for a new one"


# -- /me --------------------------------------------------------------------------------------


async def test_a_driver_updates_their_profile(web: DriverWeb) -> None:
    driver = await web.signed_up()
    web.clock.advance(10)
    changed = await web.client.patch(
        "/api/v1/me", json={"name": "Ana P.", "language": "bg"}, headers=driver
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Ana P." and changed.json()["language"] == "bg"
    assert changed.json()["updated_at"] == "2026-03-01T12:00:10Z"
    bad = await web.client.patch("/api/v1/me", json={"email": "x@example.com"}, headers=driver)
    assert bad.status_code == 422 and "body field 'email'" in bad.json()["detail"]


async def test_a_driver_changes_their_password_and_stays_signed_in_here_only(
    web: DriverWeb,
) -> None:
    here = await web.signed_up()
    elsewhere = await web.post("/drivers/login", {"email": "ana@example.com", "password": PASSWORD})
    there = {"Authorization": f"Bearer {elsewhere.json()['token']}"}

    wrong = await web.client.post(
        "/api/v1/me/password",
        json={"current_password": "Not-it-123", "new_password": "Brand-new-pass-9"},
        headers=here,
    )
    assert wrong.status_code == 403 and wrong.json()["detail"] == "the current password is wrong"

    changed = await web.client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "Brand-new-pass-9"},
        headers=here,
    )
    assert changed.status_code == 204
    assert (await web.client.get("/api/v1/me", headers=here)).status_code == 200
    assert (await web.client.get("/api/v1/me", headers=there)).status_code == 401


async def test_a_driver_deactivates_their_account(web: DriverWeb) -> None:
    driver = await web.signed_up()
    wrong = await web.client.post("/api/v1/me/deactivate", json={"password": "nope"}, headers=driver)
    assert wrong.status_code == 403
    closed = await web.client.post(
        "/api/v1/me/deactivate", json={"password": PASSWORD}, headers=driver
    )
    assert closed.status_code == 200 and closed.json()["status"] == "deactivated"
    assert (await web.client.get("/api/v1/me", headers=driver)).status_code == 401
    login = await web.post("/drivers/login", {"email": "ana@example.com", "password": PASSWORD})
    assert login.status_code == 403 and "deactivated" in login.json()["detail"]


# -- credentials kept apart -------------------------------------------------------------------


async def test_me_needs_a_driver_token(web: DriverWeb) -> None:
    missing = await web.client.get("/api/v1/me")
    assert missing.status_code == 401
    assert "POST /api/v1/drivers/login" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"

    operator = await web.client.get("/api/v1/me", headers=web.operator())
    assert operator.status_code == 403
    assert operator.json()["detail"].startswith("this is an operator API key (evk_...)")

    bogus = await web.client.get("/api/v1/me", headers={"Authorization": "Bearer drv_nope"})
    assert bogus.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/drivers"),
        ("GET", "/api/v1/drivers/some-id"),
        ("POST", "/api/v1/drivers/some-id/deactivate"),
        ("GET", "/api/v1/outbox"),
    ],
)
async def test_a_driver_token_on_an_operator_endpoint_is_403(
    web: DriverWeb, method: str, path: str
) -> None:
    driver = await web.signed_up()
    response = await web.client.request(method, path, headers=driver)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("this is a driver token (drv_...)")
    assert (await web.client.request(method, path)).status_code == 401  # no credentials at all


# -- operators --------------------------------------------------------------------------------


async def test_operators_list_read_and_deactivate_drivers(web: DriverWeb) -> None:
    for name in ("carol", "ana", "bob"):
        await web.signed_up(f"{name}@example.com", name.title())
    bob_driver = await web.post("/drivers/login", {"email": "bob@example.com", "password": PASSWORD})
    bob = {"Authorization": f"Bearer {bob_driver.json()['token']}"}

    first = await web.client.get("/api/v1/drivers", params={"limit": 2}, headers=web.operator(Role.VIEWER))
    assert first.status_code == 200
    page = first.json()
    assert [d["email"] for d in page["drivers"]] == ["ana@example.com", "bob@example.com"]
    assert page["next_after"] == "bob@example.com"
    rest = await web.client.get(
        "/api/v1/drivers", params={"limit": 2, "after": page["next_after"]}, headers=web.operator()
    )
    assert [d["email"] for d in rest.json()["drivers"]] == ["carol@example.com"]
    assert rest.json()["next_after"] is None

    bob_id = page["drivers"][1]["id"]
    read = await web.client.get(f"/api/v1/drivers/{bob_id}", headers=web.operator(Role.VIEWER))
    assert read.status_code == 200 and read.json()["name"] == "Bob"
    missing = await web.client.get("/api/v1/drivers/nope", headers=web.operator())
    assert missing.status_code == 404 and missing.json() == {"detail": "driver 'nope' does not exist"}

    viewer = await web.client.post(f"/api/v1/drivers/{bob_id}/deactivate", headers=web.operator(Role.VIEWER))
    assert viewer.status_code == 403 and "manage_network" in viewer.json()["detail"]
    closed = await web.client.post(f"/api/v1/drivers/{bob_id}/deactivate", headers=web.operator(Role.OPERATOR))
    assert closed.status_code == 200 and closed.json()["status"] == "deactivated"
    assert (await web.client.get("/api/v1/me", headers=bob)).status_code == 401
    deactivated = await web.client.get(
        "/api/v1/drivers", params={"status": "deactivated"}, headers=web.operator()
    )
    assert [d["email"] for d in deactivated.json()["drivers"]] == ["bob@example.com"]


async def test_the_outbox_shows_mails_newest_first_to_access_managers_only(web: DriverWeb) -> None:
    for name in ("ana", "bob", "carol"):
        await web.post("/drivers/register", {"email": f"{name}@example.com", "password": PASSWORD})

    newest = await web.client.get("/api/v1/outbox", params={"limit": 2}, headers=web.operator())
    assert newest.status_code == 200
    page = newest.json()
    assert [m["to_address"] for m in page["mails"]] == ["carol@example.com", "bob@example.com"]
    assert page["mails"][0]["subject"] == "Confirm your e-mail address"
    assert "http://evcms.test/app/verify-email?token=" in page["mails"][0]["body"]
    assert page["mails"][0]["sent_at"] is None
    older = await web.client.get(
        "/api/v1/outbox", params={"before_id": page["next_before_id"]}, headers=web.operator()
    )
    assert [m["to_address"] for m in older.json()["mails"]] == ["ana@example.com"]

    operator = await web.client.get("/api/v1/outbox", headers=web.operator(Role.OPERATOR))
    assert operator.status_code == 403 and "manage_access" in operator.json()["detail"]


async def test_without_driver_accounts_the_endpoints_answer_503() -> None:
    async for web in _build(with_drivers=False):
        response = await web.post("/drivers/login", {"email": "ana@example.com", "password": PASSWORD})
        assert response.status_code == 503
        assert response.json() == {"detail": "driver accounts are not enabled on this server"}
        stations = await web.client.get("/api/v1/stations", headers=web.operator())
        assert stations.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "security"),
    [
        ("post", "/api/v1/drivers/register", None),
        ("post", "/api/v1/drivers/verify-email", None),
        ("post", "/api/v1/drivers/verify-email/resend", None),
        ("post", "/api/v1/drivers/login", None),
        ("post", "/api/v1/drivers/logout", "DriverToken"),
        ("post", "/api/v1/drivers/password-reset/request", None),
        ("post", "/api/v1/drivers/password-reset/confirm", None),
        ("get", "/api/v1/me", "DriverToken"),
        ("patch", "/api/v1/me", "DriverToken"),
        ("post", "/api/v1/me/password", "DriverToken"),
        ("post", "/api/v1/me/deactivate", "DriverToken"),
        ("get", "/api/v1/drivers", "ApiKey"),
        ("get", "/api/v1/drivers/{driver_id}", "ApiKey"),
        ("post", "/api/v1/drivers/{driver_id}/deactivate", "ApiKey"),
        ("get", "/api/v1/outbox", "ApiKey"),
    ],
)
async def test_the_openapi_document_names_the_credential_of_each_endpoint(
    web: DriverWeb, method: str, path: str, security: str | None
) -> None:
    operation = (await web.client.get("/openapi.json")).json()["paths"][path][method]
    expected = None if security is None else [{security: []}]
    if security == "ApiKey":  # operator endpoints: an API key or the console's sign-in cookie
        expected = [{"ApiKey": []}, {"ConsoleSession": []}]
    assert operation.get("security") == expected
