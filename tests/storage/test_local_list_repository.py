"""Local list state and entries: one contract on the memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListEntry, ListStatus, ListUpdate
from evcms.domain.tokens import AuthorizationStatus, TokenType
from evcms.services.local_lists import LocalListRepository
from evcms.storage.database import create_engine
from evcms.storage.local_lists import (
    MemoryLocalListRepository,
    SqlLocalListRepository,
    entry_from_json,
    entry_to_json,
)
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")


def entry(token_id: str, status: AuthorizationStatus = AuthorizationStatus.ACCEPTED, **fields: object) -> ListEntry:
    return ListEntry(token_id, TokenType.ISO14443, status, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def lists(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LocalListRepository]:
    if request.param == "memory":
        yield MemoryLocalListRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for repo in _sql(url):
            yield repo
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for repo in _sql(url):
            yield repo


async def _sql(url: str) -> AsyncIterator[LocalListRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlLocalListRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


async def test_an_unknown_station_has_no_state_and_no_entries(lists: LocalListRepository) -> None:
    assert await lists.get(CP1) is None
    assert await lists.entries(CP1) == {}
    assert await lists.states() == []
    assert await lists.delete(CP1) is False


async def test_a_full_update_replaces_the_entries(lists: LocalListRepository) -> None:
    expiry = datetime(2027, 1, 1, 3, 0, tzinfo=SOFIA)
    await lists.record_accepted(
        CP1,
        ListUpdate(1, True, (entry("A", expires_at=expiry, group_id="FLEET"), entry("B"))),
        status=ListStatus.IN_SYNC,
        at=T0,
    )
    state = await lists.get(CP1)
    assert state is not None
    assert (state.version, state.status, state.entries, state.error) == (1, ListStatus.IN_SYNC, 2, None)
    assert state.synced_at == T0 and state.updated_at == T0
    held = await lists.entries(CP1)
    assert held == {"A": entry("A", expires_at=expiry, group_id="FLEET"), "B": entry("B")}
    assert held["A"].expires_at is not None and held["A"].expires_at.utcoffset() == timedelta(0)

    await lists.record_accepted(CP1, ListUpdate(2, True, (entry("C"),)), status=ListStatus.IN_SYNC, at=T0)
    assert await lists.entries(CP1) == {"C": entry("C")}
    await lists.record_accepted(CP1, ListUpdate(3, True), status=ListStatus.IN_SYNC, at=T0)
    state = await lists.get(CP1)
    assert state is not None and (state.version, state.entries) == (3, 0)


async def test_a_differential_update_removes_and_upserts(lists: LocalListRepository) -> None:
    await lists.record_accepted(
        CP1, ListUpdate(1, True, (entry("A"), entry("B"), entry("C"))), status=ListStatus.IN_SYNC, at=T0
    )
    await lists.record_accepted(CP2, ListUpdate(4, True, (entry("A"),)), status=ListStatus.IN_SYNC, at=T0)
    later = T0 + timedelta(minutes=5)
    await lists.record_accepted(
        CP1,
        ListUpdate(2, False, (entry("B", AuthorizationStatus.BLOCKED), entry("D")), (entry("A"),)),
        status=ListStatus.PENDING,
        at=later,
    )
    assert await lists.entries(CP1) == {
        "B": entry("B", AuthorizationStatus.BLOCKED),
        "C": entry("C"),
        "D": entry("D"),
    }
    assert await lists.entries(CP2) == {"A": entry("A")}  # other stations untouched
    state = await lists.get(CP1)
    assert state is not None
    assert (state.version, state.status, state.synced_at) == (2, ListStatus.PENDING, later)


async def test_mark_keeps_version_and_entries_and_creates_a_state(lists: LocalListRepository) -> None:
    await lists.mark(CP2, ListStatus.UNSUPPORTED, at=T0, error="no local lists")
    state = await lists.get(CP2)
    assert state is not None
    assert (state.version, state.status, state.error, state.entries) == (
        0,
        ListStatus.UNSUPPORTED,
        "no local lists",
        0,
    )
    await lists.record_accepted(CP1, ListUpdate(5, True, (entry("A"),)), status=ListStatus.IN_SYNC, at=T0)
    later = T0 + timedelta(hours=1)
    await lists.mark(CP1, ListStatus.FAILED, at=later, error="x" * 900)
    state = await lists.get(CP1)
    assert state is not None
    assert (state.version, state.status, state.entries, state.synced_at, state.updated_at) == (
        5,
        ListStatus.FAILED,
        1,
        T0,
        later,
    )
    assert state.error == "x" * 500  # cut to the column
    await lists.record_accepted(CP1, ListUpdate(6, True, (entry("A"),)), status=ListStatus.IN_SYNC, at=later)
    state = await lists.get(CP1)
    assert state is not None and state.error is None


async def test_mark_stale_moves_only_lists_in_sync(lists: LocalListRepository) -> None:
    await lists.record_accepted(CP1, ListUpdate(1, True, (entry("A"),)), status=ListStatus.IN_SYNC, at=T0)
    await lists.mark(CP2, ListStatus.FAILED, at=T0)
    assert await lists.mark_stale(T0 + timedelta(seconds=1)) == 1
    states = await lists.states()
    assert [(s.station_id, s.status, s.entries) for s in states] == [
        (CP1, ListStatus.PENDING, 1),
        (CP2, ListStatus.FAILED, 0),
    ]
    assert await lists.mark_stale(T0) == 0


async def test_delete_drops_state_and_entries(lists: LocalListRepository) -> None:
    await lists.record_accepted(CP1, ListUpdate(1, True, (entry("A"),)), status=ListStatus.IN_SYNC, at=T0)
    assert await lists.delete(CP1) is True
    assert await lists.get(CP1) is None
    assert await lists.entries(CP1) == {}


async def test_naive_times_are_refused(lists: LocalListRepository) -> None:
    with pytest.raises((ValueError, TypeError)):
        await lists.mark(CP1, ListStatus.PENDING, at=datetime(2026, 1, 1))


def test_entry_json_round_trip() -> None:
    full = entry("A", AuthorizationStatus.EXPIRED, expires_at=datetime(2026, 1, 1, tzinfo=UTC), group_id="G")
    assert entry_from_json("A", entry_to_json(full)) == full
    assert entry_to_json(entry("B")) == '{"type":"ISO14443","status":"Accepted"}'
