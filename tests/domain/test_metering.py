"""Meter values: parsing, units, the energy register and the energy rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.metering import (
    EnergyCounter,
    InvalidMeterValue,
    Measurand,
    MeterSample,
    default_unit,
    energy_wh,
    latest,
    normalise,
    parse_decimal,
)

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
D = Decimal
ENERGY = Measurand.ENERGY_IMPORT_REGISTER.value
POWER = Measurand.POWER_IMPORT.value


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample(
    minutes: float = 0,
    value: str = "0",
    measurand: str = ENERGY,
    *,
    phase: str | None = None,
    location: str | None = None,
    unit: str = "Wh",
) -> MeterSample:
    return MeterSample(at(minutes), measurand, D(value), unit, phase=phase, location=location)


# Registers in Wh with up to 3 decimals (a real meter: up to ~10 GWh lifetime).
registers = st.decimals(min_value=0, max_value=10**10, places=3, allow_nan=False, allow_infinity=False)
any_readings = st.lists(
    st.decimals(min_value=-1000, max_value=10**10, places=3, allow_nan=False, allow_infinity=False),
    max_size=30,
)
optional_start = st.none() | registers


@st.composite
def monotone(draw: st.DrawFn, min_size: int = 0) -> list[Decimal]:
    """A non-decreasing register series: a start and non-negative steps."""
    first = draw(registers)
    steps = draw(
        st.lists(st.decimals(min_value=0, max_value=50_000, places=3), min_size=max(min_size - 1, 0), max_size=30)
    )
    series = [first]
    for step in steps:
        series.append(series[-1] + step)
    return series if min_size else series[: draw(st.integers(0, len(series)))]


def counted(readings: list[Decimal], counter: EnergyCounter | None = None) -> EnergyCounter:
    counter = counter or EnergyCounter()
    for reading in readings:
        counter = counter.add(reading)
    return counter


# --- parse_decimal ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.5", D("1234.5")),
        (" 12 ", D("12")),
        ("\t7.25\n", D("7.25")),
        ("0", D("0")),
        ("-3.5", D("-3.5")),
        ("+3", D("3")),
        ("1e3", D("1000")),
        ("1.5E-3", D("0.0015")),
        (".5", D("0.5")),
        ("5.", D("5")),
        (12, D("12")),
        (0, D("0")),
        (10**20, D("100000000000000000000")),
        (0.1, D("0.1")),
        (1234.56, D("1234.56")),
        (1e16, D("1E+16")),
        (-0.0, D("0")),
        ("0E-999", D("0")),
        ("1e-30", D("1e-30")),  # tiny is harmless (float noise around zero)
        (2.2587084558552462e-42, D("2.2587084558552462e-42")),
        ("123456789012345678901234.5", D("123456789012345678901234.5")),
        (D("42.42"), D("42.42")),
    ],
)
def test_parse_decimal_accepts_what_stations_send(raw: object, expected: Decimal) -> None:
    value = parse_decimal(raw)
    assert isinstance(value, Decimal)
    assert value == expected


def test_a_json_float_keeps_its_shortest_text_not_its_binary_expansion() -> None:
    assert str(parse_decimal(0.1)) == "0.1"
    assert parse_decimal(0.1) + parse_decimal(0.2) == D("0.3")


@pytest.mark.parametrize(
    "raw",
    [
        True,
        False,
        None,
        "",
        "   ",
        "abc",
        "12 kWh",
        "1,5",
        "1_000",
        "0x10",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        float("nan"),
        float("inf"),
        float("-inf"),
        D("NaN"),
        D("Infinity"),
        "١٢٣",  # Arabic-Indic digits: Decimal() would take them, a meter never sends them
        [1],
        {"value": 1},
        "1e999999999999",  # finite, but overflows the first multiplication
        "-1e30",
        "1E+25",
        10**30,
        1e300,
    ],
)
def test_parse_decimal_rejects_what_is_not_a_finite_number(raw: object) -> None:
    with pytest.raises(InvalidMeterValue):
        parse_decimal(raw)


@given(st.decimals(min_value=-(10**20), max_value=10**20, allow_nan=False, allow_infinity=False))
def test_parse_decimal_round_trips_decimal_text(value: Decimal) -> None:
    assert parse_decimal(str(value)) == value


@given(st.floats(min_value=-1e20, max_value=1e20, allow_nan=False, allow_infinity=False))
def test_parse_decimal_of_a_float_is_its_shortest_repr(value: float) -> None:
    assert parse_decimal(value) == D(repr(value))


# --- normalise ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "measurand", "multiplier", "expected"),
    [
        ("1234.5", "Wh", ENERGY, 0, ("1234.5", "Wh")),
        ("12.5", "kWh", ENERGY, 0, ("12500", "Wh")),
        ("0.001", "kWh", ENERGY, 0, ("1", "Wh")),
        ("7", "kW/h", ENERGY, 0, ("7000", "Wh")),  # a unit seen in the field for kWh
        ("11000", "W", POWER, 0, ("11000", "W")),
        ("11", "kW", POWER, 0, ("11000", "W")),
        ("3", "varh", "Energy.Reactive.Import.Register", 0, ("3", "varh")),
        ("3", "kvarh", "Energy.Reactive.Import.Register", 0, ("3000", "varh")),
        ("2", "var", "Power.Reactive.Import", 0, ("2", "var")),
        ("2", "kvar", "Power.Reactive.Import", 0, ("2000", "var")),
        ("5", "VA", "Power.Apparent", 0, ("5", "VA")),
        ("5", "kVA", "Power.Apparent", 0, ("5000", "VA")),
        ("5", "kVAh", "Energy.Apparent.Import.Register", 0, ("5000", "VAh")),
        ("16", "A", "Current.Import", 0, ("16", "A")),
        ("230.1", "V", "Voltage", 0, ("230.1", "V")),
        ("80", "Percent", "SoC", 0, ("80", "Percent")),
        ("21.5", "Celsius", "Temperature", 0, ("21.5", "Celsius")),
        ("50", "Hz", "Frequency", 0, ("50", "Hz")),
        # an unknown unit is kept as it came, unscaled
        ("9", "furlongs", ENERGY, 0, ("9", "furlongs")),
        ("9", "kwh", ENERGY, 0, ("9", "kwh")),
        # 2.0.1 unitOfMeasure.multiplier: value * 10**multiplier, after the k-unit
        ("1.5", "kWh", ENERGY, 3, ("1500000", "Wh")),
        ("12.5", "kWh", ENERGY, -1, ("1250", "Wh")),
        ("123", "Wh", ENERGY, -1, ("12.3", "Wh")),
        ("123", "Wh", ENERGY, 2, ("12300", "Wh")),
        ("7", "kW", POWER, -3, ("7", "W")),
        ("7", None, ENERGY, 3, ("7000", "Wh")),
    ],
)
def test_normalise_converts_to_the_base_unit(
    value: str, unit: str | None, measurand: str, multiplier: int, expected: tuple[str, str]
) -> None:
    got_value, got_unit = normalise(D(value), unit, measurand, multiplier)
    assert (got_value, got_unit) == (D(expected[0]), expected[1])
    assert isinstance(got_value, Decimal)


@pytest.mark.parametrize(
    ("measurand", "unit"),
    [
        (ENERGY, "Wh"),
        ("Energy.Active.Export.Register", "Wh"),
        ("Energy.Active.Import.Interval", "Wh"),
        ("Energy.Reactive.Import.Register", "varh"),
        ("Energy.Reactive.Export.Interval", "varh"),
        ("Energy.Apparent.Net", "VAh"),
        (POWER, "W"),
        ("Power.Offered", "W"),
        ("Power.Reactive.Import", "var"),
        ("Power.Factor", ""),  # dimensionless, not watts
        ("Current.Import", "A"),
        ("Current.Offered", "A"),
        ("Voltage", "V"),
        ("SoC", "Percent"),
        ("Frequency", "Hz"),
        ("Temperature", "Celsius"),
        ("RPM", "RPM"),
        ("Something.Else", ""),
    ],
)
def test_a_missing_unit_defaults_from_the_measurand(measurand: str, unit: str) -> None:
    assert default_unit(measurand) == unit
    assert normalise(D("4"), None, measurand) == (D("4"), unit)
    assert normalise(D("4"), "", measurand) == (D("4"), unit)


def test_normalise_defaults_to_the_energy_register() -> None:
    assert normalise(D("2.5"), "kWh") == (D("2500"), "Wh")
    assert normalise(D("2.5"), None) == (D("2.5"), "Wh")


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
    st.sampled_from(["Wh", "kWh", "W", "kW"]),
    st.integers(-3, 3),
)
def test_normalise_is_exact(value: Decimal, unit: str, multiplier: int) -> None:
    factor = D(1000) if unit.startswith("k") else D(1)
    got, _ = normalise(value, unit, ENERGY, multiplier)
    assert got == value * factor * D(10) ** multiplier


# --- the energy register ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measurand", "phase", "location", "counts", "unit"),
    [
        (ENERGY, None, None, True, "Wh"),
        (ENERGY, None, "Outlet", True, "Wh"),
        (ENERGY, "L1", None, False, "Wh"),
        (ENERGY, "L1-N", "Outlet", False, "Wh"),
        (ENERGY, "N", None, False, "Wh"),
        (ENERGY, None, "EV", False, "Wh"),
        (ENERGY, None, "Inlet", False, "Wh"),
        (ENERGY, None, "Body", False, "Wh"),
        (ENERGY, None, "Cable", False, "Wh"),
        ("Energy.Active.Export.Register", None, None, False, "Wh"),
        ("Energy.Active.Import.Interval", None, None, False, "Wh"),
        (POWER, None, None, False, "W"),
        ("SoC", None, "EV", False, "Percent"),
        (ENERGY, None, None, False, "kwh"),  # a unit normalise did not know: not Wh
        (ENERGY, None, None, False, ""),  # a carrier of signed data without a plain value
    ],
)
def test_only_the_total_import_register_counts(
    measurand: str, phase: str | None, location: str | None, counts: bool, unit: str
) -> None:
    got = sample(measurand=measurand, phase=phase, location=location, unit=unit)
    assert got.is_energy_register is counts


def test_latest_is_the_newest_phaseless_sample_of_the_measurand() -> None:
    samples = [
        sample(0, "1000", POWER),
        sample(2, "3000", POWER),
        sample(1, "2000", POWER),
        sample(5, "9999", POWER, phase="L1"),  # newer, but one phase only
        sample(9, "5", ENERGY),  # newer, other measurand
    ]
    assert latest(samples, POWER) == samples[1]
    assert latest(samples, ENERGY) == samples[4]
    assert latest(samples, "SoC") is None
    assert latest([], POWER) is None


def test_latest_on_equal_timestamps_takes_the_last_given() -> None:
    first, second = sample(1, "10", POWER), sample(1, "20", POWER)
    assert latest([first, second], POWER) is second
    assert latest([second, first], POWER) is first


def test_latest_includes_other_locations() -> None:
    soc = sample(3, "55", "SoC", location="EV", unit="Percent")
    assert latest([soc], "SoC") == soc


# --- the energy rule: table ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "readings", "stop", "energy"),
    [
        ("1000", [], "1000", "0"),
        ("1000", [], "1500", "500"),
        ("1000", ["1100", "1250.5"], "1300", "300"),
        ("1000", [], None, "0"),
        ("1000", ["1200"], None, "200"),
        (None, ["1200", "1500"], "1700", "500"),  # first reading is the baseline
        (None, [], "1700", "0"),  # a stop alone: nothing to compare with
        (None, [], None, "0"),
        # missing samples do not matter
        ("1000", ["1000", "1000", "1500", "1500"], "2000", "1000"),
        # a reset: the register restarts from zero, the new reading counts from zero
        ("1000", ["1500", "200", "300"], "400", "900"),
        ("5000", [], "300", "300"),  # reset between start and stop
        ("0", ["10", "0", "10"], "20", "30"),
        # negative readings are a station bug: ignored
        ("1000", ["-5", "1100"], "1200", "200"),
        ("1000", ["1100"], "-1", "100"),
        ("1000", ["0.001"], "0.002", "0.002"),
    ],
)
def test_energy_rule(start: str | None, readings: list[str], stop: str | None, energy: str) -> None:
    got = energy_wh(
        None if start is None else D(start), [D(r) for r in readings], None if stop is None else D(stop)
    )
    assert got == D(energy)
    assert isinstance(got, Decimal)


def test_counter_starting_at_none_takes_the_first_reading_as_baseline() -> None:
    counter = EnergyCounter.starting_at(None).add(D("900"))
    assert counter == EnergyCounter(D(0), D("900"))
    assert counter.add(D("950")) == EnergyCounter(D("50"), D("950"))


# --- the energy rule: properties ----------------------------------------------------------


@given(optional_start, any_readings, st.none() | registers)
def test_energy_is_never_negative(start: Decimal | None, readings: list[Decimal], stop: Decimal | None) -> None:
    assert energy_wh(start, readings, stop) >= 0


@given(monotone(min_size=2))
def test_monotone_readings_give_last_minus_first(series: list[Decimal]) -> None:
    first, *middle, last = series
    assert energy_wh(first, middle, last) == last - first
    assert energy_wh(None, series, None) == last - first
    assert energy_wh(first, series, None) == last - first


@given(optional_start, any_readings, st.none() | registers)
def test_the_counter_is_energy_wh_incrementally(
    start: Decimal | None, readings: list[Decimal], stop: Decimal | None
) -> None:
    counter = counted(readings, EnergyCounter.starting_at(start))
    if stop is not None:
        counter = counter.add(stop)
    assert counter.energy_wh == energy_wh(start, readings, stop)


@given(optional_start, any_readings, st.data())
def test_splitting_the_readings_anywhere_changes_nothing(
    start: Decimal | None, readings: list[Decimal], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(readings)))
    halfway = counted(readings[:cut], EnergyCounter.starting_at(start))
    assert counted(readings[cut:], halfway) == counted(readings, EnergyCounter.starting_at(start))


@given(monotone(min_size=1), monotone(min_size=1))
def test_a_reset_then_continuing_adds_exactly_the_post_reset_readings(
    before: list[Decimal], after: list[Decimal]
) -> None:
    # lift the readings before the reset to over twice every one after it: the first one after
    # falls to half or less, which is what a restart of the register looks like
    before = [r + 2 * max(after) + 1 for r in before]
    before_reset = counted(before, EnergyCounter.starting_at(before[0]))
    assert before_reset.energy_wh == before[-1] - before[0]
    after_reset = counted(after, before_reset)
    # the register restarted at zero: everything it shows now was charged after the reset
    assert after_reset.energy_wh == before_reset.energy_wh + after[-1]
    assert energy_wh(before[0], before + after[:-1], after[-1]) == after_reset.energy_wh


@given(optional_start, any_readings, st.data())
def test_duplicate_consecutive_readings_change_nothing(
    start: Decimal | None, readings: list[Decimal], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.integers(1, 4), min_size=len(readings), max_size=len(readings)))
    stuttered = [r for r, n in zip(readings, repeats, strict=True) for _ in range(n)]
    assert energy_wh(start, stuttered, None) == energy_wh(start, readings, None)
    assert counted(stuttered, EnergyCounter.starting_at(start)) == counted(
        readings, EnergyCounter.starting_at(start)
    )


@given(optional_start, any_readings, st.data())
def test_negative_readings_are_ignored(
    start: Decimal | None, readings: list[Decimal], data: st.DataObject
) -> None:
    noise = data.draw(st.lists(st.decimals(max_value=D("-0.001"), places=3, allow_nan=False, allow_infinity=False), max_size=5))
    noisy = list(readings)
    for n in noise:
        noisy.insert(data.draw(st.integers(0, len(noisy))), n)
    clean = [r for r in readings if r >= 0]
    assert energy_wh(start, noisy, None) == energy_wh(start, clean, None)
    assert energy_wh(start, noisy, None) == energy_wh(start, readings, None)



@pytest.mark.parametrize(
    ("start", "readings", "stop", "energy"),
    [
        # a sample rounded up in kWh, the stop in whole Wh: a dip, not a restart
        ("10000", ["12346"], "12345", "2346"),
        # meter jitter of a watt-hour mid-session
        ("0", ["500", "499", "800"], "1000", "1000"),
        # a real restart: the register falls to a few Wh and counts up again
        ("50000", ["50400", "3", "203"], "303", "703"),
    ],
)
def test_dips_are_not_restarts(start: str, readings: list[str], stop: str, energy: str) -> None:
    assert energy_wh(Decimal(start), [Decimal(r) for r in readings], Decimal(stop)) == Decimal(energy)
