"""Analytics: rollups kept as events arrive, the queries over them, the monthly site report.

Flow: the bus delivers connector status changes, station (dis)connections and sessions to
``Analytics.on_event`` (off the station path). Each station has a ``StationTimeline`` (domain)
that turns its status history into time per connector, class and UTC hour; those slices, the
history rows themselves, faults and ended sessions are buffered in memory and written by
``flush_due`` (a chore every few seconds). Time in a status that has not changed yet (the open
intervals) is written once a minute and when the UTC hour turns, not every few seconds: that is
one row per connector, and writing thousands every few seconds kept station writes waiting;
queries of status time account the open intervals up to "now" first. A
session is counted once (``analytics_counted_sessions``), by the UTC hour it *started* in; its
revenue joins once billing has settled it (``flush`` looks up counted sessions without revenue).

``rebuild(start, end)`` computes the same rollups from the raw rows (status history, sessions,
session charges) for existing installs or after a loss (the bus drops events when a subscriber
falls far behind).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evcms.domain import analytics as rules
from evcms.domain.analytics import (
    CLASSES,
    CONNECTED,
    DISCONNECTED,
    SOURCE_CONNECTION,
    SOURCE_SESSION,
    SOURCE_STATUS,
    Grain,
    Slice,
    StationTimeline,
    StatusChange,
    StatusClass,
)
from evcms.domain.billing import from_minor
from evcms.domain.charging_sessions import ChargingSession, SessionStatus
from evcms.domain.events import (
    ConnectorStatusChanged,
    Event,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import Site
from evcms.services.ports import (
    ChargingSessionRepository,
    Clock,
    ServiceError,
    SessionFilter,
    SiteRepository,
    StationRepository,
)

log = logging.getLogger(__name__)

EVENT_TYPES = (
    ConnectorStatusChanged,
    StationConnected,
    StationDisconnected,
    StationBooted,
    SessionStarted,
    SessionUpdated,
    SessionEnded,
)
MAX_PERIOD = timedelta(days=1100)
MWH = Decimal(1000)  # milliwatt-hours per watt-hour


# -- records and rows ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a query covers: the network (``station_ids`` None), a site's or one station, or one
    connector of a station."""

    kind: str  # network | site | station | connector
    station_ids: tuple[str, ...] | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    label: str = "network"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: int
    station_id: str
    evse_id: int
    connector_id: int
    hour: datetime  # the UTC hour the session started in
    id_token: str | None
    energy_mwh: int
    duration_us: int
    charging_us: int
    successful: bool


@dataclass(frozen=True, slots=True)
class RevenueRecord:
    session_id: int
    currency: str
    excl_minor: int
    incl_minor: int


@dataclass(frozen=True, slots=True)
class FaultRecord:
    station_id: str
    evse_id: int
    connector_id: int
    hour: datetime
    error_code: str
    vendor_error_code: str
    model: str


@dataclass(frozen=True, slots=True)
class StatusIncrement:
    station_id: str
    evse_id: int
    connector_id: int
    hour: datetime
    micros: tuple[int, ...]  # one per class, in CLASSES order


@dataclass(frozen=True, slots=True)
class StatusTotals:
    key: Any  # an hour, or (station_id, evse_id, connector_id)
    micros: dict[StatusClass, int]


@dataclass(frozen=True, slots=True)
class SessionTotals:
    key: Any
    sessions: int
    successful: int
    energy_mwh: int
    duration_us: int
    charging_us: int


@dataclass(frozen=True, slots=True)
class RevenueTotals:
    hour: datetime
    currency: str
    sessions: int
    excl_minor: int
    incl_minor: int


@dataclass(frozen=True, slots=True)
class FaultTotals:
    error_code: str
    vendor_error_code: str
    model: str
    faults: int


@dataclass(frozen=True, slots=True)
class TokenTotals:
    id_token: str
    sessions: int
    energy_mwh: int


class AnalyticsRepository(Protocol):
    async def add_history(self, rows: Sequence[StatusChange]) -> None: ...

    async def history(
        self, station_id: str, until: datetime
    ) -> builtins.list[StatusChange]: ...  # at < until, in order

    async def latest_history(self, station_id: str) -> builtins.list[StatusChange]: ...

    async def history_station_ids(self) -> builtins.list[str]: ...

    async def add_status_time(
        self, increments: Sequence[StatusIncrement], *, fresh: bool = False
    ) -> None: ...  # fresh: none of the rows exists yet (after clear)

    async def add_faults(self, records: Sequence[FaultRecord]) -> None: ...

    async def count_sessions(
        self, records: Sequence[SessionRecord], at: datetime
    ) -> builtins.list[int]: ...  # ids newly counted (each session once)

    async def sessions_without_revenue(
        self, since: datetime, limit: int
    ) -> builtins.list[int]: ...

    async def count_revenue(self, records: Sequence[RevenueRecord]) -> int: ...

    async def clear(self, start: datetime, end: datetime) -> None: ...  # hours in [start, end)

    async def status_totals(
        self, scope: Scope, start: datetime, end: datetime, *, by: str
    ) -> builtins.list[StatusTotals]: ...  # by: hour | connector

    async def session_totals(
        self, scope: Scope, start: datetime, end: datetime, *, by: str
    ) -> builtins.list[SessionTotals]: ...

    async def revenue_totals(
        self, scope: Scope, start: datetime, end: datetime
    ) -> builtins.list[RevenueTotals]: ...

    async def fault_totals(
        self, scope: Scope, start: datetime, end: datetime
    ) -> builtins.list[FaultTotals]: ...

    async def token_totals(
        self, scope: Scope, start: datetime, end: datetime, limit: int
    ) -> builtins.list[TokenTotals]: ...

    async def report_sent(self, site_id: str, month: str) -> bool: ...

    async def mark_report_sent(self, site_id: str, month: str, at: datetime) -> None: ...


class ChargeLookup(Protocol):
    """The settled prices of sessions (billing's ``session_charges``)."""

    async def settled_revenue(self, session_ids: Sequence[int]) -> dict[int, RevenueRecord]: ...


class Mailer(Protocol):
    async def send(self, to_address: str, subject: str, body: str) -> None: ...


class ReportRenderer(Protocol):
    def render(self, report: SiteReport, language: str) -> bytes: ...


WRITE_SLICE = 200  # rows per storage write when flushing


def _slices(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class AnalyticsPolicy:
    report_recipients: tuple[str, ...] = ()
    report_time_zone: str = "Europe/Sofia"
    report_language: str = "en"
    public_base_url: str = ""
    revenue_lookback: timedelta = timedelta(days=14)
    # how often the periodic flush also writes the time of statuses still running (and always
    # when the UTC hour turns); queries of status time account them up to "now" anyway
    open_interval_seconds: float = 60.0


# -- what queries answer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # UTC, on an hour
    end: datetime
    zone: tzinfo
    zone_name: str


@dataclass(frozen=True, slots=True)
class Utilisation:
    totals_us: dict[StatusClass, int]
    occupied_percent: Decimal | None  # occupied or charging, of counted time
    charging_percent: Decimal | None
    class_percent: dict[StatusClass, Decimal]  # of all time accounted (sums to 100)
    buckets: builtins.list[tuple[str, Decimal | None, Decimal | None]]  # bucket, occupied %, charging %


@dataclass(frozen=True, slots=True)
class ConnectorUptime:
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    uptime: rules.Uptime

    @property
    def uptime_percent(self) -> Decimal | None:
        return rules.percent(self.uptime.uptime(), 3)

    @property
    def availability_percent(self) -> Decimal | None:
        return rules.percent(self.uptime.availability(), 3)


@dataclass(frozen=True, slots=True)
class SessionBucket:
    bucket: str
    sessions: int
    successful: int
    energy_wh: Decimal
    duration_us: int
    charging_us: int


@dataclass(frozen=True, slots=True)
class SessionSummary:
    sessions: int
    successful: int
    success_percent: Decimal | None
    energy_wh: Decimal
    average_energy_wh: Decimal | None
    average_duration_s: Decimal | None
    average_charging_s: Decimal | None
    revenue: dict[str, Decimal]  # currency -> incl. VAT
    average_revenue: dict[str, Decimal]  # currency -> per priced session


@dataclass(frozen=True, slots=True)
class RevenueBucket:
    bucket: str
    currency: str
    sessions: int
    excl_vat: Decimal
    incl_vat: Decimal


@dataclass(frozen=True, slots=True)
class SiteReport:
    site: Site
    month: str
    period: Period
    summary: SessionSummary
    utilisation: Utilisation
    uptime: ConnectorUptime
    stations: builtins.list[tuple[str, SessionSummary, ConnectorUptime]]
    daily: builtins.list[SessionBucket]
    revenue: builtins.list[RevenueBucket]  # per currency, whole month
    faults: builtins.list[FaultTotals]
    tokens: builtins.list[TokenTotals]


def _energy_mwh(energy_wh: Decimal) -> int:
    return int((energy_wh * MWH).to_integral_value(rounding=ROUND_HALF_EVEN))


def wh_of(mwh: int) -> Decimal:
    return (Decimal(mwh) / MWH).quantize(Decimal("0.001"))


def _seconds(us: int | Fraction) -> Decimal:
    value = Fraction(us) / rules.MICROS_PER_SECOND
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.001"))


def session_record(session: ChargingSession, charging_us: int) -> SessionRecord | None:
    """What an ended session adds to the rollups (None when it never started)."""
    state = session.state
    started = state.started_at or session.created_at
    ended = state.ended_at or state.last_at or started
    energy = state.energy_wh
    return SessionRecord(
        session_id=session.id,
        station_id=str(session.station_id),
        evse_id=session.evse_id,
        connector_id=session.connector_id,
        hour=rules.floor_hour(started),
        id_token=state.id_token,
        energy_mwh=_energy_mwh(energy),
        duration_us=max(0, rules.micros(ended - started)),
        charging_us=charging_us,
        successful=rules.session_successful(energy, state.stop_reason),
    )


def _aggregate_slices(station_id: str, slices: Iterable[Slice], into: dict[Any, list[int]]) -> None:
    index = {cls: n for n, cls in enumerate(CLASSES)}
    for s in slices:
        key = (station_id, s.evse_id, s.connector_id, s.hour)
        row = into.get(key)
        if row is None:
            row = into[key] = [0] * len(CLASSES)
        row[index[s.status_class]] += s.micros


def _increments(buffer: dict[Any, list[int]]) -> list[StatusIncrement]:
    return [StatusIncrement(k[0], k[1], k[2], k[3], tuple(v)) for k, v in buffer.items()]


class Analytics:
    def __init__(
        self,
        *,
        repository: AnalyticsRepository,
        stations: StationRepository,
        sites: SiteRepository,
        sessions: ChargingSessionRepository,
        charges: ChargeLookup,
        clock: Clock,
        policy: AnalyticsPolicy | None = None,
        mailer: Mailer | None = None,
        renderer: ReportRenderer | None = None,
    ) -> None:
        self._repo = repository
        self._stations = stations
        self._sites = sites
        self._sessions = sessions
        self._charges = charges
        self._clock = clock
        self.policy = policy or AnalyticsPolicy()
        self._mailer = mailer
        self._renderer = renderer
        self._timelines: dict[str, StationTimeline] = {}
        self._models: dict[str, str] = {}
        self._history: list[StatusChange] = []
        self._status: dict[Any, list[int]] = {}
        self._faults: list[FaultRecord] = []
        self._ended: list[SessionRecord] = []
        self._lock = asyncio.Lock()
        self._open_accounted_at: datetime | None = None

    # -- the live path ----------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """Bus subscriber (``EVENT_TYPES``): keeps the timelines and buffers the rollups."""
        async with self._lock:
            if isinstance(event, ConnectorStatusChanged):
                state = event.state
                timeline = await self._timeline(str(state.station_id))
                if not timeline.online:  # a status came over a connection: it is connected
                    await self._change(
                        StatusChange(str(state.station_id), 0, 0, state.updated_at, SOURCE_CONNECTION, CONNECTED)
                    )
                await self._change(
                    StatusChange(
                        str(state.station_id),
                        state.evse_id,
                        state.connector_id,
                        state.updated_at,
                        SOURCE_STATUS,
                        str(state.status),
                        state.error_code or rules.NO_ERROR,
                        state.vendor_error_code or "",
                    )
                )
            elif isinstance(event, StationConnected):
                await self._change(StatusChange(str(event.station_id), 0, 0, event.at, SOURCE_CONNECTION, CONNECTED))
            elif isinstance(event, StationDisconnected):
                await self._change(
                    StatusChange(str(event.station_id), 0, 0, event.at, SOURCE_CONNECTION, DISCONNECTED)
                )
            elif isinstance(event, StationBooted):
                self._models[str(event.station_id)] = event.info.model
            elif isinstance(event, SessionStarted | SessionUpdated | SessionEnded):
                await self._session(event.session, ended=isinstance(event, SessionEnded))

    async def _timeline(self, station_id: str) -> StationTimeline:
        timeline = self._timelines.get(station_id)
        if timeline is None:
            now = self._clock.now()
            timeline = StationTimeline(station_id, now)
            for change in await self._repo.latest_history(station_id):
                if change.source == SOURCE_CONNECTION:
                    continue  # a node starts with every station disconnected
                timeline.apply(change)  # restores the connector state; no time passes (offline)
            timeline.position = now
            self._timelines[station_id] = timeline
        return timeline

    async def _model(self, station_id: str) -> str:
        model = self._models.get(station_id)
        if model is None:
            station = await self._stations.get(StationId(station_id))
            model = "" if station is None or station.info is None else station.info.model
            self._models[station_id] = model
        return model

    async def _change(self, change: StatusChange) -> None:
        timeline = await self._timeline(change.station_id)
        at = max(change.at, timeline.position)
        stored = StatusChange(
            change.station_id, change.evse_id, change.connector_id, at, change.source,
            change.status, change.error_code, change.vendor_error_code,
        )
        slices, fault = timeline.apply(stored)
        self._history.append(stored)
        _aggregate_slices(change.station_id, slices, self._status)
        if fault is not None:
            self._faults.append(
                FaultRecord(
                    change.station_id, fault.evse_id, fault.connector_id,
                    rules.floor_hour(fault.at), fault.error_code, fault.vendor_error_code,
                    await self._model(change.station_id),
                )
            )

    async def _session(self, session: ChargingSession, *, ended: bool) -> None:
        station_id = str(session.station_id)
        timeline = await self._timeline(station_id)
        key = (session.evse_id, session.connector_id)
        known = timeline.connectors.get(key)
        wanted = None if ended else session.state.charging_state
        if (known.charging_state if known is not None else None) != wanted:
            at = (session.state.ended_at if ended else session.state.last_at) or self._clock.now()
            await self._change(
                StatusChange(station_id, session.evse_id, session.connector_id, at, SOURCE_SESSION, wanted or "")
            )
        if ended and session.state.status is SessionStatus.ENDED:
            record = self._record(timeline, session)
            if record is not None:
                self._ended.append(record)

    def _record(self, timeline: StationTimeline, session: ChargingSession) -> SessionRecord | None:
        state = session.state
        started = state.started_at or session.created_at
        ended = state.ended_at or state.last_at or started
        charging = timeline.charging_micros(session.evse_id, session.connector_id, started, ended)
        return session_record(session, charging)

    async def flush_due(self) -> None:
        """The periodic chore: write what is buffered; account the open intervals when a minute
        has passed since they last were, or the UTC hour has turned."""
        now = self._clock.now()
        last = self._open_accounted_at
        due = (
            last is None
            or (now - last).total_seconds() >= self.policy.open_interval_seconds
            or rules.floor_hour(now) != rules.floor_hour(last)
        )
        await self.flush(open_intervals=due)

    async def flush(self, *, open_intervals: bool = True) -> None:
        """Write what is buffered; with ``open_intervals``, first account the time of statuses
        still running up to now (at shutdown, before status queries, and by ``flush_due``)."""
        async with self._lock:
            now = self._clock.now()
            if open_intervals:
                for station_id, timeline in self._timelines.items():
                    _aggregate_slices(station_id, timeline.advance(now), self._status)
                    timeline.forget_charging_before(now - timedelta(days=3))
                self._open_accounted_at = now
            history, self._history = self._history, []
            status, self._status = self._status, {}
            faults, self._faults = self._faults, []
            ended, self._ended = self._ended, []
            # In slices, each its own write: the storage writer is shared with the station
            # path, and a station's write then waits for one slice at most, not for thousands
            # of rows (1,000 sessions ending together kept readings waiting ~100 ms).
            for piece in _slices(history, WRITE_SLICE):
                await self._repo.add_history(piece)
            for piece in _slices(_increments(status), WRITE_SLICE):
                await self._repo.add_status_time(piece)
            if faults:
                await self._repo.add_faults(faults)
            for piece in _slices(ended, WRITE_SLICE // 2):
                await self._repo.count_sessions(piece, now)
        await self.sync_revenue()

    async def sync_revenue(self) -> int:
        """Add the revenue of counted sessions that billing has settled since; returns how many."""
        since = self._clock.now() - self.policy.revenue_lookback
        added = 0
        while True:
            pending = await self._repo.sessions_without_revenue(since, 500)
            if not pending:
                return added
            found = await self._charges.settled_revenue(pending)
            if found:
                added += await self._repo.count_revenue(list(found.values()))
            if len(found) < len(pending) or len(pending) < 500:
                return added

    # -- rebuild ----------------------------------------------------------------------------

    async def rebuild(self, start: datetime, end: datetime) -> dict[str, int]:
        """Recompute the rollups of the UTC hours in [start, end) from the raw rows: the status
        history, the ended sessions that started then, and their settled charges."""
        start, end = rules.floor_hour(start), rules.floor_hour(end + timedelta(microseconds=-1)) + rules.HOUR
        if end <= start:
            raise ServiceError("the period is empty: 'to' must be after 'from'", 422)
        await self.flush()
        async with self._lock:
            now = self._clock.now()
            until = min(end, now)
            await self._repo.clear(start, end)
            station_ids = {s.id for s in await self._stations.list()}
            station_ids |= {StationId(s) for s in await self._repo.history_station_ids()}
            counted = sessions = faults = 0
            for station_id in sorted(station_ids):
                buffer: dict[Any, list[int]] = {}
                fault_records: list[FaultRecord] = []
                timeline = StationTimeline(str(station_id), datetime.min.replace(tzinfo=UTC))
                first = True
                for change in await self._repo.history(str(station_id), until):
                    if first:
                        timeline.position = change.at
                        first = False
                    slices, fault = timeline.apply(change)
                    _aggregate_slices(str(station_id), (s for s in slices if start <= s.hour < end), buffer)
                    if fault is not None and start <= fault.at < end:
                        fault_records.append(
                            FaultRecord(
                                str(station_id), fault.evse_id, fault.connector_id,
                                rules.floor_hour(fault.at), fault.error_code,
                                fault.vendor_error_code, await self._model(str(station_id)),
                            )
                        )
                if not first and timeline.position < until:
                    _aggregate_slices(
                        str(station_id),
                        (s for s in timeline.advance(until) if start <= s.hour < end),
                        buffer,
                    )
                if buffer:  # the hours were cleared and this station is done: all rows are new
                    await self._repo.add_status_time(_increments(buffer), fresh=True)
                if fault_records:
                    await self._repo.add_faults(fault_records)
                    faults += len(fault_records)
                records = [
                    record
                    async for session in self._ended_sessions(station_id, start, end)
                    if (record := self._record(timeline, session)) is not None
                ]
                sessions += len(records)
                for n in range(0, len(records), 1000):
                    counted += len(await self._repo.count_sessions(records[n : n + 1000], now))
                live = self._timelines.get(str(station_id))
                if live is not None and live.position < until:
                    live.advance(until)  # the rebuild accounted it: the live path goes on from there
        revenue = 0
        while True:  # revenue of the rebuilt sessions (whatever their age)
            pending = await self._repo.sessions_without_revenue(start, 1000)
            found = await self._charges.settled_revenue(pending) if pending else {}
            if found:
                revenue += await self._repo.count_revenue(list(found.values()))
            if len(found) < len(pending) or len(pending) < 1000:
                break
        return {"sessions": counted, "faults": faults, "revenue": revenue, "sessions_seen": sessions}

    async def _ended_sessions(self, station_id: StationId, start: datetime, end: datetime) -> Any:
        before: int | None = None
        query = SessionFilter(
            station_id=station_id, status=SessionStatus.ENDED, started_from=start, started_until=end
        )
        while True:
            page = await self._sessions.list(query, limit=1000, before_id=before)
            for session in page:
                yield session
            if len(page) < 1000:
                return
            before = page[-1].id

    # -- scopes and periods -----------------------------------------------------------------

    async def scope(
        self,
        *,
        site_id: str | None = None,
        station_id: str | None = None,
        evse_id: int | None = None,
        connector_id: int | None = None,
    ) -> Scope:
        if site_id is not None and station_id is not None:
            raise ServiceError("give a site or a station, not both", 422)
        if (evse_id is None) != (connector_id is None) or (evse_id is not None and station_id is None):
            raise ServiceError(
                "a connector is chosen by station, evse and connector together (1.6: evse = the connector number, connector = 1)",
                422,
            )
        if site_id is not None:
            if await self._sites.get(SiteId(site_id)) is None:
                raise ServiceError(f"no site {site_id!r}", 404)
            ids = tuple(sorted(str(s.id) for s in await self._stations.list(SiteId(site_id))))
            return Scope("site", ids, label=f"site {site_id}")
        if station_id is not None:
            if await self._stations.get(StationId(station_id)) is None:
                raise ServiceError(f"no station {station_id!r}", 404)
            if evse_id is not None:
                return Scope(
                    "connector", (station_id,), evse_id, connector_id,
                    label=f"station {station_id} evse {evse_id} connector {connector_id}",
                )
            return Scope("station", (station_id,), label=f"station {station_id}")
        return Scope("network")

    def period(self, start: date | datetime, end: date | datetime, zone_name: str) -> Period:
        zone = time_zone(zone_name)

        def instant(value: date | datetime) -> datetime:
            if isinstance(value, datetime):
                moment = value if value.tzinfo is not None else value.replace(tzinfo=zone)
                return moment.astimezone(UTC)
            return rules.local_midnight(value, zone)

        begin, finish = instant(start), instant(end)
        if finish <= begin:
            raise ServiceError("'to' must be after 'from' (the period is [from, to))", 422)
        if finish - begin > MAX_PERIOD:
            raise ServiceError(f"the period is too long: at most {MAX_PERIOD.days} days", 422)
        finish_hour = rules.floor_hour(finish)
        if finish_hour < finish:
            finish_hour += rules.HOUR
        return Period(rules.floor_hour(begin), finish_hour, zone, zone_name)

    # -- queries ----------------------------------------------------------------------------

    async def utilisation(self, scope: Scope, period: Period, grain: Grain = Grain.DAY) -> Utilisation:
        await self.flush()  # the time of statuses still running counts up to now
        rows = await self._repo.status_totals(scope, period.start, period.end, by="hour")
        totals = {cls: 0 for cls in CLASSES}
        per_bucket: dict[str, dict[StatusClass, int]] = {
            b: {cls: 0 for cls in CLASSES}
            for b in rules.all_buckets(period.start, period.end, period.zone, grain)
        }
        for row in rows:
            bucket = per_bucket.setdefault(rules.bucket_of(row.key, period.zone, grain), {cls: 0 for cls in CLASSES})
            for cls, value in row.micros.items():
                totals[cls] += value
                bucket[cls] += value
        occupied, charging = _use(totals)
        shares = rules.shares(totals)
        return Utilisation(
            totals_us=totals,
            occupied_percent=occupied,
            charging_percent=charging,
            class_percent={cls: rules.percent(share) or Decimal(0) for cls, share in shares.items()},
            buckets=[(key, *_use(values)) for key, values in per_bucket.items()],
        )

    async def uptime(self, scope: Scope, period: Period) -> tuple[ConnectorUptime, builtins.list[ConnectorUptime]]:
        await self.flush()  # the time of statuses still running counts up to now
        rows = await self._repo.status_totals(scope, period.start, period.end, by="connector")
        per_connector = [
            ConnectorUptime(row.key[0], row.key[1], row.key[2], rules.uptime_of(row.micros))
            for row in sorted(rows, key=lambda r: r.key)
            if row.key[1] != 0
        ]
        total = {cls: sum(r.micros.get(cls, 0) for r in rows if r.key[1] != 0) for cls in CLASSES}
        return ConnectorUptime(None, None, None, rules.uptime_of(total)), per_connector

    async def sessions(self, scope: Scope, period: Period, grain: Grain) -> builtins.list[SessionBucket]:
        rows = await self._repo.session_totals(scope, period.start, period.end, by="hour")
        buckets = {
            b: [0, 0, 0, 0, 0] for b in rules.all_buckets(period.start, period.end, period.zone, grain)
        }
        for row in rows:
            acc = buckets.setdefault(rules.bucket_of(row.key, period.zone, grain), [0, 0, 0, 0, 0])
            for n, value in enumerate(
                (row.sessions, row.successful, row.energy_mwh, row.duration_us, row.charging_us)
            ):
                acc[n] += value
        return [
            SessionBucket(key, a[0], a[1], wh_of(a[2]), a[3], a[4]) for key, a in buckets.items()
        ]

    async def summary(self, scope: Scope, period: Period) -> SessionSummary:
        rows = await self._repo.session_totals(scope, period.start, period.end, by="hour")
        revenue_rows = await self._repo.revenue_totals(scope, period.start, period.end)
        return _summary(rows, revenue_rows)

    async def revenue(self, scope: Scope, period: Period, grain: Grain) -> builtins.list[RevenueBucket]:
        rows = await self._repo.revenue_totals(scope, period.start, period.end)
        acc: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            key = (rules.bucket_of(row.hour, period.zone, grain), row.currency)
            a = acc.setdefault(key, [0, 0, 0])
            a[0] += row.sessions
            a[1] += row.excl_minor
            a[2] += row.incl_minor
        order = {b: n for n, b in enumerate(rules.all_buckets(period.start, period.end, period.zone, grain))}
        return [
            RevenueBucket(b, cur, a[0], from_minor(a[1], cur), from_minor(a[2], cur))
            for (b, cur), a in sorted(acc.items(), key=lambda kv: (order.get(kv[0][0], 10**9), kv[0][1]))
        ]

    async def faults(self, scope: Scope, period: Period) -> builtins.list[FaultTotals]:
        rows = await self._repo.fault_totals(scope, period.start, period.end)
        return sorted(rows, key=lambda r: (-r.faults, r.error_code, r.vendor_error_code, r.model))

    async def top_tokens(self, scope: Scope, period: Period, limit: int = 10) -> builtins.list[TokenTotals]:
        if not 1 <= limit <= 1000:
            raise ServiceError("limit must be between 1 and 1000", 422)
        return await self._repo.token_totals(scope, period.start, period.end, limit)

    # -- the monthly site report ------------------------------------------------------------

    def month_period(self, month: str, zone_name: str) -> Period:
        try:
            year_text, month_text = month.split("-")
            year, number = int(year_text), int(month_text)
            if len(year_text) != 4 or not 1 <= number <= 12:
                raise ValueError(month)
        except ValueError:
            raise ServiceError(f"month {month!r} is not YYYY-MM (e.g. 2026-10)", 422) from None
        zone = time_zone(zone_name)
        start, end = rules.month_period(year, number, zone)
        return Period(rules.floor_hour(start), rules.floor_hour(end), zone, zone_name)

    async def site_report(self, site_id: str, month: str, zone_name: str | None = None) -> SiteReport:
        period = self.month_period(month, zone_name or self.policy.report_time_zone)
        scope = await self.scope(site_id=site_id)
        site = await self._sites.get(SiteId(site_id))
        assert site is not None
        uptime_total, connectors = await self.uptime(scope, period)
        stations = []
        for station_id in scope.station_ids or ():
            one = Scope("station", (station_id,), label=station_id)
            figures = [c for c in connectors if c.station_id == station_id]
            station_uptime = _combine(station_id, figures)
            stations.append((station_id, await self.summary(one, period), station_uptime))
        return SiteReport(
            site=site,
            month=month,
            period=period,
            summary=await self.summary(scope, period),
            utilisation=await self.utilisation(scope, period, Grain.DAY),
            uptime=uptime_total,
            stations=stations,
            daily=await self.sessions(scope, period, Grain.DAY),
            revenue=await self.revenue(scope, period, Grain.MONTH),
            faults=(await self.faults(scope, period))[:10],
            tokens=await self.top_tokens(scope, period, 10),
        )

    async def site_report_pdf(self, site_id: str, month: str, language: str, zone_name: str | None = None) -> bytes:
        if self._renderer is None:
            raise ServiceError("site reports are not enabled on this server", 503)
        if language not in ("en", "bg"):
            raise ServiceError(f"language {language!r} is not offered: use en or bg", 422)
        report = await self.site_report(site_id, month, zone_name)
        return await asyncio.to_thread(self._renderer.render, report, language)

    async def mail_monthly_reports(self) -> int:
        """Mail last month's report of every site to the operator, once per site and month."""
        if not self.policy.report_recipients or self._mailer is None:
            return 0
        zone = time_zone(self.policy.report_time_zone)
        local_now = self._clock.now().astimezone(zone)
        previous = (local_now.replace(day=1) - timedelta(days=1)).date()
        month = f"{previous.year:04d}-{previous.month:02d}"
        sent = 0
        for site in await self._sites.list():
            if await self._repo.report_sent(str(site.id), month):
                continue
            report = await self.site_report(str(site.id), month)
            subject, body = report_mail(report, self.policy.public_base_url)
            for to in self.policy.report_recipients:
                await self._mailer.send(to, subject, body)
            await self._repo.mark_report_sent(str(site.id), month, self._clock.now())
            sent += 1
        return sent


def _combine(station_id: str, figures: Sequence[ConnectorUptime]) -> ConnectorUptime:
    total = sum(f.uptime.total for f in figures)
    outage = sum(f.uptime.outage for f in figures)
    excluded: dict[str, int] = {}
    for f in figures:
        for cause, value in f.uptime.excluded.items():
            excluded[cause] = excluded.get(cause, 0) + value
    return ConnectorUptime(station_id, None, None, rules.Uptime(total, outage, excluded))


def _use(totals: dict[StatusClass, int]) -> tuple[Decimal | None, Decimal | None]:
    counted = sum(v for k, v in totals.items() if k is not StatusClass.UNKNOWN)
    if counted == 0:
        return None, None
    busy = totals[StatusClass.OCCUPIED] + totals[StatusClass.CHARGING]
    return (
        rules.percent(Fraction(busy, counted) * 100),
        rules.percent(Fraction(totals[StatusClass.CHARGING], counted) * 100),
    )


def _summary(rows: Sequence[SessionTotals], revenue_rows: Sequence[RevenueTotals]) -> SessionSummary:
    sessions = sum(r.sessions for r in rows)
    successful = sum(r.successful for r in rows)
    energy = sum(r.energy_mwh for r in rows)
    duration = sum(r.duration_us for r in rows)
    charging = sum(r.charging_us for r in rows)
    money: dict[str, list[int]] = {}
    for r in revenue_rows:
        acc = money.setdefault(r.currency, [0, 0])
        acc[0] += r.incl_minor
        acc[1] += r.sessions
    return SessionSummary(
        sessions=sessions,
        successful=successful,
        success_percent=rules.percent(Fraction(successful, sessions) * 100) if sessions else None,
        energy_wh=wh_of(energy),
        average_energy_wh=wh_of(round(Fraction(energy, sessions))) if sessions else None,
        average_duration_s=_seconds(Fraction(duration, sessions)) if sessions else None,
        average_charging_s=_seconds(Fraction(charging, sessions)) if sessions else None,
        revenue={cur: from_minor(a[0], cur) for cur, a in sorted(money.items())},
        average_revenue={
            cur: (from_minor(a[0], cur) / a[1]).quantize(from_minor(1, cur), rounding=ROUND_HALF_EVEN)
            for cur, a in sorted(money.items())
            if a[1]
        },
    )


def time_zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServiceError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Sofia or UTC", 422
        ) from None


def report_mail(report: SiteReport, base_url: str) -> tuple[str, str]:
    """The monthly report as a text mail: the figures, and where to download the PDF."""
    s = report.summary
    u = report.uptime
    lines = [
        f"Monthly report for site {report.site.name} ({report.site.id}), {report.month}"
        f" ({report.period.zone_name})",
        "",
        f"Sessions: {s.sessions} ({s.successful} successful"
        + (f", {s.success_percent} %" if s.success_percent is not None else "")
        + ")",
        f"Energy: {(s.energy_wh / 1000).quantize(Decimal('0.001'))} kWh",
    ]
    for currency, amount in s.revenue.items():
        lines.append(f"Revenue: {amount} {currency} incl. VAT")
    if report.utilisation.occupied_percent is not None:
        lines.append(
            f"Utilisation: {report.utilisation.occupied_percent} % occupied,"
            f" {report.utilisation.charging_percent} % charging"
        )
    if u.uptime_percent is not None:
        lines.append(f"Uptime (NEVI 23 CFR 680.116): {u.uptime_percent} %")
    for station_id, summary, station_uptime in report.stations:
        lines.append(
            f"  {station_id}: {summary.sessions} sessions,"
            f" {(summary.energy_wh / 1000).quantize(Decimal('0.001'))} kWh,"
            f" uptime {station_uptime.uptime_percent if station_uptime.uptime_percent is not None else '-'} %"
        )
    if report.faults:
        lines.append("Faults: " + ", ".join(f"{f.error_code} x{f.faults}" for f in report.faults))
    if base_url:
        lines += [
            "",
            "PDF: "
            f"{base_url.rstrip('/')}/api/v1/analytics/sites/{report.site.id}/monthly-report.pdf"
            f"?month={report.month}&lang=en (an API key with read access is needed)",
        ]
    subject = f"evcms monthly report {report.month}: {report.site.name}"
    return subject, "\n".join(lines) + "\n"


__all__ = [
    "EVENT_TYPES",
    "Analytics",
    "AnalyticsPolicy",
    "AnalyticsRepository",
    "ChargeLookup",
    "Period",
    "Scope",
]
