"""/api/v1/alerts (history, acknowledge, comment), /api/v1/stations/{id}/alerts and
/api/v1/alert-rules (the rules an operator tunes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from evcms.domain.alerts import AlertKind, AlertStatus, InvalidRule, Severity, changed_rule
from evcms.domain.ids import StationId
from evcms.services.alerts import AlertFilter, Alerts
from evcms.web.alert_schemas import (
    AcknowledgeIn,
    AlertDetailOut,
    AlertOut,
    AlertPage,
    CommentIn,
    CommentOut,
    RuleChange,
    RuleOut,
    RulesIn,
    RulesOut,
)
from evcms.web.auth import NetworkManager, Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(tags=["alerts"])

_NO_ALERT: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such alert"}}


def alerts_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Alerts:
    if deps.alerts is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "alerts are not enabled on this server")
    return deps.alerts


AlertsService = Annotated[Alerts, Depends(alerts_service)]


class _Filters:
    def __init__(
        self,
        alert_status: Annotated[
            AlertStatus | None, Query(alias="status", description="open or resolved")
        ] = None,
        kind: Annotated[AlertKind | None, Query(description="Only alerts of this rule")] = None,
        severity: Annotated[Severity | None, Query(description="info, warning or critical")] = None,
        acknowledged: Annotated[bool | None, Query(description="Only (un)acknowledged ones")] = None,
        opened_from: Annotated[
            datetime | None, Query(alias="from", description="Opened at or after (ISO 8601 with zone)")
        ] = None,
        opened_until: Annotated[
            datetime | None, Query(alias="until", description="Opened before (ISO 8601 with zone)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Alerts per page")] = 100,
        before_id: Annotated[int | None, Query(ge=1, description="Only alerts older than this id")] = None,
    ) -> None:
        for name, value in (("from", opened_from), ("until", opened_until)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    f"query field {name!r}: give a time zone, e.g. 2026-03-01T12:00:00Z",
                )
        self.status = alert_status
        self.kind = kind
        self.severity = severity
        self.acknowledged = acknowledged
        self.opened_from = opened_from
        self.opened_until = opened_until
        self.limit = limit
        self.before_id = before_id

    def filter(self, station_id: StationId | None) -> AlertFilter:
        return AlertFilter(
            status=self.status,
            station_id=station_id,
            kind=self.kind,
            severity=self.severity,
            acknowledged=self.acknowledged,
            opened_from=self.opened_from,
            opened_until=self.opened_until,
        )


Filters = Annotated[_Filters, Depends()]


async def _page(service: Alerts, filters: _Filters, station_id: StationId | None) -> AlertPage:
    found = await service.list(filters.filter(station_id), limit=filters.limit, before_id=filters.before_id)
    return AlertPage(
        alerts=[AlertOut.of(a) for a in found],
        next_before_id=found[-1].id if len(found) == filters.limit else None,
    )


@router.get("/alerts")
async def list_alerts(
    service: AlertsService,
    filters: Filters,
    _: Reader,
    station_id: Annotated[str | None, Query(description="Only this station's")] = None,
) -> AlertPage:
    """Alerts, newest first, open and resolved (the history), a page at a time."""
    return await _page(service, filters, StationId(station_id) if station_id else None)


@router.get("/stations/{station_id}/alerts")
async def list_station_alerts(
    station_id: str, service: AlertsService, filters: Filters, _: Reader
) -> AlertPage:
    """One station's alerts, newest first."""
    return await _page(service, filters, StationId(station_id))


async def _detail(service: Alerts, alert_id: int) -> AlertDetailOut:
    alert = await service.get(alert_id)
    comments = await service.comments(alert_id)
    return AlertDetailOut(
        **AlertOut.of(alert).model_dump(), comments=[CommentOut.of(c) for c in comments]
    )


@router.get("/alerts/{alert_id}", responses=_NO_ALERT)
async def get_alert(alert_id: int, service: AlertsService, _: Reader) -> AlertDetailOut:
    """One alert with its comments."""
    return await _detail(service, alert_id)


@router.post("/alerts/{alert_id}/acknowledge", responses=_NO_ALERT)
async def acknowledge_alert(
    alert_id: int,
    service: AlertsService,
    key: StationOperator,
    body: AcknowledgeIn | None = None,
) -> AlertDetailOut:
    """Acknowledge an alert (who and when are kept; again: no change). A security-event
    alert, which has no "cleared" signal, resolves when acknowledged."""
    await service.acknowledge(alert_id, key.name, body.comment if body is not None else None)
    return await _detail(service, alert_id)


@router.post(
    "/alerts/{alert_id}/comments", status_code=status.HTTP_201_CREATED, responses=_NO_ALERT
)
async def comment_alert(
    alert_id: int, body: CommentIn, service: AlertsService, key: StationOperator
) -> CommentOut:
    return CommentOut.of(await service.comment(alert_id, key.name, body.text))


# -- rules ------------------------------------------------------------------------------------


@router.get("/alert-rules")
async def list_alert_rules(service: AlertsService, _: Reader) -> RulesOut:
    """Every rule: enabled, severity, thresholds (with the defaults where not changed)."""
    return RulesOut(rules=[RuleOut.of(r) for r in service.rules()])


@router.put("/alert-rules")
async def change_alert_rules(body: RulesIn, service: AlertsService, key: NetworkManager) -> RulesOut:
    """Change several rules at once; what a rule leaves out stays. All are checked first."""
    kinds = [r.kind for r in body.rules]
    if len(set(kinds)) != len(kinds):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "each rule kind may appear once")
    current = {r.kind: r for r in service.rules()}
    for change in body.rules:  # validate all before changing any
        try:
            changed_rule(current[change.kind], thresholds=change.thresholds)
        except InvalidRule as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    for change in body.rules:
        await service.change_rule(
            change.kind,
            by=key.name,
            enabled=change.enabled,
            severity=change.severity,
            thresholds=change.thresholds,
        )
    return RulesOut(rules=[RuleOut.of(r) for r in service.rules()])


@router.put("/alert-rules/{kind}")
async def change_alert_rule(
    kind: AlertKind, body: RuleChange, service: AlertsService, key: NetworkManager
) -> RuleOut:
    """Change one rule; what is left out stays."""
    rule = await service.change_rule(
        kind, by=key.name, enabled=body.enabled, severity=body.severity, thresholds=body.thresholds
    )
    return RuleOut.of(rule)
