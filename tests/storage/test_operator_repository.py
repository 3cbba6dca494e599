"""Operator accounts and console sessions: one contract on the memory twin, SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from evcms.domain.access import Role
from evcms.domain.operators import OperatorSession, OperatorUser
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.operators import (
    MemoryOperatorSessionRepository,
    MemoryOperatorStore,
    MemoryOperatorUserRepository,
    SqlOperatorSessionRepository,
    SqlOperatorUserRepository,
)
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))


@dataclass
class Repos:
    users: Any
    sessions: Any


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repos(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repos]:
    if request.param == "memory":
        store = MemoryOperatorStore()
        yield Repos(MemoryOperatorUserRepository(store), MemoryOperatorSessionRepository(store))
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


async def _sql(url: str) -> AsyncIterator[Repos]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield Repos(SqlOperatorUserRepository(engine, writer), SqlOperatorSessionRepository(engine, writer))
    finally:
        await writer.close()
        await engine.dispose()


def user(user_id: str, email: str, role: Role = Role.OPERATOR) -> OperatorUser:
    return OperatorUser(user_id, email, "Name", role, "argon2-hash", T0.astimezone(SOFIA))


async def test_users_are_stored_found_by_email_and_listed_in_order(repos: Repos) -> None:
    await repos.users.add(user("u2", "zed@ops.test"))
    await repos.users.add(user("u1", "Amy@ops.test", Role.ADMIN))
    found = await repos.users.find_by_email("AMY@ops.test")
    assert found == user("u1", "amy@ops.test", Role.ADMIN)
    assert found.created_at.tzinfo is not None
    assert [u.id for u in await repos.users.list()] == ["u1", "u2"]
    with pytest.raises(AlreadyExists):
        await repos.users.add(user("u3", "amy@ops.test"))
    with pytest.raises(AlreadyExists):
        await repos.users.add(user("u1", "other@ops.test"))


async def test_a_user_update_keeps_id_and_creation_time(repos: Repos) -> None:
    await repos.users.add(user("u1", "amy@ops.test"))
    changed = replace(
        user("u1", "amy@ops.test"), role=Role.VIEWER, disabled=True, last_login_at=T0 + timedelta(hours=1)
    )
    await repos.users.update(changed)
    assert await repos.users.get("u1") == changed
    with pytest.raises(NotFound):
        await repos.users.update(user("nobody", "x@ops.test"))


async def test_sessions_end_once_end_per_user_and_purge_when_expired(repos: Repos) -> None:
    await repos.users.add(user("u1", "amy@ops.test"))
    await repos.users.add(user("u2", "bob@ops.test"))
    for n, owner in enumerate(["u1", "u1", "u2"]):
        await repos.sessions.add(
            OperatorSession(f"h{n}", owner, T0, T0 + timedelta(hours=12 + n))
        )
    with pytest.raises(NotFound):
        await repos.sessions.add(OperatorSession("hx", "nobody", T0, T0 + timedelta(hours=1)))
    assert (await repos.sessions.get("h0")).valid_at(T0 + timedelta(hours=1))
    assert await repos.sessions.end("h0", T0 + timedelta(minutes=5)) is True
    assert await repos.sessions.end("h0", T0 + timedelta(minutes=6)) is False
    assert (await repos.sessions.get("h0")).ended_at == T0 + timedelta(minutes=5)
    assert await repos.sessions.end_all_of("u1", T0 + timedelta(minutes=7)) == 1  # h1 only
    assert not (await repos.sessions.get("h1")).valid_at(T0 + timedelta(minutes=8))
    assert await repos.sessions.purge(T0 + timedelta(hours=13, minutes=30)) == 2  # h0, h1
    assert await repos.sessions.get("h2") is not None
