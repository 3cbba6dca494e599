"""Fixtures for the storage tests: one contract suite, three backends.

``backend`` runs a test against the in-memory twins, SQLite (a temporary file) and PostgreSQL
(a throwaway database); ``database_url`` against the two SQL databases only. SQL databases are
created by the real migrations (``migrate.upgrade``), so every test also exercises them.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # make `support` importable without a tests/ package
    sys.path.insert(0, _TESTS)

from storage_fixtures import Backend, ChargingBackend  # noqa: E402

from evcms.storage.charging import (  # noqa: E402
    SqlChargingSessionRepository,
    SqlTokenRepository,
)
from evcms.storage.database import create_engine  # noqa: E402
from evcms.storage.memory import (  # noqa: E402
    MemoryApiKeyRepository,
    MemoryChargingSessionRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemorySiteRepository,
    MemoryStationRepository,
    MemoryTokenRepository,
)
from evcms.storage.message_log import SqlMessageLog  # noqa: E402
from evcms.storage.migrate import upgrade  # noqa: E402
from evcms.storage.repositories import (  # noqa: E402
    SqlApiKeyRepository,
    SqlSiteRepository,
    SqlStationRepository,
)
from evcms.storage.tables import drivers  # noqa: E402
from evcms.storage.writer import Writer  # noqa: E402
from support.databases import (  # noqa: E402
    temporary_postgres_database,
    temporary_sqlite_url,
)

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ALL_BACKENDS = ["memory", *SQL_BACKENDS]


@asynccontextmanager
async def migrated_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of ``kind`` migrated to head; yields its URL."""
    if kind == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")  # directory created on demand
        await upgrade(url)
        yield url
    elif kind == "postgres":
        async with temporary_postgres_database() as url:
            await upgrade(url)
            yield url
    else:
        raise ValueError(kind)


@pytest.fixture(params=SQL_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=ALL_BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    kind = request.param
    if kind == "memory":
        db = MemoryDatabase()
        yield Backend(
            kind,
            MemorySiteRepository(db),
            MemoryStationRepository(db),
            MemoryApiKeyRepository(db),
            MemoryMessageLog(db),
        )
        return
    async with migrated_database(kind, tmp_path) as url:
        engine = create_engine(url)
        writer = Writer(engine, max_wait=0.001)
        await writer.start()
        try:
            yield Backend(
                kind,
                SqlSiteRepository(engine, writer),
                SqlStationRepository(engine, writer),
                SqlApiKeyRepository(engine, writer),
                SqlMessageLog(engine, writer),
                engine,
                writer,
            )
        finally:
            await writer.close()
            await engine.dispose()


@pytest.fixture(params=ALL_BACKENDS)
async def charging(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChargingBackend]:
    """Tokens and charging sessions on the memory twins, SQLite and PostgreSQL."""
    kind = request.param
    if kind == "memory":
        db = MemoryDatabase()

        async def add_memory_driver(driver_id: str) -> None:
            db.drivers[driver_id] = driver_id

        yield ChargingBackend(
            kind, MemoryTokenRepository(db), MemoryChargingSessionRepository(db), add_memory_driver
        )
        return
    async with migrated_database(kind, tmp_path) as url:
        engine = create_engine(url)
        writer = Writer(engine, max_wait=0.001)
        await writer.start()

        async def add_sql_driver(driver_id: str) -> None:
            now = datetime.now(UTC)
            row = {
                "id": driver_id,
                "email": f"{driver_id}@example.com",
                "password_hash": "x",
                "name": "",
                "language": "en",
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            async with engine.begin() as conn:
                await conn.execute(insert(drivers).values(row))

        try:
            yield ChargingBackend(
                kind,
                SqlTokenRepository(engine, writer),
                SqlChargingSessionRepository(engine, writer),
                add_sql_driver,
                engine,
                writer,
            )
        finally:
            await writer.close()
            await engine.dispose()
