"""StripeProvider (the real ``stripe`` package) against StripeFake over real HTTP: customers and
cards, authorise / capture / release, declines, idempotency after lost answers, refunds, and
webhook signatures; then CardPayments end to end with webhooks posted back to evcms."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from evcms.payment_providers.stripe import StripeProvider
from evcms.services.clock import FixedClock
from evcms.services.payments import (
    CardDeclined,
    CardPayments,
    IntentState,
    InvalidSignature,
    Payment,
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
)
from evcms.services.ports import ServiceError
from evcms.simulator.stripe_fake import StripeFake, sign
from evcms.storage.payments import MemoryPaymentRepository

SECRET = "whsec_test_secret"


@pytest.fixture
async def fake() -> AsyncIterator[StripeFake]:
    fake = StripeFake(api_key="sk_test_123", webhook_secret=SECRET)
    await fake.start()
    yield fake
    await fake.stop()


def provider_for(fake: StripeFake, *, retries: int = 0, api_key: str | None = None) -> StripeProvider:
    return StripeProvider(
        api_key or fake.api_key,
        webhook_secret=SECRET,
        api_base=fake.base_url,
        max_network_retries=retries,
        timeout=5,
    )


@pytest.fixture
async def stripe_provider(fake: StripeFake) -> AsyncIterator[StripeProvider]:
    provider = provider_for(fake)
    yield provider
    await provider.close()


async def customer_with(provider: StripeProvider, method: str = "pm_card_visa") -> tuple[str, str]:
    customer = await provider.create_customer(driver_id="d1", email="ana@example.com", key="c-d1")
    card = await provider.attach_method(method, customer_ref=customer, key=f"a-{method}")
    return customer, card.method_ref


async def intent(
    provider: StripeProvider, customer: str, method: str, *, key: str, amount: int = 5000,
    capture: str = "manual",
) -> object:
    return await provider.create_intent(
        key=key,
        amount_minor=amount,
        currency="EUR",
        customer_ref=customer,
        method_ref=method,
        capture=capture,  # type: ignore[arg-type]
        description="EV charging session 7",
        metadata={"session_id": "7"},
    )


# -- customers and cards ----------------------------------------------------------------------


async def test_a_test_card_attaches_as_a_new_method_of_the_customer(
    fake: StripeFake, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.create_customer(driver_id="d1", email="ana@example.com", key="k1")
    assert fake.customers[customer]["email"] == "ana@example.com"
    assert fake.customers[customer]["metadata"] == {"driver_id": "d1"}
    card = await stripe_provider.attach_method("pm_card_mastercard", customer_ref=customer, key="k2")
    assert card.method_ref.startswith("pm_") and card.method_ref != "pm_card_mastercard"
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("mastercard", "4444", 12, 2034)
    assert fake.payment_methods[card.method_ref]["customer"] == customer
    call = fake.calls_to("POST", "/v1/payment_methods/pm_card_mastercard/attach")[0]
    assert (call.params, call.idempotency_key) == ({"customer": customer}, "k2")
    await stripe_provider.detach_method(card.method_ref, key="k3")
    assert fake.payment_methods[card.method_ref]["customer"] is None


async def test_unknown_methods_are_rejected_and_cvc_failures_declined_at_attach(
    stripe_provider: StripeProvider,
) -> None:
    customer = await stripe_provider.create_customer(driver_id="d1", email="a@b.c", key="k1")
    with pytest.raises(ProviderRejected) as rejected:
        await stripe_provider.attach_method("pm_nope", customer_ref=customer, key="k2")
    assert rejected.value.code == "resource_missing" and "pm_nope" in str(rejected.value)
    with pytest.raises(CardDeclined) as declined:
        await stripe_provider.attach_method("pm_card_cvcCheckFail", customer_ref=customer, key="k3")
    assert declined.value.reason == "incorrect_cvc"


async def test_a_wrong_api_key_is_refused(fake: StripeFake) -> None:
    provider = provider_for(fake, api_key="sk_test_wrong")
    try:
        with pytest.raises(ProviderUnavailable, match="API key"):
            await provider.create_customer(driver_id="d1", email="a@b.c", key="k")
    finally:
        await provider.close()
    assert fake.customers == {}


# -- authorise, capture, release --------------------------------------------------------------


async def test_authorise_then_capture_less_than_held(
    fake: StripeFake, stripe_provider: StripeProvider
) -> None:
    customer, method = await customer_with(stripe_provider)
    held = await intent(stripe_provider, customer, method, key="i1")
    assert held.state is IntentState.REQUIRES_CAPTURE  # type: ignore[attr-defined]
    assert held.capturable_minor == 5000 and held.metadata == {"session_id": "7"}  # type: ignore[attr-defined]
    sent = fake.calls_to("POST", "/v1/payment_intents")[0].params
    assert sent["capture_method"] == "manual" and sent["confirm"] == "true"
    assert sent["off_session"] == "true" and sent["currency"] == "eur"
    captured = await stripe_provider.capture_intent(held.ref, 1234, key="c1")  # type: ignore[attr-defined]
    assert (captured.state, captured.received_minor) == (IntentState.SUCCEEDED, 1234)
    assert fake.intents[captured.ref]["amount_received"] == 1234
    with pytest.raises(ProviderRejected) as again:  # a new key: Stripe refuses a second capture
        await stripe_provider.capture_intent(captured.ref, 1234, key="c2")
    assert again.value.code == "payment_intent_unexpected_state"


async def test_capturing_more_than_held_is_refused(stripe_provider: StripeProvider) -> None:
    customer, method = await customer_with(stripe_provider)
    held = await intent(stripe_provider, customer, method, key="i1")
    with pytest.raises(ProviderRejected, match="amount_capturable"):
        await stripe_provider.capture_intent(held.ref, 5001, key="c1")  # type: ignore[attr-defined]


async def test_release_cancels_the_hold(fake: StripeFake, stripe_provider: StripeProvider) -> None:
    customer, method = await customer_with(stripe_provider)
    held = await intent(stripe_provider, customer, method, key="i1")
    released = await stripe_provider.cancel_intent(held.ref, key="x1")  # type: ignore[attr-defined]
    assert (released.state, released.capturable_minor) == (IntentState.CANCELED, 0)
    assert [e["type"] for e in fake.events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.canceled",
    ]


@pytest.mark.parametrize(
    ("method", "reason"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_declined_cards_raise_with_the_decline_code_and_the_intent(
    fake: StripeFake, stripe_provider: StripeProvider, method: str, reason: str
) -> None:
    customer, attached = await customer_with(stripe_provider, method)
    with pytest.raises(CardDeclined) as declined:
        await intent(stripe_provider, customer, attached, key="i1")
    assert declined.value.reason == reason
    assert declined.value.intent_ref in fake.intents
    assert fake.intents[declined.value.intent_ref]["status"] == "requires_payment_method"
    assert [e["type"] for e in fake.events] == ["payment_intent.payment_failed"]


async def test_an_automatic_payment_succeeds_at_once_and_can_be_refunded(
    fake: StripeFake, stripe_provider: StripeProvider
) -> None:
    customer, method = await customer_with(stripe_provider)
    paid = await intent(stripe_provider, customer, method, key="i1", capture="automatic", amount=2000)
    assert (paid.state, paid.received_minor) == (IntentState.SUCCEEDED, 2000)  # type: ignore[attr-defined]
    assert await stripe_provider.refund(paid.ref, 500, key="r1") == 500  # type: ignore[attr-defined]
    with pytest.raises(ProviderRejected):
        await stripe_provider.refund(paid.ref, 1501, key="r2")  # type: ignore[attr-defined]
    assert fake.events_of("charge.refunded")[0]["data"]["object"]["amount_refunded"] == 500


# -- idempotency --------------------------------------------------------------------------------


async def test_the_same_key_creates_one_intent(fake: StripeFake, stripe_provider: StripeProvider) -> None:
    customer, method = await customer_with(stripe_provider)
    first = await intent(stripe_provider, customer, method, key="same")
    second = await intent(stripe_provider, customer, method, key="same")
    assert first == second and len(fake.intents) == 1
    assert fake.calls_to("POST", "/v1/payment_intents")[1].replayed
    with pytest.raises(ProviderRejected, match="same parameters"):
        await intent(stripe_provider, customer, method, key="same", amount=6000)


async def test_a_capture_whose_answer_was_lost_is_retried_without_capturing_twice(
    fake: StripeFake, stripe_provider: StripeProvider
) -> None:
    customer, method = await customer_with(stripe_provider)
    held = await intent(stripe_provider, customer, method, key="i1")
    fake.fail_next(r"/capture$", after=True)  # captured, but the answer is lost
    with pytest.raises(ProviderUnavailable):
        await stripe_provider.capture_intent(held.ref, 3000, key="cap")  # type: ignore[attr-defined]
    assert fake.intents[held.ref]["amount_received"] == 3000  # type: ignore[attr-defined]
    retried = await stripe_provider.capture_intent(held.ref, 3000, key="cap")  # type: ignore[attr-defined]
    assert retried.received_minor == 3000
    assert len(fake.events_of("payment_intent.succeeded")) == 1


async def test_stripe_pythons_own_retries_reuse_the_key(fake: StripeFake) -> None:
    provider = provider_for(fake, retries=2)
    try:
        customer, method = await customer_with(provider)
        fake.fail_next(r"POST /v1/payment_intents$", after=True)
        held = await intent(provider, customer, method, key="i1")
    finally:
        await provider.close()
    assert held.state is IntentState.REQUIRES_CAPTURE  # type: ignore[attr-defined]
    assert len(fake.intents) == 1
    attempts = fake.calls_to("POST", "/v1/payment_intents")
    assert [c.status for c in attempts] == [500, 200] and attempts[1].replayed


async def test_an_unreachable_stripe_is_unavailable(fake: StripeFake) -> None:
    provider = provider_for(fake)
    await fake.stop()
    try:
        with pytest.raises(ProviderUnavailable):
            await provider.create_customer(driver_id="d1", email="a@b.c", key="k")
    finally:
        await provider.close()


# -- webhook signatures -----------------------------------------------------------------------


async def test_a_signed_event_parses_and_a_forged_one_does_not(
    fake: StripeFake, stripe_provider: StripeProvider
) -> None:
    customer, method = await customer_with(stripe_provider)
    await intent(stripe_provider, customer, method, key="i1")
    event = fake.events[0]
    body, signature = fake.signed(event)
    parsed = stripe_provider.parse_webhook(body, signature)
    assert (parsed.id, parsed.type) == (event["id"], "payment_intent.amount_capturable_updated")
    assert parsed.intent is not None and parsed.intent.capturable_minor == 5000
    with pytest.raises(InvalidSignature, match="missing"):
        stripe_provider.parse_webhook(body, None)
    forged = body.replace(b"5000", b"9000")
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(forged, signature)
    _, other_secret = fake.signed(event, secret="whsec_someone_else")
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(body, other_secret)
    stale = sign(body.decode(), SECRET, timestamp=1_000_000_000)
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(body, stale)


# -- CardPayments end to end, webhooks posted back ----------------------------------------------


class _Receiver(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Stack:
    fake: StripeFake
    cards: CardPayments
    repo: MemoryPaymentRepository
    succeeded: list[Payment]


@pytest.fixture
async def stack(fake: StripeFake) -> AsyncIterator[Stack]:
    import asyncio

    provider = provider_for(fake)
    repo = MemoryPaymentRepository()
    succeeded: list[Payment] = []

    async def on_succeeded(payment: Payment) -> None:
        succeeded.append(payment)

    cards = CardPayments(
        provider=provider,
        payments=repo,
        clock=FixedClock(datetime(2026, 5, 1, tzinfo=UTC)),
        on_succeeded=on_succeeded,
    )

    async def webhook(request: Request) -> PlainTextResponse:
        try:
            done = await cards.handle_webhook(
                await request.body(), request.headers.get("stripe-signature")
            )
        except ServiceError as exc:
            return PlainTextResponse(str(exc), status_code=exc.status)
        return PlainTextResponse(done)

    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
    server = _Receiver(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the webhook receiver did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.webhook_url = f"http://127.0.0.1:{port}/webhook"
    yield Stack(fake, cards, repo, succeeded)
    await fake.delivered()
    server.should_exit = True
    await task
    await provider.close()


async def test_a_session_is_held_captured_and_topped_up_with_webhooks_applied_once(
    stack: Stack,
) -> None:
    cards, fake = stack.cards, stack.fake
    await cards.add_method("d1", email="ana@example.com", method_ref="pm_card_visa")
    held = await cards.preauthorize_session("d1", 7, Decimal("30.00"))
    assert (held.status, held.authorized) == (PaymentStatus.AUTHORIZED, Decimal("30.00"))
    result = await cards.capture_session(7, Decimal("42.50"))
    await fake.delivered()
    assert (result.status, result.captured) == (PaymentStatus.CAPTURED, Decimal("42.50"))
    assert fake.intents[held.intent_ref or ""]["amount_received"] == 3000
    assert result.extra is not None and fake.intents[result.extra.intent_ref or ""]["amount"] == 1250
    assert all(d.status == 200 for d in fake.deliveries), fake.deliveries
    assert {d.body for d in fake.deliveries} <= {
        f"no change: payment {held.id} is authorized",
        f"no change: payment {held.id} is captured",
        f"no change: payment {result.extra.id} is succeeded",
    }
    event_id = fake.events_of("payment_intent.succeeded")[0]["id"]
    assert await fake.redeliver(event_id) == 200
    assert fake.deliveries[-1].body == "duplicate"
    assert stack.succeeded == []  # a session's capture is answered to its caller


async def test_a_webhook_finishes_a_top_up_whose_answer_was_lost(stack: Stack) -> None:
    cards, fake = stack.cards, stack.fake
    await cards.add_method("d1", email="ana@example.com", method_ref="pm_card_visa")
    fake.auto_deliver = False
    fake.fail_next(r"POST /v1/payment_intents$", after=True)
    failed = await cards.charge(
        "d1", key="top_up:1", purpose="top_up", amount=Decimal("20.00"), description="top-up"
    )
    assert failed.status == PaymentStatus.FAILED and stack.succeeded == []
    event = fake.events_of("payment_intent.succeeded")[0]
    assert await fake.redeliver(event["id"]) == 200
    paid = await cards.get(failed.id)
    assert (paid.status, paid.captured) == (PaymentStatus.SUCCEEDED, Decimal("20.00"))
    assert paid.intent_ref == event["data"]["object"]["id"]
    assert [p.id for p in stack.succeeded] == [failed.id]
    again = await cards.charge(
        "d1", key="top_up:1", purpose="top_up", amount=Decimal("20.00"), description="top-up"
    )
    assert again.status == PaymentStatus.SUCCEEDED and len(fake.intents) == 1
    assert len(stack.succeeded) == 1


async def test_a_forged_webhook_is_refused_with_400(stack: Stack) -> None:
    import httpx

    body = json.dumps({"id": "evt_x", "type": "payment_intent.succeeded", "data": {}})
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack.fake.webhook_url or "",
            content=body,
            headers={"Stripe-Signature": sign(body, "whsec_wrong")},
        )
    assert response.status_code == 400 and "signature" in response.text.lower()
