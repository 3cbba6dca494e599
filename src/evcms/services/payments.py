"""Card payments: cards on file, session pre-authorisations and captures, top-ups and fees.

A driver's card lives at the payment provider (Stripe); evcms keeps only a reference, the
brand and the last four digits. Money moves through the provider's payment intents:

* a **session** is pre-authorised when it starts (a manual-capture intent, confirmed
  off-session) and captured for its final price when it ends — released when it cost nothing,
  and topped up by a second off-session payment when it cost more than was authorised;
* a **top-up** or a **subscription fee** is one automatic-capture, off-session payment.

Every payment has a ``key`` that makes it idempotent ("session:42", "top_up:..."), and every
call to the provider carries an idempotency key derived from the payment, so a retry after a
timeout never charges twice. The provider's webhooks bring the same news again, sometimes
before the call that caused them has returned: status changes only move forward
(:func:`advances`), and the first change to *paid* — whoever makes it — calls ``on_succeeded``.
"""

from __future__ import annotations

import asyncio
import builtins
import enum
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from evcms.domain.billing import from_minor, to_minor
from evcms.domain.tariffs import round_money
from evcms.services.ports import AlreadyExists, Clock, ServiceError

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # stored, the provider has not answered yet (or a webhook will tell)
    AUTHORIZED = "authorized"  # a session's amount is held on the card
    CAPTURED = "captured"  # a session's final price was taken from the hold
    RELEASED = "released"  # the hold was given back (the session cost nothing, or cancelled)
    SUCCEEDED = "succeeded"  # a one-off payment (top-up, fee) went through
    PARTIALLY_CAPTURED = "partially_captured"  # a session cost more than held, the rest failed
    DECLINED = "declined"  # the card was refused (``error``: why, e.g. insufficient_funds)
    FAILED = "failed"  # the provider could not be reached or refused the request
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


PAID = frozenset({PaymentStatus.CAPTURED, PaymentStatus.SUCCEEDED})
# Worth calling the provider again with the same idempotency key: we don't know what happened.
RETRYABLE = frozenset({PaymentStatus.PENDING, PaymentStatus.FAILED})

# The order statuses move in; a later (e.g. redelivered or late) event never moves one back.
_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.FAILED: 0,
    PaymentStatus.DECLINED: 1,
    PaymentStatus.AUTHORIZED: 1,
    PaymentStatus.CAPTURED: 2,
    PaymentStatus.SUCCEEDED: 2,
    PaymentStatus.PARTIALLY_CAPTURED: 2,
    PaymentStatus.RELEASED: 2,
    PaymentStatus.PARTIALLY_REFUNDED: 3,
    PaymentStatus.REFUNDED: 4,
}


def advances(current: PaymentStatus, new: PaymentStatus) -> bool:
    """Whether a payment in ``current`` may move to ``new``: only forward (a declined
    payment may still become paid when the provider says so; a paid one never goes back)."""
    if current == new:
        return False
    if current in (PaymentStatus.DECLINED, PaymentStatus.AUTHORIZED) and new in (
        PaymentStatus.DECLINED,
        PaymentStatus.AUTHORIZED,
    ):
        return current == PaymentStatus.DECLINED  # a retried authorisation may succeed
    return _RANK[new] > _RANK[current]


class PaymentPurpose(enum.StrEnum):
    SESSION = "session"
    TOP_UP = "top_up"
    SUBSCRIPTION = "subscription"


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A card on file: the provider keeps the card, we keep its reference and what to show."""

    id: str
    driver_id: str
    provider: str
    customer_ref: str  # the provider's customer (Stripe cus_...), one per driver
    method_ref: str  # the provider's payment method (Stripe pm_...)
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    created_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    key: str
    purpose: str  # a PaymentPurpose
    driver_id: str
    session_id: int | None
    status: PaymentStatus
    currency: str
    authorized: Decimal  # held (sessions) or asked for (one-off payments)
    captured: Decimal  # taken; for a session with an extra payment: the session's total
    intent_ref: str | None
    method_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    provider: str = "stripe"
    # a session that cost more than was held: the second payment for the rest (not stored
    # on this row; attached by CardPayments.capture_session / session_payment)
    extra: Payment | None = field(default=None, compare=False)

    @property
    def paid(self) -> bool:
        return self.status in PAID


# -- what a card provider does for us -----------------------------------------------------


class ProviderError(Exception):
    """A provider call that did not do what was asked; the message is for people."""


class CardDeclined(ProviderError):
    """The card was refused (``reason``: the decline code, e.g. ``insufficient_funds``).
    Stripe still creates the intent: ``intent_ref`` names it when known."""

    def __init__(self, message: str, reason: str, intent_ref: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.intent_ref = intent_ref


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed: the outcome is unknown; the same call with
    the same idempotency key may be retried safely."""


class ProviderRejected(ProviderError):
    """The provider refused the request itself (unknown payment method, nothing to capture...)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class InvalidSignature(ProviderError):
    """A webhook whose signature is missing, wrong or too old."""


class IntentState(enum.StrEnum):
    """The provider's state of a payment intent (Stripe's names)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, slots=True)
class Card:
    method_ref: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True, slots=True)
class Intent:
    ref: str
    state: IntentState
    currency: str
    amount_minor: int
    capturable_minor: int  # held and not yet captured
    received_minor: int  # captured / paid
    metadata: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # the last payment error's decline code or code


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    intent: Intent | None  # payment_intent.* events
    intent_ref: str | None  # also for charge.* events
    refunded_minor: int = 0  # charge.refunded
    fully_refunded: bool = False


class PaymentProvider(Protocol):
    """A card processor (Stripe). Mutating calls take an idempotency ``key``: the same key
    gives the same answer and does nothing again. Raises :class:`CardDeclined`,
    :class:`ProviderUnavailable` or :class:`ProviderRejected`."""

    name: str

    async def create_customer(self, *, driver_id: str, email: str, key: str) -> str: ...

    async def attach_method(self, method_ref: str, *, customer_ref: str, key: str) -> Card: ...

    async def detach_method(self, method_ref: str, *, key: str) -> None: ...

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
    ) -> Intent: ...  # confirmed off-session

    async def get_intent(self, intent_ref: str) -> Intent: ...

    async def capture_intent(self, intent_ref: str, amount_minor: int, *, key: str) -> Intent: ...

    async def cancel_intent(self, intent_ref: str, *, key: str) -> Intent: ...

    async def refund(self, intent_ref: str, amount_minor: int, *, key: str) -> int: ...  # refunded

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent: ...  # InvalidSignature


# -- where payments are kept ---------------------------------------------------------------


class PaymentRepository(Protocol):
    async def add_method(self, method: PaymentMethod) -> None: ...

    async def get_method(self, method_id: str) -> PaymentMethod | None: ...

    async def methods(
        self, driver_id: str, *, include_removed: bool = False
    ) -> builtins.list[PaymentMethod]: ...  # oldest first

    async def set_default_method(self, driver_id: str, method_id: str) -> None:
        """Make that method the driver's only default one."""
        ...

    async def remove_method(self, method_id: str, at: datetime) -> None: ...  # also not default

    async def add(self, payment: Payment) -> None: ...  # AlreadyExists: the key is taken

    async def get(self, payment_id: str) -> Payment | None: ...

    async def by_key(self, key: str) -> Payment | None: ...

    async def by_intent(self, intent_ref: str) -> Payment | None: ...

    async def update(self, payment: Payment, *, expected: PaymentStatus) -> bool:
        """Store ``payment`` if the stored one is still in status ``expected``; False if not
        (someone else — a webhook — moved it first)."""
        ...

    async def list(
        self, *, driver_id: str | None = None, session_id: int | None = None, limit: int = 100
    ) -> builtins.list[Payment]: ...  # newest first

    async def webhook_seen(self, provider: str, event_id: str) -> bool: ...

    async def record_webhook(self, provider: str, event_id: str, type: str, at: datetime) -> bool:
        """Remember an applied event; False if it was remembered already."""
        ...


# -- the service ---------------------------------------------------------------------------

OnSucceeded = Callable[[Payment], Awaitable[None]]


class CardPayments:
    def __init__(
        self,
        *,
        provider: PaymentProvider,
        payments: PaymentRepository,
        clock: Clock,
        currency: str = "EUR",
        on_succeeded: OnSucceeded | None = None,
    ) -> None:
        self._provider = provider
        self._repo = payments
        self._clock = clock
        self._currency = currency
        self.on_succeeded = on_succeeded  # settable after construction (bootstrap wiring)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, users)

    @property
    def currency(self) -> str:
        return self._currency

    @asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        """One operation at a time per payment key (webhooks race with calls)."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    # -- cards on file -----------------------------------------------------------------------

    async def add_method(self, driver_id: str, *, email: str, method_ref: str) -> PaymentMethod:
        """Attach a card (a provider payment method id, from Stripe.js / a SetupIntent) to the
        driver's provider customer, created on first use. The first card becomes the default."""
        method_ref = method_ref.strip()
        if not method_ref:
            raise ServiceError("payment_method is required: the PaymentMethod id (pm_...)", 422)
        async with self._lock(f"methods:{driver_id}"):
            known = await self._repo.methods(driver_id, include_removed=True)
            active = [m for m in known if m.removed_at is None]
            for method in active:
                if method.method_ref == method_ref:
                    return method
            try:
                if known:
                    customer_ref = known[0].customer_ref
                else:
                    customer_ref = await self._provider.create_customer(
                        driver_id=driver_id, email=email, key=f"evcms:customer:{driver_id}"
                    )
                method_id = str(uuid.uuid4())
                card = await self._provider.attach_method(
                    method_ref, customer_ref=customer_ref, key=f"evcms:attach:{method_id}"
                )
            except CardDeclined as exc:
                raise ServiceError(
                    f"the card was declined ({exc.reason}): use another card", 402
                ) from exc
            except ProviderRejected as exc:
                raise ServiceError(
                    f"the payment method {method_ref!r} cannot be used: {exc}. Send the"
                    " PaymentMethod id (pm_...) that Stripe.js gave for the card",
                    422,
                ) from exc
            except ProviderUnavailable as exc:
                raise ServiceError(
                    "the payment provider cannot be reached; try again in a minute", 503
                ) from exc
            for method in active:
                if method.method_ref == card.method_ref:
                    return method
            method = PaymentMethod(
                id=method_id,
                driver_id=driver_id,
                provider=self._provider.name,
                customer_ref=customer_ref,
                method_ref=card.method_ref,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                is_default=not active,
                created_at=self._clock.now(),
            )
            await self._repo.add_method(method)
            return method

    async def methods(self, driver_id: str) -> builtins.list[PaymentMethod]:
        return await self._repo.methods(driver_id)

    async def _own_method(self, driver_id: str, method_id: str) -> PaymentMethod:
        method = await self._repo.get_method(method_id)
        if method is None or method.driver_id != driver_id or method.removed_at is not None:
            raise ServiceError(f"no payment method {method_id}", 404)
        return method

    async def set_default(self, driver_id: str, method_id: str) -> PaymentMethod:
        async with self._lock(f"methods:{driver_id}"):
            method = await self._own_method(driver_id, method_id)
            await self._repo.set_default_method(driver_id, method_id)
            return replace(method, is_default=True)

    async def remove_method(self, driver_id: str, method_id: str) -> None:
        """Forget a card (and detach it at the provider). If it was the default, the newest
        remaining card becomes the default."""
        async with self._lock(f"methods:{driver_id}"):
            method = await self._own_method(driver_id, method_id)
            await self._repo.remove_method(method_id, self._clock.now())
            if method.is_default:
                remaining = await self._repo.methods(driver_id)
                if remaining:
                    await self._repo.set_default_method(driver_id, remaining[-1].id)
        try:
            await self._provider.detach_method(
                method.method_ref, key=f"evcms:detach:{method.id}"
            )
        except ProviderError as exc:  # we no longer use it; the provider keeps a stale link
            log.warning("could not detach payment method %s: %s", method.method_ref, exc)

    async def default_method(self, driver_id: str) -> PaymentMethod | None:
        for method in await self._repo.methods(driver_id):
            if method.is_default:
                return method
        return None

    # -- sessions: pre-authorise, capture, release -------------------------------------------

    async def preauthorize_session(self, driver_id: str, session_id: int, amount: Decimal) -> Payment:
        """Hold ``amount`` on the driver's default card for a session that starts. AUTHORIZED,
        DECLINED (``error``: why) or FAILED (no card, provider unreachable). Calling again
        returns the same payment; one that FAILED is tried again (same idempotency key)."""
        key = f"session:{session_id}"
        minor = self._minor(amount)
        if minor <= 0:
            raise ServiceError("a pre-authorisation needs a positive amount", 422)
        async with self._lock(key):
            payment = await self._repo.by_key(key)
            if payment is not None and payment.status not in RETRYABLE:
                return payment
            return await self._pay(
                payment,
                key=key,
                purpose=PaymentPurpose.SESSION,
                driver_id=driver_id,
                session_id=session_id,
                minor=minor,
                capture="manual",
                description=f"EV charging session {session_id}",
                metadata={"session_id": str(session_id)},
            )

    async def capture_session(self, session_id: int, amount: Decimal) -> Payment:
        """Take the session's final price from the hold: 0 releases it (RELEASED); up to what
        was held captures that much (CAPTURED); more captures all that was held and charges
        the rest as a second payment ("session:{id}:extra"). The returned payment reports the
        session's total in ``captured`` (CAPTURED only if all was collected; else
        PARTIALLY_CAPTURED with the second payment's ``error``) and that payment in ``extra``.
        Calling again after success changes nothing; after a failure it retries with the same
        provider idempotency keys, so nothing is captured twice."""
        key = f"session:{session_id}"
        minor = self._minor(amount)
        if minor < 0:
            raise ServiceError("a capture amount cannot be negative", 422)
        async with self._lock(key):
            payment = await self._repo.by_key(key)
            if payment is None:
                raise ServiceError(f"session {session_id} has no card pre-authorisation", 404)
            if payment.status == PaymentStatus.AUTHORIZED and payment.intent_ref is not None:
                payment = await self._capture(payment, minor)
        return await self._session_view(payment, minor)

    async def release_session(self, session_id: int) -> Payment:
        """Give the hold back (the session did not happen). Idempotent."""
        key = f"session:{session_id}"
        async with self._lock(key):
            payment = await self._repo.by_key(key)
            if payment is None:
                raise ServiceError(f"session {session_id} has no card pre-authorisation", 404)
            if payment.status == PaymentStatus.AUTHORIZED and payment.intent_ref is not None:
                payment = await self._release(payment)
            return payment

    async def session_payment(self, session_id: int) -> Payment | None:
        payment = await self._repo.by_key(f"session:{session_id}")
        return None if payment is None else await self._session_view(payment, None)

    async def _capture(self, payment: Payment, minor: int) -> Payment:
        assert payment.intent_ref is not None
        if minor == 0:
            return await self._release(payment)
        held = to_minor(payment.authorized, payment.currency)
        take = min(minor, held)
        intent: Intent | None
        try:
            intent = await self._provider.capture_intent(
                payment.intent_ref, take, key=f"evcms:{payment.id}:capture:{take}"
            )
        except ProviderRejected as exc:
            intent = await self._reconcile(payment, exc)
            if intent is None:
                return await self._note(payment, f"capture refused: {exc}")
        except ProviderError as exc:
            return await self._note(payment, f"capture failed, will be retried: {exc}")
        return await self._apply_intent(payment, intent)

    async def _release(self, payment: Payment) -> Payment:
        assert payment.intent_ref is not None
        intent: Intent | None
        try:
            intent = await self._provider.cancel_intent(
                payment.intent_ref, key=f"evcms:{payment.id}:cancel"
            )
        except ProviderRejected as exc:
            intent = await self._reconcile(payment, exc)
            if intent is None:
                return await self._note(payment, f"release refused: {exc}")
        except ProviderError as exc:
            return await self._note(payment, f"release failed, will be retried: {exc}")
        return await self._apply_intent(payment, intent)

    async def _reconcile(self, payment: Payment, exc: ProviderError) -> Intent | None:
        """After a refused capture/cancel: the intent may be captured or cancelled already
        (by an earlier call whose answer was lost); take its state from the provider."""
        assert payment.intent_ref is not None
        try:
            intent = await self._provider.get_intent(payment.intent_ref)
        except ProviderError:
            return None
        if intent.state in (IntentState.SUCCEEDED, IntentState.CANCELED):
            return intent
        log.warning("payment %s: provider refused: %s", payment.id, exc)
        return None

    async def _session_view(self, payment: Payment, requested_minor: int | None) -> Payment:
        """The session's payment, with the second payment for what the hold did not cover."""
        extra_key = f"{payment.key}:extra"
        extra = await self._repo.by_key(extra_key)
        if payment.status == PaymentStatus.CAPTURED and requested_minor is not None:
            rest = requested_minor - to_minor(payment.captured, payment.currency)
            if rest > 0 and (extra is None or extra.status in RETRYABLE):
                async with self._lock(extra_key):
                    extra = await self._repo.by_key(extra_key)
                    if extra is None or extra.status in RETRYABLE:
                        extra = await self._pay(
                            extra,
                            key=extra_key,
                            purpose=PaymentPurpose.SESSION,
                            driver_id=payment.driver_id,
                            session_id=payment.session_id,
                            minor=rest,
                            capture="automatic",
                            description=f"EV charging session {payment.session_id}"
                            " (above the pre-authorised amount)",
                            metadata={"session_id": str(payment.session_id), "extra": "true"},
                        )
        if extra is None:
            return payment
        total = payment.captured + (extra.captured if extra.paid else ZERO)
        status, error = payment.status, payment.error
        if payment.status == PaymentStatus.CAPTURED and not extra.paid:
            status, error = PaymentStatus.PARTIALLY_CAPTURED, extra.error or extra.status.value
        return replace(payment, captured=total, status=status, error=error, extra=extra)

    # -- one-off payments ----------------------------------------------------------------

    async def charge(
        self,
        driver_id: str,
        *,
        key: str,
        purpose: str,
        amount: Decimal,
        description: str,
        metadata: dict[str, str] | None = None,
    ) -> Payment:
        """Charge the default card at once, off-session (a top-up, a subscription fee):
        SUCCEEDED, DECLINED or FAILED. Idempotent by ``key``: a payment that FAILED is tried
        again (same provider idempotency key); any other is returned as it is."""
        if purpose not in (PaymentPurpose.TOP_UP, PaymentPurpose.SUBSCRIPTION):
            raise ServiceError("purpose must be top_up or subscription", 422)
        minor = self._minor(amount)
        if minor <= 0:
            raise ServiceError("a payment needs a positive amount", 422)
        async with self._lock(key):
            payment = await self._repo.by_key(key)
            if payment is not None and payment.status not in RETRYABLE:
                return payment
            return await self._pay(
                payment,
                key=key,
                purpose=PaymentPurpose(purpose),
                driver_id=driver_id,
                session_id=None,
                minor=minor,
                capture="automatic",
                description=description,
                metadata=dict(metadata or {}),
            )

    async def refund(self, payment_id: str, amount: Decimal | None = None) -> Payment:
        """Give money back on a paid payment (all of it by default)."""
        payment = await self.get(payment_id)
        async with self._lock(payment.key):
            payment = await self.get(payment_id)
            if payment.status not in (*PAID, PaymentStatus.PARTIALLY_REFUNDED):
                raise ServiceError(f"payment {payment_id} is {payment.status}: nothing to refund", 409)
            captured = to_minor(payment.captured, payment.currency)
            minor = captured if amount is None else self._minor(amount)
            if not 0 < minor <= captured or payment.intent_ref is None:
                raise ServiceError(f"a refund must be more than 0 and at most {payment.captured}", 422)
            try:
                refunded = await self._provider.refund(
                    payment.intent_ref, minor, key=f"evcms:{payment.id}:refund:{minor}"
                )
            except ProviderError as exc:
                raise ServiceError(f"the refund failed: {exc}", 502) from exc
            status = PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
            return await self._move(payment, status=status, error=None)

    # -- reading -----------------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment:
        payment = await self._repo.get(payment_id)
        if payment is None:
            raise ServiceError(f"no payment {payment_id}", 404)
        return payment

    async def list(
        self, *, driver_id: str | None = None, session_id: int | None = None, limit: int = 100
    ) -> builtins.list[Payment]:
        return await self._repo.list(driver_id=driver_id, session_id=session_id, limit=limit)

    # -- webhooks ------------------------------------------------------------------------

    async def handle_webhook(self, body: bytes, signature: str | None) -> str:
        """Apply a provider event. A bad or missing signature: ServiceError 400. An event seen
        before: "duplicate". Returns what was done, for the log and the provider's dashboard."""
        try:
            event = self._provider.parse_webhook(body, signature)
        except InvalidSignature as exc:
            raise ServiceError(f"webhook refused: {exc}", 400) from exc
        provider = self._provider.name
        if await self._repo.webhook_seen(provider, event.id):
            return "duplicate"
        outcome = await self._apply_event(event)
        await self._repo.record_webhook(provider, event.id, event.type, self._clock.now())
        return outcome

    async def _apply_event(self, event: WebhookEvent) -> str:
        payment = await self._find(event)
        if payment is None:
            return f"ignored: {event.type} of an unknown payment"
        async with self._lock(payment.key):
            payment = await self._repo.get(payment.id)
            assert payment is not None
            before = payment.status
            if event.type == "charge.refunded":
                refundable = payment.paid or before == PaymentStatus.PARTIALLY_REFUNDED
                if event.refunded_minor <= 0 or not refundable:
                    return f"ignored: {event.type} of a {before} payment"
                status = (
                    PaymentStatus.REFUNDED
                    if event.fully_refunded
                    or event.refunded_minor >= to_minor(payment.captured, payment.currency)
                    else PaymentStatus.PARTIALLY_REFUNDED
                )
                payment = await self._move(payment, status=status)
            elif event.intent is not None and event.type.startswith("payment_intent."):
                payment = await self._apply_intent(payment, event.intent)
            else:
                return f"ignored: {event.type}"
            if payment.status == before:
                return f"no change: payment {payment.id} is {before}"
            return f"payment {payment.id}: {before} -> {payment.status}"

    async def _find(self, event: WebhookEvent) -> Payment | None:
        if event.intent_ref:
            found = await self._repo.by_intent(event.intent_ref)
            if found is not None:
                return found
        if event.intent is not None:  # an intent whose creation has not returned to us yet
            key = event.intent.metadata.get("payment_key")
            if key:
                return await self._repo.by_key(key)
        return None

    # -- internals -----------------------------------------------------------------------

    def _minor(self, amount: Decimal) -> int:
        if round_money(amount, self._currency) != amount:
            raise ServiceError(
                f"{amount} {self._currency} has more decimals than the currency allows", 422
            )
        return to_minor(amount, self._currency)

    async def _pay(
        self,
        payment: Payment | None,
        *,
        key: str,
        purpose: PaymentPurpose,
        driver_id: str,
        session_id: int | None,
        minor: int,
        capture: Literal["manual", "automatic"],
        description: str,
        metadata: dict[str, str],
    ) -> Payment:
        """Create (or retry) the payment's intent on the default card and record the answer."""
        now = self._clock.now()
        method = await self.default_method(driver_id)
        if payment is None:
            payment = Payment(
                id=str(uuid.uuid4()),
                key=key,
                purpose=purpose.value,
                driver_id=driver_id,
                session_id=session_id,
                status=PaymentStatus.PENDING,
                currency=self._currency,
                authorized=from_minor(minor, self._currency),
                captured=ZERO,
                intent_ref=None,
                method_id=None if method is None else method.id,
                error=None,
                created_at=now,
                updated_at=now,
                provider=self._provider.name,
            )
            try:
                await self._repo.add(payment)
            except AlreadyExists:  # another process made it first
                found = await self._repo.by_key(key)
                assert found is not None
                return found
        if method is None:
            return await self._move(
                payment,
                status=PaymentStatus.FAILED,
                error="no card on file: add a payment card first",
            )
        if payment.method_id != method.id:
            payment = await self._move(payment, method_id=method.id)
        try:
            intent = await self._provider.create_intent(
                key=f"evcms:{payment.id}:intent:{method.id}:{minor}",
                amount_minor=minor,
                currency=payment.currency,
                customer_ref=method.customer_ref,
                method_ref=method.method_ref,
                capture=capture,
                description=description,
                metadata={
                    **metadata,
                    "payment_id": payment.id,
                    "payment_key": key,
                    "driver_id": driver_id,
                },
            )
        except CardDeclined as exc:
            return await self._move(
                payment,
                status=PaymentStatus.DECLINED,
                error=exc.reason,
                intent_ref=exc.intent_ref or payment.intent_ref,
            )
        except ProviderError as exc:
            return await self._move(payment, status=PaymentStatus.FAILED, error=str(exc))
        return await self._apply_intent(payment, intent)

    async def _apply_intent(self, payment: Payment, intent: Intent) -> Payment:
        """Move the payment to what the provider says of its intent."""
        currency = payment.currency
        changes: dict[str, object] = {"intent_ref": intent.ref}
        status: PaymentStatus | None
        error: str | None = None
        match intent.state:
            case IntentState.REQUIRES_CAPTURE:
                status = PaymentStatus.AUTHORIZED
                changes["authorized"] = from_minor(intent.capturable_minor, currency)
            case IntentState.SUCCEEDED:
                manual = payment.purpose == PaymentPurpose.SESSION and not payment.key.endswith(
                    ":extra"
                )
                status = PaymentStatus.CAPTURED if manual else PaymentStatus.SUCCEEDED
                changes["captured"] = from_minor(intent.received_minor, currency)
            case IntentState.CANCELED:
                status = (
                    PaymentStatus.RELEASED
                    if payment.status == PaymentStatus.AUTHORIZED
                    or payment.purpose == PaymentPurpose.SESSION
                    else PaymentStatus.FAILED
                )
                error = None if status == PaymentStatus.RELEASED else "cancelled at the provider"
            case IntentState.REQUIRES_ACTION:
                status, error = PaymentStatus.DECLINED, "authentication_required"
            case IntentState.REQUIRES_PAYMENT_METHOD:
                status, error = PaymentStatus.DECLINED, intent.error or "card_declined"
            case _:  # processing: a webhook will tell
                status = None
        if status is None or not advances(payment.status, status):
            if payment.intent_ref is None:
                return await self._move(payment, intent_ref=intent.ref)
            return payment
        return await self._move(payment, status=status, error=error, **changes)

    async def _note(self, payment: Payment, error: str) -> Payment:
        return await self._move(payment, error=error)

    async def _move(self, payment: Payment, **changes: object) -> Payment:
        """Store a change; the first move into a paid status calls ``on_succeeded`` (for
        top-ups and fees: a session's capture is answered to its caller)."""
        updated = replace(payment, updated_at=self._clock.now(), **changes)  # type: ignore[arg-type]
        if not await self._repo.update(updated, expected=payment.status):
            current = await self._repo.get(payment.id)
            return current if current is not None else payment
        if (
            updated.paid
            and not payment.paid
            and updated.purpose != PaymentPurpose.SESSION
            and self.on_succeeded is not None
        ):
            await self.on_succeeded(updated)
        return updated
