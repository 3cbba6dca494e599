"""Subscription plans, subscriptions and included-energy usage: one contract on the memory twin,
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evcms.domain.subscriptions import Plan, Subscription, SubscriptionStatus
from evcms.services.ports import AlreadyExists, NotFound
from evcms.services.subscriptions import SubscriptionRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.subscriptions import MemorySubscriptionRepository, SqlSubscriptionRepository
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

D = Decimal
T0 = datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SubscriptionRepository]:
    if request.param == "memory":
        yield MemorySubscriptionRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for found in _sql(url):
            yield found
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for found in _sql(url):
            yield found


async def _sql(url: str) -> AsyncIterator[SubscriptionRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlSubscriptionRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def plan(plan_id: str = "P1", *, created_at: datetime = T0, **changes: object) -> Plan:
    base = Plan(
        id=plan_id,
        name=f"{plan_id} plan",
        currency="EUR",
        monthly_fee=D("9.99"),
        fee_vat_percent=D("20"),
        included_kwh=D("12.5"),
        discount_percent=D("7.25"),
        tariff_id="T-SUB",
        active=True,
        created_at=created_at,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def subscription(
    sub_id: str = "S1",
    driver_id: str = "drv-1",
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    *,
    start: datetime = T0,
    end: datetime = T0 + timedelta(days=28),
    created_at: datetime = T0,
) -> Subscription:
    return Subscription(
        id=sub_id,
        driver_id=driver_id,
        plan_id="P1",
        status=status,
        period_start=start,
        period_end=end,
        cancel_at_period_end=False,
        created_at=created_at,
        updated_at=created_at,
    )


async def test_plans_round_trip_and_retire(repo: SubscriptionRepository) -> None:
    assert await repo.get_plan("P1") is None
    first = plan("P1", created_at=T0.astimezone(SOFIA))
    await repo.add_plan(first)
    await repo.add_plan(plan("P0", created_at=T0 + timedelta(hours=1), tariff_id=None, monthly_fee=D("120.00")))
    got = await repo.get_plan("P1")
    assert got == replace(first, created_at=T0)
    assert got is not None and got.created_at.tzinfo is not None
    assert (got.monthly_fee, got.included_kwh, got.discount_percent) == (D("9.99"), D("12.5"), D("7.25"))
    with pytest.raises(AlreadyExists):
        await repo.add_plan(plan("P1"))
    assert [p.id for p in await repo.list_plans()] == ["P1", "P0"]  # oldest first
    retired = await repo.set_plan_active("P1", False)
    assert retired is not None and retired.active is False
    assert [p.id for p in await repo.list_plans(active_only=True)] == ["P0"]
    assert [p.active for p in await repo.list_plans()] == [False, True]
    assert await repo.set_plan_active("nope", False) is None
    p0 = await repo.get_plan("P0")
    assert p0 is not None and (p0.tariff_id, p0.monthly_fee) == (None, D("120.00"))


async def test_subscriptions_round_trip_and_update(repo: SubscriptionRepository) -> None:
    sub = subscription(start=T0.astimezone(SOFIA))
    await repo.add(sub)
    got = await repo.get("S1")
    assert got == replace(sub, period_start=T0)
    assert got is not None and got.period_start.tzinfo is not None
    assert got.status is SubscriptionStatus.ACTIVE
    changed = replace(
        sub,
        status=SubscriptionStatus.CANCELLED,
        cancel_at_period_end=True,
        updated_at=T0 + timedelta(days=2),
    )
    await repo.update(changed)
    assert await repo.get("S1") == replace(changed, period_start=T0)
    with pytest.raises(NotFound):
        await repo.update(subscription("missing"))
    assert await repo.get("missing") is None


async def test_one_current_subscription_per_driver(repo: SubscriptionRepository) -> None:
    await repo.add(subscription("S1", status=SubscriptionStatus.PAST_DUE))
    with pytest.raises(AlreadyExists):
        await repo.add(subscription("S2"))  # same driver, S1 is current
    with pytest.raises(AlreadyExists):
        await repo.add(subscription("S1", driver_id="drv-2"))  # same id
    await repo.add(subscription("S3", driver_id="drv-2"))
    ended = await repo.get("S1")
    assert ended is not None
    await repo.update(replace(ended, status=SubscriptionStatus.ENDED))
    await repo.add(subscription("S2", created_at=T0 + timedelta(days=1)))  # now it may
    assert [s.id for s in await repo.list(driver_id="drv-1")] == ["S2", "S1"]  # newest first
    current = await repo.list(
        driver_id="drv-1",
        statuses=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED],
    )
    assert [s.id for s in current] == ["S2"]
    assert [s.id for s in await repo.list()] == ["S2", "S3", "S1"]
    assert [s.id for s in await repo.list(statuses=[SubscriptionStatus.ENDED])] == ["S1"]


async def test_due_subscriptions(repo: SubscriptionRepository) -> None:
    now = T0 + timedelta(days=30)
    await repo.add(subscription("over", "d1", end=now))  # ends exactly now: due
    await repo.add(subscription("later", "d2", end=now + timedelta(seconds=1)))
    await repo.add(subscription("cancelled", "d3", SubscriptionStatus.CANCELLED, end=now - timedelta(days=1)))
    await repo.add(subscription("past-due", "d4", SubscriptionStatus.PAST_DUE, end=now + timedelta(days=20)))
    await repo.add(subscription("ended", "d5", SubscriptionStatus.ENDED, end=now - timedelta(days=5)))
    due = await repo.due(now.astimezone(SOFIA))
    assert [s.id for s in due] == ["cancelled", "over", "past-due"]  # by period end


async def test_usage_is_recorded_once_per_session(repo: SubscriptionRepository) -> None:
    feb = T0 + timedelta(days=28)
    assert await repo.used_wh("S1", T0) == 0
    assert await repo.record_usage("S1", 1, period_start=T0, included_wh=D("4000"), at=T0) == D(4000)
    assert await repo.record_usage(
        "S1", 2, period_start=T0.astimezone(SOFIA), included_wh=D("1234.5"), at=T0
    ) == D("1234.5")
    # a repeat (billing prices session 1 again) returns what was recorded, not the new amount
    assert await repo.record_usage("S1", 1, period_start=T0, included_wh=D("999"), at=feb) == D(4000)
    assert await repo.session_usage("S1", 1) == D(4000)
    assert await repo.session_usage("S1", 3) is None
    assert await repo.session_usage("S2", 1) is None
    await repo.record_usage("S1", 3, period_start=feb, included_wh=D("500"), at=feb)
    await repo.record_usage("S2", 1, period_start=T0, included_wh=D("700"), at=T0)
    assert await repo.used_wh("S1", T0) == D("5234.5")  # exact: no float on the way
    assert await repo.used_wh("S1", feb) == D(500)
    assert await repo.used_wh("S2", T0) == D(700)
