"""Card payments over HTTP: a driver's cards (``/me/payment-methods``), what operators see of
payments (``/payments``), and Stripe's webhook (``/payments/stripe/webhook``: no API key, the
``Stripe-Signature`` is the authentication)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from evcms.services.payments import CardPayments, Payment, PaymentMethod
from evcms.web.auth import Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut
from evcms.web.session_schemas import decimal_text

router = APIRouter(prefix="/payments", tags=["payments"])
me_router = APIRouter(prefix="/me/payment-methods", tags=["driver payment methods"])
webhook_router = APIRouter(prefix="/payments", tags=["provider webhooks"])

_MAX_WEBHOOK = 1_000_000
NOT_CONFIGURED = "card payments are not configured: set EVCMS_STRIPE_SECRET_KEY"
_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorOut, "description": "The card was declined"},
    404: {"model": ErrorOut, "description": "No such payment method / payment"},
    422: {"model": ErrorOut, "description": "Input that breaks a rule; says what to fix"},
    503: {"model": ErrorOut, "description": "Card payments are off, or Stripe is unreachable"},
}


def card_payments(deps: Annotated[WebDeps, Depends(web_deps)]) -> CardPayments:
    """The card payments service; 503 when this evcms runs without Stripe."""
    if deps.payments is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NOT_CONFIGURED)
    payments: CardPayments = deps.payments
    return payments


Payments = Annotated[CardPayments, Depends(card_payments)]


class PaymentMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_method: str = Field(
        min_length=1,
        max_length=120,
        description="The Stripe PaymentMethod id from Stripe.js or a SetupIntent (pm_...)",
        examples=["pm_card_visa"],
    )


class PaymentMethodOut(BaseModel):
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    created_at: datetime

    @classmethod
    def of(cls, method: PaymentMethod) -> PaymentMethodOut:
        return cls(
            id=method.id,
            brand=method.brand,
            last4=method.last4,
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            is_default=method.is_default,
            created_at=method.created_at,
        )


class PaymentMethodList(BaseModel):
    payment_methods: list[PaymentMethodOut]


class PaymentOut(BaseModel):
    id: str
    key: str
    purpose: str = Field(description="session | top_up | subscription")
    driver_id: str
    session_id: int | None
    status: str
    currency: str
    authorized: str = Field(description="Held (sessions) or asked for, e.g. \"25.00\"")
    captured: str = Field(description="Taken from the card, e.g. \"12.34\"")
    provider: str
    intent_ref: str | None = Field(description="The provider's payment intent (pi_...)")
    method_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            key=payment.key,
            purpose=payment.purpose,
            driver_id=payment.driver_id,
            session_id=payment.session_id,
            status=payment.status.value,
            currency=payment.currency,
            authorized=decimal_text(payment.authorized) or "0",
            captured=decimal_text(payment.captured) or "0",
            provider=payment.provider,
            intent_ref=payment.intent_ref,
            method_id=payment.method_id,
            error=payment.error,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
        )


class PaymentList(BaseModel):
    payments: list[PaymentOut]



# -- drivers: their cards ------------------------------------------------------------------


@me_router.get("")
async def my_payment_methods(payments: Payments, session: CurrentDriver) -> PaymentMethodList:
    """Your cards; payments use the default one."""
    found = await payments.methods(session.driver.id)
    return PaymentMethodList(payment_methods=[PaymentMethodOut.of(m) for m in found])


@me_router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def add_payment_method(
    body: PaymentMethodIn, payments: Payments, session: CurrentDriver
) -> PaymentMethodOut:
    """Add a card (its Stripe PaymentMethod id). Your first card becomes the default."""
    method = await payments.add_method(
        session.driver.id, email=session.driver.email, method_ref=body.payment_method
    )
    return PaymentMethodOut.of(method)


@me_router.put("/{method_id}/default", responses=_ERRORS)
async def set_default_payment_method(
    method_id: str, payments: Payments, session: CurrentDriver
) -> PaymentMethodOut:
    """Pay with this card from now on."""
    return PaymentMethodOut.of(await payments.set_default(session.driver.id, method_id))


@me_router.delete("/{method_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def remove_payment_method(
    method_id: str, payments: Payments, session: CurrentDriver
) -> Response:
    """Remove a card; if it was the default, your newest other card becomes the default."""
    await payments.remove_method(session.driver.id, method_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- operators -----------------------------------------------------------------------------


@router.get("")
async def list_payments(
    payments: Payments,
    _: Reader,
    driver_id: Annotated[str | None, Query(max_length=36)] = None,
    session_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PaymentList:
    """Card payments, newest first."""
    found = await payments.list(driver_id=driver_id, session_id=session_id, limit=limit)
    return PaymentList(payments=[PaymentOut.of(p) for p in found])


@router.get("/{payment_id}", responses=_ERRORS)
async def get_payment(payment_id: str, payments: Payments, _: Reader) -> PaymentOut:
    return PaymentOut.of(await payments.get(payment_id))


# -- Stripe's webhook ----------------------------------------------------------------------


class WebhookOut(BaseModel):
    result: str


@webhook_router.post(
    "/stripe/webhook",
    responses={400: {"model": ErrorOut, "description": "Missing or bad Stripe-Signature"}},
)
async def stripe_webhook(request: Request, payments: Payments) -> WebhookOut:
    """Stripe's events (payment_intent.*, charge.refunded). Authenticated by the
    ``Stripe-Signature`` header over the raw body; a redelivered event is applied once."""
    body = await request.body()
    if len(body) > _MAX_WEBHOOK:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "webhook body too large")
    result = await payments.handle_webhook(body, request.headers.get("stripe-signature"))
    return WebhookOut(result=result)
