"""The fixed price of a session: lines from the pricing engine that sum to its totals exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.billing import (
    LineKind,
    allocate,
    charge_from_breakdown,
    free_charge,
    from_minor,
    to_minor,
    vat_rate,
)
from evcms.domain.ocpi_tariffs import parse_ocpi
from evcms.domain.tariffs import ChargingPeriod, price, round_money

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def tariff(min_price: str | None = None, max_price: str | None = None):
    limits = ""
    if min_price:
        limits += f', "min_price": {{"excl_vat": {min_price}}}'
    if max_price:
        limits += f', "max_price": {{"excl_vat": {max_price}}}'
    return parse_ocpi(
        '{"id": "T", "currency": "EUR", "elements": ['
        '{"price_components": [{"type": "ENERGY", "price": 0.333, "vat": 20.0, "step_size": 1},'
        ' {"type": "FLAT", "price": 0.50, "vat": 9.0, "step_size": 1}]},'
        '{"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 20.0, "step_size": 60}]}'
        "]" + limits + "}",
        time_zone="UTC",
    )


def periods(kwh: Decimal, idle_minutes: int) -> list[ChargingPeriod]:
    out = [ChargingPeriod(start=T0, energy_wh=kwh * 1000, charging_seconds=Decimal(3600), parking_seconds=Decimal(0))]
    if idle_minutes:
        out.append(ChargingPeriod(start=T0 + timedelta(hours=1), energy_wh=Decimal(0), charging_seconds=Decimal(0),
                                  parking_seconds=Decimal(idle_minutes * 60)))
    return out


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [(1234, "EUR", "12.34"), (-5, "EUR", "-0.05"), (0, "EUR", "0.00"), (500, "JPY", "500")],
)
def test_minor_units_round_trip(minor, currency, amount):
    assert from_minor(minor, currency) == Decimal(amount)
    assert to_minor(Decimal(amount), currency) == minor


def test_an_unrounded_amount_has_no_minor_units():
    with pytest.raises(ValueError, match="more digits"):
        to_minor(Decimal("1.005"), "EUR")


@pytest.mark.parametrize(("excl", "vat", "rate"), [("10", "2", "20.00"), ("3.33", "0.30", "9.01"), ("0", "0", "0"), ("0", "1", None)])
def test_vat_rate(excl, vat, rate):
    assert vat_rate(Decimal(excl), Decimal(vat)) == (None if rate is None else Decimal(rate))


def test_lines_per_component_with_their_rates():
    breakdown = price(tariff(), periods(Decimal("10"), 30))
    charge = charge_from_breakdown(7, breakdown, energy_wh=Decimal(10000))
    kinds = {line.kind: line for line in charge.lines}
    assert set(kinds) == {LineKind.ENERGY, LineKind.FLAT, LineKind.PARKING_TIME}
    assert (kinds[LineKind.ENERGY].excl_vat, kinds[LineKind.ENERGY].vat_percent) == (Decimal("3.33"), Decimal("20.00"))
    # VAT 0.666 + 0.045 + 0.500 = 1.211 -> 1.21: the cent goes to the line nearest to it (0.67),
    # not to both half-cents; no rounding line is needed
    assert (kinds[LineKind.ENERGY].vat, kinds[LineKind.FLAT].vat) == (Decimal("0.67"), Decimal("0.04"))
    assert kinds[LineKind.FLAT].vat_percent == Decimal("9.00")
    assert (kinds[LineKind.PARKING_TIME].quantity, kinds[LineKind.PARKING_TIME].excl_vat) == (Decimal("0.5"), Decimal("2.50"))
    assert charge.total_incl_vat == breakdown.total_incl_vat


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=-1000, max_value=1000, places=6), max_size=8))
def test_allocation_rounds_each_amount_by_less_than_a_cent_and_keeps_the_sum(amounts):
    rounded = allocate(amounts, "EUR")
    assert sum(rounded, Decimal(0)) == round_money(sum(amounts, Decimal(0)), "EUR")
    assert all(abs(r - a) < Decimal("0.01") for r, a in zip(rounded, amounts, strict=True))


def test_a_minimum_price_is_an_adjustment_line():
    breakdown = price(tariff(min_price="5.00"), periods(Decimal("1"), 0))
    charge = charge_from_breakdown(1, breakdown)
    adjustment = [line for line in charge.lines if line.kind is LineKind.ADJUSTMENT]
    assert len(adjustment) == 1 and charge.total_excl_vat == Decimal("5.00")
    assert charge.notes == ("min_price",)


def test_a_session_without_a_tariff_is_free():
    charge = free_charge(3, "EUR", energy_wh=Decimal(500))
    assert (charge.lines, charge.total_incl_vat, charge.energy_wh) == ((), Decimal(0), Decimal(500))


@settings(max_examples=200, deadline=None)
@given(
    kwh=st.decimals(min_value=0, max_value=200, places=3),
    idle=st.integers(min_value=0, max_value=600),
    low=st.sampled_from([None, "2.00", "20.00"]),
    high=st.sampled_from([None, "25.00", "60.00"]),
)
def test_lines_always_sum_to_the_totals_in_whole_cents(kwh, idle, low, high):
    breakdown = price(tariff(low, high), periods(kwh, idle))
    charge = charge_from_breakdown(1, breakdown)
    assert charge.total_excl_vat == breakdown.total_excl_vat
    assert charge.total_vat == breakdown.total_vat
    assert charge.total_incl_vat == breakdown.total_incl_vat
    for line in charge.lines:
        to_minor(line.excl_vat, "EUR")
        to_minor(line.vat, "EUR")
