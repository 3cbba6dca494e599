"""Small SQL helpers shared by the repositories (dialect differences live here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET <every other column> = excluded.<column>``.

    Returns the statement; execute it with ``rows`` (one or many). Chosen by the connection's
    dialect: SQLite and PostgreSQL share the syntax but SQLAlchemy has one construct for each.
    """
    name = conn.dialect.name
    if name == "postgresql":
        pg_stmt = postgresql.insert(table)
        updates = {c: pg_stmt.excluded[c] for c in rows[0] if c not in key}
        return pg_stmt.on_conflict_do_update(index_elements=list(key), set_=updates)
    if name == "sqlite":
        lite_stmt = sqlite.insert(table)
        updates = {c: lite_stmt.excluded[c] for c in rows[0] if c not in key}
        return lite_stmt.on_conflict_do_update(index_elements=list(key), set_=updates)
    raise NotImplementedError(f"upsert is not implemented for {name}")


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
