"""OCPI 2.2.1 Tariff objects <-> the domain ``Tariff`` (pure).

``loads`` parses JSON text with exact numbers (every JSON number with a fraction or exponent
becomes a ``Decimal``, never a float); ``from_ocpi`` checks an OCPI Tariff object and builds the
domain ``Tariff``; ``to_ocpi`` is the inverse and ``dumps`` writes it back as JSON with the
Decimals as exact JSON numbers. ``from_ocpi(to_ocpi(t), time_zone=t.time_zone) == t``.

OCPI gives restriction times as the local time of the Location and carries no time zone in the
Tariff object, so the zone is a parameter (default UTC). Fields evcms does not model
(country_code, party_id, type, tariff_alt_text, tariff_alt_url, energy_mix, last_updated) are
accepted and ignored here; callers that must keep them store the original text. The
``reservation`` restriction is refused: evcms does not price reservations, and ignoring it would
apply a reservation-only element to the charging itself.

Every error is a ``TariffError`` whose message starts with the path of the offending field, e.g.
``elements[0].price_components[1].price: must be a number``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from evcms.domain.tariffs import (
    NO_RESTRICTIONS,
    DayOfWeek,
    DimensionType,
    PriceComponent,
    PriceLimit,
    Restrictions,
    Tariff,
    TariffElement,
    TariffError,
)

TARIFF_ID_MAX_LENGTH = 36  # OCPI CiString(36)
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DECIMAL_RESTRICTIONS = (
    "min_kwh",
    "max_kwh",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
)
_UNSUPPORTED_RESTRICTIONS = ("reservation",)
_TARIFF_FIELDS = (("currency", "currency"), ("time zone", "time_zone"), ("min_price", "min_price"))


def loads(text: str | bytes) -> dict[str, Any]:
    """Parse JSON text into a dict with exact ``Decimal`` numbers (TariffError when it is not)."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TariffError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TariffError("a tariff must be a JSON object")
    return data


def parse_ocpi(text: str | bytes, *, time_zone: str = "UTC") -> Tariff:
    """``from_ocpi(loads(text))``."""
    return from_ocpi(loads(text), time_zone=time_zone)


def display_name(data: Mapping[str, Any]) -> str:
    """A name for people: the English ``tariff_alt_text``, else the first one, else the id."""
    texts = data.get("tariff_alt_text")
    if isinstance(texts, list):
        candidates = [t for t in texts if isinstance(t, dict) and isinstance(t.get("text"), str)]
        for text in candidates:
            if text.get("language") == "en":
                return str(text["text"])
        if candidates:
            return str(candidates[0]["text"])
    return str(data.get("id", ""))


# -- OCPI -> domain ------------------------------------------------------------------------------


def from_ocpi(data: Mapping[str, Any], *, time_zone: str = "UTC") -> Tariff:
    """Build a domain ``Tariff`` from an OCPI 2.2.1 Tariff object (see the module docstring)."""
    if not isinstance(data, Mapping):
        raise TariffError("a tariff must be a JSON object")
    tariff_id = data.get("id")
    if not isinstance(tariff_id, str) or not tariff_id.strip():
        raise TariffError("id: required, a non-empty string")
    if len(tariff_id) > TARIFF_ID_MAX_LENGTH or not tariff_id.isascii() or not tariff_id.isprintable():
        raise TariffError(f"id: at most {TARIFF_ID_MAX_LENGTH} printable ASCII characters")
    currency = data.get("currency")
    if not isinstance(currency, str):
        raise TariffError("currency: required, an ISO 4217 code such as EUR")
    elements_data = data.get("elements")
    if not isinstance(elements_data, list) or not elements_data:
        raise TariffError("elements: required, a non-empty list")
    elements = tuple(_element(e, f"elements[{i}]") for i, e in enumerate(elements_data))
    min_price = _limit(data.get("min_price"), "min_price")
    max_price = _limit(data.get("max_price"), "max_price")
    start = _date_time(data.get("start_date_time"), "start_date_time")
    end = _date_time(data.get("end_date_time"), "end_date_time")
    if start is not None and end is not None and end <= start:
        raise TariffError("end_date_time: must be after start_date_time")
    try:
        return Tariff(
            id=tariff_id,
            currency=currency,
            elements=elements,
            time_zone=time_zone,
            min_price=min_price,
            max_price=max_price,
            start_date_time=start,
            end_date_time=end,
        )
    except TariffError as exc:
        message = str(exc)
        field = next(
            (f for key, f in _TARIFF_FIELDS if key in message), "tariff"
        )
        raise TariffError(f"{field}: {message}") from exc


def _element(data: Any, path: str) -> TariffElement:
    if not isinstance(data, dict):
        raise TariffError(f"{path}: must be an object")
    components_data = data.get("price_components")
    if not isinstance(components_data, list) or not components_data:
        raise TariffError(f"{path}.price_components: required, a non-empty list")
    components = tuple(
        _component(c, f"{path}.price_components[{i}]") for i, c in enumerate(components_data)
    )
    restrictions = _restrictions(data.get("restrictions"), f"{path}.restrictions")
    return TariffElement(components, restrictions)


def _component(data: Any, path: str) -> PriceComponent:
    if not isinstance(data, dict):
        raise TariffError(f"{path}: must be an object")
    kind = data.get("type")
    try:
        dimension = DimensionType(str(kind))
    except ValueError:
        names = ", ".join(d.value for d in DimensionType)
        raise TariffError(f"{path}.type: must be one of {names}, got {kind!r}") from None
    price = _number(data.get("price"), f"{path}.price", required=True)
    assert price is not None
    vat = _number(data.get("vat"), f"{path}.vat")
    step = data.get("step_size", 1)
    if not _is_int(step) or step < 0:
        raise TariffError(f"{path}.step_size: must be a non-negative integer, got {step!r}")
    try:
        return PriceComponent(dimension, price, vat, int(step))
    except TariffError as exc:
        raise TariffError(f"{path}: {exc}") from exc


def _restrictions(data: Any, path: str) -> Restrictions:
    if data is None:
        return NO_RESTRICTIONS
    if not isinstance(data, dict):
        raise TariffError(f"{path}: must be an object")
    for name in _UNSUPPORTED_RESTRICTIONS:
        if data.get(name) is not None:
            raise TariffError(f"{path}.{name}: not supported by evcms")
    values: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        value = data.get(name)
        if value is not None:
            if not isinstance(value, str) or not _TIME.match(value):
                raise TariffError(f"{path}.{name}: must be a time HH:MM (00:00-23:59), got {value!r}")
            values[name] = time(int(value[:2]), int(value[3:]))
    for name in ("start_date", "end_date"):
        value = data.get(name)
        if value is not None:
            if not isinstance(value, str) or not _DATE.match(value):
                raise TariffError(f"{path}.{name}: must be a date YYYY-MM-DD, got {value!r}")
            try:
                values[name] = date.fromisoformat(value)
            except ValueError:
                raise TariffError(f"{path}.{name}: no such date {value!r}") from None
    for name in _DECIMAL_RESTRICTIONS:
        number = _number(data.get(name), f"{path}.{name}")
        if number is not None:
            values[name] = number
    for name in ("min_duration", "max_duration"):
        value = data.get(name)
        if value is not None:
            if not _is_int(value) or value < 0:
                raise TariffError(f"{path}.{name}: must be a non-negative number of seconds, got {value!r}")
            values[name] = int(value)
    days = data.get("day_of_week")
    if days is not None:
        if not isinstance(days, list):
            raise TariffError(f"{path}.day_of_week: must be a list of days such as MONDAY")
        parsed: set[DayOfWeek] = set()
        for i, day in enumerate(days):
            try:
                parsed.add(DayOfWeek(day))
            except ValueError:
                raise TariffError(
                    f"{path}.day_of_week[{i}]: must be MONDAY ... SUNDAY, got {day!r}"
                ) from None
        values["day_of_week"] = frozenset(parsed)
    try:
        return Restrictions(**values)
    except TariffError as exc:
        raise TariffError(f"{path}: {exc}") from exc


def _limit(data: Any, path: str) -> PriceLimit | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TariffError(f"{path}: must be an object with excl_vat (and incl_vat)")
    excl = _number(data.get("excl_vat"), f"{path}.excl_vat", required=True)
    assert excl is not None
    return PriceLimit(excl, _number(data.get("incl_vat"), f"{path}.incl_vat"))


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()


def _number(value: Any, path: str, *, required: bool = False) -> Decimal | None:
    if value is None:
        if required:
            raise TariffError(f"{path}: required, a number")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise TariffError(f"{path}: must be a number, got {value!r}")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise TariffError(f"{path}: must be a non-negative number, got {value!r}")
    return number


def _date_time(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TariffError(f"{path}: must be an ISO 8601 date-time such as 2026-01-01T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TariffError(
            f"{path}: must be an ISO 8601 date-time such as 2026-01-01T00:00:00Z, got {value!r}"
        ) from None
    if parsed.tzinfo is None:  # OCPI DateTime is UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# -- domain -> OCPI ------------------------------------------------------------------------------


def to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The OCPI 2.2.1 Tariff object of ``tariff`` (numbers as Decimal/int; see ``dumps``)."""
    data: dict[str, Any] = {
        "id": tariff.id,
        "currency": tariff.currency,
        "elements": [_element_out(e) for e in tariff.elements],
    }
    if tariff.min_price is not None:
        data["min_price"] = _limit_out(tariff.min_price)
    if tariff.max_price is not None:
        data["max_price"] = _limit_out(tariff.max_price)
    if tariff.start_date_time is not None:
        data["start_date_time"] = _date_time_out(tariff.start_date_time)
    if tariff.end_date_time is not None:
        data["end_date_time"] = _date_time_out(tariff.end_date_time)
    return data


def _element_out(element: TariffElement) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": [_component_out(c) for c in element.price_components]}
    restrictions = _restrictions_out(element.restrictions)
    if restrictions:
        data["restrictions"] = restrictions
    return data


def _component_out(component: PriceComponent) -> dict[str, Any]:
    data: dict[str, Any] = {"type": component.type.value, "price": component.price}
    if component.vat is not None:
        data["vat"] = component.vat
    data["step_size"] = component.step_size
    return data


def _restrictions_out(r: Restrictions) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        value: time | None = getattr(r, name)
        if value is not None:
            data[name] = value.strftime("%H:%M")
    for name in ("start_date", "end_date"):
        day: date | None = getattr(r, name)
        if day is not None:
            data[name] = day.isoformat()
    for name in (*_DECIMAL_RESTRICTIONS, "min_duration", "max_duration"):
        number = getattr(r, name)
        if number is not None:
            data[name] = number
    if r.day_of_week:
        data["day_of_week"] = [d.value for d in DayOfWeek if d in r.day_of_week]
    return data


def _limit_out(limit: PriceLimit) -> dict[str, Any]:
    data: dict[str, Any] = {"excl_vat": limit.excl_vat}
    if limit.incl_vat is not None:
        data["incl_vat"] = limit.incl_vat
    return data


def _date_time_out(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(data: Any) -> str:
    """JSON text with ``Decimal``s written as exact JSON numbers (``json`` cannot do that)."""
    if isinstance(data, Decimal):
        if not data.is_finite():
            raise TariffError(f"cannot write {data} as a JSON number")
        return str(data)
    if isinstance(data, Mapping):
        items = (f"{json.dumps(str(k))}:{dumps(v)}" for k, v in data.items())
        return "{" + ",".join(items) + "}"
    if isinstance(data, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in data) + "]"
    return json.dumps(data)
