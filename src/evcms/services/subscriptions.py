"""Subscriptions: plans, drivers subscribing to them, monthly renewal, and what a plan takes off
a session.

A driver has at most one current subscription (active, past due, or cancelled but running to
its period end). Each period's fee is collected through the :class:`FeeCollector` port (billing
implements it: wallet, card or postpaid) before the period's benefits apply: the first period's
when subscribing (not paid: nothing is stored), the next ones in :meth:`Subscriptions.renew_due`,
which a scheduler calls. A period whose fee is not paid is PAST_DUE (no benefits; the fee is
retried on every call, benefits resume once paid); when the whole period passes unpaid the
subscription ENDS, so a driver is never charged for months in which nothing applied. Because of
that rule every period before the current one was paid, which is what lets a session that
started before a renewal still get the plan of the period it started in.

Benefits (included kWh, a discount) are applied by :meth:`Subscriptions.apply` when billing
prices an ended session; the included energy a session took is recorded once per session, so
pricing a session again gives the same result and never takes the energy twice.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import uuid
import weakref
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from evcms.domain.billing import SessionCharge, to_minor
from evcms.domain.subscriptions import (
    ZERO,
    Plan,
    PlanApplication,
    Subscription,
    SubscriptionStatus,
    apply_plan,
    next_period_end,
    period_containing,
)
from evcms.services.ports import AlreadyExists, Clock, ServiceError

log = logging.getLogger(__name__)

NAME_MAX_LENGTH = 200
TARIFF_ID_MAX_LENGTH = 36  # OCPI CiString(36), as tariffs are stored
MAX_DECIMALS = 6  # what the database keeps of kWh and percentages
MAX_AMOUNT = Decimal(10) ** 12

CURRENT = frozenset(
    {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED}
)  # a driver has at most one of these


@dataclass(frozen=True)
class FeeOutcome:
    paid: bool
    reference: str | None = None  # e.g. the payment or ledger entry that took the fee
    error: str | None = None  # why it was not paid, for the driver


class FeeCollector(Protocol):
    async def collect(
        self, subscription: Subscription, plan: Plan, period_start: datetime, period_end: datetime
    ) -> FeeOutcome:
        """Take the plan's fee for that period (wallet / card / postpaid). Must be idempotent
        per (subscription, period_start): it is retried until paid. Not called for a plan
        whose fee is zero."""
        ...


class SubscriptionRepository(Protocol):
    async def add_plan(self, plan: Plan) -> None: ...  # AlreadyExists (same id)

    async def get_plan(self, plan_id: str) -> Plan | None: ...

    async def list_plans(self, *, active_only: bool = False) -> builtins.list[Plan]: ...
    # oldest first

    async def set_plan_active(self, plan_id: str, active: bool) -> Plan | None: ...

    async def add(self, subscription: Subscription) -> None: ...
    # AlreadyExists: same id, or the driver has another current (active|past_due|cancelled) one

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def update(self, subscription: Subscription) -> None: ...  # NotFound

    async def list(
        self,
        *,
        driver_id: str | None = None,
        statuses: Collection[SubscriptionStatus] | None = None,
    ) -> builtins.list[Subscription]: ...  # newest first

    async def due(self, at: datetime) -> builtins.list[Subscription]: ...
    # active or cancelled with period_end <= at, and every past_due one; oldest period_end first

    async def record_usage(
        self,
        subscription_id: str,
        session_id: int,
        *,
        period_start: datetime,
        included_wh: Decimal,
        at: datetime,
    ) -> Decimal: ...  # once per (subscription, session): a repeat returns what was recorded

    async def session_usage(self, subscription_id: str, session_id: int) -> Decimal | None: ...

    async def used_wh(self, subscription_id: str, period_start: datetime) -> Decimal: ...


def _decimal(name: str, value: Decimal | int | str, *, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise ServiceError(f"{name}: {value!r} is not a number", 422) from None
    if not number.is_finite() or not low <= number <= high:
        raise ServiceError(f"{name}: must be between {low} and {high}, got {value}", 422)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise ServiceError(f"{name}: at most {MAX_DECIMALS} decimal places, got {value}", 422)
    return number


class Subscriptions:
    def __init__(
        self, *, subscriptions: SubscriptionRepository, clock: Clock, fees: FeeCollector
    ) -> None:
        self._repo = subscriptions
        self._clock = clock
        self._fees = fees
        # One driver's subscription changes (and usage bookings) run one at a time, so two
        # requests cannot both subscribe or both spend the same included kWh.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, driver_id: str) -> asyncio.Lock:
        lock = self._locks.get(driver_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[driver_id] = lock
        return lock

    # -- plans ------------------------------------------------------------------------------------

    async def add_plan(
        self,
        *,
        name: str,
        currency: str,
        monthly_fee: Decimal,
        fee_vat_percent: Decimal,
        included_kwh: Decimal = ZERO,
        discount_percent: Decimal = ZERO,
        tariff_id: str | None = None,
    ) -> Plan:
        """A new active plan. ServiceError 422 saying which value to fix."""
        clean_name = name.strip()
        if not clean_name or len(clean_name) > NAME_MAX_LENGTH:
            raise ServiceError(f"name: 1 to {NAME_MAX_LENGTH} characters", 422)
        code = currency.strip().upper()
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ServiceError(f"currency: a 3-letter ISO 4217 code like EUR, got {currency!r}", 422)
        fee = _decimal("monthly_fee", monthly_fee, low=ZERO, high=MAX_AMOUNT)
        try:
            to_minor(fee, code)
        except ValueError:
            raise ServiceError(
                f"monthly_fee: {fee} has more decimal places than {code} has", 422
            ) from None
        if tariff_id is not None and not 0 < len(tariff_id) <= TARIFF_ID_MAX_LENGTH:
            raise ServiceError(f"tariff_id: 1 to {TARIFF_ID_MAX_LENGTH} characters", 422)
        plan = Plan(
            id=str(uuid.uuid4()),
            name=clean_name,
            currency=code,
            monthly_fee=fee,
            fee_vat_percent=_decimal(
                "fee_vat_percent", fee_vat_percent, low=ZERO, high=Decimal(100)
            ),
            included_kwh=_decimal("included_kwh", included_kwh, low=ZERO, high=MAX_AMOUNT),
            discount_percent=_decimal(
                "discount_percent", discount_percent, low=ZERO, high=Decimal(100)
            ),
            tariff_id=tariff_id or None,
            active=True,
            created_at=self._clock.now(),
        )
        await self._repo.add_plan(plan)
        return plan

    async def plans(self, *, active_only: bool = True) -> builtins.list[Plan]:
        return await self._repo.list_plans(active_only=active_only)

    async def plan(self, plan_id: str) -> Plan:
        found = await self._repo.get_plan(plan_id)
        if found is None:
            raise ServiceError(f"plan {plan_id!r} does not exist", 404)
        return found

    async def retire_plan(self, plan_id: str) -> Plan:
        """No new subscriptions to the plan; the existing ones run on (and renew)."""
        retired = await self._repo.set_plan_active(plan_id, False)
        if retired is None:
            raise ServiceError(f"plan {plan_id!r} does not exist", 404)
        return retired

    # -- subscriptions ----------------------------------------------------------------------------

    async def subscribe(self, driver_id: str, plan_id: str) -> Subscription:
        """Subscribe a driver: the first period starts now, once its fee is paid (ServiceError
        402 with the reason when not: nothing is stored). 409 when the driver already has an
        active or past-due subscription; a cancelled one still running is ended now and
        replaced."""
        plan = await self.plan(plan_id)
        if not plan.active:
            raise ServiceError(
                f"plan {plan.name!r} is retired and takes no new subscriptions; choose one of"
                " the active plans",
                409,
            )
        async with self._lock(driver_id):
            current = await self.subscription_of(driver_id)
            if current is not None and current.status is not SubscriptionStatus.CANCELLED:
                held = await self._repo.get_plan(current.plan_id)
                what = repr(held.name) if held is not None else current.plan_id
                raise ServiceError(
                    f"you already have a subscription to plan {what} ({current.status.value});"
                    " cancel it before subscribing to another plan",
                    409,
                )
            now = self._clock.now()
            subscription = Subscription(
                id=str(uuid.uuid4()),
                driver_id=driver_id,
                plan_id=plan.id,
                status=SubscriptionStatus.ACTIVE,
                period_start=now,
                period_end=next_period_end(now),
                cancel_at_period_end=False,
                created_at=now,
                updated_at=now,
            )
            outcome = await self._collect(subscription, plan)
            if not outcome.paid:
                raise ServiceError(
                    f"the first month's fee of {plan.fee_incl_vat} {plan.currency} (incl. VAT)"
                    f" was not paid: {outcome.error or 'the payment was declined'}",
                    402,
                )
            if current is not None:
                await self._repo.update(self._ended(current, now))
            try:
                await self._repo.add(subscription)
            except AlreadyExists as exc:  # another process subscribed the driver meanwhile
                raise ServiceError(
                    "you already have a subscription; cancel it before subscribing again", 409
                ) from exc
            return subscription

    async def cancel(self, driver_id: str, *, immediately: bool = False) -> Subscription:
        """Cancel at the period end (the benefits run until then), or end it now. A past-due
        subscription ends now: it has no paid period left to run."""
        async with self._lock(driver_id):
            current = await self.subscription_of(driver_id)
            if current is None:
                raise ServiceError("you have no subscription to cancel", 404)
            now = self._clock.now()
            if immediately or current.status is SubscriptionStatus.PAST_DUE:
                ended = self._ended(current, now)
            elif current.status is SubscriptionStatus.CANCELLED:
                return current
            else:
                ended = replace(
                    current,
                    status=SubscriptionStatus.CANCELLED,
                    cancel_at_period_end=True,
                    updated_at=now,
                )
            await self._repo.update(ended)
            return ended

    @staticmethod
    def _ended(subscription: Subscription, now: datetime) -> Subscription:
        """Ended now: the benefits stop now (a past-due period was never paid, so at its start)."""
        stop = min(subscription.paid_until, now)
        return replace(
            subscription,
            status=SubscriptionStatus.ENDED,
            period_end=max(stop, subscription.period_start),
            updated_at=now,
        )

    async def get(self, subscription_id: str) -> Subscription:
        found = await self._repo.get(subscription_id)
        if found is None:
            raise ServiceError(f"subscription {subscription_id!r} does not exist", 404)
        return found

    async def subscription_of(self, driver_id: str) -> Subscription | None:
        """The driver's current subscription (any status but ended), or None."""
        found = await self._repo.list(driver_id=driver_id, statuses=CURRENT)
        return found[0] if found else None

    async def list(self, *, driver_id: str | None = None) -> builtins.list[Subscription]:
        return await self._repo.list(driver_id=driver_id)

    async def active(
        self, driver_id: str, at: datetime | None = None
    ) -> tuple[Subscription, Plan] | None:
        """The subscription whose benefits apply at ``at`` (default now) with its plan: a paid
        period holds ``at`` (a cancelled one applies until its period end; past due: none)."""
        moment = self._clock.now() if at is None else at
        for subscription in await self._repo.list(driver_id=driver_id):
            if subscription.covers(moment):
                plan = await self._repo.get_plan(subscription.plan_id)
                if plan is None:
                    log.error("subscription %s has no plan %s", subscription.id, subscription.plan_id)
                    return None
                return subscription, plan
        return None

    async def apply(
        self, driver_id: str, charge: SessionCharge, *, at: datetime
    ) -> tuple[Subscription, PlanApplication] | None:
        """The driver's plan applied to an ended session that started at ``at``, or None when no
        subscription applies then. The included energy left is the plan's minus what the
        period holding ``at`` used; this session's use is recorded once, so applying again
        gives the same result."""
        found = await self.active(driver_id, at)
        if found is None:
            return None
        subscription, plan = found
        async with self._lock(driver_id):
            if plan.included_kwh <= 0:
                return subscription, apply_plan(charge, plan, included_wh_left=ZERO)
            recorded = await self._repo.session_usage(subscription.id, charge.session_id)
            if recorded is not None:
                return subscription, apply_plan(charge, plan, included_wh_left=recorded)
            period_start, _ = period_containing(subscription.created_at, at)
            used = await self._repo.used_wh(subscription.id, period_start)
            left = max(plan.included_wh - used, ZERO)
            application = apply_plan(charge, plan, included_wh_left=left)
            stored = await self._repo.record_usage(
                subscription.id,
                charge.session_id,
                period_start=period_start,
                included_wh=application.included_wh_used,
                at=self._clock.now(),
            )
            if stored != application.included_wh_used:  # recorded elsewhere first
                application = apply_plan(charge, plan, included_wh_left=stored)
            return subscription, application

    async def usage(self, subscription_id: str) -> Decimal:
        """Wh of included energy used in the subscription's current period."""
        subscription = await self.get(subscription_id)
        return await self._repo.used_wh(subscription.id, subscription.period_start)

    # -- renewal ----------------------------------------------------------------------------------

    async def renew_due(self) -> builtins.list[Subscription]:
        """Move every subscription whose period is over to its next period (one at a time when
        several were missed), collecting each period's fee; retry past-due fees. Returns the
        subscriptions that changed, as they are now. A collector that raises leaves that
        subscription as it was (retried on the next call)."""
        now = self._clock.now()
        changed: builtins.list[Subscription] = []
        for due in await self._repo.due(now):
            try:
                async with self._lock(due.driver_id):
                    renewed = await self._renew(due.id, now)
            except Exception:
                log.exception("renewing subscription %s failed; retried on the next run", due.id)
                continue
            if renewed is not None:
                changed.append(renewed)
        return changed

    async def _renew(self, subscription_id: str, now: datetime) -> Subscription | None:
        original = await self._repo.get(subscription_id)  # fresh, under the driver's lock
        if original is None:
            return None
        plan = await self._repo.get_plan(original.plan_id)
        if plan is None:
            log.error("subscription %s has no plan %s", original.id, original.plan_id)
            return None
        current = original
        while True:
            status = current.status
            if status is SubscriptionStatus.CANCELLED or (
                status is SubscriptionStatus.ACTIVE and current.cancel_at_period_end
            ):
                if current.period_end <= now:
                    current = replace(current, status=SubscriptionStatus.ENDED, updated_at=now)
                break
            if status is SubscriptionStatus.ACTIVE:
                if current.period_end > now:
                    break
                start = current.period_end
                end = next_period_end(start, anchor=current.created_at)
                following = replace(current, period_start=start, period_end=end, updated_at=now)
                outcome = await self._collect(following, plan)
                if not outcome.paid:
                    log.info(
                        "subscription %s: fee not paid (%s); past due",
                        current.id,
                        outcome.error or "no reason",
                    )
                if not outcome.paid:
                    current = replace(following, status=SubscriptionStatus.PAST_DUE)
                    break  # retried on the next call
                current = following
                continue
            if status is SubscriptionStatus.PAST_DUE:
                if current.period_end <= now:  # the whole period went unpaid
                    current = self._ended(current, now)
                    break
                outcome = await self._collect(current, plan)
                if not outcome.paid:
                    break
                current = replace(current, status=SubscriptionStatus.ACTIVE, updated_at=now)
                continue
            break
        if current == original:
            return None
        await self._repo.update(current)
        return current

    async def _collect(self, subscription: Subscription, plan: Plan) -> FeeOutcome:
        if plan.fee_incl_vat == 0:
            return FeeOutcome(paid=True)
        return await self._fees.collect(
            subscription, plan, subscription.period_start, subscription.period_end
        )
