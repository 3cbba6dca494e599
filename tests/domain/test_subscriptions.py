"""Subscription plans (pure): monthly periods anchored on the start day, the fee with VAT, and
what a plan takes off a session (included kWh, then the discount)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.subscriptions import (
    Plan,
    Subscription,
    SubscriptionStatus,
    add_months,
    apply_plan,
    next_period_end,
    period_containing,
)

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CENT = D("0.01")


def plan(included_kwh: str = "0", discount: str = "0", fee: str = "9.99", vat: str = "20") -> Plan:
    return Plan(
        id="P1",
        name="Commuter",
        currency="EUR",
        monthly_fee=D(fee),
        fee_vat_percent=D(vat),
        included_kwh=D(included_kwh),
        discount_percent=D(discount),
        tariff_id=None,
        active=True,
        created_at=T0,
    )


def line(kind: LineKind, quantity: str, excl: str, vat: str, rate: str | None = "20") -> ChargeLine:
    return ChargeLine(kind, D(quantity), D(excl), D(vat), None if rate is None else D(rate))


ENERGY_10 = line(LineKind.ENERGY, "10", "3.00", "0.60")  # 0.30/kWh + 20 %
FLAT = line(LineKind.FLAT, "1", "1.00", "0.20")


def charge(*lines: ChargeLine) -> SessionCharge:
    return SessionCharge(42, "EUR", tuple(lines), energy_wh=D(10_000))


def added(result: SessionCharge, kind: LineKind) -> ChargeLine | None:
    found = [x for x in result.lines if x.kind is kind]
    assert len(found) <= 1
    return found[0] if found else None


# -- periods ----------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "anchor", "expected"),
    [
        (utc(2026, 3, 15, 9, 30), None, utc(2026, 4, 15, 9, 30)),
        (utc(2026, 12, 15), None, utc(2027, 1, 15)),  # over the year end
        (utc(2026, 1, 31, 10), None, utc(2026, 2, 28, 10)),  # no Feb 31: its last day
        (utc(2028, 1, 31, 10), None, utc(2028, 2, 29, 10)),  # leap year
        (utc(2026, 2, 28, 10), utc(2026, 1, 31, 10), utc(2026, 3, 31, 10)),  # back to the 31st
        (utc(2026, 3, 31, 10), utc(2026, 1, 31, 10), utc(2026, 4, 30, 10)),
        (utc(2026, 4, 30, 10), utc(2026, 1, 31, 10), utc(2026, 5, 31, 10)),
        (utc(2026, 2, 28, 10), None, utc(2026, 3, 28, 10)),  # a Feb 28 start stays on the 28th
    ],
)
def test_next_period_end_keeps_the_anchor_day(
    start: datetime, anchor: datetime | None, expected: datetime
) -> None:
    assert next_period_end(start, anchor=anchor) == expected


def test_periods_are_calendar_months_in_utc() -> None:
    sofia = timezone(timedelta(hours=2))
    # 1 Mar 00:30 in Sofia is 28 Feb 22:30 UTC: the month is counted in UTC
    end = next_period_end(datetime(2026, 3, 1, 0, 30, tzinfo=sofia))
    assert end == utc(2026, 3, 28, 22, 30)
    assert end.tzinfo == UTC
    with pytest.raises(ValueError, match="naive"):
        next_period_end(datetime(2026, 3, 1))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 1, 31, 12), (utc(2026, 1, 31, 12), utc(2026, 2, 28, 12))),
        (utc(2026, 2, 28, 11, 59), (utc(2026, 1, 31, 12), utc(2026, 2, 28, 12))),
        (utc(2026, 2, 28, 12), (utc(2026, 2, 28, 12), utc(2026, 3, 31, 12))),
        (utc(2026, 3, 5), (utc(2026, 2, 28, 12), utc(2026, 3, 31, 12))),
        (utc(2027, 2, 1), (utc(2027, 1, 31, 12), utc(2027, 2, 28, 12))),
    ],
)
def test_the_period_that_holds_a_moment(at: datetime, expected: tuple[datetime, datetime]) -> None:
    assert period_containing(utc(2026, 1, 31, 12), at) == expected


def test_no_period_before_the_first() -> None:
    with pytest.raises(ValueError, match="before the first period"):
        period_containing(utc(2026, 1, 31, 12), utc(2026, 1, 31, 11))


anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(anchors, st.integers(min_value=0, max_value=60))
def test_chained_periods_never_drift(anchor: datetime, months: int) -> None:
    end = anchor
    for _ in range(months):
        end = next_period_end(end, anchor=anchor)
    assert end == add_months(anchor, months)
    assert end.day == min(anchor.day, calendar.monthrange(end.year, end.month)[1])
    assert (end.hour, end.minute, end.second, end.microsecond) == (
        anchor.hour, anchor.minute, anchor.second, anchor.microsecond,
    )


@given(anchors, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_every_moment_has_one_period_of_a_month(anchor: datetime, offset: timedelta) -> None:
    at = anchor + offset
    start, end = period_containing(anchor, at)
    assert start <= at < end
    assert timedelta(days=28) <= end - start <= timedelta(days=31)
    assert end == next_period_end(start, anchor=anchor)


# -- the plan and the subscription ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "vat", "fee_vat", "incl"),
    [
        ("9.99", "20", "2.00", "11.99"),  # 1.998 rounds half up
        ("10.00", "0", "0.00", "10.00"),
        ("0", "20", "0.00", "0.00"),
        ("4.10", "9", "0.37", "4.47"),  # 0.369
    ],
)
def test_the_fee_with_vat(fee: str, vat: str, fee_vat: str, incl: str) -> None:
    p = plan(fee=fee, vat=vat)
    assert (p.fee_vat, p.fee_incl_vat) == (D(fee_vat), D(incl))


def test_a_subscription_covers_its_paid_periods_only() -> None:
    start, end = utc(2026, 2, 1), utc(2026, 3, 1)
    active = Subscription(
        "S1", "drv", "P1", SubscriptionStatus.ACTIVE, start, end, False, utc(2026, 1, 1), start
    )
    assert active.covers(utc(2026, 2, 10))
    assert active.covers(utc(2026, 1, 20))  # an earlier period (all of those were paid)
    assert not active.covers(end)
    assert not active.covers(utc(2025, 12, 31))  # before it began
    past_due = Subscription(
        "S1", "drv", "P1", SubscriptionStatus.PAST_DUE, start, end, False, utc(2026, 1, 1), start
    )
    assert not past_due.covers(utc(2026, 2, 10))  # this period is not paid
    assert past_due.covers(utc(2026, 1, 20))


# -- apply_plan: table ------------------------------------------------------------------------

CASES = [
    # (description, lines, included kWh left in Wh, discount %, expected INCLUDED (excl, vat, kWh),
    #  expected DISCOUNT (excl, vat), used Wh, total excl, total vat)
    ("nothing to apply", (ENERGY_10, FLAT), "0", "0", None, None, "0", "4.00", "0.80"),
    ("part of the energy", (ENERGY_10, FLAT), "4000", "0", ("1.20", "0.24", "4"), None,
     "4000", "2.80", "0.56"),
    ("a quarter", (ENERGY_10,), "2500", "0", ("0.75", "0.15", "2.5"), None, "2500", "2.25", "0.45"),
    ("more left than charged: the whole line only", (ENERGY_10, FLAT), "20000", "0",
     ("3.00", "0.60", "10"), None, "10000", "1.00", "0.20"),
    ("discount only", (ENERGY_10, FLAT), "0", "10", None, ("0.40", "0.08"), "0", "3.60", "0.72"),
    ("included first, then the discount of what remains", (ENERGY_10, FLAT), "4000", "50",
     ("1.20", "0.24", "4"), ("1.40", "0.28"), "4000", "1.40", "0.28"),
    ("a 100 % discount makes it free", (ENERGY_10, FLAT), "0", "100", None, ("4.00", "0.80"),
     "0", "0.00", "0.00"),
    ("rounded to the cent, excl and VAT apart",
     (line(LineKind.ENERGY, "3", "1.00", "0.20"),), "1000", "0", ("0.33", "0.07", "1"), None,
     "1000", "0.67", "0.13"),
    ("no energy line: no included energy used", (FLAT,), "5000", "0", None, None, "0", "1.00",
     "0.20"),
    ("a max price (negative adjustment): never below zero",
     (ENERGY_10, line(LineKind.ADJUSTMENT, "1", "-2.00", "-0.40", None)), "10000", "0",
     ("1.00", "0.20", "10"), None, "10000", "0.00", "0.00"),
    ("discount rounding half up", (line(LineKind.FLAT, "1", "0.05", "0.01"),), "0", "50", None,
     ("0.03", "0.01"), "0", "0.02", "0.00"),
]


@pytest.mark.parametrize(
    ("lines", "left", "discount", "included", "discounted", "used", "excl", "vat"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_apply_plan(
    lines: tuple[ChargeLine, ...],
    left: str,
    discount: str,
    included: tuple[str, str, str] | None,
    discounted: tuple[str, str] | None,
    used: str,
    excl: str,
    vat: str,
) -> None:
    original = charge(*lines)
    result = apply_plan(original, plan("100", discount), included_wh_left=D(left))
    out = result.charge
    assert out.lines[: len(lines)] == lines  # the tariff's lines stay as they were
    inc = added(out, LineKind.INCLUDED_ENERGY)
    if included is None:
        assert inc is None
    else:
        assert inc is not None
        assert (inc.excl_vat, inc.vat, inc.quantity) == (-D(included[0]), -D(included[1]), D(included[2]))
        assert inc.unit == "kWh"
    disc = added(out, LineKind.PLAN_DISCOUNT)
    if discounted is None:
        assert disc is None
    else:
        assert disc is not None
        assert (disc.excl_vat, disc.vat) == (-D(discounted[0]), -D(discounted[1]))
    assert result.included_wh_used == D(used)
    assert (out.total_excl_vat, out.total_vat) == (D(excl), D(vat))
    if included is None and discounted is None:
        assert out is original
    else:
        assert out.notes == ("plan:P1",)


def test_plan_lines_carry_the_vat_rate_when_it_is_one() -> None:
    out = apply_plan(charge(ENERGY_10, FLAT), plan("10", "10"), included_wh_left=D(1000)).charge
    inc, disc = added(out, LineKind.INCLUDED_ENERGY), added(out, LineKind.PLAN_DISCOUNT)
    assert inc is not None and inc.vat_percent == D(20)
    assert disc is not None and disc.vat_percent == D(20)
    mixed = charge(ENERGY_10, line(LineKind.FLAT, "1", "1.00", "0.09", "9"))
    disc = added(apply_plan(mixed, plan("0", "10"), included_wh_left=D(0)).charge, LineKind.PLAN_DISCOUNT)
    assert disc is not None and disc.vat_percent is None  # two rates mixed


# -- apply_plan: properties -------------------------------------------------------------------

money_rates = st.sampled_from([D(0), D(9), D(20)])


@st.composite
def charges(draw: st.DrawFn) -> SessionCharge:
    lines: list[ChargeLine] = []
    if draw(st.booleans()):
        kwh = draw(st.decimals(min_value=D("0.001"), max_value=200, places=3))
        price = draw(st.decimals(min_value=D("0.01"), max_value=2, places=4))
        rate = draw(money_rates)
        excl = (kwh * price).quantize(CENT)
        vat = (excl * rate / 100).quantize(CENT)
        if excl or vat:
            lines.append(ChargeLine(LineKind.ENERGY, kwh, excl, vat, rate))
    if draw(st.booleans()):
        excl = draw(st.decimals(min_value=D("0.01"), max_value=20, places=2))
        rate = draw(money_rates)
        lines.append(ChargeLine(LineKind.FLAT, D(1), excl, (excl * rate / 100).quantize(CENT), rate))
    total_excl = sum((x.excl_vat for x in lines), D(0))
    total_vat = sum((x.vat for x in lines), D(0))
    with_max_price: bool = draw(st.booleans())
    if lines and with_max_price:  # a max price: take some off, never below zero
        cut = draw(st.decimals(min_value=0, max_value=1, places=2))
        lines.append(
            ChargeLine(
                LineKind.ADJUSTMENT, D(1), -(total_excl * cut).quantize(CENT),
                -(total_vat * cut).quantize(CENT), None,
            )
        )
    return SessionCharge(7, "EUR", tuple(lines))


lefts = st.decimals(min_value=0, max_value=300_000, places=0)
discounts = st.decimals(min_value=0, max_value=100, places=2)


def energy_of(c: SessionCharge) -> ChargeLine | None:
    return next((x for x in c.lines if x.kind is LineKind.ENERGY), None)


@settings(max_examples=400)
@given(charges(), lefts, discounts)
def test_never_negative_and_always_in_cents(c: SessionCharge, left: Decimal, discount: Decimal) -> None:
    out = apply_plan(c, plan("1000", str(discount)), included_wh_left=left).charge
    assert out.total_excl_vat >= 0 and out.total_vat >= 0
    assert out.total_incl_vat <= c.total_incl_vat
    for x in out.lines:
        assert x.excl_vat == x.excl_vat.quantize(CENT) and x.vat == x.vat.quantize(CENT)
    assert out.lines[: len(c.lines)] == c.lines


@given(charges(), lefts, discounts)
def test_included_energy_never_exceeds_what_is_left_or_charged(
    c: SessionCharge, left: Decimal, discount: Decimal
) -> None:
    result = apply_plan(c, plan("1000", str(discount)), included_wh_left=left)
    energy = energy_of(c)
    assert 0 <= result.included_wh_used <= left
    inc = added(result.charge, LineKind.INCLUDED_ENERGY)
    if energy is None:
        assert result.included_wh_used == 0 and inc is None
        return
    assert result.included_wh_used <= energy.quantity * 1000
    if inc is not None:
        assert -inc.excl_vat <= energy.excl_vat and -inc.vat <= energy.vat
        assert inc.quantity * 1000 == result.included_wh_used


@given(charges(), lefts, lefts, discounts)
def test_more_included_energy_never_costs_more(
    c: SessionCharge, a: Decimal, b: Decimal, discount: Decimal
) -> None:
    less, more = sorted((a, b))
    p = plan("1000", str(discount))
    with_less = apply_plan(c, p, included_wh_left=less).charge
    with_more = apply_plan(c, p, included_wh_left=more).charge
    assert with_more.total_excl_vat <= with_less.total_excl_vat
    assert with_more.total_vat <= with_less.total_vat


@given(charges())
def test_no_discount_and_no_included_energy_leave_the_charge_as_it_is(c: SessionCharge) -> None:
    result = apply_plan(c, plan("0", "0"), included_wh_left=D(5000))  # the plan includes none
    assert result.charge is c and result.included_wh_used == 0
    nothing_left = apply_plan(c, plan("50", "0"), included_wh_left=D(0))
    assert nothing_left.charge is c and nothing_left.included_wh_used == 0


def test_never_more_than_the_plan_includes() -> None:
    result = apply_plan(charge(ENERGY_10), plan("2"), included_wh_left=D(9000))
    assert result.included_wh_used == D(2000)
    assert result.charge.total_excl_vat == D("2.40")
