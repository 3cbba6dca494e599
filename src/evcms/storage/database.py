"""Async engines for SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg).

Every SQLite connection gets WAL journalling, ``synchronous=NORMAL`` (durable across process
crashes; the last transactions may roll back on power loss), foreign keys on and a busy
timeout. Transactions are begun explicitly (``BEGIN``), which gives SQLite proper transactional
DDL for migrations and predictable transaction boundaries for the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option naming how a SQLite transaction begins. The writer uses IMMEDIATE: it takes
# the write lock up front (waiting on busy_timeout), so a transaction that reads before writing
# never fails half-way when another process (e.g. an admin command) wrote meanwhile.
SQLITE_BEGIN_OPTION = "evcms_sqlite_begin"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the parent directory of a SQLite database file (no-op for other databases).

    Synchronous on purpose: call it at start-up, before the event loop serves anyone
    (``create_engine`` does).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    path = _sqlite_file(parsed)
    if path is not None:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    create_directory: bool = True,
) -> AsyncEngine:
    """An ``AsyncEngine`` for ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            raise ValueError(f"SQLite URLs must use the aiosqlite driver: {parsed!r}")
        if create_directory:
            ensure_sqlite_directory(parsed)
        return _sqlite_engine(parsed, echo=echo)
    if backend == "postgresql":
        if parsed.get_driver_name() != "asyncpg":
            raise ValueError(f"PostgreSQL URLs must use the asyncpg driver: {parsed!r}")
        return create_async_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "evcms"}},
        )
    raise ValueError(
        f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    in_memory = _sqlite_file(url) is None
    kwargs: dict[str, Any] = {}
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"bad {SQLITE_BEGIN_OPTION}: {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
