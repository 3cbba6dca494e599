"""Database migrations, driven programmatically (no alembic.ini needed).

The migration scripts ship inside the package (``evcms/storage/migrations``), so this works
from a non-editable install too. ``evcms db upgrade`` and ``make run`` call :func:`upgrade`;
``serve`` calls :func:`check_at_head` at start-up and refuses to run on an outdated schema.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from evcms.storage.database import create_engine

MIGRATIONS_DIRECTORY = Path(__file__).resolve().with_name("migrations")
# Any constant shared by all evcms nodes: concurrent upgrades on PostgreSQL queue on it.
_PG_MIGRATION_LOCK = 0x6576636D73  # "evcms"


class SchemaNotAtHead(RuntimeError):
    """The database schema is older (or newer) than this version of evcms expects."""


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (and at ``database_url``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIRECTORY}")
    return head


def _upgrade_on(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database of ``engine`` to ``revision`` in one transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_on, revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at ``database_url`` (creating a SQLite file and its directory)."""
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """:func:`upgrade` for synchronous callers (the CLI); not from inside a running loop."""
    asyncio.run(upgrade(database_url, revision))


def _current_on(connection: Connection) -> Any:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision_engine(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        revision: str | None = await connection.run_sync(_current_on)
    return revision


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None for an empty database)."""
    engine = create_engine(database_url)
    try:
        return await current_revision_engine(engine)
    finally:
        await engine.dispose()


async def check_at_head(engine_or_url: AsyncEngine | str) -> None:
    """Raise :class:`SchemaNotAtHead` unless the schema is at this version's head revision."""
    if isinstance(engine_or_url, str):
        current = await current_revision(engine_or_url)
    else:
        current = await current_revision_engine(engine_or_url)
    head = head_revision()
    if current != head:
        raise SchemaNotAtHead(
            f"the database schema is at revision {current or 'none (empty database)'}, "
            f"this evcms needs {head}: run `evcms db upgrade`"
        )
