"""Tariffs and the price of a charging session (pure).

The model follows OCPI 2.2.1 (mod_tariffs): a ``Tariff`` is an ordered list of ``TariffElement``s,
each a list of ``PriceComponent``s (ENERGY per kWh, TIME per hour charging, PARKING_TIME per hour
connected but not charging, FLAT per session) under optional ``Restrictions``. Prices are per unit
and exclude VAT; each component has its own VAT rate (``None``: no VAT applies, which OCPI
distinguishes from 0 %). Money is Decimal throughout and is rounded to the currency's minor unit
(ROUND_HALF_UP) only at the very end, on the totals and on each component line.

Usage comes in as ``ChargingPeriod``s (the OCPI CDR shape): a start instant, the energy delivered,
the seconds charging and the seconds parked (idle), and optionally the maximum power and current
seen in the period. ``periods_from_meter_samples`` builds them from a session's meter samples.

Rules (where OCPI is silent or ambiguous, the choice is marked *chosen*):

1. Element selection. For each piece of usage and each dimension (ENERGY, TIME, PARKING_TIME), the
   FIRST element in order that has a component of that dimension and whose restrictions all match
   prices it. No such element: that usage is free (OCPI).
2. Splitting. The engine, not the caller, splits periods wherever a restriction can change: local
   time-of-day boundaries of any element, local midnight (day of week, dates), the min/max_duration
   instants, the instants where the cumulative energy crosses a min/max_kwh, and the switch from
   charging to parking. *Chosen:* within a period, the charging seconds come first and the parking
   seconds after; energy is spread evenly over the charging seconds (a period with energy but no
   charging seconds delivers it at its start instant, still split at kWh boundaries).
3. Restriction semantics. Every restriction is evaluated on the session *so far*, as OCPI describes
   ("becomes active when ..."): min_kwh/max_kwh on the cumulative energy, min/max_duration on the
   wall-clock time since the session's first period started (charging and parking alike). Minimums
   are inclusive, maximums exclusive (OCPI states this for durations and end_date; *chosen* the same
   for kWh, power and current). start_time..end_time is [start, end) in local time and wraps past
   midnight when end < start; start_date..end_date is [start, end) on the local date. Because pieces
   are split at every boundary, a restriction is constant inside a piece and is evaluated at its
   midpoint, which makes the result immune to sub-microsecond rounding at the boundaries.
   *Chosen:* a power or current restriction never matches a period that does not report that value.
4. FLAT. Billed once per session, quantity 1, by the first element with a FLAT component that
   matches the first piece of usage in which any FLAT element matches (*chosen*).
5. step_size (OCPI: "only taken into account for the last TariffElement", with the example of a
   17:00 switch). *Chosen* reading, the one that reproduces the published step-size examples: the
   session total of a dimension (all the priced usage of that type, whichever elements priced it)
   is rounded up to a multiple of the step_size of the LAST component that priced that dimension,
   and the extra quantity is billed at that component's price and VAT. Earlier elements' steps do
   not apply. Units: Wh for ENERGY, seconds for TIME and PARKING_TIME; 0 counts as 1. Even with a
   step of 1, fractional usage rounds up (115.2 Wh bills 116 Wh, as OCPI's example says).
6. min_price / max_price clamp the session total; excl. and incl. VAT are clamped independently
   (OCPI: "they both apply"). *Chosen:* when a limit gives no incl.-VAT figure and the excl.-VAT
   total was clamped, the incl.-VAT total is scaled by the same factor (the effective VAT rate is
   kept; with no usage at all, incl. equals excl.). Component lines stay unclamped; the difference
   is reported as ``limit_adjustment_*``.
7. Rounding. All intermediate values are exact Decimals (40 significant digits; quantities are
   snapped to 1e-9 of their unit before step rounding so that even splits never round up by an
   artefact). Totals are rounded from the exact sums; each line is rounded on its own, so the lines
   may differ from the total by less than one minor unit per line (OCPI's own complex example needs
   this: 2.875 + 3.00 + 4.125 = 10.00 incl. VAT).
8. The tariff's start/end date-time say when it may be *chosen* for a new session
   (``Tariff.is_active_at``); a session keeps the tariff it started with (OCPI note), so ``price``
   does not look at them.

A known OCPI inconsistency: step-size "Example #1" (16:55, 10 min charging + 2 min parking,
published 0.50) does not bill the 2 minutes of parking because they lie "within the extra 5 minutes
of charging billed", while the complex example bills 45 minutes of parking after 147 minutes of
charging rounded to 150. Both cannot hold; evcms follows the complex example and bills the parking.

Live cost and splitting: ``accumulate`` folds periods into a ``PricingState`` and ``finalise`` turns
a state into a ``PriceBreakdown``; ``price`` is the two together. Feeding the periods in any number
of chunks gives the same result as feeding them at once.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
ONE = Decimal(1)
_HUNDRED = Decimal(100)
_WH_PER_KWH = Decimal(1000)
_S_PER_HOUR = Decimal(3600)
_QUANTUM = Decimal("1e-9")
_CONTEXT = Context(prec=40)


class TariffError(ValueError):
    """A tariff or usage that cannot be priced (invalid values, periods out of order)."""


class DimensionType(enum.StrEnum):
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    FLAT = "FLAT"


DIMENSIONS: tuple[DimensionType, ...] = tuple(DimensionType)
_METERED = (DimensionType.ENERGY, DimensionType.TIME, DimensionType.PARKING_TIME)


class DayOfWeek(enum.StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


_WEEKDAYS = tuple(DayOfWeek)  # index = date.weekday()

# ISO 4217 minor units that are not 2; every other currency has 2.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    "CLF": 4,
    "UYW": 4,
}


def minor_units(currency: str) -> int:
    """Digits after the decimal point of an ISO 4217 currency (EUR 2, JPY 0, KWD 3)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (away from zero on a tie)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PriceComponent:
    """Price per unit excl. VAT: per kWh (ENERGY), per hour (TIME, PARKING_TIME), per session (FLAT).

    ``vat`` is a percentage (20 means 20 %); ``None`` means no VAT applies. ``step_size`` is in Wh
    for ENERGY and seconds for TIME/PARKING_TIME; ignored for FLAT.
    """

    type: DimensionType
    price: Decimal
    vat: Decimal | None = None
    step_size: int = 1

    def __post_init__(self) -> None:
        if not self.price.is_finite() or self.price < 0:
            raise TariffError(f"price must be a non-negative number, got {self.price}")
        if self.vat is not None and (not self.vat.is_finite() or self.vat < 0):
            raise TariffError(f"vat must be a non-negative percentage, got {self.vat}")
        if self.step_size < 0:
            raise TariffError(f"step_size must be >= 0, got {self.step_size}")

    @property
    def step(self) -> int:
        return max(self.step_size, 1)


@dataclass(frozen=True)
class Restrictions:
    """When an element applies. Every field is optional; all given ones must match."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None  # exclusive
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None  # exclusive
    min_current: Decimal | None = None  # A, sum over phases
    max_current: Decimal | None = None
    min_power: Decimal | None = None  # kW
    max_power: Decimal | None = None
    min_duration: int | None = None  # seconds, inclusive
    max_duration: int | None = None  # seconds, exclusive
    day_of_week: frozenset[DayOfWeek] = frozenset()  # empty: every day

    def __post_init__(self) -> None:
        for name in ("start_time", "end_time"):
            value = getattr(self, name)
            if value is not None and (
                value.tzinfo is not None or value.second or value.microsecond
            ):
                raise TariffError(f"{name} must be a naive local HH:MM time, got {value}")
        for low, high in (
            ("min_kwh", "max_kwh"),
            ("min_current", "max_current"),
            ("min_power", "max_power"),
            ("min_duration", "max_duration"),
            ("start_date", "end_date"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise TariffError(f"{low} {lo} is above {high} {hi}")

    @property
    def has_clock(self) -> bool:
        return any(
            (self.start_time, self.end_time, self.start_date, self.end_date, self.day_of_week)
        )


NO_RESTRICTIONS = Restrictions()


@dataclass(frozen=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions = NO_RESTRICTIONS

    def __post_init__(self) -> None:
        if not self.price_components:
            raise TariffError("a tariff element needs at least one price component")

    def component(self, dimension: DimensionType) -> PriceComponent | None:
        for component in self.price_components:
            if component.type is dimension:
                return component
        return None


@dataclass(frozen=True)
class PriceLimit:
    """OCPI Price: a limit excl. VAT and, optionally, incl. VAT."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True)
class Tariff:
    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    time_zone: str = "UTC"  # IANA name, for the local-time restrictions
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise TariffError(f"currency must be an ISO 4217 code, got {self.currency!r}")
        if not self.elements:
            raise TariffError("a tariff needs at least one element")
        try:
            ZoneInfo(self.time_zone)
        except (ValueError, LookupError) as exc:
            raise TariffError(f"unknown time zone {self.time_zone!r}") from exc
        if self.min_price and self.max_price and self.min_price.excl_vat > self.max_price.excl_vat:
            raise TariffError("min_price is above max_price")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_active_at(self, at: datetime) -> bool:
        """May this tariff be chosen for a session starting at ``at``? [start, end)."""
        if self.start_date_time is not None and at < self.start_date_time:
            return False
        return self.end_date_time is None or at < self.end_date_time


@dataclass(frozen=True)
class ChargingPeriod:
    """Usage from ``start``: charging seconds first, then parking seconds (see rule 2)."""

    start: datetime
    energy_wh: Decimal = ZERO
    charging_seconds: Decimal = ZERO
    parking_seconds: Decimal = ZERO
    max_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise TariffError("a charging period needs an aware start time")
        for name in ("energy_wh", "charging_seconds", "parking_seconds"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise TariffError(f"{name} must be a non-negative number, got {value}")

    @property
    def seconds(self) -> Decimal:
        return self.charging_seconds + self.parking_seconds

    @property
    def end(self) -> datetime:
        return self.start + _delta(self.seconds)


def split_period(period: ChargingPeriod, seconds: Decimal) -> tuple[ChargingPeriod, ChargingPeriod]:
    """Cut a period ``seconds`` after its start, under rule 2 (charging first, even energy)."""
    if not ZERO <= seconds <= period.seconds:
        raise TariffError(f"cannot split a {period.seconds} s period at {seconds} s")
    with localcontext(_CONTEXT):
        charging = min(seconds, period.charging_seconds)
        parking = seconds - charging
        if 0 < charging < period.charging_seconds:
            energy = min(period.energy_wh * charging / period.charging_seconds, period.energy_wh)
        elif period.charging_seconds > 0 and charging == 0:
            energy = ZERO
        else:
            energy = period.energy_wh  # delivered at the start instant
        first = replace(
            period, energy_wh=energy, charging_seconds=charging, parking_seconds=parking
        )
        second = replace(
            period,
            start=period.start + _delta(seconds),
            energy_wh=period.energy_wh - energy,
            charging_seconds=period.charging_seconds - charging,
            parking_seconds=period.parking_seconds - parking,
        )
    return first, second


def periods_from_meter_samples(
    session_start: datetime,
    session_end: datetime,
    samples: Iterable[tuple[datetime, Decimal, Decimal | None]],
    *,
    meter_start_wh: Decimal,
    meter_stop_wh: Decimal | None = None,
) -> list[ChargingPeriod]:
    """Periods between consecutive meter samples ``(at, register_wh, power_w)``.

    Each interval with an energy increase is charging, the others parking (idle). The power of an
    interval is the larger of its two ends' readings (kW). A register that goes down counts as no
    energy (the normalised energy rule lives in ``metering``). Samples outside the session are
    ignored; samples must be in time order.
    """
    points: list[tuple[datetime, Decimal, Decimal | None]] = [(session_start, meter_start_wh, None)]
    for at, register, power in samples:
        if at < points[-1][0]:
            raise TariffError("meter samples must be in time order")
        if session_start < at < session_end:
            points.append((at, register, power))
    last_register = points[-1][1]
    points.append(
        (session_end, meter_stop_wh if meter_stop_wh is not None else last_register, None)
    )
    periods: list[ChargingPeriod] = []
    for (t0, r0, p0), (t1, r1, p1) in itertools.pairwise(points):
        seconds = _seconds(t1 - t0)
        if seconds <= 0:
            continue
        energy = max(r1 - r0, ZERO)
        powers = [p for p in (p0, p1) if p is not None]
        power_kw = max(powers) / _WH_PER_KWH if powers else None
        charging = energy > 0
        periods.append(
            ChargingPeriod(
                start=t0,
                energy_wh=energy,
                charging_seconds=seconds if charging else ZERO,
                parking_seconds=ZERO if charging else seconds,
                max_power_kw=power_kw,
            )
        )
    return periods


# --- the fold -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedSegment:
    """A piece of usage after splitting, and the element (index) that priced each dimension."""

    start: datetime
    seconds: Decimal
    energy_wh: Decimal
    charging_seconds: Decimal
    parking_seconds: Decimal
    elements: MappingProxyType[DimensionType, int]


@dataclass(frozen=True)
class _Line:
    quantity: Decimal = ZERO  # Wh, seconds, or sessions
    amount: Decimal = ZERO  # excl. VAT, exact
    vat: Decimal = ZERO  # exact
    last: PriceComponent | None = None


def _empty_lines() -> MappingProxyType[DimensionType, _Line]:
    return MappingProxyType({d: _Line() for d in DIMENSIONS})


@dataclass(frozen=True)
class PricingState:
    """Everything needed to continue pricing a session: feed it back to ``accumulate``."""

    session_start: datetime | None = None
    last_end: datetime | None = None
    energy_wh: Decimal = ZERO
    flat_charged: bool = False
    lines: MappingProxyType[DimensionType, _Line] = field(default_factory=_empty_lines)
    segments: tuple[PricedSegment, ...] = ()


def accumulate(
    tariff: Tariff, periods: Iterable[ChargingPeriod], state: PricingState | None = None
) -> PricingState:
    """Fold periods (in time order, not overlapping) into the pricing state of a session."""
    state = state or PricingState()
    zone = tariff.zone
    lines = dict(state.lines)
    segments = list(state.segments)
    session_start, last_end = state.session_start, state.last_end
    energy, flat_charged = state.energy_wh, state.flat_charged
    with localcontext(_CONTEXT):
        for period in periods:
            if last_end is not None and period.start < last_end:
                raise TariffError(f"period at {period.start} overlaps the previous one")
            if session_start is None:
                session_start = period.start
            for piece in _pieces(tariff, period, zone, session_start, energy):
                chosen: dict[DimensionType, int] = {}
                quantities = {
                    DimensionType.ENERGY: piece.energy_wh,
                    DimensionType.TIME: piece.charging_seconds,
                    DimensionType.PARKING_TIME: piece.parking_seconds,
                }
                mid = _Context(
                    local=(piece.start + _delta(piece.seconds / 2)).astimezone(zone),
                    energy_wh=energy + piece.energy_wh / 2,
                    elapsed=_seconds(piece.start - session_start) + piece.seconds / 2,
                    power_kw=period.max_power_kw,
                    current_a=period.max_current_a,
                )
                for dimension in _METERED:
                    quantity = quantities[dimension]
                    if quantity <= 0:
                        continue
                    found = _first_match(tariff, dimension, mid)
                    if found is None:
                        continue
                    index, component = found
                    chosen[dimension] = index
                    amount = quantity * component.price / _unit(dimension)
                    lines[dimension] = _add(lines[dimension], quantity, amount, component)
                if not flat_charged:
                    found = _first_match(tariff, DimensionType.FLAT, mid)
                    if found is not None:
                        index, component = found
                        chosen[DimensionType.FLAT] = index
                        flat = lines[DimensionType.FLAT]
                        lines[DimensionType.FLAT] = _add(flat, ONE, component.price, component)
                        flat_charged = True
                segments.append(
                    PricedSegment(
                        start=piece.start,
                        seconds=piece.seconds,
                        energy_wh=piece.energy_wh,
                        charging_seconds=piece.charging_seconds,
                        parking_seconds=piece.parking_seconds,
                        elements=MappingProxyType(chosen),
                    )
                )
                energy += piece.energy_wh
            last_end = period.end
    return PricingState(
        session_start=session_start,
        last_end=last_end,
        energy_wh=energy,
        flat_charged=flat_charged,
        lines=MappingProxyType(lines),
        segments=tuple(segments),
    )


def _add(line: _Line, quantity: Decimal, amount: Decimal, component: PriceComponent) -> _Line:
    vat = amount * component.vat / _HUNDRED if component.vat is not None else ZERO
    return _Line(line.quantity + quantity, line.amount + amount, line.vat + vat, component)


def _unit(dimension: DimensionType) -> Decimal:
    if dimension is DimensionType.ENERGY:
        return _WH_PER_KWH
    if dimension is DimensionType.FLAT:
        return ONE
    return _S_PER_HOUR


@dataclass(frozen=True)
class _Context:
    local: datetime
    energy_wh: Decimal
    elapsed: Decimal
    power_kw: Decimal | None
    current_a: Decimal | None


def _first_match(
    tariff: Tariff, dimension: DimensionType, ctx: _Context
) -> tuple[int, PriceComponent] | None:
    for index, element in enumerate(tariff.elements):
        component = element.component(dimension)
        if component is not None and _matches(element.restrictions, ctx):
            return index, component
    return None


def _within(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value < high)


def _matches(r: Restrictions, ctx: _Context) -> bool:
    local_time = ctx.local.time().replace(tzinfo=None)
    if r.start_time is not None and r.end_time is not None and r.start_time != r.end_time:
        if r.start_time < r.end_time:
            if not r.start_time <= local_time < r.end_time:
                return False
        elif r.end_time <= local_time < r.start_time:  # wraps past midnight
            return False
    elif r.end_time is None and r.start_time is not None and local_time < r.start_time:
        return False
    elif r.start_time is None and r.end_time is not None and local_time >= r.end_time:
        return False
    day = ctx.local.date()
    if r.start_date is not None and day < r.start_date:
        return False
    if r.end_date is not None and day >= r.end_date:
        return False
    if r.day_of_week and _WEEKDAYS[day.weekday()] not in r.day_of_week:
        return False
    kwh = ctx.energy_wh / _WH_PER_KWH
    if not _within(kwh, r.min_kwh, r.max_kwh):
        return False
    low = Decimal(r.min_duration) if r.min_duration is not None else None
    high = Decimal(r.max_duration) if r.max_duration is not None else None
    if not _within(ctx.elapsed, low, high):
        return False
    return _within(ctx.power_kw, r.min_power, r.max_power) and _within(
        ctx.current_a, r.min_current, r.max_current
    )


def _pieces(
    tariff: Tariff, period: ChargingPeriod, zone: ZoneInfo, session_start: datetime, energy: Decimal
) -> list[ChargingPeriod]:
    """Split a period at every instant where a restriction may change (rule 2)."""
    total = period.seconds
    restrictions = [e.restrictions for e in tariff.elements]
    kwh_bounds = {
        b * _WH_PER_KWH for r in restrictions for b in (r.min_kwh, r.max_kwh) if b is not None
    }
    result: list[ChargingPeriod] = []
    rest = period
    if period.charging_seconds == 0 and period.energy_wh > 0:
        # Energy delivered at an instant: cut it into zero-length pieces at the kWh bounds.
        done = energy
        for bound in sorted(b for b in kwh_bounds if energy < b < energy + period.energy_wh):
            result.append(replace(rest, energy_wh=bound - done, parking_seconds=ZERO))
            rest = replace(rest, energy_wh=rest.energy_wh - (bound - done))
            done = bound
        if rest.parking_seconds > 0:
            result.append(replace(rest, parking_seconds=ZERO))
            rest = replace(rest, energy_wh=ZERO)
    cuts: set[Decimal] = set()
    if 0 < period.charging_seconds < total:
        cuts.add(period.charging_seconds)
    if period.charging_seconds > 0 and period.energy_wh > 0:
        for bound in kwh_bounds:
            if energy < bound < energy + period.energy_wh:
                cuts.add((bound - energy) / period.energy_wh * period.charging_seconds)
    offset0 = _seconds(period.start - session_start)
    for r in restrictions:
        for d in (r.min_duration, r.max_duration):
            if d is not None and offset0 < d < offset0 + total:
                cuts.add(Decimal(d) - offset0)
    if any(r.has_clock for r in restrictions) and total > 0:
        clock = {time(0, 0)} | {
            t for r in restrictions for t in (r.start_time, r.end_time) if t is not None
        }
        end = period.end
        day = period.start.astimezone(zone).date() - timedelta(days=1)
        last_day = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last_day:
            for tod in clock:
                instant = datetime.combine(day, tod, tzinfo=zone)
                if period.start < instant < end:
                    cuts.add(_seconds(instant - period.start))
            day += timedelta(days=1)
    done_s = ZERO
    for cut in sorted(c for c in cuts if 0 < c < total):
        head, rest = split_period(rest, cut - done_s)
        done_s = cut
        if head.seconds > 0 or head.energy_wh > 0:
            result.append(head)
    if rest.seconds > 0 or rest.energy_wh > 0 or not result:
        result.append(rest)
    return result


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def _delta(seconds: Decimal) -> timedelta:
    micros = (seconds * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN)
    return timedelta(microseconds=int(micros))


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentCost:
    """One line of the bill. ``quantity`` is billed (after step_size): kWh, hours or sessions."""

    type: DimensionType
    quantity: Decimal
    amount_excl_vat: Decimal  # rounded
    vat_amount: Decimal  # rounded
    amount_incl_vat: Decimal  # amount_excl_vat + vat_amount
    exact_excl_vat: Decimal
    exact_vat: Decimal


@dataclass(frozen=True)
class PriceBreakdown:
    currency: str
    components: MappingProxyType[DimensionType, ComponentCost]  # every dimension, in order
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    limit_applied: Literal["min_price", "max_price"] | None
    limit_adjustment_excl_vat: Decimal  # exact, added to the lines' exact sum
    limit_adjustment_incl_vat: Decimal
    segments: tuple[PricedSegment, ...]


def finalise(tariff: Tariff, state: PricingState) -> PriceBreakdown:
    """Apply step sizes, the price limits and rounding to a session's pricing state."""
    currency = tariff.currency
    costs: dict[DimensionType, ComponentCost] = {}
    with localcontext(_CONTEXT):
        for dimension in DIMENSIONS:
            line = state.lines[dimension]
            quantity, amount, vat = line.quantity, line.amount, line.vat
            if dimension is not DimensionType.FLAT and line.last is not None:
                quantity = quantity.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
                step = Decimal(line.last.step)
                billed = (quantity / step).to_integral_value(rounding=ROUND_CEILING) * step
                extra = billed - quantity
                if extra > 0:
                    extra_amount = extra * line.last.price / _unit(dimension)
                    amount += extra_amount
                    if line.last.vat is not None:
                        vat += extra_amount * line.last.vat / _HUNDRED
                quantity = billed
            excl = round_money(amount, currency)
            vat_rounded = round_money(vat, currency)
            costs[dimension] = ComponentCost(
                type=dimension,
                quantity=quantity / _unit(dimension),
                amount_excl_vat=excl,
                vat_amount=vat_rounded,
                amount_incl_vat=excl + vat_rounded,
                exact_excl_vat=amount,
                exact_vat=vat,
            )
        raw_excl = sum((c.exact_excl_vat for c in costs.values()), ZERO)
        raw_incl = raw_excl + sum((c.exact_vat for c in costs.values()), ZERO)
        excl, incl, applied = _clamp(tariff, raw_excl, raw_incl)
        total_excl = round_money(excl, currency)
        total_incl = round_money(incl, currency)
    return PriceBreakdown(
        currency=currency,
        components=MappingProxyType(costs),
        total_excl_vat=total_excl,
        total_vat=total_incl - total_excl,
        total_incl_vat=total_incl,
        limit_applied=applied,
        limit_adjustment_excl_vat=excl - raw_excl,
        limit_adjustment_incl_vat=incl - raw_incl,
        segments=state.segments,
    )


def _clamp(
    tariff: Tariff, excl: Decimal, incl: Decimal
) -> tuple[Decimal, Decimal, Literal["min_price", "max_price"] | None]:
    applied: Literal["min_price", "max_price"] | None = None
    new_excl, new_incl = excl, incl
    for name, limit, outside in (
        ("min_price", tariff.min_price, Decimal.__lt__),
        ("max_price", tariff.max_price, Decimal.__gt__),
    ):
        if limit is None:
            continue
        hit = False
        before_excl = new_excl
        if outside(new_excl, limit.excl_vat):
            new_excl, hit = limit.excl_vat, True
        if limit.incl_vat is not None:
            if outside(new_incl, limit.incl_vat):
                new_incl, hit = limit.incl_vat, True
        elif hit:
            # scale what the previous step left (not the raw total), so a max price cannot undo
            # what a min price just raised
            new_incl = new_incl * new_excl / before_excl if before_excl > 0 else new_excl
        if hit:
            applied = "min_price" if name == "min_price" else "max_price"
    low = tariff.min_price
    if low is not None and low.incl_vat is not None and new_incl < low.incl_vat:
        new_incl = low.incl_vat  # limits that contradict each other: the minimum wins
    return new_excl, new_incl, applied


def price(
    tariff: Tariff, periods: Sequence[ChargingPeriod], state: PricingState | None = None
) -> PriceBreakdown:
    """The price of a session's usage (continuing ``state`` when given): see the module rules."""
    return finalise(tariff, accumulate(tariff, periods, state))
