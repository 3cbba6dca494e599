"""The Subscriptions service over the in-memory repository and a fake fee collector: plans,
subscribing (fee first), cancelling, renewal with past-due and catch-up, and applying a plan's
included energy once per session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.subscriptions import Plan, Subscription, SubscriptionStatus
from evcms.services.ports import ServiceError
from evcms.services.subscriptions import FeeOutcome, Subscriptions
from evcms.storage.subscriptions import MemorySubscriptionRepository

D = Decimal
T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
FEB_28 = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
MAR_31 = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
APR_30 = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass
class Fees:
    """Pays unless told to decline (or to fail); records each call; idempotent per period."""

    decline: str | None = None
    fail: bool = False
    calls: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    paid: set[tuple[str, datetime]] = field(default_factory=set)

    async def collect(
        self, subscription: Subscription, plan: Plan, period_start: datetime, period_end: datetime
    ) -> FeeOutcome:
        self.calls.append((subscription.id, period_start, period_end))
        if self.fail:
            raise RuntimeError("payment provider down")
        if (subscription.id, period_start) in self.paid:
            return FeeOutcome(paid=True, reference="again")
        if self.decline is not None:
            return FeeOutcome(paid=False, error=self.decline)
        self.paid.add((subscription.id, period_start))
        return FeeOutcome(paid=True, reference=f"fee:{subscription.id}:{period_start.isoformat()}")


@dataclass
class World:
    service: Subscriptions
    repo: MemorySubscriptionRepository
    clock: Clock
    fees: Fees

    async def plan(self, **changes: Any) -> Plan:
        values: dict[str, Any] = {
            "name": "Commuter",
            "currency": "EUR",
            "monthly_fee": D("9.99"),
            "fee_vat_percent": D(20),
            "included_kwh": D(10),
            "discount_percent": D(0),
        }
        return await self.service.add_plan(**{**values, **changes})


@pytest.fixture
def world() -> World:
    repo = MemorySubscriptionRepository()
    clock = Clock(T0)
    fees = Fees()
    return World(Subscriptions(subscriptions=repo, clock=clock, fees=fees), repo, clock, fees)


def energy_charge(session_id: int, kwh: str, excl: str, vat: str) -> SessionCharge:
    """A session that charged ``kwh`` for ``excl`` + ``vat`` plus a 1.00 + 0.20 flat fee."""
    return SessionCharge(
        session_id,
        "EUR",
        (
            ChargeLine(LineKind.ENERGY, D(kwh), D(excl), D(vat), D(20)),
            ChargeLine(LineKind.FLAT, D(1), D("1.00"), D("0.20"), D(20)),
        ),
        energy_wh=D(kwh) * 1000,
    )


# -- plans ------------------------------------------------------------------------------------


async def test_plans_are_added_listed_and_retired(world: World) -> None:
    plan = await world.plan(currency="eur", tariff_id="T-SUB")
    assert (plan.currency, plan.monthly_fee, plan.fee_incl_vat, plan.active) == (
        "EUR", D("9.99"), D("11.99"), True,
    )
    world.clock.at = T0 + timedelta(seconds=1)  # plans are listed oldest first
    other = await world.plan(name="  Flat  ", included_kwh=D(0), discount_percent=D("12.5"))
    assert other.name == "Flat"
    assert [p.id for p in await world.service.plans()] == [plan.id, other.id]
    assert await world.service.plan(plan.id) == plan
    retired = await world.service.retire_plan(plan.id)
    assert retired.active is False
    assert [p.id for p in await world.service.plans()] == [other.id]
    assert [p.id for p in await world.service.plans(active_only=False)] == [plan.id, other.id]
    with pytest.raises(ServiceError) as missing:
        await world.service.plan("nope")
    assert missing.value.status == 404
    with pytest.raises(ServiceError) as missing:
        await world.service.retire_plan("nope")
    assert missing.value.status == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "€€€"}, "currency"),
        ({"monthly_fee": D("-1")}, "monthly_fee"),
        ({"monthly_fee": D("9.999")}, "more decimal places than EUR"),
        ({"monthly_fee": D("NaN")}, "monthly_fee"),
        ({"fee_vat_percent": D(101)}, "fee_vat_percent"),
        ({"discount_percent": D("100.01")}, "discount_percent"),
        ({"discount_percent": D(-5)}, "discount_percent"),
        ({"included_kwh": D(-1)}, "included_kwh"),
        ({"included_kwh": D("0.0000001")}, "decimal places"),
        ({"tariff_id": "x" * 37}, "tariff_id"),
    ],
)
async def test_a_plan_that_breaks_a_rule_says_what_to_fix(
    world: World, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError, match=message) as error:
        await world.plan(**changes)
    assert error.value.status == 422
    assert await world.service.plans(active_only=False) == []


# -- subscribing and cancelling ---------------------------------------------------------------


async def test_subscribing_collects_the_first_month_then_starts_it(world: World) -> None:
    plan = await world.plan()
    sub = await world.service.subscribe("drv-1", plan.id)
    assert (sub.status, sub.period_start, sub.period_end) == (SubscriptionStatus.ACTIVE, T0, FEB_28)
    assert world.fees.calls == [(sub.id, T0, FEB_28)]
    assert await world.service.subscription_of("drv-1") == sub
    found = await world.service.active("drv-1")
    assert found == (sub, plan)
    assert await world.service.active("drv-1", FEB_28) is None  # not paid beyond the period
    assert await world.service.active("drv-2") is None


async def test_an_unpaid_first_month_stores_nothing(world: World) -> None:
    plan = await world.plan()
    world.fees.decline = "insufficient wallet balance: top up 11.99 EUR"
    with pytest.raises(ServiceError) as error:
        await world.service.subscribe("drv-1", plan.id)
    assert error.value.status == 402
    assert "11.99 EUR" in str(error.value) and "insufficient wallet balance" in str(error.value)
    assert await world.service.subscription_of("drv-1") is None
    assert await world.service.list() == []


async def test_one_current_subscription_per_driver(world: World) -> None:
    plan, other = await world.plan(), await world.plan(name="Other")
    await world.service.subscribe("drv-1", plan.id)
    with pytest.raises(ServiceError, match="already have a subscription to plan 'Commuter'") as error:
        await world.service.subscribe("drv-1", other.id)
    assert error.value.status == 409
    assert len(world.fees.calls) == 1  # no fee taken for the refused one
    await world.service.subscribe("drv-2", other.id)  # another driver may


async def test_retired_and_missing_plans_take_no_subscriptions(world: World) -> None:
    plan = await world.plan()
    await world.service.subscribe("drv-1", plan.id)
    await world.service.retire_plan(plan.id)
    with pytest.raises(ServiceError, match="retired") as error:
        await world.service.subscribe("drv-2", plan.id)
    assert error.value.status == 409
    with pytest.raises(ServiceError) as missing:
        await world.service.subscribe("drv-2", "nope")
    assert missing.value.status == 404
    # the existing subscription runs on and renews
    world.clock.at = FEB_28
    [renewed] = await world.service.renew_due()
    assert (renewed.status, renewed.period_end) == (SubscriptionStatus.ACTIVE, MAR_31)


async def test_cancel_keeps_the_benefits_until_the_period_end(world: World) -> None:
    plan = await world.plan()
    sub = await world.service.subscribe("drv-1", plan.id)
    world.clock.at = T0 + timedelta(days=3)
    cancelled = await world.service.cancel("drv-1")
    assert (cancelled.status, cancelled.cancel_at_period_end, cancelled.period_end) == (
        SubscriptionStatus.CANCELLED, True, FEB_28,
    )
    assert await world.service.cancel("drv-1") == cancelled  # again: nothing changes
    assert await world.service.active("drv-1") == (cancelled, plan)
    world.clock.at = FEB_28
    [ended] = await world.service.renew_due()
    assert (ended.id, ended.status, ended.period_end) == (sub.id, SubscriptionStatus.ENDED, FEB_28)
    assert len(world.fees.calls) == 1  # no fee for a period that does not come
    assert await world.service.active("drv-1") is None
    assert await world.service.subscription_of("drv-1") is None
    assert await world.service.active("drv-1", FEB_28 - timedelta(days=1)) == (ended, plan)


async def test_cancel_immediately_ends_the_benefits_now(world: World) -> None:
    plan = await world.plan()
    await world.service.subscribe("drv-1", plan.id)
    now = T0 + timedelta(days=3)
    world.clock.at = now
    ended = await world.service.cancel("drv-1", immediately=True)
    assert (ended.status, ended.period_end) == (SubscriptionStatus.ENDED, now)
    assert await world.service.active("drv-1") is None
    assert await world.service.active("drv-1", now - timedelta(seconds=1)) is not None
    with pytest.raises(ServiceError) as none_left:
        await world.service.cancel("drv-1")
    assert none_left.value.status == 404
    again = await world.service.subscribe("drv-1", plan.id)  # a new one may start
    assert again.period_start == now


async def test_subscribing_while_a_cancelled_one_runs_replaces_it(world: World) -> None:
    plan, other = await world.plan(), await world.plan(name="Other")
    old = await world.service.subscribe("drv-1", plan.id)
    await world.service.cancel("drv-1")
    now = T0 + timedelta(days=10)
    world.clock.at = now
    new = await world.service.subscribe("drv-1", other.id)
    ended = await world.repo.get(old.id)
    assert ended is not None and (ended.status, ended.period_end) == (SubscriptionStatus.ENDED, now)
    assert await world.service.subscription_of("drv-1") == new
    assert [s.id for s in await world.service.list(driver_id="drv-1")] == [new.id, old.id]
    assert await world.service.active("drv-1") == (new, other)


# -- applying a plan --------------------------------------------------------------------------


async def test_included_energy_is_shared_by_the_period_and_taken_once_per_session(
    world: World,
) -> None:
    plan = await world.plan(included_kwh=D(10))
    sub = await world.service.subscribe("drv-1", plan.id)
    at = T0 + timedelta(days=1)
    first = energy_charge(1, "4", "1.20", "0.24")
    found = await world.service.apply("drv-1", first, at=at)
    assert found is not None
    applied_sub, app = found
    assert applied_sub == sub
    assert app.included_wh_used == D(4000)
    assert app.charge.total_incl_vat == D("1.20")  # only the flat fee is left
    second = await world.service.apply("drv-1", energy_charge(2, "10", "3.00", "0.60"), at=at)
    assert second is not None
    assert second[1].included_wh_used == D(6000)  # what was left of the 10 kWh
    assert second[1].charge.total_excl_vat == D("2.20")  # 4 kWh at 0.30 + 1.00
    again = await world.service.apply("drv-1", first, at=at)  # billing retries session 1
    assert again is not None and again[1] == app
    assert await world.service.usage(sub.id) == D(10_000)  # not 14 000
    third = await world.service.apply("drv-1", energy_charge(3, "5", "1.50", "0.30"), at=at)
    assert third is not None
    assert third[1].included_wh_used == 0 and third[1].charge == energy_charge(3, "5", "1.50", "0.30")


async def test_a_discount_plan_applies_without_recording_usage(world: World) -> None:
    plan = await world.plan(included_kwh=D(0), discount_percent=D(10))
    sub = await world.service.subscribe("drv-1", plan.id)
    found = await world.service.apply("drv-1", energy_charge(1, "10", "3.00", "0.60"), at=T0)
    assert found is not None
    assert found[1].charge.total_excl_vat == D("3.60") and found[1].charge.total_vat == D("0.72")
    assert await world.service.usage(sub.id) == 0


async def test_no_plan_applies_without_a_paid_period(world: World) -> None:
    plan = await world.plan()
    await world.service.subscribe("drv-1", plan.id)
    session = energy_charge(1, "4", "1.20", "0.24")
    assert await world.service.apply("drv-2", session, at=T0) is None  # no subscription
    assert await world.service.apply("drv-1", session, at=T0 - timedelta(minutes=1)) is None
    assert await world.service.apply("drv-1", session, at=FEB_28) is None  # not renewed yet


async def test_a_session_started_before_the_renewal_uses_its_own_period(world: World) -> None:
    plan = await world.plan(included_kwh=D(10))
    await world.service.subscribe("drv-1", plan.id)
    late = FEB_28 - timedelta(hours=1)
    await world.service.apply("drv-1", energy_charge(1, "8", "2.40", "0.48"), at=late)
    world.clock.at = FEB_28 + timedelta(hours=1)
    [renewed] = await world.service.renew_due()
    assert renewed.period_start == FEB_28
    assert await world.service.usage(renewed.id) == 0  # a new period, a new allowance
    # a session that began before the renewal and ended after: January's 2 kWh left apply
    found = await world.service.apply("drv-1", energy_charge(2, "5", "1.50", "0.30"), at=late)
    assert found is not None and found[1].included_wh_used == D(2000)
    new = await world.service.apply("drv-1", energy_charge(3, "5", "1.50", "0.30"), at=FEB_28)
    assert new is not None and new[1].included_wh_used == D(5000)
    assert await world.service.usage(renewed.id) == D(5000)


# -- renewal ----------------------------------------------------------------------------------


async def test_renewal_collects_the_next_period_on_the_anchor_day(world: World) -> None:
    plan = await world.plan()
    sub = await world.service.subscribe("drv-1", plan.id)
    world.clock.at = FEB_28 - timedelta(seconds=1)
    assert await world.service.renew_due() == []  # not due yet
    world.clock.at = FEB_28
    [feb] = await world.service.renew_due()
    assert (feb.status, feb.period_start, feb.period_end) == (SubscriptionStatus.ACTIVE, FEB_28, MAR_31)
    world.clock.at = MAR_31
    [mar] = await world.service.renew_due()
    assert (mar.period_start, mar.period_end) == (MAR_31, APR_30)  # back on the 31st
    assert world.fees.calls == [(sub.id, T0, FEB_28), (sub.id, FEB_28, MAR_31), (sub.id, MAR_31, APR_30)]
    assert await world.service.renew_due() == []


async def test_an_unpaid_renewal_is_past_due_until_paid(world: World) -> None:
    plan = await world.plan()
    sub = await world.service.subscribe("drv-1", plan.id)
    world.clock.at = FEB_28
    world.fees.decline = "card declined"
    [due] = await world.service.renew_due()
    assert (due.status, due.period_start, due.period_end) == (SubscriptionStatus.PAST_DUE, FEB_28, MAR_31)
    world.clock.at = FEB_28 + timedelta(days=1)
    assert await world.service.active("drv-1") is None  # no benefits while unpaid
    assert await world.service.apply("drv-1", energy_charge(1, "4", "1.2", "0.24"), at=world.clock.at) is None
    assert await world.service.renew_due() == []  # retried, declined again: unchanged
    world.fees.decline = None
    world.clock.at = FEB_28 + timedelta(days=2)
    [paid] = await world.service.renew_due()
    assert (paid.status, paid.period_start) == (SubscriptionStatus.ACTIVE, FEB_28)
    assert await world.service.active("drv-1") == (paid, plan)  # benefits resume
    assert [c[1] for c in world.fees.calls] == [T0, FEB_28, FEB_28, FEB_28]  # same period key
    assert (sub.id, FEB_28) in world.fees.paid


async def test_cancelling_a_past_due_subscription_ends_it_now(world: World) -> None:
    plan = await world.plan()
    await world.service.subscribe("drv-1", plan.id)
    world.clock.at = FEB_28
    world.fees.decline = "card declined"
    await world.service.renew_due()
    world.clock.at = FEB_28 + timedelta(days=1)
    ended = await world.service.cancel("drv-1")
    assert (ended.status, ended.period_end) == (SubscriptionStatus.ENDED, FEB_28)
    assert await world.service.subscription_of("drv-1") is None


async def test_a_period_that_passes_unpaid_ends_the_subscription(world: World) -> None:
    plan = await world.plan()
    await world.service.subscribe("drv-1", plan.id)
    world.clock.at = FEB_28
    world.fees.decline = "card declined"
    await world.service.renew_due()
    world.clock.at = MAR_31
    [ended] = await world.service.renew_due()
    assert (ended.status, ended.period_end) == (SubscriptionStatus.ENDED, FEB_28)  # paid until
    assert await world.service.renew_due() == []
    assert [c[1] for c in world.fees.calls] == [T0, FEB_28]  # March was never charged


async def test_missed_periods_are_caught_up_one_at_a_time(world: World) -> None:
    plan = await world.plan()
    sub = await world.service.subscribe("drv-1", plan.id)
    world.clock.at = APR_30 + timedelta(days=3)  # renewal did not run for three months
    [caught_up] = await world.service.renew_due()
    assert (caught_up.status, caught_up.period_start) == (SubscriptionStatus.ACTIVE, APR_30)
    assert caught_up.period_end == datetime(2026, 5, 31, 12, tzinfo=UTC)
    assert world.fees.calls == [
        (sub.id, T0, FEB_28),
        (sub.id, FEB_28, MAR_31),
        (sub.id, MAR_31, APR_30),
        (sub.id, APR_30, datetime(2026, 5, 31, 12, tzinfo=UTC)),
    ]


async def test_a_failing_collector_leaves_that_subscription_for_the_next_run(world: World) -> None:
    plan = await world.plan()
    first = await world.service.subscribe("drv-1", plan.id)
    second = await world.service.subscribe("drv-2", plan.id)
    world.clock.at = FEB_28
    world.fees.fail = True
    assert await world.service.renew_due() == []
    assert await world.repo.get(first.id) == first and await world.repo.get(second.id) == second
    world.fees.fail = False
    renewed = await world.service.renew_due()
    assert sorted(s.driver_id for s in renewed) == ["drv-1", "drv-2"]


async def test_a_free_plan_collects_nothing(world: World) -> None:
    plan = await world.plan(monthly_fee=D(0), discount_percent=D(5))
    await world.service.subscribe("drv-1", plan.id)
    world.clock.at = FEB_28
    [renewed] = await world.service.renew_due()
    assert renewed.status is SubscriptionStatus.ACTIVE
    assert world.fees.calls == []
