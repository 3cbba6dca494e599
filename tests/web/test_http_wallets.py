"""/api/v1/wallets, /api/v1/ledger/trial-balance and /api/v1/me/wallet: balances, manual
top-ups (idempotent), statements, permissions, amounts as strings."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from charging_harness import DRIVER_PASSWORD, NoMailer, PlainHasher
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.remote_operations import RemoteOperations
from evcms.services.wallets import Wallets
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.ledger import MemoryLedgerRepository
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass
class WalletWeb:
    client: httpx.AsyncClient
    wallets: Wallets
    accounts: DriverAccounts
    keys: dict[Role, str]
    deps: WebDeps

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str) -> tuple[str, dict[str, str]]:
        driver = await self.accounts.register(email, DRIVER_PASSWORD)
        login = await self.accounts.login(email, DRIVER_PASSWORD)
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def top_up(
        self,
        driver_id: str,
        amount: object,
        key: str = "k1",
        role: Role = Role.OPERATOR,
        **body: object,
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/wallets/{driver_id}/top-ups",
            json={"amount": amount, **body},
            headers={**self.auth(role), "Idempotency-Key": key},
        )


@pytest.fixture
async def web() -> AsyncIterator[WalletWeb]:
    db = MemoryDatabase()
    clock = FixedClock(T0)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    store = MemoryDriverStore()
    accounts = DriverAccounts(
        drivers=MemoryDriverRepository(store),
        tokens=MemoryDriverAuthTokenRepository(store),
        mailer=NoMailer(),
        outbox=MemoryOutbox(store),
        hasher=PlainHasher(),
        clock=clock,
        policy=DriverPolicy(require_verified_email=False),
    )
    wallets = Wallets(ledger=MemoryLedgerRepository(), clock=clock)
    deps = WebDeps(
        network=core.network,
        access=core.access,
        operations=RemoteOperations(commands=commands),
        message_log=MemoryMessageLog(db),
        metrics=lambda: (METRICS_BODY, METRICS_TYPE),
        health=Health(),
        ocpp_url=OCPP_URL,
        drivers=accounts,
        clock=clock,
    )
    deps = dataclasses.replace(deps, wallets=wallets)
    app = create_app(deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield WalletWeb(client, wallets, accounts, core.keys, deps)
    await bus.close()


def charge(session_id: int, excl: str, vat: str) -> SessionCharge:
    line = ChargeLine(LineKind.ENERGY, Decimal(10), Decimal(excl), Decimal(vat), Decimal(20))
    return SessionCharge(session_id, "EUR", (line,))


async def test_an_operator_tops_up_a_wallet(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.top_up(driver_id, "20.00", memo="cash at desk", reference="R-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["driver_id"], body["currency"], body["balance"]) == (driver_id, "EUR", "20.00")
    entry = body["entry"]
    assert entry["kind"] == "top_up"
    assert (entry["wallet_change"], entry["owed_change"]) == ("20.00", None)
    assert (entry["memo"], entry["reference"]) == ("cash at desk", "R-1")
    assert entry["postings"] == [
        {"account": "cash:manual", "amount": "20.00", "currency": "EUR"},
        {"account": f"wallet:{driver_id}", "amount": "-20.00", "currency": "EUR"},
    ]
    assert await web.wallets.balance(driver_id) == Decimal("20.00")


async def test_a_top_up_amount_may_be_a_json_number(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.top_up(driver_id, 12.3)
    assert response.status_code == 201, response.text
    assert response.json()["balance"] == "12.30"


async def test_a_retried_top_up_books_once(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    first = await web.top_up(driver_id, "20.00", key="abc")
    again = await web.top_up(driver_id, "20.00", key="abc")
    assert again.status_code == 201
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert again.json()["balance"] == "20.00"
    other = await web.top_up(driver_id, "5.00", key="def")
    assert other.json()["balance"] == "25.00"
    conflict = await web.top_up(driver_id, "30.00", key="abc")
    assert conflict.status_code == 409
    assert "already used" in conflict.json()["detail"]
    assert await web.wallets.balance(driver_id) == Decimal("25.00")


async def test_idempotency_keys_of_two_drivers_do_not_collide(web: WalletWeb) -> None:
    ana, _ = await web.driver("ana@example.com")
    bob, _ = await web.driver("bob@example.com")
    assert (await web.top_up(ana, "1.00", key="same")).status_code == 201
    assert (await web.top_up(bob, "2.00", key="same")).status_code == 201
    assert await web.wallets.balance(bob) == Decimal("2.00")


async def test_a_top_up_without_an_idempotency_key_is_refused(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.client.post(
        f"/api/v1/wallets/{driver_id}/top-ups", json={"amount": "20.00"}, headers=web.auth()
    )
    assert response.status_code == 400
    assert "Idempotency-Key header is required" in response.json()["detail"]
    too_long = await web.top_up(driver_id, "20.00", key="k" * 101)
    assert too_long.status_code == 400
    assert await web.wallets.balance(driver_id) == 0


@pytest.mark.parametrize(
    ("amount", "detail"),
    [
        ("20.001", "more than 2 decimals"),
        ("0", "greater than 0"),
        ("-5", "greater than 0"),
        ("10000.01", "less than or equal to 10000"),
        ("twenty", "amount"),
        ("NaN", "finite number"),
        (None, "amount"),
    ],
)
async def test_bad_amounts_are_refused(web: WalletWeb, amount: object, detail: str) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.top_up(driver_id, amount)
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert await web.wallets.balance(driver_id) == 0


async def test_a_top_up_for_an_unknown_driver_is_not_found(web: WalletWeb) -> None:
    response = await web.top_up("no-such-driver", "20.00")
    assert response.status_code == 404
    assert "driver 'no-such-driver' does not exist" in response.json()["detail"]
    assert await web.wallets.trial_balance() == {}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.VIEWER, 403), (Role.TECHNICIAN, 403), (Role.OPERATOR, 201), (Role.ADMIN, 201)],
)
async def test_booking_money_needs_the_billing_permission(
    web: WalletWeb, role: Role, status: int
) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.top_up(driver_id, "20.00", role=role)
    assert response.status_code == status
    read = await web.client.get(f"/api/v1/wallets/{driver_id}", headers=web.auth(role))
    assert read.status_code == 200  # every role may read


async def test_the_wallet_shows_balance_and_latest_entries(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    await web.top_up(driver_id, "5.00")
    await web.wallets.charge_session(charge(42, "10.00", "2.00"), driver_id)
    await web.wallets.book_receivable(charge(43, "1.00", "0.20"), driver_id)
    response = await web.client.get(f"/api/v1/wallets/{driver_id}", headers=web.auth(Role.VIEWER))
    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == "-7.00"  # a session may overdraw
    assert [
        (e["kind"], e["session_id"], e["wallet_change"], e["owed_change"]) for e in body["entries"]
    ] == [
        ("receivable", 43, None, "1.20"),
        ("session_charge", 42, "-12.00", None),
        ("top_up", None, "5.00", None),
    ]
    assert body["entries"][1]["key"] == "session:42:wallet"


async def test_entries_are_paged_newest_first(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    for i in range(5):
        await web.top_up(driver_id, f"{i + 1}.00", key=f"k{i}")
    url = f"/api/v1/wallets/{driver_id}/entries"
    first = (await web.client.get(url, params={"limit": 2}, headers=web.auth())).json()
    assert [e["wallet_change"] for e in first["entries"]] == ["5.00", "4.00"]
    second = (
        await web.client.get(
            url, params={"limit": 2, "before_id": first["next_before_id"]}, headers=web.auth()
        )
    ).json()
    assert [e["wallet_change"] for e in second["entries"]] == ["3.00", "2.00"]
    last = (
        await web.client.get(
            url, params={"limit": 2, "before_id": second["next_before_id"]}, headers=web.auth()
        )
    ).json()
    assert [e["wallet_change"] for e in last["entries"]] == ["1.00"]
    assert last["next_before_id"] is None
    bad = await web.client.get(url, params={"limit": 0}, headers=web.auth())
    assert bad.status_code == 422


async def test_the_trial_balance_is_for_admins(web: WalletWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    await web.top_up(driver_id, "20.00")
    await web.wallets.charge_session(charge(1, "10.00", "2.00"), driver_id)
    response = await web.client.get("/api/v1/ledger/trial-balance", headers=web.auth())
    assert response.status_code == 200
    body = response.json()
    assert {(r["account"], r["currency"], r["balance"]) for r in body["rows"]} == {
        ("cash:manual", "EUR", "20.00"),
        ("revenue:charging", "EUR", "-10.00"),
        ("vat:payable", "EUR", "-2.00"),
        (f"wallet:{driver_id}", "EUR", "-8.00"),
    }
    assert body["totals"] == {"EUR": "0.00"}
    refused = await web.client.get("/api/v1/ledger/trial-balance", headers=web.auth(Role.OPERATOR))
    assert refused.status_code == 403
    assert "needs an admin key" in refused.json()["detail"]


async def test_a_driver_sees_their_own_wallet(web: WalletWeb) -> None:
    driver_id, headers = await web.driver("ana@example.com")
    other_id, _ = await web.driver("bob@example.com")
    await web.top_up(driver_id, "20.00")
    await web.top_up(other_id, "99.00")
    await web.wallets.charge_session(charge(42, "1.00", "0.20"), driver_id)
    wallet = await web.client.get("/api/v1/me/wallet", headers=headers)
    assert wallet.status_code == 200
    assert wallet.json() == {"currency": "EUR", "balance": "18.80"}
    entries = (await web.client.get("/api/v1/me/wallet/entries", headers=headers)).json()
    assert [(e["kind"], e["wallet_change"]) for e in entries["entries"]] == [
        ("session_charge", "-1.20"),
        ("top_up", "20.00"),
    ]
    assert "postings" not in entries["entries"][0]  # the operator's books stay internal


async def test_drivers_and_operators_keep_to_their_own_endpoints(web: WalletWeb) -> None:
    driver_id, headers = await web.driver("ana@example.com")
    as_operator = await web.client.get("/api/v1/me/wallet", headers=web.auth())
    assert as_operator.status_code == 403
    as_driver = await web.client.get(f"/api/v1/wallets/{driver_id}", headers=headers)
    assert as_driver.status_code == 403
    anonymous = await web.client.get("/api/v1/me/wallet")
    assert anonymous.status_code == 401


async def test_without_wallets_the_endpoints_answer_503(web: WalletWeb) -> None:
    app = create_app(dataclasses.replace(web.deps, wallets=None))
    transport = httpx.ASGITransport(app=app)
    driver_id, headers = await web.driver("ana@example.com")
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        response = await client.get(f"/api/v1/wallets/{driver_id}", headers=web.auth())
        assert response.status_code == 503
        assert response.json()["detail"] == "wallets are not enabled on this server"
        mine = await client.get("/api/v1/me/wallet", headers=headers)
        assert mine.status_code == 503
