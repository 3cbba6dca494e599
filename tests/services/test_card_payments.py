"""CardPayments over the memory repository and a provider object that behaves like Stripe
(idempotency keys honoured, declines, outages, answers lost after the work was done)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.services.clock import FixedClock
from evcms.services.payments import (
    Card,
    CardDeclined,
    CardPayments,
    Intent,
    IntentState,
    InvalidSignature,
    Payment,
    PaymentStatus,
    ProviderRejected,
    ProviderUnavailable,
    WebhookEvent,
    advances,
)
from evcms.services.ports import ServiceError
from evcms.storage.payments import MemoryPaymentRepository

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
DECLINES = {"pm_declined": "insufficient_funds"}


@dataclass
class FakeProvider:
    """Stripe in a nutshell: intents by ref; the same idempotency key repeats the answer."""

    name: str = "stripe"
    intents: dict[str, Intent] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, key)
    down: bool = False  # every call raises ProviderUnavailable before doing anything
    lose_next_answer: str | None = None  # this operation is done, then raises
    answers: dict[str, object] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def _start(self, operation: str, key: str) -> object | None:
        self.calls.append((operation, key))
        if self.down:
            raise ProviderUnavailable("Stripe is unavailable: connection refused")
        return self.answers.get(key)

    def _finish(self, operation: str, key: str, answer: object) -> None:
        self.answers[key] = answer
        if self.lose_next_answer == operation:
            self.lose_next_answer = None
            raise ProviderUnavailable("Stripe is unavailable: read timeout")

    def _replay(self, answer: object) -> object:
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def create_customer(self, *, driver_id: str, email: str, key: str) -> str:
        if (found := self._start("customer", key)) is not None:
            return str(self._replay(found))
        ref = f"cus_{next(self.ids)}"
        self._finish("customer", key, ref)
        return ref

    async def attach_method(self, method_ref: str, *, customer_ref: str, key: str) -> Card:
        if (found := self._start("attach", key)) is not None:
            return self._replay(found)  # type: ignore[return-value]
        if method_ref == "pm_cvc_fail":
            raise CardDeclined("Your card's security code is incorrect.", "incorrect_cvc")
        if not method_ref.startswith("pm_"):
            raise ProviderRejected(f"No such PaymentMethod: '{method_ref}'", "resource_missing")
        card = Card(method_ref, "visa", "4242", 12, 2034)
        self._finish("attach", key, card)
        return card

    async def detach_method(self, method_ref: str, *, key: str) -> None:
        self._start("detach", key)

    async def create_intent(
        self,
        *,
        key: str,
        amount_minor: int,
        currency: str,
        customer_ref: str,
        method_ref: str,
        capture: Literal["manual", "automatic"],
        description: str,
        metadata: dict[str, str],
    ) -> Intent:
        if (found := self._start(f"intent:{capture}", key)) is not None:
            return self._replay(found)  # type: ignore[return-value]
        ref = f"pi_{next(self.ids)}"
        if method_ref in DECLINES:
            self.intents[ref] = Intent(ref, IntentState.REQUIRES_PAYMENT_METHOD, currency, amount_minor, 0, 0, metadata)
            error = CardDeclined("Your card was declined.", DECLINES[method_ref], ref)
            self.answers[key] = error
            raise error
        if capture == "manual":
            intent = Intent(ref, IntentState.REQUIRES_CAPTURE, currency, amount_minor, amount_minor, 0, metadata)
        else:
            intent = Intent(ref, IntentState.SUCCEEDED, currency, amount_minor, 0, amount_minor, metadata)
        self.intents[ref] = intent
        self._finish(f"intent:{capture}", key, intent)
        return intent

    async def get_intent(self, intent_ref: str) -> Intent:
        self._start("get", intent_ref)
        return self.intents[intent_ref]

    async def capture_intent(self, intent_ref: str, amount_minor: int, *, key: str) -> Intent:
        if (found := self._start("capture", key)) is not None:
            return self._replay(found)  # type: ignore[return-value]
        intent = self.intents[intent_ref]
        if intent.state != IntentState.REQUIRES_CAPTURE:
            raise ProviderRejected("could not be captured", "payment_intent_unexpected_state")
        if amount_minor > intent.capturable_minor:
            raise ProviderRejected("amount_to_capture too large", "amount_too_large")
        intent = replace(intent, state=IntentState.SUCCEEDED, capturable_minor=0, received_minor=amount_minor)
        self.intents[intent_ref] = intent
        self._finish("capture", key, intent)
        return intent

    async def cancel_intent(self, intent_ref: str, *, key: str) -> Intent:
        if (found := self._start("cancel", key)) is not None:
            return self._replay(found)  # type: ignore[return-value]
        intent = replace(self.intents[intent_ref], state=IntentState.CANCELED, capturable_minor=0)
        self.intents[intent_ref] = intent
        self._finish("cancel", key, intent)
        return intent

    async def refund(self, intent_ref: str, amount_minor: int, *, key: str) -> int:
        self._start("refund", key)
        return amount_minor

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        if signature != "good":
            raise InvalidSignature("bad Stripe-Signature: no signatures found matching")
        data = json.loads(body)
        intent = self.intents[data["intent"]]
        return WebhookEvent(data["id"], data["type"], intent, intent.ref)

    def operations(self, operation: str) -> list[str]:
        return [key for op, key in self.calls if op == operation]


@dataclass
class World:
    cards: CardPayments
    provider: FakeProvider
    repo: MemoryPaymentRepository
    clock: FixedClock
    succeeded: list[Payment]

    async def card(self, driver_id: str = "d1", method: str = "pm_visa") -> None:
        await self.cards.add_method(driver_id, email=f"{driver_id}@example.com", method_ref=method)

    def webhook(self, event_id: str, type: str, intent_ref: str) -> bytes:
        return json.dumps({"id": event_id, "type": type, "intent": intent_ref}).encode()


@pytest.fixture
def world() -> World:
    provider = FakeProvider()
    repo = MemoryPaymentRepository()
    clock = FixedClock(T0)
    succeeded: list[Payment] = []

    async def on_succeeded(payment: Payment) -> None:
        succeeded.append(payment)

    cards = CardPayments(provider=provider, payments=repo, clock=clock, on_succeeded=on_succeeded)
    return World(cards, provider, repo, clock, succeeded)


# -- cards on file --------------------------------------------------------------------------------


async def test_the_first_card_is_the_default_and_one_customer_serves_all_cards(world: World) -> None:
    first = await world.cards.add_method("d1", email="ana@example.com", method_ref="pm_visa")
    second = await world.cards.add_method("d1", email="ana@example.com", method_ref="pm_mc")
    assert (first.is_default, second.is_default) == (True, False)
    assert first.customer_ref == second.customer_ref
    assert len(world.provider.operations("customer")) == 1
    assert (first.brand, first.last4) == ("visa", "4242")
    assert (await world.cards.default_method("d1")) == first
    again = await world.cards.add_method("d1", email="ana@example.com", method_ref="pm_visa")
    assert again.id == first.id and len(await world.cards.methods("d1")) == 2


async def test_default_can_move_and_removing_it_promotes_the_newest(world: World) -> None:
    a = await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_a")
    world.clock.advance(60)
    b = await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_b")
    world.clock.advance(60)
    c = await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_c")
    await world.cards.set_default("d1", b.id)
    assert [m.is_default for m in await world.cards.methods("d1")] == [False, True, False]
    await world.cards.remove_method("d1", b.id)
    assert [(m.id, m.is_default) for m in await world.cards.methods("d1")] == [(a.id, False), (c.id, True)]
    assert world.provider.operations("detach") == [f"evcms:detach:{b.id}"]


async def test_another_drivers_card_is_not_found(world: World) -> None:
    mine = await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_a")
    with pytest.raises(ServiceError) as caught:
        await world.cards.set_default("d2", mine.id)
    assert caught.value.status == 404
    with pytest.raises(ServiceError):
        await world.cards.remove_method("d2", mine.id)
    assert len(await world.cards.methods("d1")) == 1


@pytest.mark.parametrize(
    ("method", "status", "words"),
    [
        ("pm_cvc_fail", 402, "declined (incorrect_cvc)"),
        ("tok_nope", 422, "cannot be used"),
        ("  ", 422, "payment_method is required"),
    ],
)
async def test_a_card_that_cannot_be_added_says_why(
    world: World, method: str, status: int, words: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        await world.cards.add_method("d1", email="a@x.eu", method_ref=method)
    assert caught.value.status == status and words in str(caught.value)
    assert await world.cards.methods("d1") == []


async def test_an_unreachable_provider_when_adding_a_card_is_503(world: World) -> None:
    world.provider.down = True
    with pytest.raises(ServiceError) as caught:
        await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_a")
    assert caught.value.status == 503


# -- sessions ------------------------------------------------------------------------------------


async def test_preauthorisation_holds_the_amount_once(world: World) -> None:
    await world.card()
    held = await world.cards.preauthorize_session("d1", 42, Decimal("25.00"))
    assert (held.status, held.authorized, held.captured) == (PaymentStatus.AUTHORIZED, Decimal("25.00"), Decimal(0))
    assert (held.key, held.purpose, held.session_id) == ("session:42", "session", 42)
    assert world.provider.intents[held.intent_ref or ""].amount_minor == 2500
    again = await world.cards.preauthorize_session("d1", 42, Decimal("25.00"))
    assert again == held and len(world.provider.intents) == 1
    assert await world.cards.session_payment(42) == held


async def test_a_declined_preauthorisation_keeps_the_reason_and_is_not_retried(world: World) -> None:
    await world.card(method="pm_declined")
    declined = await world.cards.preauthorize_session("d1", 1, Decimal("25.00"))
    assert (declined.status, declined.error) == (PaymentStatus.DECLINED, "insufficient_funds")
    assert declined.intent_ref in world.provider.intents
    assert await world.cards.preauthorize_session("d1", 1, Decimal("25.00")) == declined
    assert len(world.provider.operations("intent:manual")) == 1


async def test_no_card_fails_and_a_card_added_later_lets_a_retry_succeed(world: World) -> None:
    failed = await world.cards.preauthorize_session("d1", 1, Decimal("25.00"))
    assert (failed.status, failed.error) == (PaymentStatus.FAILED, "no card on file: add a payment card first")
    await world.card()
    held = await world.cards.preauthorize_session("d1", 1, Decimal("25.00"))
    assert held.id == failed.id and held.status == PaymentStatus.AUTHORIZED


async def test_an_outage_fails_and_the_retry_reuses_the_idempotency_key(world: World) -> None:
    await world.card()
    world.provider.lose_next_answer = "intent:manual"  # held at the provider, answer lost
    failed = await world.cards.preauthorize_session("d1", 1, Decimal("25.00"))
    assert failed.status == PaymentStatus.FAILED and "timeout" in (failed.error or "")
    held = await world.cards.preauthorize_session("d1", 1, Decimal("25.00"))
    assert held.status == PaymentStatus.AUTHORIZED and len(world.provider.intents) == 1
    first, second = world.provider.operations("intent:manual")
    assert first == second


@pytest.mark.parametrize(
    ("price", "status", "captured", "provider_captured"),
    [
        ("0", PaymentStatus.RELEASED, "0", None),
        ("12.34", PaymentStatus.CAPTURED, "12.34", 1234),
        ("25.00", PaymentStatus.CAPTURED, "25.00", 2500),
    ],
)
async def test_capture_takes_the_final_price_from_the_hold(
    world: World, price: str, status: PaymentStatus, captured: str, provider_captured: int | None
) -> None:
    await world.card()
    held = await world.cards.preauthorize_session("d1", 5, Decimal("25.00"))
    result = await world.cards.capture_session(5, Decimal(price))
    assert (result.status, result.captured, result.extra) == (status, Decimal(captured), None)
    intent = world.provider.intents[held.intent_ref or ""]
    if provider_captured is None:
        assert intent.state == IntentState.CANCELED
    else:
        assert intent.received_minor == provider_captured
    assert await world.cards.capture_session(5, Decimal(price)) == result  # nothing changes
    assert len(world.provider.operations("capture")) == (provider_captured is not None)


async def test_a_price_above_the_hold_captures_it_all_and_charges_the_rest(world: World) -> None:
    await world.card()
    held = await world.cards.preauthorize_session("d1", 5, Decimal("25.00"))
    result = await world.cards.capture_session(5, Decimal("31.20"))
    assert (result.status, result.captured) == (PaymentStatus.CAPTURED, Decimal("31.20"))
    assert world.provider.intents[held.intent_ref or ""].received_minor == 2500
    assert result.extra is not None
    assert (result.extra.key, result.extra.captured) == ("session:5:extra", Decimal("6.20"))
    assert world.provider.intents[result.extra.intent_ref or ""].received_minor == 620
    assert await world.cards.capture_session(5, Decimal("31.20")) == result
    assert len(world.provider.intents) == 2
    assert {p.key for p in await world.cards.list(session_id=5)} == {"session:5", "session:5:extra"}
    assert world.succeeded == []  # sessions are answered to their caller


async def test_a_capture_lost_on_the_way_back_is_not_taken_twice(world: World) -> None:
    await world.card()
    held = await world.cards.preauthorize_session("d1", 5, Decimal("25.00"))
    world.provider.lose_next_answer = "capture"
    first = await world.cards.capture_session(5, Decimal("20.00"))
    assert first.status == PaymentStatus.AUTHORIZED and "retried" in (first.error or "")
    second = await world.cards.capture_session(5, Decimal("20.00"))
    assert (second.status, second.captured) == (PaymentStatus.CAPTURED, Decimal("20.00"))
    keys = world.provider.operations("capture")
    assert len(keys) == 2 and keys[0] == keys[1]
    assert world.provider.intents[held.intent_ref or ""].received_minor == 2000


async def test_a_declined_extra_leaves_the_session_partially_captured(world: World) -> None:
    await world.card()
    await world.cards.preauthorize_session("d1", 5, Decimal("25.00"))
    declined = await world.cards.add_method("d1", email="a@x.eu", method_ref="pm_declined")
    await world.cards.set_default("d1", declined.id)
    result = await world.cards.capture_session(5, Decimal("30.00"))
    assert (result.status, result.captured, result.error) == (
        PaymentStatus.PARTIALLY_CAPTURED, Decimal("25.00"), "insufficient_funds"
    )


async def test_release_gives_the_hold_back_and_capture_needs_a_preauthorisation(world: World) -> None:
    await world.card()
    held = await world.cards.preauthorize_session("d1", 5, Decimal("25.00"))
    released = await world.cards.release_session(5)
    assert released.status == PaymentStatus.RELEASED
    assert world.provider.intents[held.intent_ref or ""].state == IntentState.CANCELED
    assert await world.cards.release_session(5) == released
    with pytest.raises(ServiceError) as caught:
        await world.cards.capture_session(6, Decimal("1.00"))
    assert caught.value.status == 404


async def test_amounts_finer_than_cents_are_refused(world: World) -> None:
    await world.card()
    with pytest.raises(ServiceError) as caught:
        await world.cards.preauthorize_session("d1", 5, Decimal("25.001"))
    assert caught.value.status == 422


# -- one-off payments and webhooks ------------------------------------------------------------


async def test_a_top_up_succeeds_once_and_calls_on_succeeded_once(world: World) -> None:
    await world.card()
    paid = await world.cards.charge(
        "d1", key="top_up:d1:1", purpose="top_up", amount=Decimal("20.00"), description="top-up"
    )
    assert (paid.status, paid.captured, paid.purpose) == (PaymentStatus.SUCCEEDED, Decimal("20.00"), "top_up")
    again = await world.cards.charge(
        "d1", key="top_up:d1:1", purpose="top_up", amount=Decimal("20.00"), description="top-up"
    )
    assert again == paid and [p.id for p in world.succeeded] == [paid.id]
    body = world.webhook("evt_1", "payment_intent.succeeded", paid.intent_ref or "")
    assert await world.cards.handle_webhook(body, "good") == f"no change: payment {paid.id} is succeeded"
    assert len(world.succeeded) == 1


async def test_a_webhook_completes_a_payment_whose_answer_was_lost_and_once_only(world: World) -> None:
    await world.card()
    world.provider.lose_next_answer = "intent:automatic"
    failed = await world.cards.charge(
        "d1", key="sub:1", purpose="subscription", amount=Decimal("9.90"), description="plan"
    )
    assert failed.status == PaymentStatus.FAILED and failed.intent_ref is None
    (ref,) = world.provider.intents
    body = world.webhook("evt_1", "payment_intent.succeeded", ref)
    done = await world.cards.handle_webhook(body, "good")
    assert done == f"payment {failed.id}: failed -> succeeded"
    assert (await world.cards.get(failed.id)).intent_ref == ref
    assert await world.cards.handle_webhook(body, "good") == "duplicate"
    assert [p.id for p in world.succeeded] == [failed.id]


async def test_a_webhook_with_a_bad_signature_is_400(world: World) -> None:
    with pytest.raises(ServiceError) as caught:
        await world.cards.handle_webhook(b"{}", "forged")
    assert caught.value.status == 400 and "signature" in str(caught.value).lower()


async def test_a_declined_top_up_and_a_bad_purpose(world: World) -> None:
    await world.card(method="pm_declined")
    declined = await world.cards.charge(
        "d1", key="t:1", purpose="top_up", amount=Decimal("5.00"), description="top-up"
    )
    assert (declined.status, declined.error) == (PaymentStatus.DECLINED, "insufficient_funds")
    with pytest.raises(ServiceError):
        await world.cards.charge("d1", key="t:2", purpose="gift", amount=Decimal("5"), description="x")


# -- status order (a pure rule: table and property) -------------------------------------------

S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (S.PENDING, S.AUTHORIZED, True),
        (S.FAILED, S.SUCCEEDED, True),
        (S.DECLINED, S.AUTHORIZED, True),
        (S.AUTHORIZED, S.DECLINED, False),
        (S.AUTHORIZED, S.CAPTURED, True),
        (S.CAPTURED, S.AUTHORIZED, False),
        (S.RELEASED, S.CAPTURED, False),
        (S.SUCCEEDED, S.REFUNDED, True),
        (S.REFUNDED, S.SUCCEEDED, False),
        (S.CAPTURED, S.CAPTURED, False),
    ],
)
def test_statuses_only_move_forward(current: S, new: S, allowed: bool) -> None:
    assert advances(current, new) is allowed


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_no_status_pair_goes_both_ways(a: S, b: S) -> None:
    assert not (advances(a, b) and advances(b, a))
