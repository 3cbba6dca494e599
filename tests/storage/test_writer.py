"""The writer: group commit, isolation of a failing op, back-pressure, draining on close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, Station
from evcms.storage.repositories import SqlStationRepository
from evcms.storage.tables import connector_states, sites
from evcms.storage.writer import Writer, WriterClosed

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def add_site(site_id: str) -> Callable[[AsyncConnection], Awaitable[str]]:
    async def op(conn: AsyncConnection) -> str:
        await conn.execute(
            insert(sites).values(id=site_id, name=site_id, address="", created_at=T0)
        )
        return site_id

    return op


async def site_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(sites.c.id))).scalars())


@pytest.fixture
async def commits(engine: AsyncEngine) -> AsyncIterator[list[int]]:
    """Counts COMMITs the database actually receives (independently of the writer's stats)."""
    seen: list[int] = []

    def on_commit(_conn: object) -> None:
        seen.append(1)

    event.listen(engine.sync_engine, "commit", on_commit)
    yield seen
    event.remove(engine.sync_engine, "commit", on_commit)


async def test_concurrent_writes_share_commits(engine: AsyncEngine, commits: list[int]) -> None:
    async with Writer(engine, max_batch=100, max_wait=0.005) as writer:
        results = await asyncio.gather(*(writer.submit(add_site(f"s{n}")) for n in range(300)))

    assert results == [f"s{n}" for n in range(300)]
    assert await site_ids(engine) == {f"s{n}" for n in range(300)}
    assert writer.stats.ops == 300
    assert writer.commits == len(commits)
    assert 3 <= len(commits) <= 10  # batches of at most 100, instead of 300 commits
    assert writer.stats.largest_batch == 100


async def test_a_lone_write_is_committed_after_at_most_max_wait(engine: AsyncEngine) -> None:
    async with Writer(engine, max_wait=0.002) as writer:
        assert await asyncio.wait_for(writer.submit(add_site("alone")), 5) == "alone"
    assert await site_ids(engine) == {"alone"}


async def test_a_failing_op_does_not_lose_the_others(engine: AsyncEngine) -> None:
    async def broken(conn: AsyncConnection) -> None:
        await conn.execute(insert(sites).values(id="broken", name="x", address="", created_at=T0))
        raise RuntimeError("the op's own bug")

    async with Writer(engine, max_wait=0.05) as writer:
        ops = [add_site("a"), broken, add_site("b"), add_site("c")]
        results = await asyncio.gather(*(writer.submit(op) for op in ops), return_exceptions=True)

    assert results[0] == "a" and results[2] == "b" and results[3] == "c"
    assert isinstance(results[1], RuntimeError)
    assert await site_ids(engine) == {"a", "b", "c"}  # the broken op's insert was rolled back
    assert writer.stats.failed_batches == 1
    # the rest of the batch still shared one commit (savepoints), not one commit each
    assert writer.stats.commits == 1


async def test_a_database_error_in_a_batch_fails_only_its_caller(engine: AsyncEngine) -> None:
    """On PostgreSQL a failed statement aborts the whole transaction: the batch is re-run."""
    async with Writer(engine) as writer:
        await writer.submit(add_site("taken"))
        ops = [add_site("x"), add_site("taken"), add_site("y")]
        results = await asyncio.gather(*(writer.submit(op) for op in ops), return_exceptions=True)

    assert results[0] == "x" and results[2] == "y"
    assert isinstance(results[1], IntegrityError)
    assert await site_ids(engine) == {"taken", "x", "y"}


async def test_a_full_queue_makes_submitters_wait(engine: AsyncEngine) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def blocker(conn: AsyncConnection) -> str:
        started.set()
        await gate.wait()
        return "blocker"

    async with Writer(engine, queue_size=2, max_batch=10, max_wait=0) as writer:
        first = asyncio.create_task(writer.submit(blocker))
        await started.wait()  # the writer is busy with the first op
        waiting = [asyncio.create_task(writer.submit(add_site(f"s{n}"))) for n in range(5)]
        await asyncio.sleep(0.05)

        assert writer.queued == 2  # bounded: the other three submitters are parked in submit
        assert not any(task.done() for task in waiting)

        gate.set()
        assert await first == "blocker"
        assert await asyncio.gather(*waiting) == [f"s{n}" for n in range(5)]
    assert await site_ids(engine) == {f"s{n}" for n in range(5)}


async def test_close_drains_the_queue_and_later_submits_are_refused(engine: AsyncEngine) -> None:
    writer = Writer(engine, max_batch=7)
    await writer.start()
    pending = [asyncio.create_task(writer.submit(add_site(f"s{n}"))) for n in range(50)]
    await asyncio.sleep(0)  # let them queue
    await writer.close()

    assert all(task.done() for task in pending)
    assert [task.result() for task in pending] == [f"s{n}" for n in range(50)]
    with pytest.raises(WriterClosed):
        await writer.submit(add_site("late"))
    assert len(await site_ids(engine)) == 50


async def test_submit_before_start_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(WriterClosed):
        await Writer(engine).submit(add_site("early"))


async def test_a_cancelled_caller_s_op_is_skipped_if_not_yet_started(engine: AsyncEngine) -> None:
    gate = asyncio.Event()

    async def blocker(conn: AsyncConnection) -> None:
        await gate.wait()

    async with Writer(engine, max_wait=0) as writer:
        first = asyncio.create_task(writer.submit(blocker))
        await asyncio.sleep(0.01)
        doomed = asyncio.create_task(writer.submit(add_site("cancelled")))
        await asyncio.sleep(0.01)
        doomed.cancel()
        gate.set()
        await first
        assert await writer.submit(add_site("after")) == "after"
    assert await site_ids(engine) == {"after"}


async def test_station_status_bursts_go_through_the_writer_in_few_commits(
    engine: AsyncEngine, commits: list[int]
) -> None:
    async with Writer(engine, max_wait=0.005) as writer:
        repo = SqlStationRepository(engine, writer)
        ids = [StationId(f"CP-{n:03}") for n in range(50)]
        await asyncio.gather(*(repo.add(Station(id=sid, created_at=T0)) for sid in ids))
        commits.clear()
        await asyncio.gather(
            *(
                repo.save_connector_state(
                    ConnectorState(sid, evse, 1, ConnectorStatus.CHARGING, T0)
                )
                for sid in ids
                for evse in (1, 2)
            )
        )
    assert 1 <= len(commits) <= 5
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(connector_states))
    assert count == 100


async def test_one_bad_row_in_a_grouped_executemany_fails_only_its_caller(
    engine: AsyncEngine,
) -> None:
    async with Writer(engine, max_wait=0.01) as writer:
        repo = SqlStationRepository(engine, writer)
        await repo.add(Station(id=StationId("CP-1"), created_at=T0))
        states = [
            ConnectorState(StationId(sid), 1, n, ConnectorStatus.AVAILABLE, T0)
            for n, sid in enumerate(["CP-1", "CP-1", "CP-404", "CP-1"])
        ]
        results = await asyncio.gather(
            *(repo.save_connector_state(state) for state in states), return_exceptions=True
        )
        assert writer.stats.failed_batches == 1

    assert [type(r).__name__ for r in results] == ["NoneType", "NoneType", "NotFound", "NoneType"]
    assert [s.connector_id for s in await repo.connector_states(StationId("CP-1"))] == [0, 1, 3]


async def test_execute_and_ops_mix_in_one_batch_in_order(engine: AsyncEngine) -> None:
    statement = insert(sites)
    async with Writer(engine, max_wait=0.01) as writer:
        calls = [
            writer.execute(statement, {"id": "a", "name": "A", "address": "", "created_at": T0}),
            writer.submit(add_site("b")),
            writer.execute(statement, {"id": "c", "name": "C", "address": "", "created_at": T0}),
            writer.execute(statement, {"id": "d", "name": "D", "address": "", "created_at": T0}),
        ]
        assert await asyncio.gather(*calls) == [None, "b", None, None]
        assert writer.commits == 1
    assert await site_ids(engine) == {"a", "b", "c", "d"}
