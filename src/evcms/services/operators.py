"""Operator accounts: the console's users, their sign-in sessions and the CSRF token of each.

A session is a cookie secret (``ops_...``, 32 random bytes) with an absolute lifetime; only its
SHA-256 is stored. Requests authenticated by the cookie that change something must also carry
the session's CSRF token in a header (the page reads it from the login answer or /auth/me), so
another site cannot make a signed-in browser act. The CSRF token is a hash of the cookie secret:
the server recomputes it from the cookie, and a page of another site, which cannot read the
HttpOnly cookie, cannot. Passwords are argon2-hashed in a worker
thread; five wrong passwords for one address within 15 minutes block that address's logins
until the window ends (no argon2 work for a guesser).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from evcms.domain.access import Role
from evcms.domain.drivers import InvalidDriver, check_email, check_name, check_password
from evcms.domain.operators import OperatorSession, OperatorUser
from evcms.services.ports import AlreadyExists, Clock, NotFound, PasswordHasher, ServiceError

SESSION_PREFIX = "ops_"
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


class OperatorUserRepository(Protocol):
    async def add(self, user: OperatorUser) -> None: ...  # AlreadyExists (id or e-mail)

    async def get(self, user_id: str) -> OperatorUser | None: ...

    async def find_by_email(self, email: str) -> OperatorUser | None: ...

    async def update(self, user: OperatorUser) -> None: ...  # NotFound

    async def list(self) -> builtins.list[OperatorUser]: ...  # by e-mail


class OperatorSessionRepository(Protocol):
    async def add(self, session: OperatorSession) -> None: ...

    async def get(self, token_hash: str) -> OperatorSession | None: ...

    async def end(self, token_hash: str, at: datetime) -> bool: ...  # False: unknown or ended

    async def end_all_of(self, user_id: str, at: datetime) -> int: ...

    async def purge(self, expired_before: datetime) -> int: ...


class LoginRefused(ServiceError):
    def __init__(self, message: str = "wrong e-mail address or password", status: int = 401) -> None:
        super().__init__(message, status)


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: OperatorUser
    token: str  # the cookie secret: shown to the browser once
    csrf_token: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_of(token: str) -> str:
    """The CSRF token of a session: derived from its cookie secret, so nothing more is stored."""
    return hashlib.sha256(b"evcms-csrf:" + token.encode()).hexdigest()


class OperatorAccounts:
    def __init__(
        self,
        *,
        users: OperatorUserRepository,
        sessions: OperatorSessionRepository,
        hasher: PasswordHasher,
        clock: Clock,
        session_lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._lifetime = session_lifetime
        self._failures: dict[str, tuple[int, datetime]] = {}
        self._decoy: str | None = None

    # -- accounts -----------------------------------------------------------------------------

    async def add_user(
        self, email: str, password: str, role: Role, *, name: str = ""
    ) -> OperatorUser:
        try:
            address = check_email(email)
            check_password(password, email=address)
            display = check_name(name)
        except InvalidDriver as exc:
            raise ServiceError(str(exc), 422) from exc
        user = OperatorUser(
            id=str(uuid.uuid4()),
            email=address,
            name=display,
            role=role,
            password_hash=await asyncio.to_thread(self._hasher.hash, password),
            created_at=self._clock.now(),
        )
        try:
            await self._users.add(user)
        except AlreadyExists as exc:
            raise ServiceError(f"an operator account for {address} exists already", 409) from exc
        return user

    async def users(self) -> list[OperatorUser]:
        return await self._users.list()

    async def user(self, user_id: str) -> OperatorUser:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound(f"no operator account {user_id!r}")
        return user

    async def user_by_email(self, email: str) -> OperatorUser:
        user = await self._users.find_by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"no operator account for {email!r}")
        return user

    async def change(
        self,
        user_id: str,
        *,
        role: Role | None = None,
        name: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> OperatorUser:
        """Change a user's role, name, password or whether it may sign in. Disabling a user or
        setting a new password ends their sessions."""
        user = await self.user(user_id)
        changed = user
        try:
            if name is not None:
                changed = replace(changed, name=check_name(name))
            if password is not None:
                check_password(password, email=user.email)
                changed = replace(
                    changed, password_hash=await asyncio.to_thread(self._hasher.hash, password)
                )
        except InvalidDriver as exc:
            raise ServiceError(str(exc), 422) from exc
        if role is not None:
            changed = replace(changed, role=role)
        if disabled is not None:
            changed = replace(changed, disabled=disabled)
        await self._users.update(changed)
        if disabled or password is not None:
            await self._sessions.end_all_of(user.id, self._clock.now())
        return changed

    # -- signing in ---------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> SignedIn:
        address = email.strip().lower()
        now = self._clock.now()
        if self._blocked(address, now):
            raise LoginRefused(
                "too many wrong passwords for this address: try again in 15 minutes", 429
            )
        user = await self._users.find_by_email(address)
        if user is None:
            await self._burn(password)  # the same time as a wrong password: no account probing
            self._failed(address, now)
            raise LoginRefused()
        if not await asyncio.to_thread(self._hasher.verify, user.password_hash, password):
            self._failed(address, now)
            raise LoginRefused()
        if user.disabled:
            raise LoginRefused("this operator account is disabled", 403)
        self._failures.pop(address, None)
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        session = OperatorSession(
            token_hash=_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + self._lifetime,
        )
        await self._sessions.add(session)
        user = replace(user, last_login_at=now)
        await self._users.update(user)
        return SignedIn(user, token, csrf_token_of(token), session.expires_at)

    async def _burn(self, password: str) -> None:
        if self._decoy is None:
            self._decoy = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        await asyncio.to_thread(self._hasher.verify, self._decoy, password)

    def _blocked(self, address: str, now: datetime) -> bool:
        entry = self._failures.get(address)
        if entry is None:
            return False
        count, first = entry
        if now - first >= FAILED_LOGIN_WINDOW:
            del self._failures[address]
            return False
        return count >= MAX_FAILED_LOGINS

    def _failed(self, address: str, now: datetime) -> None:
        count, first = self._failures.get(address, (0, now))
        self._failures[address] = (count + 1, first)

    async def authenticate(self, token: str) -> tuple[OperatorUser, OperatorSession] | None:
        """The user and session of a cookie secret; None when unknown, ended, expired or the
        user is disabled."""
        if not token.startswith(SESSION_PREFIX):
            return None
        session = await self._sessions.get(_hash(token))
        if session is None or not session.valid_at(self._clock.now()):
            return None
        user = await self._users.get(session.user_id)
        if user is None or user.disabled:
            return None
        return user, session

    @staticmethod
    def csrf_matches(token: str, csrf_token: str | None) -> bool:
        """Whether ``csrf_token`` is the CSRF token of the session with cookie secret ``token``."""
        if not csrf_token:
            return False
        return hmac.compare_digest(csrf_token_of(token), csrf_token)

    async def logout(self, token: str) -> bool:
        return await self._sessions.end(_hash(token), self._clock.now())

    async def purge_expired_sessions(self, older_than: timedelta = timedelta(days=7)) -> int:
        return await self._sessions.purge(self._clock.now() - older_than)
