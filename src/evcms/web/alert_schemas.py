"""JSON of /api/v1/alerts, /api/v1/alert-rules and /api/v1/webhooks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evcms.domain.alerts import (
    DEFAULT_THRESHOLDS,
    Alert,
    AlertComment,
    AlertKind,
    AlertRule,
    AlertStatus,
    Severity,
)
from evcms.domain.webhooks import Delivery, DeliveryAttempt, DeliveryStatus, WebhookSubscription
from evcms.web.event_schemas import utc_text


class AlertOut(BaseModel):
    id: int
    kind: AlertKind
    station_id: str
    evse_id: int | None
    connector_id: int | None
    subject: str = Field(description="What within the station/connector (e.g. a security event type)")
    severity: Severity
    status: AlertStatus
    summary: str
    details: dict[str, str]
    opened_at: str
    last_seen_at: str
    count: int = Field(description="How many times it happened while open")
    resolved_at: str | None
    resolution: str | None
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        key = alert.key
        return cls(
            id=alert.id,
            kind=key.kind,
            station_id=key.station_id,
            evse_id=key.evse_id,
            connector_id=key.connector_id,
            subject=key.subject,
            severity=alert.severity,
            status=alert.status,
            summary=alert.summary,
            details=dict(alert.details),
            opened_at=utc_text(alert.opened_at) or "",
            last_seen_at=utc_text(alert.last_seen_at) or "",
            count=alert.count,
            resolved_at=utc_text(alert.resolved_at),
            resolution=alert.resolution,
            acknowledged=alert.acknowledged,
            acknowledged_by=alert.acknowledged_by,
            acknowledged_at=utc_text(alert.acknowledged_at),
        )


class CommentOut(BaseModel):
    id: int
    author: str
    text: str
    at: str

    @classmethod
    def of(cls, comment: AlertComment) -> CommentOut:
        return cls(id=comment.id, author=comment.author, text=comment.text, at=utc_text(comment.at) or "")


class AlertDetailOut(AlertOut):
    comments: list[CommentOut]


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page")


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=4000, description="Optionally, a comment with it")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class RuleOut(BaseModel):
    kind: AlertKind
    enabled: bool
    severity: Severity
    thresholds: dict[str, int]

    @classmethod
    def of(cls, rule: AlertRule) -> RuleOut:
        thresholds = dict(DEFAULT_THRESHOLDS[rule.kind])
        thresholds.update(rule.thresholds)
        return cls(kind=rule.kind, enabled=rule.enabled, severity=rule.severity, thresholds=thresholds)


class RuleChange(BaseModel):
    """What to change of a rule; what is left out stays."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    severity: Severity | None = None
    thresholds: dict[str, int] | None = Field(
        None, description="Threshold name -> whole number >= 1 (names: see GET /alert-rules)"
    )


class RuleChangeWithKind(RuleChange):
    kind: AlertKind


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleChangeWithKind] = Field(min_length=1)


class RulesOut(BaseModel):
    rules: list[RuleOut]


# -- webhooks ---------------------------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="http:// or https:// URL the deliveries are POSTed to")
    event_types: list[str] = Field(description="Live-stream event types, e.g. alert, connector.status")
    secret: str | None = Field(
        None, description="The signing secret (>= 16 characters); left out: evcms generates one"
    )
    enabled: bool = True
    description: str = Field("", max_length=500)
    site_id: str | None = Field(None, description="Only events of this site's stations")
    station_id: str | None = Field(None, description="Only this station's events")


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    event_types: list[str] | None = None
    secret: str | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)
    site_id: str | None = None
    station_id: str | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    enabled: bool
    description: str
    site_id: str | None
    station_id: str | None
    created_at: str
    updated_at: str

    @classmethod
    def fields_of(cls, s: WebhookSubscription) -> dict[str, Any]:
        return {
            "id": s.id,
            "url": s.url,
            "event_types": sorted(s.event_types),
            "enabled": s.enabled,
            "description": s.description,
            "site_id": s.site_id,
            "station_id": s.station_id,
            "created_at": utc_text(s.created_at) or "",
            "updated_at": utc_text(s.updated_at) or "",
        }

    @classmethod
    def of(cls, s: WebhookSubscription) -> WebhookOut:
        return cls(**cls.fields_of(s))


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown only here, keep it")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class AttemptOut(BaseModel):
    number: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: DeliveryAttempt) -> AttemptOut:
        return cls(
            number=a.number,
            at=utc_text(a.at) or "",
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str = Field(description="The X-Evcms-Delivery header (the same on every retry)")
    event_type: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    last_status_code: int | None
    last_error: str | None
    body: str
    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, d: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryOut:
        return cls(
            id=d.id,
            delivery_id=d.delivery_key,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            max_attempts=d.max_attempts,
            created_at=utc_text(d.created_at) or "",
            next_attempt_at=utc_text(d.next_attempt_at),
            delivered_at=utc_text(d.delivered_at),
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            body=d.body,
            attempt_log=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_before_id: int | None

