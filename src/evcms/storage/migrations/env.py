"""Alembic environment for evcms (async-aware).

Two ways in:

* programmatically (``evcms.storage.migrate``): the caller opens an async connection and runs
  Alembic inside ``connection.run_sync``, passing the sync connection in
  ``config.attributes["connection"]``;
* the ``alembic`` command line (development, e.g. ``alembic revision --autogenerate``): the URL
  comes from ``sqlalchemy.url`` or ``EVCMS_DATABASE_URL`` and an async engine is created here.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from evcms.storage.database import create_engine
from evcms.storage.tables import UTCDateTime, metadata

config = context.config
target_metadata = metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate: migrations use plain SQLAlchemy types, never our TypeDecorators (a
    migration must not change meaning when tables.py changes later)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs via table copies
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("EVCMS_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or EVCMS_DATABASE_URL")
    return url


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
