"""The diagnostics repository: one contract on the memory twin, SQLite and PostgreSQL (SQL
databases built by the real migrations)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evcms.domain.diagnostics import DiagnosticsRequest, LogType, UploadedFile
from evcms.domain.ids import StationId
from evcms.services.diagnostics import DiagnosticsRepository
from evcms.storage.database import create_engine
from evcms.storage.diagnostics import MemoryDiagnosticsRepository, SqlDiagnosticsRepository
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DiagnosticsRepository]:
    if request.param == "memory":
        yield MemoryDiagnosticsRepository()
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


async def _sql(url: str) -> AsyncIterator[DiagnosticsRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlDiagnosticsRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def new(station: StationId = CP1, token: str = "tok-1", **changes) -> DiagnosticsRequest:
    return DiagnosticsRequest(
        id=0,
        station_id=station,
        ocpp_version="ocpp2.0.1",
        token=token,
        token_expires_at=(T0 + timedelta(hours=1)).astimezone(SOFIA),
        created_at=T0.astimezone(SOFIA),
        updated_at=T0,
        requested_by="ops key",
        log_type=LogType.SECURITY,
        since=T0 - timedelta(days=1),
        until=T0,
        retries=3,
        retry_interval=60,
    ).replace(**changes)


async def test_a_request_is_stored_with_an_id_and_read_back_in_utc(repo: DiagnosticsRepository) -> None:
    added = await repo.add(new())
    assert added.id >= 1
    assert added.created_at == T0 and added.created_at.tzinfo == UTC
    assert added.token_expires_at == T0 + timedelta(hours=1)
    assert added.log_type is LogType.SECURITY and added.retries == 3
    assert await repo.get(added.id) == added
    assert await repo.by_token("tok-1") == added
    assert await repo.by_token("nope") is None
    assert await repo.get(added.id + 100) is None


async def test_the_answer_and_the_stations_status_are_kept(repo: DiagnosticsRepository) -> None:
    added = await repo.add(new())
    answered = await repo.set_answer(added.id, outcome="result", status="Accepted", file_name="log.tgz", at=T0)
    assert answered is not None
    assert (answered.command_outcome, answered.answer_status, answered.answer_file_name) == ("result", "Accepted", "log.tgz")
    later = T0 + timedelta(minutes=1)
    reported = await repo.set_station_status(added.id, "Uploading", later)
    assert reported is not None and reported.station_status == "Uploading"
    assert reported.station_status_at == later and reported.updated_at == later
    assert await repo.get(added.id) == reported
    assert await repo.set_station_status(added.id + 100, "Uploaded", later) is None


async def test_a_file_is_attached_once(repo: DiagnosticsRepository) -> None:
    added = await repo.add(new())
    file = UploadedFile("log.tgz", 1234, "f" * 64, T0.astimezone(SOFIA))
    attached = await repo.attach_file(added.id, file, "diagnostics/1")
    assert attached is not None
    assert attached.file == UploadedFile("log.tgz", 1234, "f" * 64, T0)
    assert attached.file_key == "diagnostics/1"
    assert await repo.attach_file(added.id, UploadedFile("other", 1, "0" * 64, T0), "x") is None
    assert (await repo.get(added.id)) == attached


async def test_two_racing_uploads_attach_one_file(repo: DiagnosticsRepository) -> None:
    added = await repo.add(new())
    results = await asyncio.gather(
        *(repo.attach_file(added.id, UploadedFile(f"f{n}", n, "0" * 64, T0), "k") for n in range(5))
    )
    assert sum(r is not None for r in results) == 1


async def test_listing_is_newest_first_per_station_with_paging(repo: DiagnosticsRepository) -> None:
    ids = []
    for n in range(5):
        station = CP1 if n % 2 == 0 else CP2
        ids.append((await repo.add(new(station, token=f"t{n}"))).id)
    assert [r.id for r in await repo.list()] == ids[::-1]
    assert [r.id for r in await repo.list(CP1)] == [ids[4], ids[2], ids[0]]
    assert [r.id for r in await repo.list(CP1, limit=2)] == [ids[4], ids[2]]
    assert [r.id for r in await repo.list(CP1, before_id=ids[2])] == [ids[0]]
    assert (await repo.latest(CP2)).id == ids[3]  # type: ignore[union-attr]
    assert await repo.latest(StationId("CP-9")) is None
