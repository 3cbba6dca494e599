"""Analytics rules (pure): status classes, time split into UTC hours, the station timeline that
turns status changes into time per class, session outcomes, uptime the NEVI way, local buckets.

Everything is kept per connector and UTC hour; a query groups those hours into local hours or
days of an IANA zone. Time is counted in integer microseconds, so splitting an interval across
hours never loses or invents a microsecond.

Status classes of a connector (``classify``):

- ``offline``: its station is not connected to evcms (whatever the connector said last);
- ``available`` (Available), ``charging`` (Charging; 2.0.1 Occupied while the session's
  chargingState is Charging), ``occupied`` (Preparing, Finishing, SuspendedEV, SuspendedEVSE,
  Reserved, 2.0.1 Occupied), ``faulted`` (Faulted), ``unavailable`` (Unavailable), ``unknown``
  (a status evcms does not know).

Time before a connector's first status is not counted at all (no data).

Uptime (``Uptime``), as US NEVI 23 CFR 680.116(b) counts it:
``uptime = (T - (T_outage - T_excluded)) / T * 100`` with T the counted minutes, T_outage the
minutes the connector could not serve a driver (faulted, unavailable, offline) and T_excluded the
outage minutes whose cause is excluded. The one excluded cause evcms can tell is an
operator-set Unavailable (ChangeAvailability: scheduled maintenance); it cannot tell electric
utility interruptions, vandalism, natural disasters or a vehicle's fault from the data it has
(those outages count as outages unless an operator marks the time Unavailable).
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

HOUR = timedelta(hours=1)
MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND


class StatusClass(enum.StrEnum):
    AVAILABLE = "available"
    OCCUPIED = "occupied"
    CHARGING = "charging"
    FAULTED = "faulted"
    UNAVAILABLE = "unavailable"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


CLASSES: tuple[StatusClass, ...] = tuple(StatusClass)

_CLASS_OF_STATUS: dict[str, StatusClass] = {
    "Available": StatusClass.AVAILABLE,
    "Preparing": StatusClass.OCCUPIED,
    "Charging": StatusClass.CHARGING,
    "SuspendedEV": StatusClass.OCCUPIED,
    "SuspendedEVSE": StatusClass.OCCUPIED,
    "Finishing": StatusClass.OCCUPIED,
    "Reserved": StatusClass.OCCUPIED,
    "Occupied": StatusClass.OCCUPIED,
    "Unavailable": StatusClass.UNAVAILABLE,
    "Faulted": StatusClass.FAULTED,
}

# Where a history row comes from.
SOURCE_STATUS = "status"  # a StatusNotification (connector status)
SOURCE_SESSION = "session"  # a session's chargingState (2.0.1): "" when the session ended
SOURCE_CONNECTION = "connection"  # the station connected ("Connected") or not ("Disconnected")
CONNECTED = "Connected"
DISCONNECTED = "Disconnected"
NO_ERROR = "NoError"


def classify(status: str | None, charging_state: str | None, online: bool) -> StatusClass:
    if not online:
        return StatusClass.OFFLINE
    if status is None:
        return StatusClass.UNKNOWN
    found = _CLASS_OF_STATUS.get(status, StatusClass.UNKNOWN)
    if found is StatusClass.OCCUPIED and status == "Occupied" and charging_state == "Charging":
        return StatusClass.CHARGING
    return found


def floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def micros(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * MICROS_PER_SECOND + span.microseconds


def split_hours(start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[start, end) as (UTC hour, microseconds in it); empty when end <= start."""
    out: list[tuple[datetime, int]] = []
    if end <= start:
        return out
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    hour = floor_hour(start)
    cursor = start
    while cursor < end:
        nxt = hour + HOUR
        stop = min(nxt, end)
        out.append((hour, micros(stop - cursor)))
        cursor, hour = stop, nxt
    return out


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of the status history of a station (see the SOURCE_* constants)."""

    station_id: str
    evse_id: int
    connector_id: int
    at: datetime
    source: str
    status: str
    error_code: str = NO_ERROR
    vendor_error_code: str = ""


@dataclass(frozen=True, slots=True)
class Slice:
    """Time a connector spent in one class within one UTC hour."""

    evse_id: int
    connector_id: int
    hour: datetime
    status_class: StatusClass
    micros: int


@dataclass(frozen=True, slots=True)
class FaultSeen:
    evse_id: int
    connector_id: int
    at: datetime
    error_code: str
    vendor_error_code: str


def fault_code(status: str, error_code: str) -> str | None:
    """The fault a status report shows: 1.6's errorCode, else "Faulted" for a Faulted status
    without one (2.0.1); None when the report shows no fault."""
    if error_code and error_code != NO_ERROR:
        return error_code
    if status == "Faulted":
        return "Faulted"
    return None


@dataclass(slots=True)
class _Connector:
    status: str | None = None
    charging_state: str | None = None
    fault: tuple[str, str] | None = None
    charging: list[tuple[datetime, datetime]] = field(default_factory=list)
    charging_since: datetime | None = None


class StationTimeline:
    """Folds a station's status history, in order, into time per connector, class and hour.

    ``apply(change)`` and ``advance(to)`` return the slices of time that passed; ``position`` is
    the time accounted up to. A change older than ``position`` counts from ``position`` (time is
    never accounted twice). Connector 0 of EVSE 0 (1.6: the station as a whole) gets no time.
    The timeline also remembers when each connector was charging (for sessions' charging time)
    and reports transitions into a fault (``faults_seen``).
    """

    def __init__(self, station_id: str, position: datetime, *, online: bool = False) -> None:
        self.station_id = station_id
        self.position = position
        self.online = online
        self.connectors: dict[tuple[int, int], _Connector] = {}

    def _class(self, connector: _Connector) -> StatusClass:
        return classify(connector.status, connector.charging_state, self.online)

    def advance(self, to: datetime) -> list[Slice]:
        if to <= self.position:
            return []
        out: list[Slice] = []
        for (evse_id, connector_id), connector in self.connectors.items():
            if connector.status is None or evse_id == 0:
                continue
            cls = self._class(connector)
            for hour, amount in split_hours(self.position, to):
                out.append(Slice(evse_id, connector_id, hour, cls, amount))
        self.position = to
        return out

    def apply(self, change: StatusChange) -> tuple[list[Slice], FaultSeen | None]:
        at = max(change.at, self.position)
        out = self.advance(at)
        fault: FaultSeen | None = None
        if change.source == SOURCE_CONNECTION:
            self.online = change.status == CONNECTED
            for key in self.connectors:
                self._charging_edge(key, at)
            return out, None
        key = (change.evse_id, change.connector_id)
        connector = self.connectors.setdefault(key, _Connector())
        if change.source == SOURCE_SESSION:
            connector.charging_state = change.status or None
        else:
            connector.status = change.status
            code = fault_code(change.status, change.error_code)
            seen = None if code is None else (code, change.vendor_error_code)
            if seen is not None and seen != connector.fault:
                fault = FaultSeen(change.evse_id, change.connector_id, at, seen[0], seen[1])
            connector.fault = seen
        self._charging_edge(key, at)
        return out, fault

    def _charging_edge(self, key: tuple[int, int], at: datetime) -> None:
        connector = self.connectors[key]
        charging = connector.status is not None and self._class(connector) is StatusClass.CHARGING
        if charging and connector.charging_since is None:
            connector.charging_since = at
        elif not charging and connector.charging_since is not None:
            if at > connector.charging_since:
                connector.charging.append((connector.charging_since, at))
            connector.charging_since = None

    def charging_micros(self, evse_id: int, connector_id: int, start: datetime, end: datetime) -> int:
        """Microseconds the connector was charging within [start, end) (as far as folded)."""
        connector = self.connectors.get((evse_id, connector_id))
        if connector is None or end <= start:
            return 0
        spans = connector.charging  # in time order, not overlapping
        first = bisect.bisect_right(spans, start, key=lambda span: span[1])
        total = 0
        for a, b in spans[first:]:
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += micros(hi - lo)
        if connector.charging_since is not None:
            lo, hi = max(connector.charging_since, start), min(max(self.position, connector.charging_since), end)
            if hi > lo:
                total += micros(hi - lo)
        return total

    def forget_charging_before(self, moment: datetime) -> None:
        for connector in self.connectors.values():
            connector.charging = [(a, b) for a, b in connector.charging if b > moment]


# -- sessions ------------------------------------------------------------------------------

# Stop reasons (1.6 Reason, 2.0.1 ReasonEnum) that mean the session was cut short by a fault or
# a reset of the station, not ended by the driver, the vehicle or a limit.
FAULT_STOP_REASONS = frozenset(
    {
        "EmergencyStop",
        "GroundFault",
        "OvercurrentFault",
        "PowerLoss",
        "PowerQuality",
        "HardReset",
        "SoftReset",
        "ImmediateReset",
        "Reboot",
    }
)


def session_successful(energy_wh: Decimal, stop_reason: str | None) -> bool:
    """A session succeeded when it delivered energy (> 0 Wh) and was not ended by a fault or a
    reset of the station (``FAULT_STOP_REASONS``). A session that delivered nothing (the EV did
    not charge, the driver gave up) is not successful, whatever ended it."""
    return energy_wh > 0 and (stop_reason or "") not in FAULT_STOP_REASONS


# -- uptime --------------------------------------------------------------------------------

EXCLUDED_CAUSE_OPERATOR_UNAVAILABLE = "operator_unavailable"
# Causes 23 CFR 680.116(b) excludes that evcms cannot see in OCPP data.
UNDETECTABLE_EXCLUDED_CAUSES: tuple[str, ...] = (
    "electric_utility_service_interruption",
    "vehicle_fault",
    "vandalism",
    "natural_disaster",
    "hours_outside_operation",
)


@dataclass(frozen=True, slots=True)
class Uptime:
    """The inputs of the uptime formula (microseconds) and its results."""

    total: int  # counted time: every class but unknown
    outage: int  # faulted + unavailable + offline (excluded causes included)
    excluded: Mapping[str, int]  # outage time by excluded cause

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def uptime(self) -> Fraction | None:
        """NEVI: (T - (T_outage - T_excluded)) / T * 100; None without counted time."""
        if self.total == 0:
            return None
        return Fraction(self.total - (self.outage - self.excluded_total) * 1, self.total) * 100

    def availability(self) -> Fraction | None:
        """Share of counted time the connector could serve a driver (no exclusions)."""
        if self.total == 0:
            return None
        return Fraction(self.total - self.outage, self.total) * 100


def uptime_of(totals: Mapping[StatusClass, int]) -> Uptime:
    counted = sum(v for k, v in totals.items() if k is not StatusClass.UNKNOWN)
    unavailable = totals.get(StatusClass.UNAVAILABLE, 0)
    outage = (
        totals.get(StatusClass.FAULTED, 0) + unavailable + totals.get(StatusClass.OFFLINE, 0)
    )
    return Uptime(counted, outage, {EXCLUDED_CAUSE_OPERATOR_UNAVAILABLE: unavailable})


def shares(totals: Mapping[StatusClass, int]) -> dict[StatusClass, Fraction]:
    """Each class's share (percent) of all time accounted; empty without time."""
    whole = sum(totals.values())
    if whole == 0:
        return {}
    return {cls: Fraction(totals.get(cls, 0), whole) * 100 for cls in CLASSES}


def percent(value: Fraction | None, places: int = 2) -> Decimal | None:
    if value is None:
        return None
    exponent = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        exponent, rounding=ROUND_HALF_EVEN
    )


# -- periods and local buckets -------------------------------------------------------------


class Grain(enum.StrEnum):
    HOUR = "hour"  # local hour start (one bucket per local clock hour; DST repeats are separate)
    DAY = "day"  # local date
    HOUR_OF_DAY = "hour_of_day"  # 0..23
    DAY_OF_WEEK = "day_of_week"  # 1 = Monday .. 7 = Sunday (ISO)
    MONTH = "month"  # local YYYY-MM


def bucket_of(hour: datetime, zone: tzinfo, grain: Grain) -> str:
    """The local bucket of a UTC hour. In zones whose offset is not whole hours (India +05:30,
    Nepal +05:45) a UTC hour straddles two local hours; it goes wholly to the one it starts in."""
    local = hour.astimezone(zone)
    if grain is Grain.HOUR:
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    if grain is Grain.DAY:
        return local.date().isoformat()
    if grain is Grain.HOUR_OF_DAY:
        return str(local.hour)
    if grain is Grain.DAY_OF_WEEK:
        return str(local.isoweekday())
    return f"{local.year:04d}-{local.month:02d}"


def all_buckets(start: datetime, end: datetime, zone: tzinfo, grain: Grain) -> list[str]:
    """Every bucket of [start, end) in order (so empty ones show as zero)."""
    if grain is Grain.HOUR_OF_DAY:
        return [str(h) for h in range(24)]
    if grain is Grain.DAY_OF_WEEK:
        return [str(d) for d in range(1, 8)]
    seen: dict[str, None] = {}
    hour = floor_hour(start)
    while hour < end:
        seen.setdefault(bucket_of(hour, zone, grain), None)
        hour += HOUR
    return list(seen)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The UTC instant of local midnight (a skipped midnight: the first instant after it)."""
    naive = datetime(day.year, day.month, day.day)
    moment = naive.replace(tzinfo=zone)
    back = moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:  # midnight does not exist that day (DST gap at 00:00)
        moment = (naive + HOUR).replace(tzinfo=zone)
    return moment.astimezone(UTC)


def month_period(year: int, month: int, zone: tzinfo) -> tuple[datetime, datetime]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return local_midnight(first, zone), local_midnight(following, zone)


def hours_of(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = floor_hour(start)
    while hour < end:
        yield hour
        hour += HOUR


def sum_by_bucket(
    rows: Iterable[tuple[datetime, int]], zone: tzinfo, grain: Grain
) -> dict[str, int]:
    out: dict[str, int] = {}
    for hour, value in rows:
        key = bucket_of(hour, zone, grain)
        out[key] = out.get(key, 0) + value
    return out
