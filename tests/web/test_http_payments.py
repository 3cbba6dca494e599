"""/api/v1/me/payment-methods, /api/v1/payments and Stripe's webhook, with the real
StripeProvider talking to StripeFake over HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
from evcms.messaging.bus import InProcessBus
from evcms.payment_providers.stripe import StripeProvider
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.payments import CardPayments
from evcms.services.remote_operations import RemoteOperations
from evcms.simulator.stripe_fake import StripeFake
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.storage.payments import MemoryPaymentRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ME = "/api/v1/me/payment-methods"
WEBHOOK = "/api/v1/payments/stripe/webhook"


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain:" + password


class NoMailer:
    async def send(self, to_address: str, subject: str, body: str) -> None:
        pass


@dataclass
class PaymentsWeb:
    client: httpx.AsyncClient
    fake: StripeFake
    cards: CardPayments
    accounts: DriverAccounts
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str = "ana@example.com") -> tuple[str, dict[str, str]]:
        driver = await self.accounts.register(email, "Correct-horse-7")
        login = await self.accounts.login(email, "Correct-horse-7")
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def add(self, headers: dict[str, str], method: str = "pm_card_visa") -> httpx.Response:
        return await self.client.post(ME, json={"payment_method": method}, headers=headers)

    async def post_event(self, event: dict[str, Any], signature: str | None = None) -> httpx.Response:
        body, good = self.fake.signed(event)
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature or good}
        return await self.client.post(WEBHOOK, content=body, headers=headers)


async def _build(with_payments: bool = True) -> AsyncIterator[PaymentsWeb]:
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
    fake = StripeFake(api_key="sk_test_web", webhook_secret="whsec_web")
    await fake.start()
    provider = StripeProvider(
        fake.api_key, webhook_secret=fake.webhook_secret, api_base=fake.base_url, max_network_retries=0
    )
    cards = CardPayments(provider=provider, payments=MemoryPaymentRepository(), clock=clock)
    deps = WebDeps(
        network=core.network,
        access=core.access,
        operations=RemoteOperations(commands=commands),
        message_log=MemoryMessageLog(db),
        metrics=lambda: (METRICS_BODY, METRICS_TYPE),
        health=Health(),
        ocpp_url=OCPP_URL,
        drivers=accounts,
    )
    app = create_app(dataclasses.replace(deps, payments=cards if with_payments else None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield PaymentsWeb(client, fake, cards, accounts, core.keys)
    await provider.close()
    await fake.stop()
    await bus.close()


@pytest.fixture
async def web() -> AsyncIterator[PaymentsWeb]:
    async for built in _build():
        yield built


async def test_a_driver_adds_cards_chooses_the_default_and_removes_one(web: PaymentsWeb) -> None:
    _, me = await web.driver()
    added = await web.add(me)
    assert added.status_code == 201, added.text
    visa = added.json()
    assert (visa["brand"], visa["last4"], visa["is_default"]) == ("visa", "4242", True)
    assert "customer_ref" not in visa and "method_ref" not in visa
    (customer,) = web.fake.customers.values()
    assert customer["email"] == "ana@example.com"
    mastercard = (await web.add(me, "pm_card_mastercard")).json()
    assert mastercard["is_default"] is False
    chosen = await web.client.put(f"{ME}/{mastercard['id']}/default", headers=me)
    assert chosen.status_code == 200 and chosen.json()["is_default"] is True
    listed = (await web.client.get(ME, headers=me)).json()["payment_methods"]
    assert sorted((m["last4"], m["is_default"]) for m in listed) == [("4242", False), ("4444", True)]
    removed = await web.client.delete(f"{ME}/{mastercard['id']}", headers=me)
    assert removed.status_code == 204
    listed = (await web.client.get(ME, headers=me)).json()["payment_methods"]
    assert [(m["id"], m["is_default"]) for m in listed] == [(visa["id"], True)]
    detached = [m for m in web.fake.payment_methods.values() if m["card"]["last4"] == "4444"]
    assert detached[0]["customer"] is None


async def test_cards_that_cannot_be_added_say_why(web: PaymentsWeb) -> None:
    _, me = await web.driver()
    declined = await web.add(me, "pm_card_cvcCheckFail")
    assert declined.status_code == 402 and "incorrect_cvc" in declined.json()["detail"]
    unknown = await web.add(me, "pm_nope")
    assert unknown.status_code == 422 and "pm_nope" in unknown.json()["detail"]
    empty = await web.client.post(ME, json={"payment_method": ""}, headers=me)
    assert empty.status_code == 422
    assert (await web.client.get(ME, headers=me)).json() == {"payment_methods": []}


async def test_a_driver_cannot_touch_another_drivers_card(web: PaymentsWeb) -> None:
    _, ana = await web.driver("ana@example.com")
    _, bob = await web.driver("bob@example.com")
    card = (await web.add(ana)).json()
    assert (await web.client.delete(f"{ME}/{card['id']}", headers=bob)).status_code == 404
    assert (await web.client.put(f"{ME}/{card['id']}/default", headers=bob)).status_code == 404
    assert len((await web.client.get(ME, headers=ana)).json()["payment_methods"]) == 1


async def test_driver_endpoints_need_a_driver_token(web: PaymentsWeb) -> None:
    assert (await web.client.get(ME)).status_code == 401
    assert (await web.client.get(ME, headers=web.auth())).status_code == 403


async def test_operators_see_payments_and_webhooks_update_them_once(web: PaymentsWeb) -> None:
    driver_id, me = await web.driver()
    await web.add(me)
    held = await web.cards.preauthorize_session(driver_id, 7, Decimal("30.00"))
    listed = await web.client.get("/api/v1/payments", params={"session_id": 7}, headers=web.auth(Role.VIEWER))
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["payments"]
    assert (row["id"], row["status"], row["authorized"], row["captured"]) == (held.id, "authorized", "30.00", "0.00")
    assert row["intent_ref"] == held.intent_ref
    # Stripe captured the intent (e.g. from its dashboard); the webhook tells evcms.
    web.fake.intents[held.intent_ref or ""].update(status="succeeded", amount_received=2000, amount_capturable=0)
    event = web.fake.emit("payment_intent.succeeded", web.fake.intents[held.intent_ref or ""])
    applied = await web.post_event(event)
    assert applied.status_code == 200, applied.text
    assert applied.json()["result"] == f"payment {held.id}: authorized -> captured"
    again = await web.post_event(event)
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    one = (await web.client.get(f"/api/v1/payments/{held.id}", headers=web.auth())).json()
    assert (one["status"], one["captured"]) == ("captured", "20.00")
    assert (await web.client.get("/api/v1/payments/nope", headers=web.auth())).status_code == 404
    mine = await web.client.get("/api/v1/payments", params={"driver_id": "someone-else"}, headers=web.auth())
    assert mine.json() == {"payments": []}


async def test_a_webhook_with_a_bad_or_missing_signature_is_400(web: PaymentsWeb) -> None:
    event = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}
    forged = await web.post_event(event, signature="t=1,v1=deadbeef")
    assert forged.status_code == 400 and "signature" in forged.json()["detail"].lower()
    missing = await web.client.post(WEBHOOK, content=b"{}")
    assert missing.status_code == 400 and "Stripe-Signature" in missing.json()["detail"]


async def test_payments_need_an_operator_key(web: PaymentsWeb) -> None:
    assert (await web.client.get("/api/v1/payments")).status_code == 401
    _, me = await web.driver()
    assert (await web.client.get("/api/v1/payments", headers=me)).status_code == 403


async def test_without_stripe_the_endpoints_say_how_to_turn_it_on() -> None:
    async for web in _build(with_payments=False):
        _, me = await web.driver()
        for response in (
            await web.client.get(ME, headers=me),
            await web.client.get("/api/v1/payments", headers=web.auth()),
            await web.client.post(WEBHOOK, content=b"{}"),
        ):
            assert response.status_code == 503
            assert response.json()["detail"] == "card payments are not configured: set EVCMS_STRIPE_SECRET_KEY"
