"""Subscription plans, subscriptions and their included-energy usage: SQL repository and its
in-memory twin (both implement ``services.subscriptions.SubscriptionRepository``).

Tables ``subscription_plans`` (the fee in minor units), ``subscriptions`` and
``subscription_usage`` (one row per subscription and session: what the session took from its
period's included energy, so pricing the session again never takes it twice).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.billing import from_minor, to_minor
from evcms.domain.subscriptions import Plan, Subscription, SubscriptionStatus
from evcms.services.ports import AlreadyExists, NotFound
from evcms.services.subscriptions import CURRENT
from evcms.storage._sql import SqlRepository, utc
from evcms.storage.tables import subscription_plans, subscription_usage, subscriptions

ZERO = Decimal(0)
_CURRENT = sorted(s.value for s in CURRENT)


def _plan(row: Row[Any]) -> Plan:
    return Plan(
        id=row.id,
        name=row.name,
        currency=row.currency,
        monthly_fee=from_minor(row.monthly_fee_minor, row.currency),
        fee_vat_percent=row.fee_vat_percent,
        included_kwh=row.included_kwh,
        discount_percent=row.discount_percent,
        tariff_id=row.tariff_id,
        active=bool(row.active),
        created_at=row.created_at,
    )


def _plan_row(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "currency": plan.currency,
        "monthly_fee_minor": to_minor(plan.monthly_fee, plan.currency),
        "fee_vat_percent": plan.fee_vat_percent,
        "included_kwh": plan.included_kwh,
        "discount_percent": plan.discount_percent,
        "tariff_id": plan.tariff_id,
        "active": plan.active,
        "created_at": utc(plan.created_at),
    }


def _subscription(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        driver_id=row.driver_id,
        plan_id=row.plan_id,
        status=SubscriptionStatus(row.status),
        period_start=row.period_start,
        period_end=row.period_end,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _subscription_row(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "driver_id": subscription.driver_id,
        "plan_id": subscription.plan_id,
        "status": SubscriptionStatus(subscription.status).value,
        "period_start": utc(subscription.period_start),
        "period_end": utc(subscription.period_end),
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "created_at": utc(subscription.created_at),
        "updated_at": utc(subscription.updated_at),
    }


def _normal(subscription: Subscription) -> Subscription:
    """Times in UTC, as the database gives them back (the twin behaves the same)."""
    row = _subscription_row(subscription)
    return _subscription_from_dict(row)


def _subscription_from_dict(row: dict[str, Any]) -> Subscription:
    return Subscription(**{**row, "status": SubscriptionStatus(row["status"])})


def _newest_first(found: builtins.list[Subscription]) -> builtins.list[Subscription]:
    return sorted(found, key=lambda s: (s.created_at, s.id), reverse=True)


# -- SQL --------------------------------------------------------------------------------------


class SqlSubscriptionRepository(SqlRepository):
    async def add_plan(self, plan: Plan) -> None:
        row = _plan_row(plan)

        async def op(conn: AsyncConnection) -> None:
            taken = await conn.scalar(
                select(subscription_plans.c.id).where(subscription_plans.c.id == plan.id)
            )
            if taken is not None:
                raise AlreadyExists(f"plan {plan.id!r} already exists")
            await conn.execute(subscription_plans.insert(), row)

        await self._writer.submit(op)

    async def get_plan(self, plan_id: str) -> Plan | None:
        query = select(subscription_plans).where(subscription_plans.c.id == plan_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _plan(row)

    async def list_plans(self, *, active_only: bool = False) -> builtins.list[Plan]:
        p = subscription_plans.c
        query = select(subscription_plans).order_by(p.created_at, p.id)
        if active_only:
            query = query.where(p.active.is_(True))
        async with self._engine.connect() as conn:
            return [_plan(row) for row in await conn.execute(query)]

    async def set_plan_active(self, plan_id: str, active: bool) -> Plan | None:
        p = subscription_plans.c

        async def op(conn: AsyncConnection) -> Plan | None:
            await conn.execute(
                subscription_plans.update().where(p.id == plan_id).values(active=active)
            )
            row = (await conn.execute(select(subscription_plans).where(p.id == plan_id))).first()
            return None if row is None else _plan(row)

        result: Plan | None = await self._writer.submit(op)
        return result

    async def add(self, subscription: Subscription) -> None:
        row = _subscription_row(subscription)
        s = subscriptions.c

        async def op(conn: AsyncConnection) -> None:
            clash = await conn.scalar(
                select(s.id)
                .where(
                    (s.id == subscription.id)
                    | ((s.driver_id == subscription.driver_id) & s.status.in_(_CURRENT))
                )
                .limit(1)
            )
            if clash is not None:
                raise AlreadyExists(
                    f"driver {subscription.driver_id!r} already has a current subscription"
                    if clash != subscription.id
                    else f"subscription {subscription.id!r} already exists"
                )
            await conn.execute(subscriptions.insert(), row)

        await self._writer.submit(op)

    async def get(self, subscription_id: str) -> Subscription | None:
        query = select(subscriptions).where(subscriptions.c.id == subscription_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _subscription(row)

    async def update(self, subscription: Subscription) -> None:
        row = _subscription_row(subscription)
        values = {k: v for k, v in row.items() if k != "id"}

        async def op(conn: AsyncConnection) -> None:
            result = await conn.execute(
                subscriptions.update().where(subscriptions.c.id == subscription.id).values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"subscription {subscription.id!r} does not exist")

        await self._writer.submit(op)

    async def list(
        self,
        *,
        driver_id: str | None = None,
        statuses: Collection[SubscriptionStatus] | None = None,
    ) -> builtins.list[Subscription]:
        s = subscriptions.c
        query = select(subscriptions).order_by(s.created_at.desc(), s.id.desc())
        if driver_id is not None:
            query = query.where(s.driver_id == driver_id)
        if statuses is not None:
            query = query.where(s.status.in_(sorted(SubscriptionStatus(x).value for x in statuses)))
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in await conn.execute(query)]

    async def due(self, at: datetime) -> builtins.list[Subscription]:
        s = subscriptions.c
        running = [SubscriptionStatus.ACTIVE.value, SubscriptionStatus.CANCELLED.value]
        query = (
            select(subscriptions)
            .where(
                (s.status.in_(running) & (s.period_end <= utc(at)))
                | (s.status == SubscriptionStatus.PAST_DUE.value)
            )
            .order_by(s.period_end, s.id)
        )
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in await conn.execute(query)]

    async def record_usage(
        self,
        subscription_id: str,
        session_id: int,
        *,
        period_start: datetime,
        included_wh: Decimal,
        at: datetime,
    ) -> Decimal:
        u = subscription_usage.c
        row = {
            "subscription_id": subscription_id,
            "session_id": session_id,
            "period_start": utc(period_start),
            "included_wh": included_wh,
            "at": utc(at),
        }
        key = (u.subscription_id == subscription_id) & (u.session_id == session_id)

        async def op(conn: AsyncConnection) -> Decimal:
            found = await conn.scalar(select(u.included_wh).where(key))
            if found is not None:
                return Decimal(found)
            await conn.execute(subscription_usage.insert(), row)
            return included_wh

        try:
            result: Decimal = await self._writer.submit(op)
        except IntegrityError:  # inserted by another process between our read and insert
            again = await self.session_usage(subscription_id, session_id)
            if again is None:
                raise
            return again
        return result

    async def session_usage(self, subscription_id: str, session_id: int) -> Decimal | None:
        u = subscription_usage.c
        query = select(u.included_wh).where(
            u.subscription_id == subscription_id, u.session_id == session_id
        )
        async with self._engine.connect() as conn:
            found = await conn.scalar(query)
        return None if found is None else Decimal(found)

    async def used_wh(self, subscription_id: str, period_start: datetime) -> Decimal:
        u = subscription_usage.c
        query = select(u.included_wh).where(
            u.subscription_id == subscription_id, u.period_start == utc(period_start)
        )
        # Summed here, not with SUM(): on SQLite the column is text and SUM() would be a float.
        async with self._engine.connect() as conn:
            return sum((Decimal(v) for v in await conn.scalars(query)), ZERO)


# -- memory -----------------------------------------------------------------------------------


class MemorySubscriptionRepository:
    """Twin of :class:`SqlSubscriptionRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.subscriptions: dict[str, Subscription] = {}
        # (subscription_id, session_id) -> (period_start, included_wh)
        self.usage: dict[tuple[str, int], tuple[datetime, Decimal]] = {}

    async def add_plan(self, plan: Plan) -> None:
        if plan.id in self.plans:
            raise AlreadyExists(f"plan {plan.id!r} already exists")
        to_minor(plan.monthly_fee, plan.currency)  # as the database column: whole minor units
        self.plans[plan.id] = replace(plan, created_at=utc(plan.created_at))

    async def get_plan(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    async def list_plans(self, *, active_only: bool = False) -> builtins.list[Plan]:
        found = sorted(self.plans.values(), key=lambda p: (p.created_at, p.id))
        return [p for p in found if p.active or not active_only]

    async def set_plan_active(self, plan_id: str, active: bool) -> Plan | None:
        plan = self.plans.get(plan_id)
        if plan is None:
            return None
        changed = replace(plan, active=active)
        self.plans[plan_id] = changed
        return changed

    async def add(self, subscription: Subscription) -> None:
        if subscription.id in self.subscriptions:
            raise AlreadyExists(f"subscription {subscription.id!r} already exists")
        for other in self.subscriptions.values():
            if other.driver_id == subscription.driver_id and other.status in CURRENT:
                raise AlreadyExists(
                    f"driver {subscription.driver_id!r} already has a current subscription"
                )
        self.subscriptions[subscription.id] = _normal(subscription)

    async def get(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    async def update(self, subscription: Subscription) -> None:
        if subscription.id not in self.subscriptions:
            raise NotFound(f"subscription {subscription.id!r} does not exist")
        self.subscriptions[subscription.id] = _normal(subscription)

    async def list(
        self,
        *,
        driver_id: str | None = None,
        statuses: Collection[SubscriptionStatus] | None = None,
    ) -> builtins.list[Subscription]:
        wanted = None if statuses is None else {SubscriptionStatus(x) for x in statuses}
        return _newest_first(
            [
                s
                for s in self.subscriptions.values()
                if (driver_id is None or s.driver_id == driver_id)
                and (wanted is None or s.status in wanted)
            ]
        )

    async def due(self, at: datetime) -> builtins.list[Subscription]:
        at = utc(at)
        running = {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED}
        found = [
            s
            for s in self.subscriptions.values()
            if (s.status in running and s.period_end <= at)
            or s.status is SubscriptionStatus.PAST_DUE
        ]
        return sorted(found, key=lambda s: (s.period_end, s.id))

    async def record_usage(
        self,
        subscription_id: str,
        session_id: int,
        *,
        period_start: datetime,
        included_wh: Decimal,
        at: datetime,
    ) -> Decimal:
        key = (subscription_id, session_id)
        if key not in self.usage:
            self.usage[key] = (utc(period_start), included_wh)
        return self.usage[key][1]

    async def session_usage(self, subscription_id: str, session_id: int) -> Decimal | None:
        found = self.usage.get((subscription_id, session_id))
        return None if found is None else found[1]

    async def used_wh(self, subscription_id: str, period_start: datetime) -> Decimal:
        start = utc(period_start)
        return sum(
            (
                wh
                for (sub, _), (period, wh) in self.usage.items()
                if sub == subscription_id and period == start
            ),
            ZERO,
        )
