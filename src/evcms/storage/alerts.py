"""Alerts, their comments and the operator's rule changes: SQL repository and its twin.

Tables ``alerts`` (``open_key`` is the alert's key while it is open and NULL afterwards: the
unique index keeps one open alert per key, even across nodes), ``alert_comments`` and
``alert_rules``. Both classes implement ``services.alerts.AlertRepository``.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.alerts import (
    Alert,
    AlertComment,
    AlertKey,
    AlertKind,
    AlertRule,
    AlertStatus,
    Severity,
)
from evcms.domain.ids import StationId
from evcms.services.alerts import AlertFilter
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage._sql import SqlRepository, upsert, utc, utc_or_none
from evcms.storage.tables import alert_comments, alert_rules, alerts

MAX_LIST = 1000


def _values(alert: Alert) -> dict[str, Any]:
    key = alert.key
    return {
        "kind": key.kind.value,
        "station_id": key.station_id,
        "evse_id": key.evse_id,
        "connector_id": key.connector_id,
        "subject": key.subject,
        "open_key": key.text() if alert.is_open else None,
        "severity": Severity(alert.severity).value,
        "status": AlertStatus(alert.status).value,
        "summary": alert.summary[:1000],
        "details": json.dumps(dict(alert.details), sort_keys=True),
        "opened_at": utc(alert.opened_at),
        "last_seen_at": utc(alert.last_seen_at),
        "count": alert.count,
        "resolved_at": utc_or_none(alert.resolved_at),
        "resolution": None if alert.resolution is None else alert.resolution[:1000],
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": utc_or_none(alert.acknowledged_at),
    }


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        key=AlertKey(
            AlertKind(row.kind), StationId(row.station_id), row.evse_id, row.connector_id, row.subject
        ),
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        summary=row.summary,
        opened_at=row.opened_at,
        last_seen_at=row.last_seen_at,
        count=row._mapping["count"],
        details=json.loads(row.details),
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
    )


def _stored(alert: Alert, alert_id: int) -> Alert:
    """What a round trip through the database gives back."""
    return replace(
        alert,
        id=alert_id,
        severity=Severity(alert.severity),
        status=AlertStatus(alert.status),
        summary=alert.summary[:1000],
        details=dict(alert.details),
        opened_at=utc(alert.opened_at),
        last_seen_at=utc(alert.last_seen_at),
        resolved_at=utc_or_none(alert.resolved_at),
        acknowledged_at=utc_or_none(alert.acknowledged_at),
    )


def _wanted(alert: Alert, f: AlertFilter) -> bool:
    return (
        (f.status is None or alert.status is f.status)
        and (f.station_id is None or alert.station_id == f.station_id)
        and (f.kind is None or alert.kind is f.kind)
        and (f.severity is None or alert.severity is f.severity)
        and (f.acknowledged is None or alert.acknowledged == f.acknowledged)
        and (f.opened_from is None or alert.opened_at >= f.opened_from)
        and (f.opened_until is None or alert.opened_at < f.opened_until)
    )


def _rule_values(rule: AlertRule, at: datetime, by: str) -> dict[str, Any]:
    return {
        "kind": rule.kind.value,
        "enabled": rule.enabled,
        "severity": Severity(rule.severity).value,
        "thresholds": json.dumps(dict(rule.thresholds), sort_keys=True),
        "updated_at": utc(at),
        "updated_by": by[:200],
    }


def _rule(row: Row[Any]) -> AlertRule | None:
    try:
        kind = AlertKind(row.kind)
    except ValueError:  # a kind this version no longer has
        return None
    return AlertRule(kind, bool(row.enabled), Severity(row.severity), json.loads(row.thresholds))


# -- SQL --------------------------------------------------------------------------------------


class SqlAlertRepository(SqlRepository):
    async def add(self, alert: Alert) -> Alert:
        values = _values(alert)

        async def op(conn: AsyncConnection) -> int:
            taken = select(alerts.c.id).where(alerts.c.open_key == values["open_key"])
            if values["open_key"] is not None and (await conn.scalar(taken)) is not None:
                raise AlreadyExists(f"an alert is open for {values['open_key']}")
            result = await conn.execute(insert(alerts).values(values).returning(alerts.c.id))
            return int(result.scalar_one())

        try:
            alert_id = await self._writer.submit(op)
        except IntegrityError as exc:  # opened by another node meanwhile
            raise AlreadyExists(f"an alert is open for {alert.key.text()}") from exc
        return _stored(alert, alert_id)

    async def save(self, alert: Alert) -> None:
        values = _values(alert)
        statement = update(alerts).where(alerts.c.id == alert.id).values(values)

        async def op(conn: AsyncConnection) -> int:
            return int((await conn.execute(statement)).rowcount)

        if await self._writer.submit(op) != 1:
            raise NotFound(f"no alert {alert.id}")

    async def get(self, alert_id: int) -> Alert | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        return None if row is None else _alert(row)

    async def open_alerts(self) -> builtins.list[Alert]:
        query = select(alerts).where(alerts.c.open_key.is_not(None)).order_by(alerts.c.id)
        async with self._engine.connect() as conn:
            return [_alert(row) for row in await conn.execute(query)]

    async def list(
        self, filter: AlertFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Alert]:
        a = alerts.c
        query = select(alerts)
        if filter.status is not None:
            query = query.where(a.status == filter.status.value)
        if filter.station_id is not None:
            query = query.where(a.station_id == filter.station_id)
        if filter.kind is not None:
            query = query.where(a.kind == filter.kind.value)
        if filter.severity is not None:
            query = query.where(a.severity == filter.severity.value)
        if filter.acknowledged is True:
            query = query.where(a.acknowledged_at.is_not(None))
        elif filter.acknowledged is False:
            query = query.where(a.acknowledged_at.is_(None))
        if filter.opened_from is not None:
            query = query.where(a.opened_at >= utc(filter.opened_from))
        if filter.opened_until is not None:
            query = query.where(a.opened_at < utc(filter.opened_until))
        if before_id is not None:
            query = query.where(a.id < before_id)
        query = query.order_by(a.id.desc()).limit(min(limit, MAX_LIST))
        async with self._engine.connect() as conn:
            return [_alert(row) for row in await conn.execute(query)]

    async def add_comment(self, alert_id: int, author: str, text: str, at: datetime) -> AlertComment:
        values = {"alert_id": alert_id, "author": author[:200], "text": text, "at": utc(at)}

        async def op(conn: AsyncConnection) -> int:
            if (await conn.scalar(select(alerts.c.id).where(alerts.c.id == alert_id))) is None:
                raise NotFound(f"no alert {alert_id}")
            result = await conn.execute(
                insert(alert_comments).values(values).returning(alert_comments.c.id)
            )
            return int(result.scalar_one())

        comment_id = await self._writer.submit(op)
        return AlertComment(comment_id, alert_id, author[:200], text, utc(at))

    async def comments(self, alert_id: int) -> builtins.list[AlertComment]:
        c = alert_comments.c
        query = select(alert_comments).where(c.alert_id == alert_id).order_by(c.id)
        async with self._engine.connect() as conn:
            return [
                AlertComment(row.id, row.alert_id, row.author, row.text, row.at)
                for row in await conn.execute(query)
            ]

    async def rules(self) -> builtins.list[AlertRule]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(alert_rules).order_by(alert_rules.c.kind))
            return [rule for row in rows if (rule := _rule(row)) is not None]

    async def save_rule(self, rule: AlertRule, at: datetime, by: str) -> None:
        statement = upsert(self._dialect, alert_rules, ["kind"])
        await self._writer.execute(statement, _rule_values(rule, at, by))


# -- memory -----------------------------------------------------------------------------------


class MemoryAlertRepository:
    """Twin of :class:`SqlAlertRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.alerts: dict[int, Alert] = {}
        self.comment_rows: list[AlertComment] = []
        self.rule_rows: dict[AlertKind, AlertRule] = {}

    async def add(self, alert: Alert) -> Alert:
        if alert.is_open and any(a.is_open and a.key == alert.key for a in self.alerts.values()):
            raise AlreadyExists(f"an alert is open for {alert.key.text()}")
        stored = _stored(alert, max(self.alerts, default=0) + 1)
        self.alerts[stored.id] = stored
        return stored

    async def save(self, alert: Alert) -> None:
        if alert.id not in self.alerts:
            raise NotFound(f"no alert {alert.id}")
        self.alerts[alert.id] = _stored(alert, alert.id)

    async def get(self, alert_id: int) -> Alert | None:
        return self.alerts.get(alert_id)

    async def open_alerts(self) -> builtins.list[Alert]:
        return [a for _, a in sorted(self.alerts.items()) if a.is_open]

    async def list(
        self, filter: AlertFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Alert]:
        found = [
            a
            for a in self.alerts.values()
            if _wanted(a, filter) and (before_id is None or a.id < before_id)
        ]
        found.sort(key=lambda a: a.id, reverse=True)
        return found[: min(limit, MAX_LIST)]

    async def add_comment(self, alert_id: int, author: str, text: str, at: datetime) -> AlertComment:
        if alert_id not in self.alerts:
            raise NotFound(f"no alert {alert_id}")
        comment = AlertComment(len(self.comment_rows) + 1, alert_id, author[:200], text, utc(at))
        self.comment_rows.append(comment)
        return comment

    async def comments(self, alert_id: int) -> builtins.list[AlertComment]:
        return [c for c in self.comment_rows if c.alert_id == alert_id]

    async def rules(self) -> builtins.list[AlertRule]:
        return [self.rule_rows[k] for k in sorted(self.rule_rows)]

    async def save_rule(self, rule: AlertRule, at: datetime, by: str) -> None:
        self.rule_rows[rule.kind] = replace(rule, thresholds=dict(rule.thresholds))
