"""Migrations create exactly tables.py's schema; engines are configured as promised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from evcms.storage.database import create_engine
from evcms.storage.migrate import (
    SchemaNotAtHead,
    check_at_head,
    current_revision,
    head_revision,
    upgrade,
)
from evcms.storage.tables import metadata, sites
from support.databases import temporary_postgres_database, temporary_sqlite_url


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_matches_the_table_definitions(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_the_migrated_database_is_at_head_and_upgrading_again_is_harmless(
    database_url: str,
) -> None:
    assert await current_revision(database_url) == head_revision()
    await check_at_head(database_url)
    await upgrade(database_url)  # nothing to do
    assert await current_revision(database_url) == head_revision()


async def _check_fresh(url: str) -> None:
    assert await current_revision(url) is None
    with pytest.raises(SchemaNotAtHead, match="evcms db upgrade"):
        await check_at_head(url)
    await upgrade(url)
    engine = create_engine(url)
    try:
        await check_at_head(engine)
    finally:
        await engine.dispose()


async def test_an_empty_sqlite_database_is_not_at_head_until_upgraded(tmp_path: Path) -> None:
    await _check_fresh(temporary_sqlite_url(tmp_path / "new" / "nested", "fresh.db"))
    assert (tmp_path / "new" / "nested" / "fresh.db").is_file()


@pytest.mark.postgres
async def test_an_empty_postgres_database_is_not_at_head_until_upgraded() -> None:
    async with temporary_postgres_database() as url:
        await _check_fresh(url)


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(temporary_sqlite_url(tmp_path, "pragmas.db"))
    try:
        async with engine.connect() as conn:
            pragma = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 10000,
    }


async def test_timestamps_are_stored_as_utc_and_read_back_aware(engine: AsyncEngine) -> None:
    moment = datetime(2025, 3, 1, 14, 0, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    async with engine.begin() as conn:
        await conn.execute(insert(sites).values(id="s", name="S", address="", created_at=moment))
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT created_at FROM sites"))).scalar()
        typed = (await conn.execute(select(sites.c.created_at))).scalar()
    if engine.dialect.name == "sqlite":
        assert raw == "2025-03-01 12:00:00.000001"  # naive UTC text: sorts as time does
    else:
        assert isinstance(raw, datetime) and raw == moment  # timestamptz
    assert typed == moment and typed.tzinfo == UTC


def test_unsupported_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="aiosqlite"):
        create_engine("sqlite:///x.db")
    with pytest.raises(ValueError, match="unsupported"):
        create_engine("mysql+aiomysql://localhost/x")


async def test_the_writer_takes_the_sqlite_write_lock_up_front(tmp_path: Path) -> None:
    from evcms.storage.writer import Writer

    engine = create_engine(temporary_sqlite_url(tmp_path, "immediate.db"))
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with Writer(engine) as writer:
            await writer.submit(_noop)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


async def _noop(conn: Any) -> None:
    await conn.execute(text("SELECT 1"))
