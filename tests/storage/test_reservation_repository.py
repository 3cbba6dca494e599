"""The reservation repository: one contract, run against the memory twin, SQLite and PostgreSQL
(SQL databases built by the real migrations)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evcms.domain.ids import StationId
from evcms.domain.reservations import ReservationStatus
from evcms.services.reservations import NewReservation, ReservationFilter, ReservationRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.reservations import MemoryReservationRepository, SqlReservationRepository
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")
OPEN = frozenset({ReservationStatus.PENDING, ReservationStatus.ACCEPTED})


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReservationRepository]:
    if request.param == "memory":
        yield MemoryReservationRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for r in _sql(url):
            yield r
    else:
        async with temporary_postgres_database() as url:
            await upgrade(url)
            async for r in _sql(url):
                yield r


async def _sql(url: str) -> AsyncIterator[ReservationRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlReservationRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def new(
    station: StationId = CP1, evse: int = 1, token: str = "CARD-A", minutes: float = 15, **extra: str
) -> NewReservation:
    return NewReservation(
        station_id=station,
        evse_id=evse,
        id_token=token,
        expires_at=T0 + timedelta(minutes=minutes),
        **extra,  # type: ignore[arg-type]
    )


async def test_add_assigns_increasing_ids_and_round_trips(repo: ReservationRepository) -> None:
    first = await repo.add(
        new(group_id="FLEET", driver_id=None, created_by="ops"), ReservationStatus.PENDING, T0.astimezone(SOFIA)
    )
    second = await repo.add(new(evse=0, token="CARD-B"), ReservationStatus.PENDING, T0)
    assert second.id > first.id > 0
    got = await repo.get(first.id)
    assert got == first
    assert got is not None
    assert (got.station_id, got.evse_id, got.id_token, got.group_id, got.created_by) == (
        CP1, 1, "CARD-A", "FLEET", "ops"
    )
    assert got.status is ReservationStatus.PENDING and got.session_id is None
    assert got.created_at == T0 and got.created_at.utcoffset() == timedelta(0)  # microseconds kept
    assert got.expires_at == T0 + timedelta(minutes=15)
    assert await repo.get(9999) is None


async def test_set_status_is_compare_and_set(repo: ReservationRepository) -> None:
    r = await repo.add(new(), ReservationStatus.PENDING, T0)
    later = T0 + timedelta(seconds=1)
    accepted = await repo.set_status(r.id, ReservationStatus.ACCEPTED, later, only_from=frozenset({ReservationStatus.PENDING}))
    assert accepted is not None and accepted.status is ReservationStatus.ACCEPTED and accepted.updated_at == later
    # not Pending any more: refused, nothing changes
    assert await repo.set_status(r.id, ReservationStatus.FAILED, later, only_from=frozenset({ReservationStatus.PENDING})) is None
    used = await repo.set_status(r.id, ReservationStatus.USED, later, only_from=OPEN, session_id=42)
    assert used is not None and used.session_id == 42
    expired = await repo.set_status(r.id, ReservationStatus.EXPIRED, later, only_from=frozenset({ReservationStatus.ACCEPTED}))
    assert expired is None
    assert (await repo.get(r.id)).status is ReservationStatus.USED  # type: ignore[union-attr]
    # without only_from: always; the session stays when not given
    forced = await repo.set_status(r.id, ReservationStatus.CANCELLED, later)
    assert forced is not None and forced.session_id == 42
    assert await repo.set_status(9999, ReservationStatus.CANCELLED, later) is None


async def test_accepted_and_expire_due(repo: ReservationRepository) -> None:
    made = []
    for station, evse, minutes, status in [
        (CP1, 1, 10, ReservationStatus.ACCEPTED),
        (CP1, 2, 30, ReservationStatus.ACCEPTED),
        (CP1, 3, 5, ReservationStatus.REJECTED),
        (CP2, 1, 5, ReservationStatus.ACCEPTED),
    ]:
        made.append(await repo.add(new(station, evse, minutes=minutes), status, T0))
    assert [r.id for r in await repo.accepted(CP1)] == [made[0].id, made[1].id]
    assert await repo.expire_due(T0 + timedelta(minutes=10)) == 2  # CP1/1 (exactly due) and CP2/1
    assert [r.id for r in await repo.accepted(CP1)] == [made[1].id]
    assert (await repo.get(made[0].id)).status is ReservationStatus.EXPIRED  # type: ignore[union-attr]
    assert (await repo.get(made[2].id)).status is ReservationStatus.REJECTED  # type: ignore[union-attr]
    assert await repo.expire_due(T0 + timedelta(minutes=10)) == 0
    assert await repo.accepted(CP2) == []


async def test_list_filters_and_pages_newest_first(repo: ReservationRepository) -> None:
    a = await repo.add(new(CP1, token="CARD-A", driver_id="ana"), ReservationStatus.ACCEPTED, T0)
    b = await repo.add(new(CP2, token="CARD-B"), ReservationStatus.OCCUPIED, T0)
    c = await repo.add(new(CP1, 2, token="CARD-A", driver_id="ana"), ReservationStatus.ACCEPTED, T0)
    everything = ReservationFilter()
    assert [r.id for r in await repo.list(everything)] == [c.id, b.id, a.id]
    assert [r.id for r in await repo.list(everything, limit=2)] == [c.id, b.id]
    assert [r.id for r in await repo.list(everything, limit=2, before_id=b.id)] == [a.id]
    assert await repo.list(everything, limit=0) == []
    assert [r.id for r in await repo.list(ReservationFilter(station_id=CP1))] == [c.id, a.id]
    assert [r.id for r in await repo.list(ReservationFilter(driver_id="ana"))] == [c.id, a.id]
    assert [r.id for r in await repo.list(ReservationFilter(id_token="CARD-B"))] == [b.id]
    assert [r.id for r in await repo.list(ReservationFilter(status=ReservationStatus.OCCUPIED))] == [b.id]
    assert await repo.list(ReservationFilter(station_id=CP2, status=ReservationStatus.ACCEPTED)) == []


async def test_concurrent_compare_and_set_has_one_winner(repo: ReservationRepository) -> None:
    r = await repo.add(new(), ReservationStatus.ACCEPTED, T0)
    accepted = frozenset({ReservationStatus.ACCEPTED})
    results = await asyncio.gather(
        repo.set_status(r.id, ReservationStatus.USED, T0, only_from=accepted, session_id=7),
        repo.set_status(r.id, ReservationStatus.EXPIRED, T0, only_from=accepted),
        repo.set_status(r.id, ReservationStatus.CANCELLED, T0, only_from=accepted),
    )
    assert sum(1 for x in results if x is not None) == 1


async def test_naive_times_are_refused(repo: ReservationRepository) -> None:
    with pytest.raises(ValueError, match="naive"):
        await repo.add(new(), ReservationStatus.PENDING, datetime(2026, 5, 1, 9, 0))
