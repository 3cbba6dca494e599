"""Subscription plans and drivers' subscriptions.

Operators (API keys): ``/plans`` (list, read; add and retire need the manage-network
permission, i.e. admin or operator) and ``/subscriptions``. Drivers (driver tokens):
``/me/plans`` and ``/me/subscription`` (read with this period's usage, subscribe, cancel at the
period end). Amounts, kWh and percentages are strings in plain notation, never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from evcms.domain.subscriptions import Plan, Subscription, SubscriptionStatus
from evcms.domain.tariffs import round_money
from evcms.services.subscriptions import Subscriptions
from evcms.web.auth import BillingManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut

router = APIRouter(tags=["subscriptions"])
me_router = APIRouter(prefix="/me", tags=["driver subscriptions"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such plan or subscription"},
    409: {"model": ErrorOut, "description": "Conflicts with the current state"},
    422: {"model": ErrorOut, "description": "Input that breaks a rule; says what to fix"},
}
_SUBSCRIBE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    402: {"model": ErrorOut, "description": "The first month's fee was not paid (why is said)"},
}
WH_PER_KWH = Decimal(1000)


def subscriptions_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Subscriptions:
    """The subscriptions service; 503 when this evcms runs without it."""
    if deps.subscriptions is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "subscriptions are not enabled on this server"
        )
    service: Subscriptions = deps.subscriptions
    return service


Service = Annotated[Subscriptions, Depends(subscriptions_service)]


def _plain(value: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal('12.500000') -> '12.5', 1E+2 -> '100'."""
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")


def _money(value: Decimal, currency: str) -> str:
    return format(round_money(value, currency), "f")


# -- bodies -----------------------------------------------------------------------------------


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(default="EUR", min_length=3, max_length=3, description="ISO 4217")
    monthly_fee: Decimal = Field(ge=0, description="Excl. VAT, e.g. \"9.99\"")
    fee_vat_percent: Decimal = Field(ge=0, le=100, description="VAT on the fee, e.g. \"20\"")
    included_kwh: Decimal = Field(default=Decimal(0), ge=0, description="Per month; 0: none")
    discount_percent: Decimal = Field(
        default=Decimal(0), ge=0, le=100, description="Off every session after included energy"
    )
    tariff_id: str | None = Field(
        default=None, min_length=1, max_length=36, description="A tariff of the plan's own"
    )

    @field_validator("monthly_fee", "fee_vat_percent", "included_kwh", "discount_percent")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("must be a finite number")
        return value


class PlanOut(BaseModel):
    id: str
    name: str
    currency: str
    monthly_fee: str = Field(description="Excl. VAT")
    fee_vat_percent: str
    fee_vat: str
    fee_incl_vat: str
    included_kwh: str
    discount_percent: str
    tariff_id: str | None
    active: bool = Field(description="False: retired, takes no new subscriptions")
    created_at: datetime

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            id=plan.id,
            name=plan.name,
            currency=plan.currency,
            monthly_fee=_money(plan.monthly_fee, plan.currency),
            fee_vat_percent=_plain(plan.fee_vat_percent),
            fee_vat=_money(plan.fee_vat, plan.currency),
            fee_incl_vat=_money(plan.fee_incl_vat, plan.currency),
            included_kwh=_plain(plan.included_kwh),
            discount_percent=_plain(plan.discount_percent),
            tariff_id=plan.tariff_id,
            active=plan.active,
            created_at=plan.created_at,
        )


class PlanList(BaseModel):
    plans: list[PlanOut]


class SubscriptionOut(BaseModel):
    id: str
    driver_id: str
    plan_id: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime = Field(description="Ended subscriptions: when the benefits stopped")
    cancel_at_period_end: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            driver_id=subscription.driver_id,
            plan_id=subscription.plan_id,
            status=subscription.status,
            period_start=subscription.period_start,
            period_end=subscription.period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]


class UsageOut(BaseModel):
    used_kwh: str = Field(description="Included energy used in this period")
    included_kwh: str = Field(description="Included per period")
    left_kwh: str


class MySubscriptionOut(SubscriptionOut):
    plan: PlanOut
    usage: UsageOut
    benefits_apply: bool = Field(description="False while the period's fee is unpaid (past due)")
    renews: bool = Field(description="The next period's fee will be collected at period_end")


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(min_length=1, max_length=36)


async def _mine(service: Subscriptions, subscription: Subscription) -> MySubscriptionOut:
    plan = await service.plan(subscription.plan_id)
    used = await service.usage(subscription.id) / WH_PER_KWH
    return MySubscriptionOut(
        **SubscriptionOut.of(subscription).model_dump(),
        plan=PlanOut.of(plan),
        usage=UsageOut(
            used_kwh=_plain(used),
            included_kwh=_plain(plan.included_kwh),
            left_kwh=_plain(max(plan.included_kwh - used, Decimal(0))),
        ),
        benefits_apply=subscription.status
        in (SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED),
        renews=subscription.status is SubscriptionStatus.ACTIVE
        and not subscription.cancel_at_period_end,
    )



# -- operators --------------------------------------------------------------------------------


@router.get("/plans")
async def list_plans(
    service: Service,
    _: Reader,
    active_only: Annotated[bool, Query(description="Leave out retired plans")] = False,
) -> PlanList:
    """Every plan, oldest first (retired ones too unless active_only)."""
    return PlanList(plans=[PlanOut.of(p) for p in await service.plans(active_only=active_only)])


@router.post("/plans", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def add_plan(body: PlanIn, service: Service, _: BillingManager) -> PlanOut:
    """A new plan drivers can subscribe to: a monthly fee, and included kWh and/or a discount
    (and/or a tariff of its own)."""
    plan = await service.add_plan(
        name=body.name,
        currency=body.currency,
        monthly_fee=body.monthly_fee,
        fee_vat_percent=body.fee_vat_percent,
        included_kwh=body.included_kwh,
        discount_percent=body.discount_percent,
        tariff_id=body.tariff_id,
    )
    return PlanOut.of(plan)


@router.get("/plans/{plan_id}", responses=_ERRORS)
async def get_plan(plan_id: str, service: Service, _: Reader) -> PlanOut:
    return PlanOut.of(await service.plan(plan_id))


@router.delete("/plans/{plan_id}", responses=_ERRORS)
async def retire_plan(plan_id: str, service: Service, _: BillingManager) -> PlanOut:
    """Retire a plan: it takes no new subscriptions; the existing ones run on and renew."""
    return PlanOut.of(await service.retire_plan(plan_id))


@router.get("/subscriptions")
async def list_subscriptions(
    service: Service,
    _: Reader,
    driver_id: Annotated[str | None, Query(max_length=36, description="Only this driver's")] = None,
) -> SubscriptionList:
    """Subscriptions, newest first (ended ones too)."""
    found = await service.list(driver_id=driver_id)
    return SubscriptionList(subscriptions=[SubscriptionOut.of(s) for s in found])


# -- drivers ----------------------------------------------------------------------------------


@me_router.get("/plans")
async def my_plans(service: Service, _: CurrentDriver) -> PlanList:
    """The plans you can subscribe to."""
    return PlanList(plans=[PlanOut.of(p) for p in await service.plans(active_only=True)])


@me_router.get("/subscription", responses=_ERRORS)
async def my_subscription(service: Service, session: CurrentDriver) -> MySubscriptionOut:
    """Your current subscription: its plan, period and the included energy used so far."""
    current = await service.subscription_of(session.driver.id)
    if current is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "you have no subscription; choose a plan from GET /api/v1/me/plans and subscribe"
            " with POST /api/v1/me/subscription",
        )
    return await _mine(service, current)


@me_router.post(
    "/subscription", status_code=status.HTTP_201_CREATED, responses=_SUBSCRIBE_ERRORS
)
async def subscribe(
    body: SubscribeIn, service: Service, session: CurrentDriver
) -> MySubscriptionOut:
    """Subscribe to a plan: the first month's fee is taken now and the month starts."""
    created = await service.subscribe(session.driver.id, body.plan_id)
    return await _mine(service, created)


@me_router.delete("/subscription", responses=_ERRORS)
async def cancel(service: Service, session: CurrentDriver) -> MySubscriptionOut:
    """Cancel at the end of the period: the benefits run until then and nothing more is
    charged. (A past-due subscription ends now.)"""
    cancelled = await service.cancel(session.driver.id)
    return await _mine(service, cancelled)
