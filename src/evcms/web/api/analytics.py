"""Analytics: /api/v1/analytics/... (Reader). Every endpoint takes a scope (``site``, or
``station`` with optional ``evse`` and ``connector``; none: the network), a period ``from`` /
``to`` (dates are local midnights, [from, to)), a time zone ``tz`` (IANA), and answers JSON or,
with ``format=csv``, CSV with a header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from evcms.domain import analytics as rules
from evcms.domain.analytics import Grain
from evcms.services.analytics import Analytics, ConnectorUptime, Period, Scope
from evcms.web.analytics_schemas import (
    FaultOut,
    FaultsOut,
    PeriodOut,
    RevenueBucketOut,
    RevenueOut,
    SessionBucketOut,
    SessionsOut,
    SummaryOut,
    TokenOut,
    TopTokensOut,
    UptimeOut,
    UptimeReportOut,
    UtilisationBucketOut,
    UtilisationOut,
)
from evcms.web.auth import Reader
from evcms.web.deps import WebDeps, web_deps

router = APIRouter(prefix="/analytics", tags=["analytics"])

_FORMULA = "uptime = (T - (T_outage - T_excluded)) / T * 100 (23 CFR 680.116(b)); T: counted minutes"
_SUCCESS_RULE = (
    "a session succeeded when it delivered energy (> 0 Wh) and was not ended by a fault or a reset"
    f" ({', '.join(sorted(rules.FAULT_STOP_REASONS))})"
)
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}, "application/json": {}}}}


def analytics_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Analytics:
    service: Analytics | None = getattr(deps, "analytics", None)
    if service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "analytics is not enabled on this server")
    return service


AnalyticsService = Annotated[Analytics, Depends(analytics_service)]


def _moment(name: str, text: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            422, f"{name!r} is not a date (YYYY-MM-DD) or an ISO 8601 time: {text!r}"
        ) from None


class Query_:
    """The common parameters: scope, period, time zone, format."""

    def __init__(
        self,
        start: Annotated[str, Query(alias="from", description="YYYY-MM-DD (local midnight) or ISO 8601")],
        end: Annotated[str, Query(alias="to", description="exclusive; YYYY-MM-DD or ISO 8601")],
        tz: Annotated[str, Query(description="IANA time zone of the buckets and dates")] = "UTC",
        site: str | None = None,
        station: str | None = None,
        evse: int | None = None,
        connector: int | None = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> None:
        self.start, self.end = _moment("from", start), _moment("to", end)
        self.tz, self.site, self.station = tz, site, station
        self.evse, self.connector, self.format = evse, connector, format

    async def resolve(self, analytics: Analytics) -> tuple[Scope, Period]:
        scope = await analytics.scope(
            site_id=self.site, station_id=self.station, evse_id=self.evse, connector_id=self.connector
        )
        return scope, analytics.period(self.start, self.end, self.tz)


Params = Annotated[Query_, Depends()]


def _period(scope: Scope, period: Period) -> PeriodOut:
    return PeriodOut(
        scope=scope.label, start=period.start.isoformat(), end=period.end.isoformat(), time_zone=period.zone_name
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _ratio(us: int | Decimal, unit_us: int, places: str = "0.001") -> str:
    return str((Decimal(us) / unit_us).quantize(Decimal(places)))


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/utilisation", response_model=UtilisationOut, responses=_CSV)
async def utilisation(q: Params, analytics: AnalyticsService, _: Reader, grain: Grain = Grain.DAY) -> Any:
    scope, period = await q.resolve(analytics)
    found = await analytics.utilisation(scope, period, grain)
    if q.format == "csv":
        rows = [(b, _text(o), _text(c)) for b, o, c in found.buckets]
        return _csv(("bucket", "occupied_percent", "charging_percent"), rows, "utilisation")
    return UtilisationOut(
        period=_period(scope, period),
        occupied_percent=_text(found.occupied_percent),
        charging_percent=_text(found.charging_percent),
        seconds_by_class={c.value: _ratio(v, rules.MICROS_PER_SECOND) for c, v in found.totals_us.items()},
        percent_by_class={c.value: str(v) for c, v in found.class_percent.items()},
        buckets=[UtilisationBucketOut(bucket=b, occupied_percent=_text(o), charging_percent=_text(c)) for b, o, c in found.buckets],
    )


def _uptime(u: ConnectorUptime) -> UptimeOut:
    minute = rules.MICROS_PER_MINUTE
    return UptimeOut(
        station_id=u.station_id,
        evse_id=u.evse_id,
        connector_id=u.connector_id,
        uptime_percent=_text(u.uptime_percent),
        availability_percent=_text(u.availability_percent),
        total_minutes=_ratio(u.uptime.total, minute),
        outage_minutes=_ratio(u.uptime.outage, minute),
        excluded_minutes=_ratio(u.uptime.excluded_total, minute),
        excluded_minutes_by_cause={k: _ratio(v, minute) for k, v in u.uptime.excluded.items()},
    )


@router.get("/uptime", response_model=UptimeReportOut, responses=_CSV)
async def uptime(q: Params, analytics: AnalyticsService, _: Reader) -> Any:
    scope, period = await q.resolve(analytics)
    total, connectors = await analytics.uptime(scope, period)
    out = [_uptime(c) for c in connectors]
    if q.format == "csv":
        header = (
            "station_id", "evse_id", "connector_id", "uptime_percent", "availability_percent",
            "total_minutes", "outage_minutes", "excluded_minutes",
        )
        rows = [
            (u.station_id, u.evse_id, u.connector_id, u.uptime_percent, u.availability_percent,
             u.total_minutes, u.outage_minutes, u.excluded_minutes)
            for u in out
        ]
        return _csv(header, rows, "uptime")
    return UptimeReportOut(
        period=_period(scope, period),
        formula=_FORMULA,
        undetectable_excluded_causes=list(rules.UNDETECTABLE_EXCLUDED_CAUSES),
        total=_uptime(total),
        connectors=out,
    )


@router.get("/sessions", response_model=SessionsOut, responses=_CSV)
async def sessions(q: Params, analytics: AnalyticsService, _: Reader, grain: Grain = Grain.DAY) -> Any:
    """Sessions and energy per bucket, by the local time the sessions started."""
    scope, period = await q.resolve(analytics)
    buckets = [
        SessionBucketOut(
            bucket=b.bucket,
            sessions=b.sessions,
            successful=b.successful,
            energy_kwh=str((b.energy_wh / 1000).quantize(Decimal("0.001"))),
            duration_hours=_ratio(b.duration_us, 3600 * rules.MICROS_PER_SECOND, "0.0001"),
            charging_hours=_ratio(b.charging_us, 3600 * rules.MICROS_PER_SECOND, "0.0001"),
        )
        for b in await analytics.sessions(scope, period, grain)
    ]
    if q.format == "csv":
        header = ("bucket", "sessions", "successful", "energy_kwh", "duration_hours", "charging_hours")
        return _csv(header, [tuple(b.model_dump().values()) for b in buckets], "sessions")
    return SessionsOut(period=_period(scope, period), grain=grain.value, buckets=buckets)


@router.get("/summary", response_model=SummaryOut, responses=_CSV)
async def summary(q: Params, analytics: AnalyticsService, _: Reader) -> Any:
    """Session success rate and the average session (energy, duration, revenue)."""
    scope, period = await q.resolve(analytics)
    s = await analytics.summary(scope, period)

    def minutes(seconds: Decimal | None) -> str | None:
        return None if seconds is None else str((seconds / 60).quantize(Decimal("0.01")))

    def kwh(wh: Decimal | None) -> str | None:
        return None if wh is None else str((wh / 1000).quantize(Decimal("0.001")))

    out = SummaryOut(
        period=_period(scope, period),
        success_rule=_SUCCESS_RULE,
        sessions=s.sessions,
        successful=s.successful,
        success_percent=_text(s.success_percent),
        energy_kwh=kwh(s.energy_wh) or "0.000",
        average_energy_kwh=kwh(s.average_energy_wh),
        average_duration_minutes=minutes(s.average_duration_s),
        average_charging_minutes=minutes(s.average_charging_s),
        revenue_incl_vat={k: str(v) for k, v in s.revenue.items()},
        average_revenue_incl_vat={k: str(v) for k, v in s.average_revenue.items()},
    )
    if q.format == "csv":
        header = (
            "sessions", "successful", "success_percent", "energy_kwh", "average_energy_kwh",
            "average_duration_minutes", "average_charging_minutes",
        )
        row = (
            out.sessions, out.successful, out.success_percent, out.energy_kwh,
            out.average_energy_kwh, out.average_duration_minutes, out.average_charging_minutes,
        )
        return _csv(header, [row], "summary")
    return out


@router.get("/revenue", response_model=RevenueOut, responses=_CSV)
async def revenue(q: Params, analytics: AnalyticsService, _: Reader, grain: Grain = Grain.DAY) -> Any:
    """Revenue of settled sessions per currency, by the local time the sessions started."""
    scope, period = await q.resolve(analytics)
    buckets = [
        RevenueBucketOut(bucket=r.bucket, currency=r.currency, sessions=r.sessions, excl_vat=str(r.excl_vat), incl_vat=str(r.incl_vat))
        for r in await analytics.revenue(scope, period, grain)
    ]
    if q.format == "csv":
        header = ("bucket", "currency", "sessions", "excl_vat", "incl_vat")
        return _csv(header, [tuple(b.model_dump().values()) for b in buckets], "revenue")
    return RevenueOut(period=_period(scope, period), grain=grain.value, buckets=buckets)


@router.get("/faults", response_model=FaultsOut, responses=_CSV)
async def faults(q: Params, analytics: AnalyticsService, _: Reader) -> Any:
    scope, period = await q.resolve(analytics)
    found = await analytics.faults(scope, period)
    rows = [FaultOut(error_code=f.error_code, vendor_error_code=f.vendor_error_code, model=f.model, faults=f.faults) for f in found]
    if q.format == "csv":
        header = ("error_code", "vendor_error_code", "model", "faults")
        return _csv(header, [tuple(r.model_dump().values()) for r in rows], "faults")
    by_code: dict[str, int] = {}
    by_model: dict[str, int] = {}
    for f in found:
        by_code[f.error_code] = by_code.get(f.error_code, 0) + f.faults
        by_model[f.model] = by_model.get(f.model, 0) + f.faults
    return FaultsOut(period=_period(scope, period), by_code_and_model=rows, by_code=by_code, by_model=by_model)


@router.get("/top-tokens", response_model=TopTokensOut, responses=_CSV)
async def top_tokens(
    q: Params, analytics: AnalyticsService, _: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 10
) -> Any:
    """The identification tokens that took the most energy (sessions started in the period)."""
    scope, period = await q.resolve(analytics)
    tokens = [
        TokenOut(id_token=x.id_token, sessions=x.sessions, energy_kwh=_ratio(x.energy_mwh, 1_000_000))
        for x in await analytics.top_tokens(scope, period, limit)
    ]
    if q.format == "csv":
        return _csv(("id_token", "sessions", "energy_kwh"), [tuple(x.model_dump().values()) for x in tokens], "top-tokens")
    return TopTokensOut(period=_period(scope, period), tokens=tokens)


@router.get(
    "/sites/{site_id}/monthly-report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The report as a PDF"}},
)
async def monthly_report(
    site_id: str,
    analytics: AnalyticsService,
    _: Reader,
    month: Annotated[str, Query(description="YYYY-MM")],
    lang: Annotated[str, Query(description="en or bg")] = "en",
    tz: str | None = None,
) -> Response:
    body = await analytics.site_report_pdf(site_id, month, lang, tz)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{site_id}-{month}.pdf"'},
    )
