"""Card payments through Stripe, with the official ``stripe`` package (async over httpx).

Implements ``services.payments.PaymentProvider``. Every mutating call sends the idempotency
key the service gives (Stripe keeps keys for 24 hours), so a retry — stripe-python's own on a
network error, or ours after a timeout — never charges twice. Stripe's errors become ours:
a card error is :class:`CardDeclined` (with the decline code and the intent Stripe made), a
network error, a 5xx or a rate limit is :class:`ProviderUnavailable` (safe to retry with the
same key), any other refusal :class:`ProviderRejected`. Webhooks are checked with Stripe's
signature scheme (``WebhookSignature.verify_header``) before anything in them is believed.

``api_base`` points the client at a local fake (``simulator.stripe_fake``) in tests and the
demo; in production it is Stripe's.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import stripe

from evcms.services.payments import (
    Card,
    CardDeclined,
    Intent,
    IntentState,
    InvalidSignature,
    ProviderRejected,
    ProviderUnavailable,
    WebhookEvent,
)

DEFAULT_API_BASE = "https://api.stripe.com"


def _dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict()
    return result


def intent_of(data: dict[str, Any]) -> Intent:
    """Our view of a Stripe PaymentIntent object (a response or an event's object)."""
    error = data.get("last_payment_error") or {}
    return Intent(
        ref=str(data["id"]),
        state=IntentState(data["status"]),
        currency=str(data.get("currency") or "").upper(),
        amount_minor=int(data.get("amount") or 0),
        capturable_minor=int(data.get("amount_capturable") or 0),
        received_minor=int(data.get("amount_received") or 0),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        error=error.get("decline_code") or error.get("code") or None,
    )


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str | None,
        api_base: str = DEFAULT_API_BASE,
        max_network_retries: int = 2,
        timeout: float = 30.0,
        webhook_tolerance: int = 300,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # -- customers and cards -----------------------------------------------------------------

    async def create_customer(self, *, driver_id: str, email: str, key: str) -> str:
        params: Any = {"email": email, "metadata": {"driver_id": driver_id}}
        async with _translated():
            customer = await self._client.v1.customers.create_async(
                params, {"idempotency_key": key}
            )
        return str(customer.id)

    async def attach_method(self, method_ref: str, *, customer_ref: str, key: str) -> Card:
        async with _translated():
            method = await self._client.v1.payment_methods.attach_async(
                method_ref, {"customer": customer_ref}, {"idempotency_key": key}
            )
        data = _dict(method)
        card = data.get("card") or {}
        return Card(
            method_ref=str(data["id"]),
            brand=card.get("brand"),
            last4=card.get("last4"),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )

    async def detach_method(self, method_ref: str, *, key: str) -> None:
        async with _translated():
            await self._client.v1.payment_methods.detach_async(
                method_ref, None, {"idempotency_key": key}
            )

    # -- payment intents ---------------------------------------------------------------------

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
        params: Any = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": customer_ref,
            "payment_method": method_ref,
            "capture_method": capture,
            "confirm": True,
            "off_session": True,
            "description": description,
            "metadata": metadata,
        }
        async with _translated():
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": key}
            )
        return intent_of(_dict(intent))

    async def get_intent(self, intent_ref: str) -> Intent:
        async with _translated():
            intent = await self._client.v1.payment_intents.retrieve_async(intent_ref)
        return intent_of(_dict(intent))

    async def capture_intent(self, intent_ref: str, amount_minor: int, *, key: str) -> Intent:
        async with _translated():
            intent = await self._client.v1.payment_intents.capture_async(
                intent_ref, {"amount_to_capture": amount_minor}, {"idempotency_key": key}
            )
        return intent_of(_dict(intent))

    async def cancel_intent(self, intent_ref: str, *, key: str) -> Intent:
        async with _translated():
            intent = await self._client.v1.payment_intents.cancel_async(
                intent_ref, None, {"idempotency_key": key}
            )
        return intent_of(_dict(intent))

    async def refund(self, intent_ref: str, amount_minor: int, *, key: str) -> int:
        params: Any = {"payment_intent": intent_ref, "amount": amount_minor}
        async with _translated():
            refund = await self._client.v1.refunds.create_async(params, {"idempotency_key": key})
        return int(refund.amount)

    # -- webhooks ----------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        if not self._webhook_secret:
            raise InvalidSignature("no webhook signing secret is configured (EVCMS_STRIPE_WEBHOOK_SECRET)")
        if not signature:
            raise InvalidSignature("the Stripe-Signature header is missing")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, self._tolerance
            )
            event = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(f"bad Stripe-Signature: {exc.user_message}") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature("the body is not a JSON Stripe event") from exc
        if not isinstance(event, dict) or "id" not in event or "type" not in event:
            raise InvalidSignature("the body is not a Stripe event")
        obj = (event.get("data") or {}).get("object") or {}
        kind = str(event["type"])
        if obj.get("object") == "payment_intent":
            intent = intent_of(obj)
            return WebhookEvent(str(event["id"]), kind, intent, intent.ref)
        if obj.get("object") == "charge":
            return WebhookEvent(
                str(event["id"]),
                kind,
                None,
                obj.get("payment_intent"),
                refunded_minor=int(obj.get("amount_refunded") or 0),
                fully_refunded=bool(obj.get("refunded")),
            )
        return WebhookEvent(str(event["id"]), kind, None, None)


class _translated:
    """Stripe's exceptions as ours (async context manager)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, stripe.StripeError):
            return False
        error = exc.json_body.get("error", {}) if isinstance(exc.json_body, dict) else {}
        message = error.get("message") or exc.user_message or type(exc).__name__
        if isinstance(exc, stripe.CardError):
            intent = error.get("payment_intent") or {}
            reason = error.get("decline_code") or error.get("code") or "card_declined"
            raise CardDeclined(message, str(reason), intent.get("id")) from exc
        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
            raise ProviderUnavailable(f"Stripe is unavailable: {message}") from exc
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            raise ProviderUnavailable(f"Stripe refused our API key: {message}") from exc
        raise ProviderRejected(message, error.get("code")) from exc
