"""Tariff versions and assignments: one contract on the memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evcms.domain.ids import SiteId, StationId
from evcms.services.tariffs import AssignmentScope, TariffRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.tariffs import MemoryTariffRepository, SqlTariffRepository
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")
SITE = SiteId("sofia-1")
OCPI = '{"id": "A", "currency": "EUR",  "elements": [{"price_components": [{"type": "FLAT", "price": 1.50}]}]}'


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TariffRepository]:
    if request.param == "memory":
        yield MemoryTariffRepository()
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


async def _sql(url: str) -> AsyncIterator[TariffRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlTariffRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


async def add(repo: TariffRepository, tariff_id: str, ocpi: str = OCPI, at: datetime = T0) -> int:
    stored = await repo.add_version(
        tariff_id, name=f"{tariff_id} name", currency="EUR", time_zone="Europe/Sofia", ocpi=ocpi, at=at
    )
    return stored.version


async def test_versions_are_kept_and_numbered(repo: TariffRepository) -> None:
    assert await repo.latest("A") is None
    assert await repo.list() == []
    assert await add(repo, "A") == 1
    assert await add(repo, "A", OCPI.replace("1.50", "2.00"), T0 + timedelta(days=1)) == 2
    assert await add(repo, "B", at=T0.astimezone(SOFIA)) == 1
    latest = await repo.latest("A")
    assert latest is not None
    assert (latest.version, latest.created_at) == (2, T0 + timedelta(days=1))
    first = await repo.get("A", 1)
    assert first is not None
    assert first.ocpi == OCPI  # exactly as given, whitespace and all
    assert (first.name, first.currency, first.time_zone) == ("A name", "EUR", "Europe/Sofia")
    assert await repo.get("A", 3) is None
    assert [(t.id, t.version) for t in await repo.list()] == [("A", 2), ("B", 1)]
    b = await repo.get("B", 1)
    assert b is not None and b.created_at == T0 and b.created_at.tzinfo is not None


async def test_station_beats_site_beats_default(repo: TariffRepository) -> None:
    for tariff_id in ("D", "S", "X"):
        await add(repo, tariff_id)
    assert await repo.assignment_for(CP1, SITE) is None
    await repo.assign(AssignmentScope.DEFAULT, None, "D", at=T0)
    found = await repo.assignment_for(CP1, SITE)
    assert found is not None
    assert (found.scope, found.scope_id, found.tariff_id, found.version) == (
        AssignmentScope.DEFAULT, None, "D", 1
    )
    await repo.assign(AssignmentScope.SITE, SITE, "S", at=T0)
    found = await repo.assignment_for(CP1, SITE)
    assert found is not None and (found.scope, found.scope_id, found.tariff_id) == (
        AssignmentScope.SITE, SITE, "S"
    )
    found = await repo.assignment_for(CP1, None)  # a station without a site
    assert found is not None and found.tariff_id == "D"
    await repo.assign(AssignmentScope.STATION, CP1, "X", at=T0 + timedelta(hours=1))
    found = await repo.assignment_for(CP1, SITE)
    assert found is not None and (found.tariff_id, found.since) == ("X", T0 + timedelta(hours=1))
    other = await repo.assignment_for(CP2, SITE)
    assert other is not None and other.tariff_id == "S"


async def test_assignment_follows_the_latest_version_and_can_be_replaced(
    repo: TariffRepository,
) -> None:
    await add(repo, "A")
    await add(repo, "B")
    await repo.assign(AssignmentScope.DEFAULT, None, "A", at=T0)
    await add(repo, "A")
    found = await repo.assignment_for(CP1, None)
    assert found is not None and (found.tariff_id, found.version) == ("A", 2)
    await repo.assign(AssignmentScope.DEFAULT, None, "B", at=T0)
    found = await repo.assignment_for(CP1, None)
    assert found is not None and (found.tariff_id, found.version) == ("B", 1)
