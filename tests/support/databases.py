"""Throwaway databases for tests.

PostgreSQL tests need the server on 127.0.0.1:5432 (trust auth, user ``postgres``). Each test
database gets a random name and is dropped (``WITH (FORCE)``) afterwards. When the server is not
reachable, :func:`require_postgres` *fails* the test if services are required (``CI=true`` or
``EVCMS_REQUIRE_SERVICES=1``) and skips it otherwise — with the same message either way.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USER = "postgres"
POSTGRES_ADMIN_DATABASE = "postgres"

POSTGRES_START_HINT = (
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    " (or run `make test`, which starts it)"
)


def postgres_unreachable_message(host: str = POSTGRES_HOST, port: int = POSTGRES_PORT) -> str:
    return f"PostgreSQL is not reachable on {host}:{port} — start it with {POSTGRES_START_HINT}"


def services_required() -> bool:
    """True in CI (``CI=true``) or with ``EVCMS_REQUIRE_SERVICES=1``: missing services fail."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("EVCMS_REQUIRE_SERVICES") == "1"
    )


async def _admin_connection(
    host: str = POSTGRES_HOST, port: int = POSTGRES_PORT, connect_timeout: float = 3.0
) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=host,
        port=port,
        user=POSTGRES_USER,
        database=POSTGRES_ADMIN_DATABASE,
        timeout=connect_timeout,
    )


async def postgres_available(
    host: str = POSTGRES_HOST, port: int = POSTGRES_PORT, connect_timeout: float = 3.0
) -> bool:
    """Whether the test PostgreSQL server accepts connections."""
    try:
        connection = await _admin_connection(host, port, connect_timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def require_postgres(host: str = POSTGRES_HOST, port: int = POSTGRES_PORT) -> None:
    """Fail (services required) or skip (otherwise) the current test without PostgreSQL."""
    if await postgres_available(host, port):
        return
    message = postgres_unreachable_message(host, port)
    if services_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def postgres_url(database: str, host: str = POSTGRES_HOST, port: int = POSTGRES_PORT) -> str:
    return f"postgresql+asyncpg://{POSTGRES_USER}@{host}:{port}/{database}"


@asynccontextmanager
async def temporary_postgres_database(prefix: str = "evcms_test") -> AsyncIterator[str]:
    """Create an empty database with a random name; yield its SQLAlchemy URL; drop it."""
    await require_postgres()
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await _admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield postgres_url(name)
    finally:
        admin = await _admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def temporary_sqlite_url(directory: os.PathLike[str] | str, name: str = "evcms.db") -> str:
    return f"sqlite+aiosqlite:///{os.fspath(directory)}/{name}"
