"""The message log contract (memory, SQLite, PostgreSQL) and the SQL log's batching."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from storage_fixtures import Backend

from evcms.domain.ids import StationId
from evcms.domain.stations import Station
from evcms.services.ports import Direction
from evcms.storage.memory import MemoryMessageLog
from evcms.storage.message_log import SqlMessageLog
from evcms.storage.tables import message_log
from evcms.storage.writer import Writer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CP1, CP2 = StationId("CP-1"), StationId("CP-2")


def frame(n: int) -> str:
    return f'[2,"{n}","Heartbeat",{{}}]'


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


async def test_appended_frames_appear_after_a_flush_newest_first(backend: Backend) -> None:
    log = backend.message_log
    log.append(CP1, Direction.IN, frame(1), T0)
    log.append(CP2, Direction.IN, frame(2), T0)
    log.append(CP1, Direction.OUT, '[3,"1",{"currentTime":"2025-03-01T12:00:00Z"}]', T0)
    assert await log.recent(CP1) == []  # buffered, not written yet

    await log.flush()

    got = await log.recent(CP1)
    assert [(m.direction, m.frame) for m in got] == [
        (Direction.OUT, '[3,"1",{"currentTime":"2025-03-01T12:00:00Z"}]'),
        (Direction.IN, frame(1)),
    ]
    assert got[0].id > got[1].id
    assert all(m.station_id == CP1 and m.at == T0 and m.at.tzinfo == UTC for m in got)
    assert [m.frame for m in await log.recent(CP2)] == [frame(2)]
    assert await log.recent(StationId("CP-404")) == []


async def test_recent_pages_backwards_by_id_without_gaps_or_overlap(backend: Backend) -> None:
    log = backend.message_log
    for n in range(25):
        log.append(CP1, Direction.IN, frame(n), T0 + timedelta(seconds=n))
        log.append(CP2, Direction.IN, frame(100 + n), T0)
    await log.flush()

    pages, before = [], None
    while True:
        page = await log.recent(CP1, limit=10, before_id=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].id
    assert [len(p) for p in pages] == [10, 10, 5]
    frames = [m.frame for page in pages for m in page]
    assert frames == [frame(n) for n in reversed(range(25))]
    assert await log.recent(CP1, limit=0) == []


async def test_purge_removes_only_older_frames(backend: Backend) -> None:
    log = backend.message_log
    for n in range(6):
        log.append(CP1, Direction.IN, frame(n), T0 + timedelta(hours=n))
    await log.flush()

    assert await log.purge(T0 + timedelta(hours=4)) == 4
    assert [m.frame for m in await log.recent(CP1)] == [frame(5), frame(4)]
    assert await log.purge(T0) == 0


async def test_the_log_of_a_deleted_station_stays_until_purged(backend: Backend) -> None:
    await backend.stations.add(Station(id=CP1, created_at=T0))
    backend.message_log.append(CP1, Direction.IN, frame(1), T0)
    await backend.message_log.flush()
    await backend.stations.delete(CP1)
    assert [m.frame for m in await backend.message_log.recent(CP1)] == [frame(1)]


async def test_naive_times_are_refused_at_append(backend: Backend) -> None:
    with pytest.raises(ValueError, match="naive"):
        backend.message_log.append(CP1, Direction.IN, frame(1), datetime(2025, 1, 1))


# -- the SQL log's own behaviour --------------------------------------------------------------


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[Writer]:
    writer = Writer(engine)
    await writer.start()
    yield writer
    await writer.close()


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(message_log)) or 0)


async def _drops_oldest(log: SqlMessageLog | MemoryMessageLog) -> None:
    for n in range(5):
        log.append(CP1, Direction.IN, frame(n), T0)
    assert log.dropped == 2 and log.buffered == 3
    await log.flush()
    assert [m.frame for m in await log.recent(CP1)] == [frame(4), frame(3), frame(2)]


async def test_a_full_buffer_drops_the_oldest_frames_and_counts_them(
    engine: AsyncEngine, writer: Writer
) -> None:
    await _drops_oldest(SqlMessageLog(engine, writer, max_buffer=3))


async def test_the_memory_twin_drops_the_oldest_frames_too() -> None:
    await _drops_oldest(MemoryMessageLog(max_buffer=3))


async def test_the_background_task_flushes_in_batches(engine: AsyncEngine, writer: Writer) -> None:
    log = SqlMessageLog(engine, writer, flush_interval=0.05, chunk_size=400)
    await log.start()
    try:
        commits_before = writer.commits
        for n in range(1000):
            log.append(CP1, Direction.IN, frame(n), T0)  # never awaits, never blocks
        assert log.buffered == 1000
        for _ in range(100):
            await asyncio.sleep(0.02)
            if log.buffered == 0 and log.written == 1000:
                break
        assert await count_rows(engine) == 1000
        assert writer.commits - commits_before <= 3  # 3 chunks of at most 400, maybe one commit
    finally:
        await log.close()


async def test_close_writes_what_is_still_buffered(engine: AsyncEngine, writer: Writer) -> None:
    log = SqlMessageLog(engine, writer, flush_interval=60)
    await log.start()
    log.append(CP1, Direction.IN, frame(1), T0)
    await log.close()
    assert await count_rows(engine) == 1


async def test_a_failed_flush_keeps_the_frames_buffered(engine: AsyncEngine) -> None:
    stopped = Writer(engine)  # never started: every submit fails
    log = SqlMessageLog(engine, stopped)
    log.append(CP1, Direction.IN, frame(1), T0)
    log.append(CP1, Direction.IN, frame(2), T0)
    with pytest.raises(RuntimeError):
        await log.flush()
    assert log.buffered == 2 and log.dropped == 0

    await stopped.start()
    try:
        await log.flush()
    finally:
        await stopped.close()
    assert [m.frame for m in await log.recent(CP1)] == [frame(2), frame(1)]


async def test_purge_works_in_chunks_and_retention_uses_the_clock(
    engine: AsyncEngine, writer: Writer
) -> None:
    clock = FixedClock(T0 + timedelta(days=30))
    log = SqlMessageLog(engine, writer, purge_chunk=3, retention=timedelta(days=7), clock=clock)
    for n in range(10):
        log.append(CP1, Direction.IN, frame(n), T0 + timedelta(days=n))
    for n in range(10):
        log.append(CP2, Direction.IN, frame(n), T0 + timedelta(days=25))
    await log.flush()

    commits = writer.commits
    assert await log.apply_retention() == 10  # everything of CP-1 is older than 23 days
    assert writer.commits - commits == 4  # 3 + 3 + 3 + 1: short transactions
    assert await count_rows(engine) == 10
    assert await SqlMessageLog(engine, writer).apply_retention() == 0  # no retention set


async def test_the_retention_task_purges_in_the_background(
    engine: AsyncEngine, writer: Writer
) -> None:
    clock = FixedClock(T0 + timedelta(days=30))
    log = SqlMessageLog(
        engine, writer, retention=timedelta(days=7), retention_interval=0.05, clock=clock
    )
    log.append(CP1, Direction.IN, frame(1), T0)
    log.append(CP1, Direction.IN, frame(2), clock.value)
    await log.flush()
    await log.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if await count_rows(engine) == 1:
                break
        assert [m.frame for m in await log.recent(CP1)] == [frame(2)]
    finally:
        await log.close()
