"""Operator accounts and their sign-in sessions: SQL repositories and in-memory twins."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.access import Role
from evcms.domain.operators import OperatorSession, OperatorUser
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage._sql import SqlRepository, ordered, utc, utc_or_none
from evcms.storage.tables import operator_sessions, operator_users


def _user_row(user: OperatorUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email.lower(),
        "name": user.name,
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": utc(user.created_at),
        "disabled": user.disabled,
        "last_login_at": utc_or_none(user.last_login_at),
    }


def _user(row: Row[Any]) -> OperatorUser:
    return OperatorUser(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled=row.disabled,
        last_login_at=row.last_login_at,
    )


def _session(row: Row[Any]) -> OperatorSession:
    return OperatorSession(
        token_hash=row.token_hash,
        user_id=row.user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
    )


class SqlOperatorUserRepository(SqlRepository):
    async def add(self, user: OperatorUser) -> None:
        values = _user_row(user)

        async def op(conn: AsyncConnection) -> None:
            taken = await conn.scalar(
                select(operator_users.c.id).where(
                    (operator_users.c.id == user.id) | (operator_users.c.email == values["email"])
                )
            )
            if taken is not None:
                raise AlreadyExists(f"operator {values['email']!r} exists already")
            await conn.execute(insert(operator_users).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:
            raise AlreadyExists(f"operator {values['email']!r} exists already") from exc

    async def get(self, user_id: str) -> OperatorUser | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(operator_users).where(operator_users.c.id == user_id))
            ).first()
        return None if row is None else _user(row)

    async def find_by_email(self, email: str) -> OperatorUser | None:
        query = select(operator_users).where(operator_users.c.email == email.lower())
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _user(row)

    async def update(self, user: OperatorUser) -> None:
        values = _user_row(user)
        del values["id"], values["created_at"]
        statement = update(operator_users).where(operator_users.c.id == user.id).values(values)

        async def op(conn: AsyncConnection) -> None:
            if (await conn.execute(statement)).rowcount == 0:
                raise NotFound(f"no operator account {user.id!r}")

        await self._writer.submit(op)

    async def list(self) -> builtins.list[OperatorUser]:
        query = select(operator_users).order_by(ordered(operator_users.c.email, self._dialect))
        async with self._engine.connect() as conn:
            return [_user(row) for row in await conn.execute(query)]


class SqlOperatorSessionRepository(SqlRepository):
    async def add(self, session: OperatorSession) -> None:
        values = {
            "token_hash": session.token_hash,
            "user_id": session.user_id,
            "created_at": utc(session.created_at),
            "expires_at": utc(session.expires_at),
            "ended_at": utc_or_none(session.ended_at),
        }

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(insert(operator_sessions).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # an unknown user (foreign key) or a reused hash
            raise NotFound(f"cannot start a session for operator {session.user_id!r}") from exc

    async def get(self, token_hash: str) -> OperatorSession | None:
        query = select(operator_sessions).where(operator_sessions.c.token_hash == token_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _session(row)

    async def end(self, token_hash: str, at: datetime) -> bool:
        statement = (
            update(operator_sessions)
            .where(
                operator_sessions.c.token_hash == token_hash,
                operator_sessions.c.ended_at.is_(None),
            )
            .values(ended_at=utc(at))
        )

        async def op(conn: AsyncConnection) -> bool:
            return (await conn.execute(statement)).rowcount > 0

        return await self._writer.submit(op)

    async def end_all_of(self, user_id: str, at: datetime) -> int:
        statement = (
            update(operator_sessions)
            .where(operator_sessions.c.user_id == user_id, operator_sessions.c.ended_at.is_(None))
            .values(ended_at=utc(at))
        )

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await self._writer.submit(op)

    async def purge(self, expired_before: datetime) -> int:
        statement = delete(operator_sessions).where(
            operator_sessions.c.expires_at < utc(expired_before)
        )

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await self._writer.submit(op)


@dataclass
class MemoryOperatorStore:
    users: dict[str, OperatorUser] = field(default_factory=dict)
    sessions: dict[str, OperatorSession] = field(default_factory=dict)


class MemoryOperatorUserRepository:
    def __init__(self, store: MemoryOperatorStore | None = None) -> None:
        self.store = store or MemoryOperatorStore()

    async def add(self, user: OperatorUser) -> None:
        user = replace(user, email=user.email.lower())
        if user.id in self.store.users or any(
            u.email == user.email for u in self.store.users.values()
        ):
            raise AlreadyExists(f"operator {user.email!r} exists already")
        self.store.users[user.id] = user

    async def get(self, user_id: str) -> OperatorUser | None:
        return self.store.users.get(user_id)

    async def find_by_email(self, email: str) -> OperatorUser | None:
        return next((u for u in self.store.users.values() if u.email == email.lower()), None)

    async def update(self, user: OperatorUser) -> None:
        old = self.store.users.get(user.id)
        if old is None:
            raise NotFound(f"no operator account {user.id!r}")
        self.store.users[user.id] = replace(user, email=user.email.lower(), created_at=old.created_at)

    async def list(self) -> builtins.list[OperatorUser]:
        return sorted(self.store.users.values(), key=lambda u: u.email)


class MemoryOperatorSessionRepository:
    def __init__(self, store: MemoryOperatorStore | None = None) -> None:
        self.store = store or MemoryOperatorStore()

    async def add(self, session: OperatorSession) -> None:
        if session.user_id not in self.store.users or session.token_hash in self.store.sessions:
            raise NotFound(f"cannot start a session for operator {session.user_id!r}")
        self.store.sessions[session.token_hash] = session

    async def get(self, token_hash: str) -> OperatorSession | None:
        return self.store.sessions.get(token_hash)

    async def end(self, token_hash: str, at: datetime) -> bool:
        session = self.store.sessions.get(token_hash)
        if session is None or session.ended_at is not None:
            return False
        self.store.sessions[token_hash] = replace(session, ended_at=at)
        return True

    async def end_all_of(self, user_id: str, at: datetime) -> int:
        ended = 0
        for token_hash, session in list(self.store.sessions.items()):
            if session.user_id == user_id and session.ended_at is None:
                self.store.sessions[token_hash] = replace(session, ended_at=at)
                ended += 1
        return ended

    async def purge(self, expired_before: datetime) -> int:
        gone = [h for h, s in self.store.sessions.items() if s.expires_at < expired_before]
        for token_hash in gone:
            del self.store.sessions[token_hash]
        return len(gone)
