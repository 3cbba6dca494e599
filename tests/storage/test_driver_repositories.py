"""The contract of the driver, auth-token and outbox repositories, run against the memory twins,
SQLite and PostgreSQL (SQL databases created by the real migrations)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evcms.domain.drivers import AuthToken, AuthTokenPurpose, Driver, DriverStatus, Language
from evcms.services.drivers import DriverAuthTokenRepository, DriverRepository, Outbox
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage.database import create_engine
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
    SqlDriverAuthTokenRepository,
    SqlDriverRepository,
    SqlOutbox,
)
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))
SESSION, VERIFY, RESET = (
    AuthTokenPurpose.SESSION,
    AuthTokenPurpose.VERIFY_EMAIL,
    AuthTokenPurpose.RESET_PASSWORD,
)


@dataclass
class Repos:
    drivers: DriverRepository
    tokens: DriverAuthTokenRepository
    outbox: Outbox


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repos(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repos]:
    if request.param == "memory":
        store = MemoryDriverStore()
        yield Repos(
            MemoryDriverRepository(store),
            MemoryDriverAuthTokenRepository(store),
            MemoryOutbox(store),
        )
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path)
        await upgrade(url)
        async for built in _sql(url):
            yield built
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for built in _sql(url):
            yield built


async def _sql(url: str) -> AsyncIterator[Repos]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield Repos(
            SqlDriverRepository(engine, writer),
            SqlDriverAuthTokenRepository(engine, writer),
            SqlOutbox(engine, writer),
        )
    finally:
        await writer.close()
        await engine.dispose()


def driver(driver_id: str, email: str, **changes: object) -> Driver:
    base = Driver(id=driver_id, email=email, password_hash="$argon2id$x", created_at=T0, updated_at=T0)
    return base.replace(**changes) if changes else base


def token(token_hash: str, driver_id: str, purpose: AuthTokenPurpose, **changes: object) -> AuthToken:
    fields: dict[str, object] = {
        "token_hash": token_hash,
        "driver_id": driver_id,
        "purpose": purpose,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
        "used_at": None,
    }
    fields.update(changes)
    return AuthToken(**fields)  # type: ignore[arg-type]


# -- drivers ----------------------------------------------------------------------------------


async def test_a_driver_is_stored_and_read_back_by_id_and_by_address(repos: Repos) -> None:
    ana = driver(
        "d-1",
        "ana@example.com",
        name="Ана",
        language=Language.BG,
        email_verified_at=T0.astimezone(SOFIA),  # any zone in, UTC out
        updated_at=T0 + timedelta(seconds=1),
    )
    await repos.drivers.add(ana)

    stored = await repos.drivers.get("d-1")
    assert stored == ana.replace(email_verified_at=T0)
    assert stored is not None and stored.email_verified_at is not None
    assert stored.email_verified_at.utcoffset() == timedelta(0)
    assert await repos.drivers.find_by_email("ana@example.com") == stored
    assert await repos.drivers.find_by_email("ANA@Example.com") == stored
    assert await repos.drivers.get("nope") is None
    assert await repos.drivers.find_by_email("bob@example.com") is None


async def test_the_same_id_or_address_is_refused(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    with pytest.raises(AlreadyExists):
        await repos.drivers.add(driver("d-1", "other@example.com"))
    with pytest.raises(AlreadyExists):
        await repos.drivers.add(driver("d-2", "ana@example.com"))
    assert [d.id for d in await repos.drivers.list()] == ["d-1"]


async def test_concurrent_registrations_of_one_address_store_one(repos: Repos) -> None:
    results = await asyncio.gather(
        *(repos.drivers.add(driver(f"d-{n}", "ana@example.com")) for n in range(5)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if r is not None)


async def test_update_replaces_everything_but_id_and_creation_time(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.drivers.add(driver("d-2", "bob@example.com"))
    changed = driver(
        "d-1",
        "ana@example.com",
        password_hash="$argon2id$new",
        name="Ana",
        language=Language.BG,
        status=DriverStatus.DEACTIVATED,
        email_verified_at=T0,
        created_at=T0 + timedelta(days=9),  # ignored
        updated_at=T0 + timedelta(hours=1),
    )
    await repos.drivers.update(changed)
    assert await repos.drivers.get("d-1") == changed.replace(created_at=T0)

    with pytest.raises(NotFound, match="driver 'nope' does not exist"):
        await repos.drivers.update(driver("nope", "nope@example.com"))
    with pytest.raises(AlreadyExists):
        await repos.drivers.update(driver("d-2", "ana@example.com"))
    assert (await repos.drivers.get("d-2")).email == "bob@example.com"  # type: ignore[union-attr]


async def test_drivers_are_listed_by_address_with_paging_and_a_status_filter(repos: Repos) -> None:
    for n, email in enumerate(["b@x.bg", "a@x.bg", "Z@x.bg".lower(), "_@x.bg", "ä@x.bg"]):
        await repos.drivers.add(driver(f"d-{n}", email))
    await repos.drivers.update(
        driver("d-0", "b@x.bg", status=DriverStatus.DEACTIVATED, updated_at=T0)
    )

    everyone = [d.email for d in await repos.drivers.list()]
    assert everyone == ["_@x.bg", "a@x.bg", "b@x.bg", "z@x.bg", "ä@x.bg"]  # by code point
    assert [d.email for d in await repos.drivers.list(limit=2)] == everyone[:2]
    assert [d.email for d in await repos.drivers.list(limit=2, after_email="a@x.bg")] == [
        "b@x.bg",
        "z@x.bg",
    ]
    assert [d.email for d in await repos.drivers.list(status=DriverStatus.DEACTIVATED)] == ["b@x.bg"]
    assert len(await repos.drivers.list(status=DriverStatus.ACTIVE)) == 4
    assert await repos.drivers.list(limit=0) == []


# -- auth tokens ------------------------------------------------------------------------------


async def test_a_token_is_stored_and_read_back(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    stored = token("a" * 64, "d-1", SESSION, created_at=T0.astimezone(SOFIA))
    await repos.tokens.add(stored)
    assert await repos.tokens.get("a" * 64) == token("a" * 64, "d-1", SESSION)
    assert await repos.tokens.get("b" * 64) is None


async def test_a_token_needs_its_driver_and_a_unique_hash(repos: Repos) -> None:
    with pytest.raises(NotFound, match="driver 'ghost' does not exist"):
        await repos.tokens.add(token("a" * 64, "ghost", SESSION))
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.tokens.add(token("a" * 64, "d-1", SESSION))
    with pytest.raises(AlreadyExists):
        await repos.tokens.add(token("a" * 64, "d-1", RESET))


async def test_a_token_is_used_once(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.tokens.add(token("a" * 64, "d-1", RESET))

    assert await repos.tokens.use("a" * 64, T0 + timedelta(minutes=5)) is True
    assert await repos.tokens.use("a" * 64, T0 + timedelta(minutes=6)) is False
    assert await repos.tokens.use("b" * 64, T0) is False
    used = await repos.tokens.get("a" * 64)
    assert used is not None and used.used_at == T0 + timedelta(minutes=5)


async def test_of_concurrent_uses_exactly_one_wins(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.tokens.add(token("a" * 64, "d-1", RESET))
    wins = await asyncio.gather(*(repos.tokens.use("a" * 64, T0) for _ in range(10)))
    assert wins.count(True) == 1


async def test_revoking_ends_the_unused_tokens_of_the_purposes_given_but_the_kept_one(
    repos: Repos,
) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.drivers.add(driver("d-2", "bob@example.com"))
    earlier = T0 - timedelta(minutes=1)
    for stored in (
        token("s1".ljust(64, "0"), "d-1", SESSION),
        token("s2".ljust(64, "0"), "d-1", SESSION),
        token("s3".ljust(64, "0"), "d-1", SESSION, used_at=earlier),  # logged out before
        token("r1".ljust(64, "0"), "d-1", RESET),
        token("v1".ljust(64, "0"), "d-1", VERIFY),
        token("o1".ljust(64, "0"), "d-2", SESSION),
    ):
        await repos.tokens.add(stored)

    revoked = await repos.tokens.revoke_all(
        "d-1", [SESSION, RESET], T0, keep="s2".ljust(64, "0")
    )

    assert revoked == 2  # s1 and r1
    used = {
        name: (await repos.tokens.get(name.ljust(64, "0"))).used_at  # type: ignore[union-attr]
        for name in ("s1", "s2", "s3", "r1", "v1", "o1")
    }
    assert used == {"s1": T0, "s2": None, "s3": earlier, "r1": T0, "v1": None, "o1": None}
    assert await repos.tokens.revoke_all("d-1", [], T0) == 0


async def test_purging_removes_tokens_that_expired_before_the_cutoff(repos: Repos) -> None:
    await repos.drivers.add(driver("d-1", "ana@example.com"))
    await repos.tokens.add(token("old".ljust(64, "0"), "d-1", VERIFY, expires_at=T0))
    await repos.tokens.add(token("new".ljust(64, "0"), "d-1", SESSION, expires_at=T0 + timedelta(days=1)))
    assert await repos.tokens.purge(T0) == 0  # strictly before
    assert await repos.tokens.purge(T0 + timedelta(seconds=1)) == 1
    assert await repos.tokens.get("old".ljust(64, "0")) is None
    assert await repos.tokens.get("new".ljust(64, "0")) is not None


# -- outbox -----------------------------------------------------------------------------------


async def test_mails_are_kept_and_listed_newest_first(repos: Repos) -> None:
    ids = [
        await repos.outbox.add(f"d{n}@example.com", f"Subject {n}", "Тяло\nbody", T0 + timedelta(seconds=n))
        for n in range(5)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 5

    newest = await repos.outbox.list(limit=2)
    assert [m.to_address for m in newest] == ["d4@example.com", "d3@example.com"]
    assert newest[0].body == "Тяло\nbody" and newest[0].created_at == T0 + timedelta(seconds=4)
    assert newest[0].sent_at is None and newest[0].error is None
    older = await repos.outbox.list(limit=10, before_id=newest[-1].id)
    assert [m.to_address for m in older] == ["d2@example.com", "d1@example.com", "d0@example.com"]
    assert await repos.outbox.list(limit=0) == []


async def test_a_mail_is_marked_sent_or_failed(repos: Repos) -> None:
    sent = await repos.outbox.add("a@example.com", "S", "B", T0)
    failed = await repos.outbox.add("b@example.com", "S", "B", T0)

    await repos.outbox.mark_sent(sent, T0 + timedelta(seconds=2))
    await repos.outbox.mark_failed(failed, "SMTPRecipientsRefused: " + "x" * 2000)

    by_id = {m.id: m for m in await repos.outbox.list()}
    assert by_id[sent].sent_at == T0 + timedelta(seconds=2) and by_id[sent].error is None
    assert by_id[failed].sent_at is None
    error = by_id[failed].error
    assert error is not None and error.startswith("SMTPRecipientsRefused: ") and len(error) == 1000
    with pytest.raises(NotFound):
        await repos.outbox.mark_sent(999_999, T0)
