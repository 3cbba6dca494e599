"""JSON shapes of the analytics API (decimals as text: exact, no float)."""

from __future__ import annotations

from pydantic import BaseModel


class PeriodOut(BaseModel):
    scope: str
    start: str  # UTC, ISO 8601
    end: str
    time_zone: str


class UtilisationBucketOut(BaseModel):
    bucket: str
    occupied_percent: str | None
    charging_percent: str | None


class UtilisationOut(BaseModel):
    period: PeriodOut
    occupied_percent: str | None  # occupied or charging, of the counted time
    charging_percent: str | None
    seconds_by_class: dict[str, str]
    percent_by_class: dict[str, str]  # of all time accounted; sums to 100
    buckets: list[UtilisationBucketOut]


class UptimeOut(BaseModel):
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    uptime_percent: str | None  # 23 CFR 680.116(b): (T - (T_outage - T_excluded)) / T * 100
    availability_percent: str | None  # (T - T_outage) / T * 100, no exclusions
    total_minutes: str
    outage_minutes: str
    excluded_minutes: str
    excluded_minutes_by_cause: dict[str, str]


class UptimeReportOut(BaseModel):
    period: PeriodOut
    formula: str
    undetectable_excluded_causes: list[str]
    total: UptimeOut
    connectors: list[UptimeOut]


class SessionBucketOut(BaseModel):
    bucket: str
    sessions: int
    successful: int
    energy_kwh: str
    duration_hours: str
    charging_hours: str


class SessionsOut(BaseModel):
    period: PeriodOut
    grain: str
    buckets: list[SessionBucketOut]


class SummaryOut(BaseModel):
    period: PeriodOut
    success_rule: str
    sessions: int
    successful: int
    success_percent: str | None
    energy_kwh: str
    average_energy_kwh: str | None
    average_duration_minutes: str | None
    average_charging_minutes: str | None
    revenue_incl_vat: dict[str, str]
    average_revenue_incl_vat: dict[str, str]


class RevenueBucketOut(BaseModel):
    bucket: str
    currency: str
    sessions: int
    excl_vat: str
    incl_vat: str


class RevenueOut(BaseModel):
    period: PeriodOut
    grain: str
    buckets: list[RevenueBucketOut]


class FaultOut(BaseModel):
    error_code: str
    vendor_error_code: str
    model: str
    faults: int


class FaultsOut(BaseModel):
    period: PeriodOut
    by_code_and_model: list[FaultOut]
    by_code: dict[str, int]
    by_model: dict[str, int]


class TokenOut(BaseModel):
    id_token: str
    sessions: int
    energy_kwh: str


class TopTokensOut(BaseModel):
    period: PeriodOut
    tokens: list[TokenOut]
