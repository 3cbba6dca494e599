"""Billing profiles, the fixed price (charge) of ended sessions, and card top-ups.

Operators: ``/drivers/{id}/billing-profile``, ``/sessions/{id}/charge``, ``/charges``,
``/billing/settle-missed``. Drivers: ``/me/billing-profile``, ``/me/sessions/{id}/charge``,
``/me/wallet/top-ups`` (with the card on file).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from pydantic import BaseModel, Field

from evcms.domain.billing import PaymentMode
from evcms.services.billing import Billing, BillingProfile, ChargeStatus, StoredCharge
from evcms.web.auth import BillingManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut

router = APIRouter(tags=["billing"])
me_router = APIRouter(tags=["driver billing"])

_RESPONSES: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


def billing_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Billing:
    if deps.billing is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "billing is not enabled on this server"
        )
    billing: Billing = deps.billing
    return billing


BillingService = Annotated[Billing, Depends(billing_service)]


class ProfileIn(BaseModel):
    mode: PaymentMode | None = Field(None, description="wallet, card or postpaid")
    language: str | None = Field(None, description="Invoice language: en or bg")
    name: str | None = Field(None, max_length=200, description="Person or company on invoices")
    company_id: str | None = Field(None, max_length=32)
    vat_id: str | None = Field(None, max_length=32)
    address: str | None = Field(None, max_length=500)
    country: str | None = Field(None, description="ISO 3166 two-letter code, e.g. BG")


class ProfileOut(BaseModel):
    driver_id: str
    mode: PaymentMode
    language: str
    name: str
    company_id: str | None
    vat_id: str | None
    address: str | None
    country: str | None

    @classmethod
    def of(cls, profile: BillingProfile) -> ProfileOut:
        return cls(
            driver_id=profile.driver_id,
            mode=profile.mode,
            language=profile.language,
            name=profile.name,
            company_id=profile.company_id,
            vat_id=profile.vat_id,
            address=profile.address,
            country=profile.country,
        )


class ChargeLineOut(BaseModel):
    kind: str
    quantity: str
    unit: str
    excl_vat: str
    vat: str
    incl_vat: str
    vat_percent: str | None


class ChargeOut(BaseModel):
    session_id: int
    driver_id: str | None
    status: ChargeStatus
    payment_mode: str
    currency: str
    total_excl_vat: str
    total_vat: str
    total_incl_vat: str
    lines: list[ChargeLineOut]
    tariff_id: str | None
    tariff_version: int | None
    subscription_id: str | None
    payment_id: str | None
    invoice_id: str | None
    error: str | None
    priced_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, stored: StoredCharge) -> ChargeOut:
        charge = stored.charge
        return cls(
            session_id=stored.session_id,
            driver_id=stored.driver_id,
            status=stored.status,
            payment_mode=stored.payment_mode,
            currency=charge.currency,
            total_excl_vat=str(charge.total_excl_vat),
            total_vat=str(charge.total_vat),
            total_incl_vat=str(charge.total_incl_vat),
            lines=[
                ChargeLineOut(
                    kind=line.kind.value,
                    quantity=str(line.quantity),
                    unit=line.unit,
                    excl_vat=str(line.excl_vat),
                    vat=str(line.vat),
                    incl_vat=str(line.incl_vat),
                    vat_percent=None if line.vat_percent is None else str(line.vat_percent),
                )
                for line in charge.lines
            ],
            tariff_id=stored.tariff_id,
            tariff_version=stored.tariff_version,
            subscription_id=stored.subscription_id,
            payment_id=stored.payment_id,
            invoice_id=stored.invoice_id,
            error=stored.error,
            priced_at=stored.priced_at,
            settled_at=stored.settled_at,
        )


class TopUpIn(BaseModel):
    amount: Decimal = Field(gt=0, le=10_000, decimal_places=2, description='e.g. "20.00"')


class TopUpOut(BaseModel):
    payment_id: str
    status: str
    amount: str
    currency: str


async def _set_profile(billing: Billing, driver_id: str, body: ProfileIn) -> ProfileOut:
    profile = await billing.set_profile(driver_id, **body.model_dump(exclude_unset=True))
    return ProfileOut.of(profile)


# -- operators ------------------------------------------------------------------------------


@router.get("/drivers/{driver_id}/billing-profile", responses=_RESPONSES)
async def get_profile(driver_id: str, billing: BillingService, _: Reader) -> ProfileOut:
    """How the driver pays and who they are on invoices (the defaults until one is set)."""
    return ProfileOut.of(await billing.profile_of(driver_id))


@router.put("/drivers/{driver_id}/billing-profile", responses=_RESPONSES)
async def put_profile(
    driver_id: str, body: ProfileIn, billing: BillingService, _: BillingManager
) -> ProfileOut:
    """Change how the driver pays (wallet, card, postpaid) and their invoice details."""
    return await _set_profile(billing, driver_id, body)


@router.get("/sessions/{session_id}/charge", responses=_RESPONSES)
async def session_charge(session_id: int, billing: BillingService, _: Reader) -> ChargeOut:
    """The fixed price of an ended session and how it was paid."""
    return ChargeOut.of(await billing.charge_of(session_id))


@router.get("/charges")
async def list_charges(
    billing: BillingService,
    _: Reader,
    driver_id: str | None = None,
    charge_status: Annotated[ChargeStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ChargeOut]:
    """Settled sessions, newest first (filter by driver and status: paid, unpaid, free...)."""
    found = await billing.charges(driver_id=driver_id, status=charge_status, limit=limit)
    return [ChargeOut.of(c) for c in found]


@router.post("/billing/settle-missed")
async def settle_missed(billing: BillingService, _: BillingManager, days: int = 7) -> dict[str, int]:
    """Settle ended sessions of the last ``days`` that have no settled charge (runs by itself
    every few minutes too)."""
    return {"settled": await billing.settle_missed(days=max(1, min(days, 90)))}


# -- drivers --------------------------------------------------------------------------------


@me_router.get("/me/billing-profile")
async def my_profile(billing: BillingService, session: CurrentDriver) -> ProfileOut:
    return ProfileOut.of(await billing.profile_of(session.driver.id))


@me_router.put("/me/billing-profile", responses=_RESPONSES)
async def put_my_profile(
    body: ProfileIn, billing: BillingService, session: CurrentDriver
) -> ProfileOut:
    """Choose how you pay (wallet, card, postpaid when the operator allows it) and your
    invoice details."""
    return await _set_profile(billing, session.driver.id, body)


@me_router.get("/me/sessions/{session_id}/charge", responses=_RESPONSES)
async def my_session_charge(
    session_id: int, billing: BillingService, session: CurrentDriver
) -> ChargeOut:
    """What one of your ended sessions cost, line by line, and how it was paid."""
    return ChargeOut.of(await billing.charge_of(session_id, driver_id=session.driver.id))


@me_router.post(
    "/me/wallet/top-ups",
    status_code=status.HTTP_201_CREATED,
    responses={402: {"model": ErrorOut}, 400: {"model": ErrorOut}},
)
async def top_up_with_card(
    body: TopUpIn,
    billing: BillingService,
    session: CurrentDriver,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> TopUpOut:
    """Top up your wallet with your card on file. Send an ``Idempotency-Key`` header: a retry
    with the same key never charges twice."""
    if not idempotency_key:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "send an Idempotency-Key header (any unique text)"
        )
    payment = await billing.card_top_up(session.driver.id, body.amount, key=idempotency_key)
    return TopUpOut(
        payment_id=payment.id,
        status=str(getattr(payment.status, "value", payment.status)),
        amount=str(body.amount),
        currency=payment.currency,
    )
