"""/api/v1/plans, /api/v1/subscriptions and /api/v1/me/{plans,subscription} over the in-memory
repository, a real ``Subscriptions`` service and a fake fee collector."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
from evcms.domain.subscriptions import Plan, Subscription
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.remote_operations import RemoteOperations
from evcms.services.subscriptions import FeeOutcome, Subscriptions
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.storage.subscriptions import MemorySubscriptionRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
PLAN = {
    "name": "Commuter",
    "currency": "EUR",
    "monthly_fee": "9.99",
    "fee_vat_percent": "20",
    "included_kwh": "50",
    "discount_percent": "5",
}


@dataclass
class Fees:
    decline: str | None = None
    calls: list[tuple[str, datetime]] = field(default_factory=list)

    async def collect(
        self, subscription: Subscription, plan: Plan, period_start: datetime, period_end: datetime
    ) -> FeeOutcome:
        self.calls.append((subscription.driver_id, period_start))
        if self.decline:
            return FeeOutcome(paid=False, error=self.decline)
        return FeeOutcome(paid=True, reference="ok")


@dataclass
class SubscriptionWeb:
    client: httpx.AsyncClient
    accounts: DriverAccounts
    service: Subscriptions
    fees: Fees
    clock: FixedClock
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str) -> tuple[str, dict[str, str]]:
        driver = await self.accounts.register(email, DRIVER_PASSWORD)
        login = await self.accounts.login(email, DRIVER_PASSWORD)
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def plan(self, **changes: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/plans", json={**PLAN, **changes}, headers=self.auth(Role.OPERATOR)
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


async def _build(enabled: bool = True) -> AsyncIterator[SubscriptionWeb]:
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
    fees = Fees()
    service = Subscriptions(subscriptions=MemorySubscriptionRepository(), clock=clock, fees=fees)
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
    app = create_app(dataclasses.replace(deps, subscriptions=service if enabled else None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield SubscriptionWeb(client, accounts, service, fees, clock, core.keys)
    await bus.close()


@pytest.fixture
async def web() -> AsyncIterator[SubscriptionWeb]:
    async for harness in _build():
        yield harness


async def test_operators_add_read_list_and_retire_plans(web: SubscriptionWeb) -> None:
    created = await web.plan(tariff_id="T-SUB")
    assert created == {
        "id": created["id"],
        "name": "Commuter",
        "currency": "EUR",
        "monthly_fee": "9.99",
        "fee_vat_percent": "20",
        "fee_vat": "2.00",
        "fee_incl_vat": "11.99",
        "included_kwh": "50",
        "discount_percent": "5",
        "tariff_id": "T-SUB",
        "active": True,
        "created_at": "2026-01-31T12:00:00Z",
    }
    web.clock.advance(60)
    other = await web.plan(name="Discount", monthly_fee=4, included_kwh="0", discount_percent="12.5")
    assert (other["monthly_fee"], other["discount_percent"]) == ("4.00", "12.5")
    got = await web.client.get(f"/api/v1/plans/{created['id']}", headers=web.auth(Role.VIEWER))
    assert got.status_code == 200 and got.json() == created
    retired = await web.client.delete(f"/api/v1/plans/{created['id']}", headers=web.auth(Role.OPERATOR))
    assert retired.status_code == 200 and retired.json()["active"] is False
    listed = await web.client.get("/api/v1/plans", headers=web.auth(Role.VIEWER))
    assert [p["id"] for p in listed.json()["plans"]] == [created["id"], other["id"]]
    active = await web.client.get("/api/v1/plans", params={"active_only": "true"}, headers=web.auth(Role.VIEWER))
    assert [p["id"] for p in active.json()["plans"]] == [other["id"]]
    missing = await web.client.get("/api/v1/plans/nope", headers=web.auth())
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_only_admins_and_operators_change_plans(web: SubscriptionWeb) -> None:
    for role in (Role.VIEWER, Role.TECHNICIAN):
        response = await web.client.post("/api/v1/plans", json=PLAN, headers=web.auth(role))
        assert response.status_code == 403
    plan = await web.plan()
    response = await web.client.delete(f"/api/v1/plans/{plan['id']}", headers=web.auth(Role.VIEWER))
    assert response.status_code == 403
    assert (await web.client.get("/api/v1/plans")).status_code == 401
    created = await web.client.post("/api/v1/plans", json=PLAN, headers=web.auth(Role.ADMIN))
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"monthly_fee": "9.999"}, "monthly_fee"),
        ({"monthly_fee": "-1"}, "monthly_fee"),
        ({"discount_percent": "150"}, "discount_percent"),
        ({"currency": "E1R"}, "currency"),
        ({"name": ""}, "name"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_a_bad_plan_is_refused_with_what_to_fix(
    web: SubscriptionWeb, changes: dict[str, Any], field_name: str
) -> None:
    response = await web.client.post(
        "/api/v1/plans", json={**PLAN, **changes}, headers=web.auth(Role.OPERATOR)
    )
    assert response.status_code == 422
    assert field_name in response.json()["detail"]


async def test_a_driver_subscribes_reads_usage_and_cancels(web: SubscriptionWeb) -> None:
    plan = await web.plan()
    driver_id, me = await web.driver("ana@example.com")
    offered = await web.client.get("/api/v1/me/plans", headers=me)
    assert offered.status_code == 200 and [p["id"] for p in offered.json()["plans"]] == [plan["id"]]
    none_yet = await web.client.get("/api/v1/me/subscription", headers=me)
    assert none_yet.status_code == 404 and "/api/v1/me/plans" in none_yet.json()["detail"]

    created = await web.client.post("/api/v1/me/subscription", json={"plan_id": plan["id"]}, headers=me)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["driver_id"], body["plan"]["id"]) == ("active", driver_id, plan["id"])
    assert (body["period_start"], body["period_end"]) == ("2026-01-31T12:00:00Z", "2026-02-28T12:00:00Z")
    assert body["usage"] == {"used_kwh": "0", "included_kwh": "50", "left_kwh": "50"}
    assert (body["benefits_apply"], body["renews"]) == (True, True)
    assert web.fees.calls == [(driver_id, T0)]

    session = SessionCharge(
        7, "EUR", (ChargeLine(LineKind.ENERGY, Decimal("12.345"), Decimal("3.70"), Decimal("0.74"), Decimal(20)),)
    )
    await web.service.apply(driver_id, session, at=T0)
    mine = await web.client.get("/api/v1/me/subscription", headers=me)
    assert mine.json()["usage"] == {"used_kwh": "12.345", "included_kwh": "50", "left_kwh": "37.655"}

    again = await web.client.post("/api/v1/me/subscription", json={"plan_id": plan["id"]}, headers=me)
    assert again.status_code == 409 and "cancel it" in again.json()["detail"]

    cancelled = await web.client.delete("/api/v1/me/subscription", headers=me)
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_at_period_end"]) == ("cancelled", True)
    assert (cancelled.json()["benefits_apply"], cancelled.json()["renews"]) == (True, False)
    assert cancelled.json()["period_end"] == "2026-02-28T12:00:00Z"  # benefits until then

    listed = await web.client.get(
        "/api/v1/subscriptions", params={"driver_id": driver_id}, headers=web.auth(Role.VIEWER)
    )
    assert [(s["id"], s["status"]) for s in listed.json()["subscriptions"]] == [(body["id"], "cancelled")]
    other = await web.client.get("/api/v1/subscriptions", params={"driver_id": "x"}, headers=web.auth())
    assert other.json() == {"subscriptions": []}


async def test_an_unpaid_fee_is_402_with_the_reason(web: SubscriptionWeb) -> None:
    plan = await web.plan()
    _, me = await web.driver("ana@example.com")
    web.fees.decline = "your wallet holds 2.00 EUR; top it up"
    response = await web.client.post("/api/v1/me/subscription", json={"plan_id": plan["id"]}, headers=me)
    assert response.status_code == 402
    assert "11.99 EUR" in response.json()["detail"] and "top it up" in response.json()["detail"]
    assert (await web.client.get("/api/v1/me/subscription", headers=me)).status_code == 404


async def test_retired_or_unknown_plans_cannot_be_subscribed(web: SubscriptionWeb) -> None:
    plan = await web.plan()
    await web.client.delete(f"/api/v1/plans/{plan['id']}", headers=web.auth())
    _, me = await web.driver("ana@example.com")
    assert (await web.client.get("/api/v1/me/plans", headers=me)).json() == {"plans": []}
    retired = await web.client.post("/api/v1/me/subscription", json={"plan_id": plan["id"]}, headers=me)
    assert retired.status_code == 409 and "retired" in retired.json()["detail"]
    unknown = await web.client.post("/api/v1/me/subscription", json={"plan_id": "nope"}, headers=me)
    assert unknown.status_code == 404
    nothing = await web.client.delete("/api/v1/me/subscription", headers=me)
    assert nothing.status_code == 404


async def test_driver_endpoints_need_a_driver_and_operators_an_api_key(web: SubscriptionWeb) -> None:
    assert (await web.client.get("/api/v1/me/subscription")).status_code == 401
    operator_key = await web.client.get("/api/v1/me/plans", headers=web.auth())
    assert operator_key.status_code == 403
    _, me = await web.driver("ana@example.com")
    assert (await web.client.get("/api/v1/plans", headers=me)).status_code == 403
    assert (await web.client.get("/api/v1/subscriptions", headers=me)).status_code == 403


async def test_without_the_service_the_endpoints_answer_503() -> None:
    async for web in _build(enabled=False):
        _, me = await web.driver("ana@example.com")
        assert (await web.client.get("/api/v1/plans", headers=web.auth())).status_code == 503
        assert (await web.client.get("/api/v1/me/subscription", headers=me)).status_code == 503
