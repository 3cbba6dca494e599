"""Small SQL helpers shared by the repositories (dialect differences live here)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Insert

from evcms.services.clock import SystemClock
from evcms.services.ports import Clock
from evcms.storage.writer import Writer


class SqlRepository:
    """What every SQL repository holds: the engine for reads, the writer for writes, a clock."""

    def __init__(self, engine: AsyncEngine, writer: Writer, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._writer = writer
        self._clock: Clock = clock or SystemClock()

    @property
    def _dialect(self) -> str:
        return self._engine.dialect.name


def upsert(
    dialect_name: str,
    table: Table,
    key: Sequence[str],
    columns: Sequence[str] | None = None,
) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET <other columns> = excluded.<column>``.

    Execute it with one row or many. ``columns`` are the columns the rows carry (default: all
    of the table's). SQLite and PostgreSQL share the syntax but SQLAlchemy has one construct for
    each; building one is costly (~0.3 ms), so the result is cached: the same arguments give the
    same statement object (which also lets the writer group them into one executemany).
    """
    names = tuple(columns) if columns is not None else tuple(c.name for c in table.columns)
    return _upsert(dialect_name, table, tuple(key), names)


@functools.cache
def _upsert(
    dialect_name: str, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> Insert:
    if dialect_name == "postgresql":
        pg_stmt = postgresql.insert(table)
        pg_updates = {c: pg_stmt.excluded[c] for c in columns if c not in key}
        return pg_stmt.on_conflict_do_update(index_elements=list(key), set_=pg_updates)
    if dialect_name == "sqlite":
        lite_stmt = sqlite.insert(table)
        lite_updates = {c: lite_stmt.excluded[c] for c in columns if c not in key}
        return lite_stmt.on_conflict_do_update(index_elements=list(key), set_=lite_updates)
    raise NotImplementedError(f"upsert is not implemented for {dialect_name}")


def ordered(column: ColumnElement[str], dialect_name: str) -> ColumnElement[str]:
    """Sort text by code point on every database (PostgreSQL would use the locale's collation)."""
    if dialect_name == "postgresql":
        return column.collate("C")
    return column


def utc(value: datetime) -> datetime:
    """Check that ``value`` is aware and return it in UTC (what the database gives back)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
