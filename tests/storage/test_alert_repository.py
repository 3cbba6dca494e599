"""Alerts, comments and rule changes: one contract on the memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from evcms.domain.alerts import (
    Alert,
    AlertKey,
    AlertKind,
    AlertRule,
    AlertStatus,
    Severity,
)
from evcms.domain.ids import StationId
from evcms.services.alerts import AlertFilter
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage.alerts import MemoryAlertRepository, SqlAlertRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP = StationId("CP-1")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryAlertRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for found in _sql(url):
            yield found
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for found in _sql(url):
            yield found


async def _sql(url: str) -> AsyncIterator[Any]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlAlertRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def alert(key: AlertKey, at: datetime = T0, severity: Severity = Severity.WARNING) -> Alert:
    return Alert(0, key, severity, AlertStatus.OPEN, "summary", at, at, 1, {"status": "Faulted"})


FAULT = AlertKey(AlertKind.CONNECTOR_FAULTED, CP, 1, 1, "status")
OFFLINE = AlertKey(AlertKind.STATION_OFFLINE, CP)


async def test_an_alert_round_trips_and_only_one_is_open_per_key(repo: Any) -> None:
    stored = await repo.add(alert(FAULT, T0.astimezone(SOFIA)))
    assert stored.id > 0
    assert await repo.get(stored.id) == stored
    assert stored.opened_at == T0 and stored.opened_at.tzinfo is not None
    assert stored.details == {"status": "Faulted"}
    with pytest.raises(AlreadyExists):
        await repo.add(alert(FAULT))
    other = await repo.add(alert(OFFLINE))  # another key
    assert [a.id for a in await repo.open_alerts()] == [stored.id, other.id]
    resolved = replace(stored, status=AlertStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=1), resolution="ok")
    await repo.save(resolved)
    assert await repo.get(stored.id) == resolved
    assert [a.id for a in await repo.open_alerts()] == [other.id]
    again = await repo.add(alert(FAULT))  # once resolved, the key may open again
    assert again.id > other.id


async def test_saving_updates_counts_and_acknowledgement(repo: Any) -> None:
    stored = await repo.add(alert(FAULT))
    changed = replace(
        stored,
        count=3,
        last_seen_at=T0 + timedelta(seconds=30),
        severity=Severity.CRITICAL,
        acknowledged_by="ops",
        acknowledged_at=T0 + timedelta(seconds=40),
        details={"error_code": "GroundFailure"},
    )
    await repo.save(changed)
    assert await repo.get(stored.id) == changed
    with pytest.raises(NotFound):
        await repo.save(replace(stored, id=999))


async def test_history_filters_and_pages(repo: Any) -> None:
    a1 = await repo.add(alert(FAULT, T0))
    a2 = await repo.add(alert(OFFLINE, T0 + timedelta(hours=1), Severity.CRITICAL))
    a3 = await repo.add(alert(AlertKey(AlertKind.STATION_OFFLINE, StationId("CP-2")), T0 + timedelta(hours=2)))
    await repo.save(replace(a1, status=AlertStatus.RESOLVED, resolved_at=T0, acknowledged_at=T0, acknowledged_by="x"))

    async def ids(**f: Any) -> list[int]:
        return [a.id for a in await repo.list(AlertFilter(**f))]

    assert await ids() == [a3.id, a2.id, a1.id]
    assert await ids(status=AlertStatus.OPEN) == [a3.id, a2.id]
    assert await ids(status=AlertStatus.RESOLVED) == [a1.id]
    assert await ids(station_id=CP) == [a2.id, a1.id]
    assert await ids(kind=AlertKind.STATION_OFFLINE) == [a3.id, a2.id]
    assert await ids(severity=Severity.CRITICAL) == [a2.id]
    assert await ids(acknowledged=True) == [a1.id]
    assert await ids(acknowledged=False) == [a3.id, a2.id]
    assert await ids(opened_from=T0 + timedelta(hours=1)) == [a3.id, a2.id]
    assert await ids(opened_until=(T0 + timedelta(hours=1)).astimezone(SOFIA)) == [a1.id]
    page = await repo.list(AlertFilter(), limit=2)
    assert [a.id for a in page] == [a3.id, a2.id]
    assert [a.id for a in await repo.list(AlertFilter(), before_id=a2.id)] == [a1.id]


async def test_comments_in_order(repo: Any) -> None:
    stored = await repo.add(alert(FAULT))
    first = await repo.add_comment(stored.id, "ops", "looking", T0)
    second = await repo.add_comment(stored.id, "tech", "fixed the cable", T0 + timedelta(minutes=5))
    assert await repo.comments(stored.id) == [first, second]
    assert second.at == T0 + timedelta(minutes=5)
    with pytest.raises(NotFound):
        await repo.add_comment(999, "ops", "x", T0)


async def test_rule_changes_are_kept(repo: Any) -> None:
    assert await repo.rules() == []
    rule = AlertRule(AlertKind.STATION_OFFLINE, False, Severity.INFO, {"grace_seconds": 30})
    await repo.save_rule(rule, T0, "ops")
    await repo.save_rule(replace(rule, enabled=True), T0, "ops")
    assert await repo.rules() == [replace(rule, enabled=True)]
