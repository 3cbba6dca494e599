"""Tariffs: components, restrictions, step sizes, limits, the OCPI 2.2.1 examples, properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.tariffs import (
    ChargingPeriod,
    DayOfWeek,
    DimensionType,
    PriceComponent,
    PriceLimit,
    Restrictions,
    Tariff,
    TariffElement,
    TariffError,
    accumulate,
    finalise,
    minor_units,
    periods_from_meter_samples,
    price,
    round_money,
    split_period,
)

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
E, T, P, F = (
    DimensionType.ENERGY,
    DimensionType.TIME,
    DimensionType.PARKING_TIME,
    DimensionType.FLAT,
)


def comp(kind: DimensionType, price_: str, vat: str | None = None, step: int = 1) -> PriceComponent:
    return PriceComponent(kind, D(price_), D(vat) if vat is not None else None, step)


def el(*components: PriceComponent, **restrictions: Any) -> TariffElement:
    return TariffElement(tuple(components), Restrictions(**restrictions))


def tariff(*elements: TariffElement, currency: str = "EUR", **kw: Any) -> Tariff:
    return Tariff("t1", currency, tuple(elements), time_zone=kw.pop("tz", "Europe/Berlin"), **kw)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


MONDAY_0930 = local(2024, 6, 3, 9, 30)
SATURDAY_1330 = local(2024, 6, 8, 13, 30)


def charge(
    start: datetime,
    minutes: float,
    kwh: str = "0",
    *,
    kw: str | None = None,
    amps: str | None = None,
) -> ChargingPeriod:
    return ChargingPeriod(
        start,
        energy_wh=D(kwh) * 1000,
        charging_seconds=D(str(minutes)) * 60,
        max_power_kw=D(kw) if kw else None,
        max_current_a=D(amps) if amps else None,
    )


def park(start: datetime, minutes: float) -> ChargingPeriod:
    return ChargingPeriod(start, parking_seconds=D(str(minutes)) * 60)


def session(
    start: datetime, charge_min: float, kwh: str, park_min: float = 0, **kw: str
) -> list[ChargingPeriod]:
    periods = [charge(start, charge_min, kwh, **kw)]
    if park_min:
        periods.append(park(start + timedelta(minutes=charge_min), park_min))
    return periods


def totals(t: Tariff, periods: list[ChargingPeriod]) -> tuple[str, str]:
    b = price(t, periods)
    return str(b.total_excl_vat), str(b.total_incl_vat)


# --- the OCPI 2.2.1 mod_tariffs examples, with their published totals -------------------------

ENERGY_025 = comp(E, "0.25", "10")
START_050 = comp(F, "0.50", "20")
T0 = local(2019, 6, 1, 12)


def test_ocpi_simple_025_per_kwh() -> None:
    assert totals(tariff(el(ENERGY_025)), session(T0, 120, "20")) == ("5.00", "5.50")


def test_ocpi_025_per_kwh_and_start_fee() -> None:
    t = tariff(el(START_050, ENERGY_025))
    assert totals(t, session(T0, 120, "20")) == ("5.50", "6.10")


def test_ocpi_025_per_kwh_and_min_price() -> None:
    t = tariff(el(ENERGY_025), min_price=PriceLimit(D("0.50"), D("0.55")))
    assert totals(t, session(T0, 120, "20")) == ("5.00", "5.50")
    b = price(t, session(T0, 10, "1.5"))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("0.50", "0.55")
    assert b.limit_applied == "min_price"


def test_ocpi_025_per_kwh_parking_and_start_fee() -> None:
    t = tariff(el(START_050, ENERGY_025, comp(P, "2.00", "20", 900)))
    b = price(t, session(T0, 90, "20", park_min=40))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("7.00", "7.90")
    assert b.components[P].quantity == D("0.75")  # 45 minutes billed for 40


def test_ocpi_025_per_kwh_start_fee_and_max_price() -> None:
    t = tariff(el(START_050, ENERGY_025), max_price=PriceLimit(D("10.00"), D("11.00")))
    assert totals(t, session(T0, 300, "50")) == ("10.00", "11.00")
    assert totals(t, session(T0, 180, "30")) == ("8.00", "8.85")


def test_ocpi_simple_2_euro_per_hour() -> None:
    t = tariff(el(comp(T, "2.00", "10", 60)))
    assert totals(t, session(T0, 150, "30", park_min=20)) == ("5.00", "5.50")


def test_ocpi_3_euro_per_hour_5_euro_parking() -> None:
    t = tariff(el(comp(T, "3.00", "10", 60), comp(P, "5.00", "20", 300)))
    assert totals(t, session(T0, 150, "30", park_min=42)) == ("11.25", "12.75")


def test_ocpi_ad_hoc_alt_text_1_9_per_hour() -> None:
    t = tariff(el(comp(T, "1.90", "5.2", 300)))
    assert totals(t, session(T0, 150, "30")) == ("4.75", "5.00")


def test_ocpi_alt_url_energy_per_100_wh() -> None:
    # Published: 20.45 kWh billed as 20.5 kWh; at 0.22/kWh 4.51 excl. / 4.96 incl. VAT.
    t = tariff(el(comp(E, "0.22", "10", 100)))
    b = price(t, session(T0, 120, "20.45"))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("4.51", "4.96")
    assert b.components[E].quantity == D("20.5")
    # The same example publishes 5.50 / 6.05 at 0.25/kWh, which contradicts its own 20.5 kWh
    # (20.5 x 0.25 = 5.125). Expected value written by hand from the rules: 5.13 / 5.64.
    t = tariff(el(comp(E, "0.25", "10", 100)))
    assert totals(t, session(T0, 120, "20.45")) == ("5.13", "5.64")


COMPLEX = tariff(
    el(comp(F, "2.50", "15")),
    el(comp(T, "1.00", "20", 900), max_current=D(32)),
    el(
        comp(T, "2.00", "20", 600),
        min_current=D(32),
        day_of_week=frozenset(
            DayOfWeek(d) for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
        ),
    ),
    el(
        comp(T, "1.25", "20", 600),
        min_current=D(32),
        day_of_week=frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY}),
    ),
    el(
        comp(P, "5.00", "10", 300),
        start_time=time(9),
        end_time=time(18),
        day_of_week=frozenset(
            DayOfWeek(d) for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
        ),
    ),
    el(
        comp(P, "6.00", "10", 300),
        start_time=time(10),
        end_time=time(17),
        day_of_week=frozenset({DayOfWeek.SATURDAY}),
    ),
)


def test_ocpi_complex_monday_morning() -> None:
    b = price(COMPLEX, session(MONDAY_0930, 147, "10", park_min=42, amps="16"))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("8.75", "10.00")
    assert b.components[T].quantity == D("2.5")  # 150 min for 147
    assert b.components[P].quantity == D("0.75")  # 45 min for 42


def test_ocpi_complex_saturday_afternoon() -> None:
    b = price(COMPLEX, session(SATURDAY_1330, 114, "40", park_min=71, amps="43"))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("12.50", "14.13")
    assert b.components[T].quantity == D(2)  # 120 min for 114
    assert b.components[P].quantity == D("1.25")  # 75 min for 71


def test_ocpi_free_of_charge() -> None:
    t = tariff(el(comp(F, "0.00")))
    assert totals(t, session(T0, 60, "10", park_min=30)) == ("0.00", "0.00")


def test_ocpi_first_hour_parking_and_first_kwh_free() -> None:
    t = tariff(
        el(comp(P, "0.0", step=60), min_duration=0, max_duration=3600),
        el(comp(P, "2.0", step=60), min_duration=3600, max_duration=10800),
        el(comp(P, "3.0", step=60), min_duration=10800),
        el(comp(E, "0.0"), max_kwh=D(1)),
        el(comp(E, "0.2"), min_kwh=D(1)),
    )
    # The published 7.30 (3.80 energy + 1.75 h x 2.00 parking) counts the parking hours from the
    # session start, i.e. it takes the charging time as negligible: the energy arrives at once.
    periods = [ChargingPeriod(T0, energy_wh=D(20000), parking_seconds=D("2.75") * 3600)]
    b = price(t, periods)
    assert str(b.total_excl_vat) == "7.30"
    assert str(b.components[E].amount_excl_vat) == "3.80"
    assert b.total_incl_vat == b.total_excl_vat  # no VAT given


STEP_TARIFF = tariff(
    el(
        comp(T, "1.20", step=1800), comp(P, "1.00", step=900), start_time=time(0), end_time=time(17)
    ),
    el(
        comp(T, "2.40", step=900), comp(P, "1.00", step=900), start_time=time(17), end_time=time(20)
    ),
    el(comp(T, "2.40", step=900), start_time=time(20), end_time=time(23, 59)),
)


def test_ocpi_step_size_switching_element_2() -> None:
    assert totals(STEP_TARIFF, session(local(2024, 6, 3, 16, 35), 35, "5"))[0] == "1.30"


def test_ocpi_step_size_switching_to_free_parking() -> None:
    periods = session(local(2024, 6, 3, 19, 55), 10, "2", park_min=2)
    assert totals(STEP_TARIFF, periods)[0] == "0.60"


def test_ocpi_step_size_switching_element_1_deviation() -> None:
    # Published 0.50: OCPI lets the 2 parking minutes hide in the rounded-up charging time, which
    # contradicts the complex example (147 min charging billed as 150, then 45 min of parking on
    # top). evcms bills the parking: 0.10 + 0.40 charging + 0.25 (15 min parking) = 0.75.
    periods = session(local(2024, 6, 3, 16, 55), 10, "2", park_min=2)
    b = price(STEP_TARIFF, periods)
    assert str(b.components[T].amount_excl_vat) == "0.50"  # the published charging part
    assert str(b.total_excl_vat) == "0.75"


def test_ocpi_max_power_restriction() -> None:
    t = tariff(
        el(comp(E, "0.20"), max_power=D(16)),
        el(comp(E, "0.35"), min_power=D(16), max_power=D(32)),
        el(comp(E, "0.50")),
    )
    start = T0
    periods = [
        charge(start, 10, "1", kw="6"),
        charge(start + timedelta(minutes=10), 50, "40", kw="48"),
        charge(start + timedelta(minutes=60), 7.5, "0.5", kw="4"),
    ]
    assert totals(t, periods)[0] == "20.30"


MAX_DURATION = tariff(
    el(comp(E, "0.00", "20"), max_duration=1800),
    el(comp(E, "0.25", "20"), max_duration=3600),
    el(comp(E, "0.40", "20")),
)


def test_ocpi_max_duration_restriction() -> None:
    periods = [charge(T0, 30, "5"), charge(T0 + timedelta(minutes=30), 10, "1.2")]
    assert totals(MAX_DURATION, periods) == ("0.30", "0.36")


def test_engine_splits_at_duration_boundaries() -> None:
    # One 70-minute period, 7 kWh evenly: 3 kWh free, 3 kWh at 0.25, 1 kWh at 0.40.
    assert totals(MAX_DURATION, [charge(T0, 70, "7")])[0] == "1.15"


# --- components -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "periods", "quantity", "excl", "incl"),
    [
        (comp(E, "0.30", "21"), session(T0, 60, "10"), "10", "3.00", "3.63"),
        (comp(E, "0.25", step=1), [ChargingPeriod(T0, D("115.2"), D(60))], "0.116", "0.03", "0.03"),
        (
            comp(E, "0.25", step=25),
            [ChargingPeriod(T0, D("115.2"), D(60))],
            "0.125",
            "0.03",
            "0.03",
        ),
        (comp(E, "0.25", step=500), [ChargingPeriod(T0, D("115.2"), D(60))], "0.5", "0.13", "0.13"),
        (
            comp(T, "6.00", "20", 60),
            session(T0, 30.5, "5", park_min=60),
            "0.5166666666666666666666666666666666666667",
            "3.10",
            "3.72",
        ),
        (
            comp(P, "4.00", "0", 300),
            session(T0, 30, "5", park_min=61),
            "1.083333333333333333333333333333333333333",
            "4.33",
            "4.33",
        ),
        (comp(F, "1.50", "20"), session(T0, 30, "5", park_min=61), "1", "1.50", "1.80"),
    ],
)
def test_each_component(
    component: PriceComponent,
    periods: list[ChargingPeriod],
    quantity: str,
    excl: str,
    incl: str,
) -> None:
    b = price(tariff(el(component)), periods)
    line = b.components[component.type]
    assert line.quantity == D(quantity)
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == (excl, incl)
    others = [c for d, c in b.components.items() if d is not component.type]
    assert all(c.exact_excl_vat == 0 for c in others)


def test_flat_is_billed_once_per_session() -> None:
    t = tariff(el(comp(F, "1.00")))
    periods = [charge(T0 + timedelta(hours=h), 60, "1") for h in range(5)]
    assert price(t, periods).components[F].quantity == 1
    assert price(t, []).total_excl_vat == 0


def test_zero_decimal_and_three_decimal_currencies() -> None:
    assert (minor_units("JPY"), minor_units("EUR"), minor_units("KWD")) == (0, 2, 3)
    assert str(round_money(D("2.5"), "JPY")) == "3"
    t = tariff(el(comp(E, "35", "10")), currency="JPY")
    assert totals(t, session(T0, 60, "10.3")) == ("361", "397")  # 360.5 -> 361; 396.55 -> 397


# --- restrictions -----------------------------------------------------------------------------

# Element 0 costs 1.00/kWh under the restriction; the fallback costs 0.10/kWh.
RESTRICTION_CASES: list[tuple[str, dict[str, Any], ChargingPeriod, str]] = [
    (
        "time in window",
        {"start_time": time(8), "end_time": time(18)},
        charge(local(2024, 6, 3, 9), 30, "1"),
        "1.00",
    ),
    (
        "time before window",
        {"start_time": time(8), "end_time": time(18)},
        charge(local(2024, 6, 3, 7), 30, "1"),
        "0.10",
    ),
    (
        "end_time exclusive",
        {"start_time": time(8), "end_time": time(18)},
        charge(local(2024, 6, 3, 18), 30, "1"),
        "0.10",
    ),
    (
        "wrap: late evening",
        {"start_time": time(22), "end_time": time(6)},
        charge(local(2024, 6, 3, 23), 30, "1"),
        "1.00",
    ),
    (
        "wrap: early morning",
        {"start_time": time(22), "end_time": time(6)},
        charge(local(2024, 6, 3, 5), 30, "1"),
        "1.00",
    ),
    (
        "wrap: midday",
        {"start_time": time(22), "end_time": time(6)},
        charge(local(2024, 6, 3, 12), 30, "1"),
        "0.10",
    ),
    ("only start_time", {"start_time": time(17)}, charge(local(2024, 6, 3, 17), 30, "1"), "1.00"),
    ("only end_time", {"end_time": time(17)}, charge(local(2024, 6, 3, 17), 30, "1"), "0.10"),
    (
        "day of week yes",
        {"day_of_week": frozenset({DayOfWeek.MONDAY})},
        charge(local(2024, 6, 3, 12), 30, "1"),
        "1.00",
    ),
    (
        "day of week no",
        {"day_of_week": frozenset({DayOfWeek.SUNDAY})},
        charge(local(2024, 6, 3, 12), 30, "1"),
        "0.10",
    ),
    (
        "start_date yes",
        {"start_date": date(2024, 6, 3)},
        charge(local(2024, 6, 3, 0), 30, "1"),
        "1.00",
    ),
    (
        "start_date no",
        {"start_date": date(2024, 6, 4)},
        charge(local(2024, 6, 3, 12), 30, "1"),
        "0.10",
    ),
    (
        "end_date exclusive",
        {"end_date": date(2024, 6, 3)},
        charge(local(2024, 6, 3, 0), 30, "1"),
        "0.10",
    ),
    (
        "end_date before",
        {"end_date": date(2024, 6, 4)},
        charge(local(2024, 6, 3, 23), 30, "1"),
        "1.00",
    ),
    ("min_power yes", {"min_power": D(11)}, charge(T0, 30, "1", kw="11"), "1.00"),
    ("min_power no", {"min_power": D(11)}, charge(T0, 30, "1", kw="7.4"), "0.10"),
    ("max_power exclusive", {"max_power": D(11)}, charge(T0, 30, "1", kw="11"), "0.10"),
    ("power unknown", {"max_power": D(11)}, charge(T0, 30, "1"), "0.10"),
    ("min_current yes", {"min_current": D(16)}, charge(T0, 30, "1", amps="32"), "1.00"),
    ("max_current yes", {"max_current": D(16)}, charge(T0, 30, "1", amps="10"), "1.00"),
    ("max_current no", {"max_current": D(16)}, charge(T0, 30, "1", amps="32"), "0.10"),
    ("min_kwh not yet", {"min_kwh": D(5)}, charge(T0, 30, "1"), "0.10"),
    ("max_kwh yes", {"max_kwh": D(5)}, charge(T0, 30, "1"), "1.00"),
    ("min_duration not yet", {"min_duration": 3600}, charge(T0, 30, "1"), "0.10"),
    ("max_duration yes", {"max_duration": 3600}, charge(T0, 30, "1"), "1.00"),
]


@pytest.mark.parametrize(
    ("restrictions", "period", "expected"),
    [c[1:] for c in RESTRICTION_CASES],
    ids=[c[0] for c in RESTRICTION_CASES],
)
def test_each_restriction(
    restrictions: dict[str, Any], period: ChargingPeriod, expected: str
) -> None:
    t = tariff(el(comp(E, "1.00"), **restrictions), el(comp(E, "0.10")))
    assert str(price(t, [period]).total_excl_vat) == expected


PEAK = tariff(
    el(comp(E, "0.50"), start_time=time(17), end_time=time(21)),
    el(comp(E, "0.20")),
)


def test_peak_switch_at_17_splits_the_period() -> None:
    # 16:00-18:00, 4 kWh evenly: 2 kWh off-peak, 2 kWh peak.
    b = price(PEAK, [charge(local(2024, 6, 3, 16), 120, "4")])
    assert str(b.total_excl_vat) == "1.40"
    assert [dict(s.elements) for s in b.segments] == [{E: 1}, {E: 0}]
    assert b.segments[1].start == local(2024, 6, 3, 17)


def test_local_time_follows_the_tariff_time_zone() -> None:
    # 15:00 UTC is 17:00 in Berlin (summer): peak.
    start = datetime(2024, 6, 3, 15, tzinfo=UTC)
    assert str(price(PEAK, [charge(start, 60, "1")]).total_excl_vat) == "0.50"
    utc_peak = replace(PEAK, time_zone="UTC")
    assert str(price(utc_peak, [charge(start, 60, "1")]).total_excl_vat) == "0.20"


def test_day_of_week_switch_at_local_midnight() -> None:
    t = tariff(el(comp(T, "6.00"), day_of_week=frozenset({DayOfWeek.SUNDAY})), el(comp(T, "3.00")))
    # Saturday 23:00 to Sunday 01:00: 1 h at 3.00 + 1 h at 6.00.
    assert str(price(t, [charge(local(2024, 6, 8, 23), 120, "10")]).total_excl_vat) == "9.00"


def test_min_kwh_splits_a_period_by_energy() -> None:
    t = tariff(el(comp(E, "0.10"), max_kwh=D(10)), el(comp(E, "0.30"), min_kwh=D(10)))
    # 15 kWh: 10 at 0.10 + 5 at 0.30, whether in one period or two.
    assert str(price(t, [charge(T0, 60, "15")]).total_excl_vat) == "2.50"
    two = [charge(T0, 30, "8"), charge(T0 + timedelta(minutes=30), 30, "7")]
    assert str(price(t, two).total_excl_vat) == "2.50"


def test_no_matching_element_is_free() -> None:
    t = tariff(el(comp(E, "1.00"), min_power=D(50)))
    assert price(t, [charge(T0, 60, "10", kw="11")]).total_excl_vat == 0


# --- limits, validation, helpers --------------------------------------------------------------


def test_limit_without_incl_vat_keeps_the_effective_vat_rate() -> None:
    t = tariff(el(comp(E, "1.00", "20")), max_price=PriceLimit(D(10)))
    b = price(t, session(T0, 60, "20"))
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("10.00", "12.00")
    assert b.limit_applied == "max_price"
    assert b.limit_adjustment_excl_vat == D(-10)


@pytest.mark.parametrize(
    "build",
    [
        lambda: PriceComponent(E, D(-1)),
        lambda: PriceComponent(E, D(1), D(-5)),
        lambda: PriceComponent(T, D(1), step_size=-1),
        lambda: Restrictions(min_kwh=D(5), max_kwh=D(1)),
        lambda: Restrictions(start_time=time(8, 0, 30)),
        lambda: TariffElement(()),
        lambda: Tariff("x", "eur", (el(comp(E, "1")),)),
        lambda: Tariff("x", "EUR", ()),
        lambda: Tariff("x", "EUR", (el(comp(E, "1")),), time_zone="Mars/Olympus"),
        lambda: ChargingPeriod(datetime(2024, 1, 1)),
        lambda: ChargingPeriod(T0, energy_wh=D(-1)),
    ],
)
def test_invalid_input_is_rejected(build: Any) -> None:
    with pytest.raises(TariffError):
        build()


def test_overlapping_periods_are_rejected() -> None:
    with pytest.raises(TariffError):
        price(PEAK, [charge(T0, 60, "1"), charge(T0 + timedelta(minutes=30), 60, "1")])


def test_tariff_validity_window() -> None:
    t = tariff(el(comp(E, "1")), start_date_time=T0, end_date_time=T0 + timedelta(days=30))
    assert t.is_active_at(T0) and not t.is_active_at(T0 + timedelta(days=30))
    assert not t.is_active_at(T0 - timedelta(seconds=1))


def test_periods_from_meter_samples() -> None:
    start, end = T0, T0 + timedelta(minutes=90)
    samples = [
        (T0 + timedelta(minutes=30), D(13000), D(22000)),
        (T0 + timedelta(minutes=60), D(20000), D(7000)),
        (T0 + timedelta(minutes=75), D(20000), D(0)),
    ]
    periods = periods_from_meter_samples(start, end, samples, meter_start_wh=D(2000))
    assert [(p.energy_wh, p.charging_seconds, p.parking_seconds) for p in periods] == [
        (D(11000), D(1800), D(0)),
        (D(7000), D(1800), D(0)),
        (D(0), D(0), D(900)),
        (D(0), D(0), D(900)),
    ]
    assert [p.max_power_kw for p in periods] == [D(22), D(22), D(7), D(0)]
    t = tariff(el(comp(E, "0.25"), comp(P, "6.00", step=60)))
    assert str(price(t, periods).total_excl_vat) == "7.50"  # 18 kWh x 0.25 + 30 min x 6.00/h


def test_split_period_keeps_the_totals() -> None:
    p = ChargingPeriod(T0, D(9000), D(1800), D(600))
    a, b = split_period(p, D(2000))
    assert (a.energy_wh, a.charging_seconds, a.parking_seconds) == (D(9000), D(1800), D(200))
    assert b.start == T0 + timedelta(seconds=2000) and b.parking_seconds == D(400)


# --- properties -------------------------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=5, places=2)
vats = st.none() | st.decimals(min_value=0, max_value=25, places=1)
hours = st.integers(min_value=0, max_value=23).map(lambda h: time(h))


@st.composite
def restrictions(draw: st.DrawFn, energy: bool = True) -> Restrictions:
    kw: dict[str, Any] = {}
    if draw(st.booleans()):
        kw["start_time"], kw["end_time"] = draw(hours), draw(hours)
    if draw(st.booleans()):
        kw["day_of_week"] = frozenset(draw(st.lists(st.sampled_from(list(DayOfWeek)), max_size=4)))
    if draw(st.booleans()):
        kw["max_power"] = D(draw(st.integers(1, 60)))
    if energy and draw(st.booleans()):
        lo = draw(st.integers(0, 30))
        kw["min_kwh"], kw["max_kwh"] = D(lo), D(lo + draw(st.integers(1, 30)))
    if energy and draw(st.booleans()):
        lo = draw(st.integers(0, 7200))
        kw["min_duration"], kw["max_duration"] = lo, lo + draw(st.integers(1, 7200))
    return Restrictions(**kw)


@st.composite
def tariffs(draw: st.DrawFn, steps: bool = True, energy_restrictions: bool = True) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        kinds = draw(
            st.lists(st.sampled_from(list(DimensionType)), min_size=1, max_size=4, unique=True)
        )
        components = tuple(
            PriceComponent(
                k,
                draw(prices),
                draw(vats),
                draw(st.sampled_from([1, 60, 100, 300, 900, 1000])) if steps else 1,
            )
            for k in kinds
        )
        elements.append(TariffElement(components, draw(restrictions(energy_restrictions))))
    kw: dict[str, Any] = {}
    if draw(st.booleans()):
        lo = draw(st.decimals(min_value=0, max_value=5, places=2))
        kw["min_price"] = PriceLimit(lo, draw(st.none() | st.just(lo * D("1.2"))))
        kw["max_price"] = PriceLimit(lo + draw(st.decimals(min_value=0, max_value=50, places=2)))
    return Tariff("p", "EUR", tuple(elements), time_zone="Europe/Berlin", **kw)


@st.composite
def usage(draw: st.DrawFn) -> list[ChargingPeriod]:
    at = datetime(2024, 3, 30, 20, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 60 * 48)))
    periods = []
    for _ in range(draw(st.integers(1, 5))):
        p = ChargingPeriod(
            at,
            energy_wh=D(draw(st.integers(0, 30_000))),
            charging_seconds=D(draw(st.integers(0, 7200))),
            parking_seconds=D(draw(st.integers(0, 3600))),
            max_power_kw=D(draw(st.integers(0, 60))),
        )
        periods.append(p)
        at = p.end + timedelta(seconds=draw(st.integers(0, 600)))
    return periods


CENT = D("0.01")
NOISE = D("1e-20")  # 40-digit arithmetic on even splits


def exact_total(t: Tariff, periods: list[ChargingPeriod]) -> Decimal:
    b = price(t, periods)
    return (
        sum((c.exact_excl_vat for c in b.components.values()), D(0)) + b.limit_adjustment_excl_vat
    )


@settings(max_examples=150, deadline=None)
@given(tariffs(), usage())
def test_never_negative_and_total_is_the_sum_of_components(
    t: Tariff, periods: list[ChargingPeriod]
) -> None:
    b = price(t, periods)
    assert b.total_excl_vat >= 0 and b.total_vat >= 0 and b.total_incl_vat >= 0
    for c in b.components.values():
        assert c.quantity >= 0 and c.amount_excl_vat >= 0 and c.vat_amount >= 0
    lines = sum((c.exact_excl_vat for c in b.components.values()), D(0))
    assert round_money(lines + b.limit_adjustment_excl_vat, "EUR") == b.total_excl_vat
    if b.limit_applied is None:
        rounded = sum((c.amount_excl_vat for c in b.components.values()), D(0))
        assert abs(rounded - b.total_excl_vat) <= 2 * CENT  # half a cent per line at most


@settings(max_examples=150, deadline=None)
@given(tariffs(), usage())
def test_min_and_max_price_are_respected(t: Tariff, periods: list[ChargingPeriod]) -> None:
    b = price(t, periods)
    if t.min_price is not None:
        assert b.total_excl_vat >= round_money(t.min_price.excl_vat, "EUR")
        if t.min_price.incl_vat is not None:
            assert b.total_incl_vat >= round_money(t.min_price.incl_vat, "EUR")
    if t.max_price is not None:
        assert b.total_excl_vat <= round_money(t.max_price.excl_vat, "EUR")


@settings(max_examples=150, deadline=None)
@given(tariffs(steps=False, energy_restrictions=False), usage(), st.data())
def test_monotone_in_energy(t: Tariff, periods: list[ChargingPeriod], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(periods) - 1))
    more = list(periods)
    more[i] = replace(more[i], energy_wh=more[i].energy_wh + data.draw(st.integers(1, 10_000)))
    assert exact_total(t, more) >= exact_total(t, periods) - NOISE
    if t.min_price is None and t.max_price is None:
        # (a limit without an incl.-VAT figure scales incl. VAT by the mix of VAT rates, rule 6)
        assert price(t, more).total_incl_vat >= price(t, periods).total_incl_vat


@settings(max_examples=150, deadline=None)
@given(tariffs(steps=False), usage(), st.integers(1, 7200))
def test_monotone_in_time(t: Tariff, periods: list[ChargingPeriod], extra: int) -> None:
    longer = [
        *periods[:-1],
        replace(periods[-1], parking_seconds=periods[-1].parking_seconds + extra),
    ]
    assert exact_total(t, longer) >= exact_total(t, periods) - NOISE
    later = [*periods, park(periods[-1].end, extra / 60)]
    assert exact_total(t, later) >= exact_total(t, periods) - NOISE


@settings(max_examples=150, deadline=None)
@given(tariffs(), usage(), st.data())
def test_split_anywhere_and_continue_agrees_with_whole(
    t: Tariff, periods: list[ChargingPeriod], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(periods) - 1))
    cut = D(data.draw(st.integers(0, int(periods[i].seconds))))
    head, tail = split_period(periods[i], cut)
    first, second = [*periods[:i], head], [tail, *periods[i + 1 :]]
    whole = price(t, periods)
    parts = finalise(t, accumulate(t, second, accumulate(t, first)))
    for d in DimensionType:
        assert (
            abs(parts.components[d].amount_excl_vat - whole.components[d].amount_excl_vat) <= CENT
        )
        assert abs(parts.components[d].vat_amount - whole.components[d].vat_amount) <= CENT
    assert abs(parts.total_excl_vat - whole.total_excl_vat) <= CENT
    assert abs(parts.total_incl_vat - whole.total_incl_vat) <= CENT
    # and the first part alone is a valid live price
    assert price(t, first).total_excl_vat >= 0
