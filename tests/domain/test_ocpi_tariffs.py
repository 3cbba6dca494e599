"""OCPI 2.2.1 Tariff JSON <-> domain Tariff: the spec examples, round trips, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from evcms.domain.ocpi_tariffs import display_name, dumps, from_ocpi, loads, parse_ocpi, to_ocpi
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
    price,
)

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")

# OCPI 2.2.1 mod_tariffs "Complex Tariff example", as published (with the alt text).
COMPLEX_JSON = """{
  "country_code": "DE", "party_id": "ALL", "id": "20",
  "currency": "EUR", "type": "REGULAR",
  "tariff_alt_url": "https://company.com/tariffs/20",
  "tariff_alt_text": [{"language": "en", "text": "2.50 EUR start tariff"}],
  "elements": [
    {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
    {"price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
     "restrictions": {"max_current": 32.00}},
    {"price_components": [{"type": "TIME", "price": 2.00, "vat": 20.0, "step_size": 600}],
     "restrictions": {"min_current": 32.00,
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [{"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}],
     "restrictions": {"min_current": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]}},
    {"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}],
     "restrictions": {"start_time": "09:00", "end_time": "18:00",
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 10.0, "step_size": 300}],
     "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}}
  ],
  "last_updated": "2015-06-29T20:39:09Z"
}"""

# "Simple Tariff example 0.25 euro per kWh" with the min_price variant.
MIN_PRICE_JSON = """{
  "country_code": "DE", "party_id": "ALL", "id": "14", "currency": "EUR",
  "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
  "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}],
  "last_updated": "2018-12-05T12:01:09Z"
}"""


def charge(start: datetime, minutes: int, kwh: str, amps: str) -> ChargingPeriod:
    return ChargingPeriod(
        start, energy_wh=D(kwh) * 1000, charging_seconds=D(minutes * 60), max_current_a=D(amps)
    )


def park(start: datetime, minutes: int) -> ChargingPeriod:
    return ChargingPeriod(start, parking_seconds=D(minutes * 60))


def test_the_complex_example_prices_as_published() -> None:
    tariff = parse_ocpi(COMPLEX_JSON, time_zone="Europe/Berlin")
    assert tariff.id == "20" and tariff.currency == "EUR" and len(tariff.elements) == 6
    assert tariff.elements[0].price_components[0] == PriceComponent(
        DimensionType.FLAT, D("2.50"), D("15.0"), 1
    )
    assert tariff.elements[4].restrictions.start_time == time(9)
    assert tariff.elements[5].restrictions.day_of_week == frozenset({DayOfWeek.SATURDAY})
    monday = datetime(2024, 6, 3, 9, 30, tzinfo=BERLIN)
    b = price(tariff, [charge(monday, 147, "10", "16"), park(monday + timedelta(minutes=147), 42)])
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("8.75", "10.00")
    saturday = datetime(2024, 6, 8, 13, 30, tzinfo=BERLIN)
    b = price(
        tariff, [charge(saturday, 114, "40", "43"), park(saturday + timedelta(minutes=114), 71)]
    )
    assert (str(b.total_excl_vat), str(b.total_incl_vat)) == ("12.50", "14.13")
    assert display_name(loads(COMPLEX_JSON)) == "2.50 EUR start tariff"


def test_min_price_example() -> None:
    tariff = parse_ocpi(MIN_PRICE_JSON)
    assert tariff.min_price == PriceLimit(D("0.50"), D("0.55"))
    assert tariff.time_zone == "UTC"
    start = datetime(2019, 6, 1, 12, tzinfo=UTC)
    b = price(tariff, [ChargingPeriod(start, energy_wh=D(1500), charging_seconds=D(600))])
    assert (str(b.total_excl_vat), str(b.total_incl_vat), b.limit_applied) == (
        "0.50", "0.55", "min_price"
    )
    assert display_name(loads(MIN_PRICE_JSON)) == "14"


def test_numbers_are_exact_decimals() -> None:
    data = loads('{"a": 0.1, "b": 12345678901234567890.123456789, "c": 7}')
    assert data == {"a": D("0.1"), "b": D("12345678901234567890.123456789"), "c": 7}
    assert all(not isinstance(v, float) for v in data.values())
    assert dumps(data) == '{"a":0.1,"b":12345678901234567890.123456789,"c":7}'


FULL = Tariff(
    id="T-1",
    currency="BGN",
    time_zone="Europe/Sofia",
    elements=(
        TariffElement(
            (
                PriceComponent(DimensionType.ENERGY, D("0.4567"), D("20"), 100),
                PriceComponent(DimensionType.TIME, D("1.2"), None, 60),
            ),
            Restrictions(
                start_time=time(22, 30),
                end_time=time(6),
                start_date=date(2026, 1, 1),
                end_date=date(2027, 1, 1),
                min_kwh=D("0.5"),
                max_kwh=D("80"),
                min_current=D("6"),
                max_current=D("32.5"),
                min_power=D("3.7"),
                max_power=D("22"),
                min_duration=60,
                max_duration=7200,
                day_of_week=frozenset({DayOfWeek.SUNDAY, DayOfWeek.MONDAY}),
            ),
        ),
        TariffElement((PriceComponent(DimensionType.PARKING_TIME, D("3"), D("0"), 0),)),
        TariffElement((PriceComponent(DimensionType.FLAT, D("1.00")),)),
    ),
    min_price=PriceLimit(D("1.00")),
    max_price=PriceLimit(D("50.00"), D("60.00")),
    start_date_time=datetime(2026, 1, 1, tzinfo=UTC),
    end_date_time=datetime(2027, 1, 1, 12, 30, tzinfo=UTC),
)


@pytest.mark.parametrize("tariff", [FULL, parse_ocpi(COMPLEX_JSON, time_zone="Europe/Berlin")])
def test_round_trip(tariff: Tariff) -> None:
    data = to_ocpi(tariff)
    assert from_ocpi(data, time_zone=tariff.time_zone) == tariff
    text = dumps(data)
    assert parse_ocpi(text, time_zone=tariff.time_zone) == tariff
    assert json.loads(text)["id"] == tariff.id  # plain JSON for any reader


def test_to_ocpi_writes_the_ocpi_shape() -> None:
    data = to_ocpi(FULL)
    assert data["elements"][0]["restrictions"]["start_time"] == "22:30"
    assert data["elements"][0]["restrictions"]["day_of_week"] == ["MONDAY", "SUNDAY"]
    assert data["elements"][0]["price_components"][1] == {
        "type": "TIME", "price": D("1.2"), "step_size": 60
    }
    assert data["min_price"] == {"excl_vat": D("1.00")}
    assert data["end_date_time"] == "2027-01-01T12:30:00Z"
    assert "restrictions" not in data["elements"][1]


def test_optional_fields_and_lenient_extras() -> None:
    tariff = from_ocpi(
        {
            "id": "x",
            "currency": "EUR",
            "energy_mix": {"is_green_energy": True},
            "start_date_time": "2026-01-01T00:00:00",
            "elements": [{"price_components": [{"type": "FLAT", "price": 1}]}],
        }
    )
    assert tariff.elements[0].price_components[0] == PriceComponent(DimensionType.FLAT, D(1), None, 1)
    assert tariff.start_date_time == datetime(2026, 1, 1, tzinfo=UTC)


def _with(path: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "t",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": D("0.3"), "step_size": 1}],
                "restrictions": {},
            }
        ],
    }
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last: Any = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()
_R = "elements.0.restrictions"
_C = "elements.0.price_components.0"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("id", _DELETE, "id: required"),
        ("id", "x" * 37, "id: at most 36"),
        ("currency", "euro", "currency: currency must be an ISO 4217 code"),
        ("currency", None, "currency: required"),
        ("elements", [], "elements: required, a non-empty list"),
        ("elements.0", "flat", "elements[0]: must be an object"),
        ("elements.0.price_components", [], "elements[0].price_components: required"),
        (f"{_C}.type", "KWH", "elements[0].price_components[0].type: must be one of"),
        (f"{_C}.price", "0.30", "elements[0].price_components[0].price: must be a number"),
        (f"{_C}.price", D("-1"), "elements[0].price_components[0].price: must be a non-negative"),
        (f"{_C}.price", _DELETE, "elements[0].price_components[0].price: required"),
        (f"{_C}.vat", True, "elements[0].price_components[0].vat: must be a number"),
        (f"{_C}.step_size", D("1.5"), "elements[0].price_components[0].step_size"),
        (f"{_R}.start_time", "9:00", "elements[0].restrictions.start_time: must be a time HH:MM"),
        (f"{_R}.end_time", "24:00", "elements[0].restrictions.end_time"),
        (f"{_R}.start_date", "2026-02-30", "elements[0].restrictions.start_date: no such date"),
        (f"{_R}.end_date", "01/02/2026", "elements[0].restrictions.end_date: must be a date"),
        (f"{_R}.min_kwh", "5", "elements[0].restrictions.min_kwh: must be a number"),
        (f"{_R}.max_duration", D("1.5"), "elements[0].restrictions.max_duration"),
        (f"{_R}.day_of_week", ["MON"], "elements[0].restrictions.day_of_week[0]"),
        (f"{_R}.day_of_week", "MONDAY", "elements[0].restrictions.day_of_week: must be a list"),
        (f"{_R}.reservation", "RESERVATION", "elements[0].restrictions.reservation: not supported"),
        (f"{_R}.min_power", D(20), None),  # with max_power below: checked by the domain
        ("min_price", {"incl_vat": 1}, "min_price.excl_vat: required"),
        ("start_date_time", "yesterday", "start_date_time: must be an ISO 8601"),
    ],
)
def test_bad_input_names_the_field(path: str, value: Any, message: str | None) -> None:
    data = _with(path, value)
    if message is None:
        data["elements"][0]["restrictions"]["max_power"] = D(10)
        message = "elements[0].restrictions: min_power 20 is above max_power 10"
    with pytest.raises(TariffError) as caught:
        from_ocpi(data)
    assert message in str(caught.value)


def test_bad_json_and_zone() -> None:
    with pytest.raises(TariffError, match="not valid JSON"):
        loads("{nope")
    with pytest.raises(TariffError, match="must be a JSON object"):
        loads("[1]")
    with pytest.raises(TariffError, match="time_zone: unknown time zone"):
        parse_ocpi(MIN_PRICE_JSON, time_zone="Mars/Olympus")
    with pytest.raises(TariffError, match="end_date_time: must be after"):
        from_ocpi({**loads(MIN_PRICE_JSON), "start_date_time": "2026-01-02T00:00:00Z",
                   "end_date_time": "2026-01-01T00:00:00Z"})
    with pytest.raises(TariffError, match="min_price: min_price is above max_price"):
        from_ocpi({**loads(MIN_PRICE_JSON), "max_price": {"excl_vat": 0.1}})
