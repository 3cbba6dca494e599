"""Driver accounts, their auth tokens and the mail outbox: SQL repositories (writes through the
:class:`Writer`, reads on the engine) and their in-memory twins (same contract, same tests).

Memory twins that refer to each other share one :class:`MemoryDriverStore`::

    store = MemoryDriverStore()
    drivers, tokens = MemoryDriverRepository(store), MemoryDriverAuthTokenRepository(store)
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.drivers import AuthToken, AuthTokenPurpose, Driver, DriverStatus, Language
from evcms.services.drivers import OutboxMail
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage._sql import SqlRepository, ordered, utc, utc_or_none
from evcms.storage.tables import driver_auth_tokens, drivers, email_outbox

ERROR_MAX_LENGTH = 1000  # email_outbox.error




def _normalised(driver: Driver) -> Driver:
    return driver.replace(
        email=driver.email.lower(),
        created_at=utc(driver.created_at),
        updated_at=utc(driver.updated_at),
        email_verified_at=utc_or_none(driver.email_verified_at),
    )


def _normalised_token(token: AuthToken) -> AuthToken:
    return AuthToken(
        token_hash=token.token_hash,
        driver_id=token.driver_id,
        purpose=AuthTokenPurpose(token.purpose),
        created_at=utc(token.created_at),
        expires_at=utc(token.expires_at),
        used_at=utc_or_none(token.used_at),
    )


def _clip(error: str) -> str:
    return error if len(error) <= ERROR_MAX_LENGTH else error[: ERROR_MAX_LENGTH - 1] + "…"


# -- drivers ----------------------------------------------------------------------------------


def _driver_from_row(row: Row[Any]) -> Driver:
    return Driver(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        name=row.name,
        language=Language(row.language),
        status=DriverStatus(row.status),
        email_verified_at=row.email_verified_at,
    )


def _driver_values(driver: Driver) -> dict[str, Any]:
    """The columns ``update`` replaces (everything but id and created_at)."""
    return {
        "email": driver.email,
        "password_hash": driver.password_hash,
        "name": driver.name,
        "language": driver.language.value,
        "status": driver.status.value,
        "email_verified_at": driver.email_verified_at,
        "updated_at": driver.updated_at,
    }


class SqlDriverRepository(SqlRepository):
    async def add(self, driver: Driver) -> None:
        driver = _normalised(driver)
        values = {"id": driver.id, "created_at": driver.created_at, **_driver_values(driver)}
        clash = AlreadyExists(f"a driver with id {driver.id!r} or this e-mail address exists")

        async def op(conn: AsyncConnection) -> None:
            taken = exists().where(or_(drivers.c.id == driver.id, drivers.c.email == driver.email))
            if await conn.scalar(select(taken)):
                raise clash
            await conn.execute(insert(drivers).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # added concurrently by another node
            raise clash from exc

    async def get(self, driver_id: str) -> Driver | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(drivers).where(drivers.c.id == driver_id))).first()
        return None if row is None else _driver_from_row(row)

    async def find_by_email(self, email: str) -> Driver | None:
        query = select(drivers).where(drivers.c.email == email.lower())
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _driver_from_row(row)

    async def update(self, driver: Driver) -> None:
        driver = _normalised(driver)

        async def op(conn: AsyncConnection) -> None:
            clash = select(
                exists().where(drivers.c.email == driver.email, drivers.c.id != driver.id)
            )
            if await conn.scalar(clash):
                raise AlreadyExists(f"another driver has the e-mail address {driver.email!r}")
            result = await conn.execute(
                update(drivers).where(drivers.c.id == driver.id).values(_driver_values(driver))
            )
            if result.rowcount == 0:
                raise NotFound(f"driver {driver.id!r} does not exist")

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:
            raise AlreadyExists(f"another driver has the e-mail address {driver.email!r}") from exc

    async def list(
        self,
        *,
        status: DriverStatus | None = None,
        limit: int = 100,
        after_email: str | None = None,
    ) -> builtins.list[Driver]:
        if limit <= 0:
            return []
        email = ordered(drivers.c.email, self._dialect)
        query = select(drivers).order_by(email).limit(limit)
        if status is not None:
            query = query.where(drivers.c.status == status.value)
        if after_email is not None:
            query = query.where(email > after_email)
        async with self._engine.connect() as conn:
            return [_driver_from_row(row) for row in await conn.execute(query)]


# -- auth tokens ------------------------------------------------------------------------------


def _token_from_row(row: Row[Any]) -> AuthToken:
    return AuthToken(
        token_hash=row.token_hash,
        driver_id=row.driver_id,
        purpose=AuthTokenPurpose(row.purpose),
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlDriverAuthTokenRepository(SqlRepository):
    async def add(self, token: AuthToken) -> None:
        token = _normalised_token(token)
        values = {
            "token_hash": token.token_hash,
            "driver_id": token.driver_id,
            "purpose": token.purpose.value,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "used_at": token.used_at,
        }

        async def op(conn: AsyncConnection) -> None:
            if not await conn.scalar(select(exists().where(drivers.c.id == token.driver_id))):
                raise NotFound(f"driver {token.driver_id!r} does not exist")
            if await conn.scalar(
                select(exists().where(driver_auth_tokens.c.token_hash == token.token_hash))
            ):
                raise AlreadyExists("a token with this hash already exists")
            await conn.execute(insert(driver_auth_tokens).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:
            raise AlreadyExists("a token with this hash already exists") from exc

    async def get(self, token_hash: str) -> AuthToken | None:
        query = select(driver_auth_tokens).where(driver_auth_tokens.c.token_hash == token_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _token_from_row(row)

    async def use(self, token_hash: str, at: datetime) -> bool:
        at = utc(at)
        statement = (
            update(driver_auth_tokens)
            .where(
                driver_auth_tokens.c.token_hash == token_hash,
                driver_auth_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )

        async def op(conn: AsyncConnection) -> bool:
            return (await conn.execute(statement)).rowcount > 0

        return await self._writer.submit(op)

    async def revoke_all(
        self,
        driver_id: str,
        purposes: Sequence[AuthTokenPurpose],
        at: datetime,
        *,
        keep: str | None = None,
    ) -> int:
        at = utc(at)
        if not purposes:
            return 0
        statement = (
            update(driver_auth_tokens)
            .where(
                driver_auth_tokens.c.driver_id == driver_id,
                driver_auth_tokens.c.purpose.in_([p.value for p in purposes]),
                driver_auth_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        if keep is not None:
            statement = statement.where(driver_auth_tokens.c.token_hash != keep)

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await self._writer.submit(op)

    async def purge(self, expired_before: datetime) -> int:
        cutoff = utc(expired_before)
        statement = delete(driver_auth_tokens).where(driver_auth_tokens.c.expires_at < cutoff)

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await self._writer.submit(op)


# -- the mail outbox --------------------------------------------------------------------------


def _mail_from_row(row: Row[Any]) -> OutboxMail:
    return OutboxMail(
        id=row.id,
        to_address=row.to_address,
        subject=row.subject,
        body=row.body,
        created_at=row.created_at,
        sent_at=row.sent_at,
        error=row.error,
    )


class SqlOutbox(SqlRepository):
    async def add(self, to_address: str, subject: str, body: str, at: datetime) -> int:
        values = {"to_address": to_address, "subject": subject, "body": body, "created_at": utc(at)}

        async def op(conn: AsyncConnection) -> int:
            result = await conn.execute(insert(email_outbox).values(values))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self._writer.submit(op)

    async def _set(self, mail_id: int, values: dict[str, Any]) -> None:
        async def op(conn: AsyncConnection) -> None:
            result = await conn.execute(
                update(email_outbox).where(email_outbox.c.id == mail_id).values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"mail {mail_id} is not in the outbox")

        await self._writer.submit(op)

    async def mark_sent(self, mail_id: int, at: datetime) -> None:
        await self._set(mail_id, {"sent_at": utc(at), "error": None})

    async def mark_failed(self, mail_id: int, error: str) -> None:
        await self._set(mail_id, {"error": _clip(error)})

    async def list(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OutboxMail]:
        if limit <= 0:
            return []
        query = select(email_outbox).order_by(email_outbox.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(email_outbox.c.id < before_id)
        async with self._engine.connect() as conn:
            return [_mail_from_row(row) for row in await conn.execute(query)]


# -- in-memory twins --------------------------------------------------------------------------


@dataclass
class MemoryDriverStore:
    """The shared state of the in-memory driver repositories and outbox."""

    drivers: dict[str, Driver] = field(default_factory=dict)
    tokens: dict[str, AuthToken] = field(default_factory=dict)
    mails: dict[int, OutboxMail] = field(default_factory=dict)
    next_mail_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class MemoryDriverRepository:
    def __init__(self, store: MemoryDriverStore | None = None) -> None:
        self.store = store or MemoryDriverStore()

    def _email_taken(self, email: str, other_than: str | None = None) -> bool:
        return any(d.email == email and d.id != other_than for d in self.store.drivers.values())

    async def add(self, driver: Driver) -> None:
        driver = _normalised(driver)
        if driver.id in self.store.drivers or self._email_taken(driver.email):
            raise AlreadyExists(f"a driver with id {driver.id!r} or this e-mail address exists")
        self.store.drivers[driver.id] = driver

    async def get(self, driver_id: str) -> Driver | None:
        return self.store.drivers.get(driver_id)

    async def find_by_email(self, email: str) -> Driver | None:
        email = email.lower()
        return next((d for d in self.store.drivers.values() if d.email == email), None)

    async def update(self, driver: Driver) -> None:
        driver = _normalised(driver)
        if self._email_taken(driver.email, other_than=driver.id):
            raise AlreadyExists(f"another driver has the e-mail address {driver.email!r}")
        stored = self.store.drivers.get(driver.id)
        if stored is None:
            raise NotFound(f"driver {driver.id!r} does not exist")
        self.store.drivers[driver.id] = driver.replace(created_at=stored.created_at)

    async def list(
        self,
        *,
        status: DriverStatus | None = None,
        limit: int = 100,
        after_email: str | None = None,
    ) -> builtins.list[Driver]:
        if limit <= 0:
            return []
        found = sorted(
            (
                d
                for d in self.store.drivers.values()
                if (status is None or d.status is status)
                and (after_email is None or d.email > after_email)
            ),
            key=lambda d: d.email,
        )
        return found[:limit]


class MemoryDriverAuthTokenRepository:
    def __init__(self, store: MemoryDriverStore | None = None) -> None:
        self.store = store or MemoryDriverStore()

    async def add(self, token: AuthToken) -> None:
        token = _normalised_token(token)
        if token.driver_id not in self.store.drivers:
            raise NotFound(f"driver {token.driver_id!r} does not exist")
        if token.token_hash in self.store.tokens:
            raise AlreadyExists("a token with this hash already exists")
        self.store.tokens[token.token_hash] = token

    async def get(self, token_hash: str) -> AuthToken | None:
        return self.store.tokens.get(token_hash)

    def _mark_used(self, token: AuthToken, at: datetime) -> None:
        self.store.tokens[token.token_hash] = AuthToken(
            token_hash=token.token_hash,
            driver_id=token.driver_id,
            purpose=token.purpose,
            created_at=token.created_at,
            expires_at=token.expires_at,
            used_at=at,
        )

    async def use(self, token_hash: str, at: datetime) -> bool:
        at = utc(at)
        token = self.store.tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        self._mark_used(token, at)
        return True

    async def revoke_all(
        self,
        driver_id: str,
        purposes: Sequence[AuthTokenPurpose],
        at: datetime,
        *,
        keep: str | None = None,
    ) -> int:
        at = utc(at)
        doomed = [
            t
            for t in self.store.tokens.values()
            if t.driver_id == driver_id
            and t.purpose in purposes
            and t.used_at is None
            and t.token_hash != keep
        ]
        for token in doomed:
            self._mark_used(token, at)
        return len(doomed)

    async def purge(self, expired_before: datetime) -> int:
        cutoff = utc(expired_before)
        doomed = [h for h, t in self.store.tokens.items() if t.expires_at < cutoff]
        for token_hash in doomed:
            del self.store.tokens[token_hash]
        return len(doomed)


class MemoryOutbox:
    def __init__(self, store: MemoryDriverStore | None = None) -> None:
        self.store = store or MemoryDriverStore()

    async def add(self, to_address: str, subject: str, body: str, at: datetime) -> int:
        mail_id = next(self.store.next_mail_id)
        self.store.mails[mail_id] = OutboxMail(mail_id, to_address, subject, body, utc(at))
        return mail_id

    def _require(self, mail_id: int) -> OutboxMail:
        mail = self.store.mails.get(mail_id)
        if mail is None:
            raise NotFound(f"mail {mail_id} is not in the outbox")
        return mail

    async def mark_sent(self, mail_id: int, at: datetime) -> None:
        mail = self._require(mail_id)
        self.store.mails[mail_id] = OutboxMail(
            mail.id, mail.to_address, mail.subject, mail.body, mail.created_at, utc(at), None
        )

    async def mark_failed(self, mail_id: int, error: str) -> None:
        mail = self._require(mail_id)
        self.store.mails[mail_id] = OutboxMail(
            mail.id, mail.to_address, mail.subject, mail.body, mail.created_at, mail.sent_at,
            _clip(error),
        )

    async def list(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OutboxMail]:
        if limit <= 0:
            return []
        ids = sorted(
            (i for i in self.store.mails if before_id is None or i < before_id), reverse=True
        )
        return [self.store.mails[i] for i in ids[:limit]]
