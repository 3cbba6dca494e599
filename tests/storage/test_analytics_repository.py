"""The analytics repository: one contract on the memory twin, SQLite and PostgreSQL.

The hand-built history of ``tests/services/test_analytics.py`` runs on each backend with every
answer checked (live rollups and a rebuild), plus the repository's own promises: sessions and
revenue counted once, rollups added to, ``clear`` by hour, report mails marked once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.services.test_analytics import build, check_answers, t

from evcms.domain.analytics import SOURCE_STATUS, StatusChange
from evcms.services.analytics import (
    AnalyticsRepository,
    RevenueRecord,
    Scope,
    SessionRecord,
    StatusIncrement,
)
from evcms.storage.analytics import MemoryAnalyticsRepository, SqlAnalyticsRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

H = 3600 * 1_000_000
NETWORK = Scope("network")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnalyticsRepository]:
    if request.param == "memory":
        yield MemoryAnalyticsRepository()
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


async def _sql(url: str) -> AsyncIterator[AnalyticsRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlAnalyticsRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def record(session_id: int, hour: str = "25 10:00", token: str | None = "TOK") -> SessionRecord:
    return SessionRecord(session_id, "CP-1", 1, 1, t(hour), token, 5_000_000, H, H // 2, True)


async def test_the_known_history_gives_the_known_answers(repo: AnalyticsRepository) -> None:
    world = await build(repo)
    await check_answers(world)
    await world.analytics.rebuild(t("24 00:00"), t("26 00:00"))
    await check_answers(world)


async def test_a_session_and_its_revenue_are_counted_once(repo: AnalyticsRepository) -> None:
    at = t("25 12:00")
    assert await repo.count_sessions([record(1), record(2)], at) == [1, 2]
    assert await repo.count_sessions([record(2), record(3)], at) == [3]
    [totals] = await repo.session_totals(NETWORK, t("25 00:00"), t("26 00:00"), by="hour")
    assert (totals.key, totals.sessions, totals.energy_mwh) == (t("25 10:00"), 3, 15_000_000)
    assert sorted(await repo.sessions_without_revenue(t("25 00:00"), 10)) == [1, 2, 3]
    assert await repo.count_revenue([RevenueRecord(1, "EUR", 100, 120)]) == 1
    assert await repo.count_revenue([RevenueRecord(1, "EUR", 100, 120), RevenueRecord(9, "EUR", 1, 1)]) == 0
    [money] = await repo.revenue_totals(NETWORK, t("25 00:00"), t("26 00:00"))
    assert (money.currency, money.sessions, money.excl_minor, money.incl_minor) == ("EUR", 1, 100, 120)
    assert sorted(await repo.sessions_without_revenue(t("25 00:00"), 10)) == [2, 3]
    [token] = await repo.token_totals(NETWORK, t("25 00:00"), t("26 00:00"), 5)
    assert (token.id_token, token.sessions, token.energy_mwh) == ("TOK", 3, 15_000_000)


async def test_status_time_adds_up_and_clear_removes_whole_hours(repo: AnalyticsRepository) -> None:
    inc = StatusIncrement("CP-1", 1, 1, t("25 10:00"), (H // 2, 0, H // 4, 0, 0, 0, 0))
    await repo.add_status_time([inc])
    await repo.add_status_time([inc, StatusIncrement("CP-1", 1, 1, t("25 11:00"), (H, 0, 0, 0, 0, 0, 0))])
    rows = await repo.status_totals(NETWORK, t("25 00:00"), t("26 00:00"), by="hour")
    by_hour = {r.key: sum(r.micros.values()) for r in rows}
    assert by_hour == {t("25 10:00"): 3 * H // 2, t("25 11:00"): H}
    other = Scope("station", ("CP-2",))
    assert await repo.status_totals(other, t("25 00:00"), t("26 00:00"), by="hour") == []
    await repo.count_sessions([record(1, "25 11:00")], t("25 12:00"))
    await repo.clear(t("25 11:00"), t("25 12:00"))
    rows = await repo.status_totals(NETWORK, t("25 00:00"), t("26 00:00"), by="connector")
    assert [(r.key, sum(r.micros.values())) for r in rows] == [(("CP-1", 1, 1), 3 * H // 2)]
    assert await repo.session_totals(NETWORK, t("25 00:00"), t("26 00:00"), by="hour") == []
    assert await repo.count_sessions([record(1, "25 11:00")], t("25 12:00")) == [1]  # cleared: counts again


async def test_history_in_order_and_the_latest_per_connector(repo: AnalyticsRepository) -> None:
    rows = [
        StatusChange("CP-1", 1, 1, t("25 10:00") + timedelta(minutes=m), SOURCE_STATUS, s)
        for m, s in ((0, "Available"), (5, "Preparing"), (9, "Charging"))
    ]
    await repo.add_history([rows[2], rows[0]])
    await repo.add_history([rows[1], StatusChange("CP-2", 1, 1, t("25 09:00"), SOURCE_STATUS, "Faulted")])
    assert [r.status for r in await repo.history("CP-1", t("26 00:00"))] == ["Available", "Preparing", "Charging"]
    assert [r.status for r in await repo.history("CP-1", t("25 10:05"))] == ["Available"]
    assert [r.status for r in await repo.latest_history("CP-1")] == ["Preparing"]  # the last one stored
    assert await repo.history_station_ids() == ["CP-1", "CP-2"]
    assert all(r.at.tzinfo is not None for r in await repo.history("CP-1", t("26 00:00")))


async def test_a_report_mail_is_marked_once(repo: AnalyticsRepository) -> None:
    assert not await repo.report_sent("S1", "2026-10")
    await repo.mark_report_sent("S1", "2026-10", datetime(2026, 11, 1, tzinfo=UTC))
    await repo.mark_report_sent("S1", "2026-10", datetime(2026, 11, 2, tzinfo=UTC))
    assert await repo.report_sent("S1", "2026-10")
    assert not await repo.report_sent("S1", "2026-11")
