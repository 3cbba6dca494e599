"""Driver accounts: registration, e-mail verification, login with bearer tokens, password reset,
profile and deactivation — and the ports they need.

Secrets (bearer tokens and the tokens in mailed links) are 32 random bytes; only their SHA-256
is stored, so a leaked table gives nobody a session. A fast hash is right for such secrets;
argon2 is for the passwords people choose, and it runs in a worker thread so hashing never
stalls the event loop.

Login, password reset and resending the confirmation do not tell a caller whether an e-mail
address has an account: a reset request is answered the same way for every address, and a failed
login says "wrong e-mail or password". Registration does (409 for a taken address), as on most
sites, so that a driver who forgot they have an account is told so; hiding it would mean mailing
the owner instead, which is left for the driver app's issue.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from evcms.domain.drivers import (
    TOKEN_LIFETIMES,
    AuthToken,
    AuthTokenPurpose,
    Driver,
    DriverStatus,
    InvalidDriver,
    Language,
    MailKind,
    check_email,
    check_language,
    check_name,
    check_password,
    mail_text,
)
from evcms.services.ports import AlreadyExists, Clock, NotFound, PasswordHasher

log = logging.getLogger(__name__)

SESSION_PREFIX = "drv_"
MAX_DRIVER_PAGE = 1000

# -- ports --------------------------------------------------------------------------------------


class DriverRepository(Protocol):
    async def add(self, driver: Driver) -> None: ...  # AlreadyExists (same id or e-mail)

    async def get(self, driver_id: str) -> Driver | None: ...

    async def find_by_email(self, email: str) -> Driver | None: ...  # email lower-cased

    async def update(self, driver: Driver) -> None: ...  # all but id, created_at; NotFound

    async def list(
        self,
        *,
        status: DriverStatus | None = None,
        limit: int = 100,
        after_email: str | None = None,
    ) -> builtins.list[Driver]: ...  # ordered by e-mail (code point)


class DriverAuthTokenRepository(Protocol):
    async def add(self, token: AuthToken) -> None: ...  # NotFound for an unknown driver

    async def get(self, token_hash: str) -> AuthToken | None: ...

    async def use(self, token_hash: str, at: datetime) -> bool:
        """Mark the token used (a link followed, a session logged out) unless it already was;
        True when this call did it. At most one of concurrent callers gets True."""
        ...

    async def revoke_all(
        self,
        driver_id: str,
        purposes: Sequence[AuthTokenPurpose],
        at: datetime,
        *,
        keep: str | None = None,
    ) -> int: ...  # marks the unused tokens of those purposes used, but ``keep`` (a hash)

    async def purge(self, expired_before: datetime) -> int: ...  # rows removed


@dataclass(frozen=True, slots=True)
class OutboxMail:
    id: int
    to_address: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None = None  # when the SMTP server took it; None in dev / not yet
    error: str | None = None  # why sending failed


class Outbox(Protocol):
    """Every mail evcms sends, kept so an operator can read it (and, in dev, the only copy)."""

    async def add(self, to_address: str, subject: str, body: str, at: datetime) -> int: ...

    async def mark_sent(self, mail_id: int, at: datetime) -> None: ...

    async def mark_failed(self, mail_id: int, error: str) -> None: ...

    async def list(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OutboxMail]: ...  # newest (highest id) first


class Mailer(Protocol):
    async def send(self, to_address: str, subject: str, body: str) -> None:
        """Record the mail and deliver it (or queue it); never blocks on a slow mail server."""
        ...


# -- errors -------------------------------------------------------------------------------------


class DriverAccountError(Exception):
    """A refused request of a driver; the message says why and what to do."""


class LoginFailed(DriverAccountError):
    def __init__(self) -> None:
        super().__init__("wrong e-mail address or password")


class AccountDeactivated(DriverAccountError):
    def __init__(self) -> None:
        super().__init__("this account is deactivated; contact the operator to use it again")


class EmailNotVerified(DriverAccountError):
    def __init__(self) -> None:
        super().__init__(
            "confirm your e-mail address first: open the link we sent you, or ask for a new one"
            " with POST /api/v1/drivers/verify-email/resend"
        )


class InvalidLink(DriverAccountError):
    """A verification or reset token that is unknown, expired or already used."""


class WrongPassword(DriverAccountError):
    def __init__(self) -> None:
        super().__init__("the current password is wrong")


# -- the service --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverPolicy:
    public_base_url: str = "http://127.0.0.1:8000"  # links in mails start here
    require_verified_email: bool = True  # refuse login until the e-mail address is confirmed
    lifetimes: Mapping[AuthTokenPurpose, timedelta] = field(
        default_factory=lambda: dict(TOKEN_LIFETIMES)
    )


@dataclass(frozen=True, slots=True)
class Login:
    driver: Driver
    token: str  # the bearer secret, drv_...; shown once
    expires_at: datetime


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_LINK_PATHS = {
    AuthTokenPurpose.VERIFY_EMAIL: "/app/verify-email",
    AuthTokenPurpose.RESET_PASSWORD: "/app/reset-password",
}
_MAIL_KINDS = {
    AuthTokenPurpose.VERIFY_EMAIL: MailKind.VERIFY_EMAIL,
    AuthTokenPurpose.RESET_PASSWORD: MailKind.RESET_PASSWORD,
}
_LINK_WORDS = {
    AuthTokenPurpose.VERIFY_EMAIL: "e-mail confirmation",
    AuthTokenPurpose.RESET_PASSWORD: "password reset",
}


class DriverAccounts:
    def __init__(
        self,
        *,
        drivers: DriverRepository,
        tokens: DriverAuthTokenRepository,
        mailer: Mailer,
        outbox: Outbox,
        hasher: PasswordHasher,
        clock: Clock,
        policy: DriverPolicy | None = None,
        on_deactivated: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        """``on_deactivated(driver_id)`` runs after an account is deactivated: the composition
        root blocks the driver's identification tokens there, so their cards stop charging
        too."""
        self._drivers = drivers
        self._tokens = tokens
        self._mailer = mailer
        self._outbox = outbox
        self._hasher = hasher
        self._clock = clock
        self.policy = policy or DriverPolicy()
        self._on_deactivated = on_deactivated
        self._dummy_hash: str | None = None

    # -- passwords (argon2 in a worker thread) ------------------------------------------------

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._hasher.verify, password_hash, password)

    async def _burn_verify(self, password: str) -> None:
        """Spend what a real verification costs, so a login for an unknown address takes as
        long as one with a wrong password."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        await self._verify(self._dummy_hash, password)

    # -- tokens -------------------------------------------------------------------------------

    async def _issue(self, driver: Driver, purpose: AuthTokenPurpose) -> tuple[str, AuthToken]:
        secret = secrets.token_urlsafe(32)
        if purpose is AuthTokenPurpose.SESSION:
            secret = SESSION_PREFIX + secret
        now = self._clock.now()
        token = AuthToken(
            token_hash=hash_secret(secret),
            driver_id=driver.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + self.policy.lifetimes[purpose],
        )
        await self._tokens.add(token)
        return secret, token

    async def _link_token(self, secret: str, purpose: AuthTokenPurpose) -> tuple[AuthToken, Driver]:
        """The stored, usable token of a mailed link and its driver; InvalidLink otherwise."""
        what = _LINK_WORDS[purpose]
        token = await self._tokens.get(hash_secret(secret.strip())) if secret.strip() else None
        if token is None or token.purpose is not purpose:
            raise InvalidLink(f"this {what} link is not valid; ask for a new one")
        if token.used_at is not None:
            raise InvalidLink(f"this {what} link was already used; ask for a new one")
        if token.expires_at <= self._clock.now():
            raise InvalidLink(f"this {what} link has expired; ask for a new one")
        driver = await self._drivers.get(token.driver_id)
        if driver is None:
            raise InvalidLink(f"this {what} link is not valid; ask for a new one")
        if not driver.active:
            raise AccountDeactivated()
        return token, driver

    async def _use(self, token: AuthToken) -> None:
        if not await self._tokens.use(token.token_hash, self._clock.now()):
            raise InvalidLink(f"this {_LINK_WORDS[token.purpose]} link was already used")

    async def _mail_link(self, driver: Driver, purpose: AuthTokenPurpose) -> None:
        secret, _ = await self._issue(driver, purpose)
        base = self.policy.public_base_url.rstrip("/")
        link = f"{base}{_LINK_PATHS[purpose]}?token={secret}"
        subject, body = mail_text(
            _MAIL_KINDS[purpose],
            driver.language,
            name=driver.name,
            link=link,
            valid_for=self.policy.lifetimes[purpose],
        )
        await self._mailer.send(driver.email, subject, body)

    # -- registration and verification --------------------------------------------------------

    async def register(
        self, email: str, password: str, name: str = "", language: str = Language.EN.value
    ) -> Driver:
        """A new active, unverified account; a mail with a confirmation link goes out."""
        address = check_email(email)
        check_password(password, email=address)
        clean_name = check_name(name)
        lang = check_language(language)
        taken = AlreadyExists(
            "an account with this e-mail address already exists; log in or reset the password"
        )
        if await self._drivers.find_by_email(address) is not None:
            raise taken
        now = self._clock.now()
        driver = Driver(
            id=str(uuid.uuid4()),
            email=address,
            password_hash=await self._hash(password),
            created_at=now,
            updated_at=now,
            name=clean_name,
            language=lang,
        )
        try:
            await self._drivers.add(driver)
        except AlreadyExists:  # registered concurrently
            raise taken from None
        log.info("driver %s registered", driver.id)
        await self._mail_link(driver, AuthTokenPurpose.VERIFY_EMAIL)
        return driver

    async def resend_verification(self, email: str) -> None:
        """Mail a new confirmation link to an unverified active account; silently nothing for
        any other address (the answer must not tell whether the address has an account)."""
        try:
            address = check_email(email)
        except InvalidDriver:
            return
        driver = await self._drivers.find_by_email(address)
        if driver is None or not driver.active or driver.email_verified:
            return
        await self._mail_link(driver, AuthTokenPurpose.VERIFY_EMAIL)

    async def verify_email(self, secret: str) -> Driver:
        token, driver = await self._link_token(secret, AuthTokenPurpose.VERIFY_EMAIL)
        await self._use(token)
        if driver.email_verified:
            return driver
        now = self._clock.now()
        driver = driver.replace(email_verified_at=now, updated_at=now)
        await self._drivers.update(driver)
        log.info("driver %s confirmed their e-mail address", driver.id)
        return driver

    # -- sessions -----------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> Login:
        try:
            address = check_email(email)
        except InvalidDriver:
            await self._burn_verify(password)
            raise LoginFailed() from None
        driver = await self._drivers.find_by_email(address)
        if driver is None:
            await self._burn_verify(password)
            raise LoginFailed()
        if not await self._verify(driver.password_hash, password):
            raise LoginFailed()
        if not driver.active:
            raise AccountDeactivated()
        if self.policy.require_verified_email and not driver.email_verified:
            raise EmailNotVerified()
        secret, token = await self._issue(driver, AuthTokenPurpose.SESSION)
        return Login(driver=driver, token=secret, expires_at=token.expires_at)

    async def authenticate(self, secret: str) -> Driver | None:
        """The active driver a bearer token belongs to; None for anything else."""
        if not secret.startswith(SESSION_PREFIX):
            return None
        token = await self._tokens.get(hash_secret(secret))
        if (
            token is None
            or token.purpose is not AuthTokenPurpose.SESSION
            or not token.usable(self._clock.now())
        ):
            return None
        driver = await self._drivers.get(token.driver_id)
        if driver is None or not driver.active:
            return None
        return driver

    async def logout(self, secret: str) -> bool:
        """End the session of this bearer token; False when it was not a live session."""
        if not secret.startswith(SESSION_PREFIX):
            return False
        token = await self._tokens.get(hash_secret(secret))
        if token is None or token.purpose is not AuthTokenPurpose.SESSION:
            return False
        return await self._tokens.use(token.token_hash, self._clock.now())

    # -- password reset -----------------------------------------------------------------------

    async def request_password_reset(self, email: str) -> None:
        """Mail a reset link when an active account has this address; the same (silent) answer
        whether it has or not."""
        try:
            address = check_email(email)
        except InvalidDriver:
            return
        driver = await self._drivers.find_by_email(address)
        if driver is None or not driver.active:
            log.info("password reset asked for an address without an active account")
            return
        await self._mail_link(driver, AuthTokenPurpose.RESET_PASSWORD)

    async def reset_password(self, secret: str, new_password: str) -> Driver:
        """Set a new password from a reset link; every session of the driver ends. The link
        reached the mailbox, so the address counts as confirmed too."""
        token, driver = await self._link_token(secret, AuthTokenPurpose.RESET_PASSWORD)
        check_password(new_password, email=driver.email)  # before the link is spent
        password_hash = await self._hash(new_password)
        await self._use(token)
        now = self._clock.now()
        driver = driver.replace(
            password_hash=password_hash,
            email_verified_at=driver.email_verified_at or now,
            updated_at=now,
        )
        await self._drivers.update(driver)
        await self._tokens.revoke_all(
            driver.id, [AuthTokenPurpose.SESSION, AuthTokenPurpose.RESET_PASSWORD], now
        )
        log.info("driver %s reset their password; their sessions were ended", driver.id)
        return driver

    # -- profile ------------------------------------------------------------------------------

    async def _require(self, driver_id: str) -> Driver:
        driver = await self._drivers.get(driver_id)
        if driver is None:
            raise NotFound(f"driver {driver_id!r} does not exist")
        return driver

    async def profile(self, driver_id: str) -> Driver:
        return await self._require(driver_id)

    async def update_profile(
        self, driver_id: str, *, name: str | None = None, language: str | None = None
    ) -> Driver:
        driver = await self._require(driver_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = check_name(name)
        if language is not None:
            changes["language"] = check_language(language)
        if not changes:
            return driver
        driver = driver.replace(**changes, updated_at=self._clock.now())
        await self._drivers.update(driver)
        return driver

    async def change_password(
        self, driver_id: str, old_password: str, new_password: str, *, keep_session: str | None = None
    ) -> Driver:
        """Needs the current password. Every other session ends; ``keep_session`` (the bearer
        secret of the request) stays signed in."""
        driver = await self._require(driver_id)
        if not await self._verify(driver.password_hash, old_password):
            raise WrongPassword()
        check_password(new_password, email=driver.email)
        now = self._clock.now()
        driver = driver.replace(password_hash=await self._hash(new_password), updated_at=now)
        await self._drivers.update(driver)
        await self._tokens.revoke_all(
            driver.id,
            [AuthTokenPurpose.SESSION, AuthTokenPurpose.RESET_PASSWORD],
            now,
            keep=hash_secret(keep_session) if keep_session else None,
        )
        return driver

    async def deactivate_self(self, driver_id: str, password: str) -> Driver:
        """A driver closes their own account (their password confirms it)."""
        driver = await self._require(driver_id)
        if not await self._verify(driver.password_hash, password):
            raise WrongPassword()
        return await self.deactivate(driver_id, by="driver")

    async def deactivate(self, driver_id: str, *, by: str) -> Driver:
        """Deactivate an account (``by`` names who did, for the log): it cannot log in any more
        and all its sessions and pending links stop working. Deactivating twice is a no-op."""
        driver = await self._require(driver_id)
        now = self._clock.now()
        if driver.active:
            driver = driver.replace(status=DriverStatus.DEACTIVATED, updated_at=now)
            await self._drivers.update(driver)
            log.info("driver %s deactivated by %s", driver.id, by)
        await self._tokens.revoke_all(driver.id, list(AuthTokenPurpose), now)
        if self._on_deactivated is not None:
            await self._on_deactivated(driver.id)
        return driver

    # -- operators ----------------------------------------------------------------------------

    async def driver(self, driver_id: str) -> Driver | None:
        return await self._drivers.get(driver_id)

    async def driver_by_email(self, email: str) -> Driver | None:
        try:
            return await self._drivers.find_by_email(check_email(email))
        except InvalidDriver:
            return None

    async def add_by_operator(
        self, email: str, password: str | None, name: str = "", language: str = Language.EN.value
    ) -> tuple[Driver, str | None]:
        """An account an operator creates (support desk, fleet cards): its e-mail counts as
        confirmed. Without a password, one is generated and returned once (the driver can
        reset it by e-mail)."""
        generated = None
        if password is None:
            generated = password = secrets.token_urlsafe(12)
        address = check_email(email)
        check_password(password, email=address)
        if await self._drivers.find_by_email(address) is not None:
            raise AlreadyExists(f"a driver with the e-mail {address} already exists")
        now = self._clock.now()
        driver = Driver(
            id=str(uuid.uuid4()),
            email=address,
            password_hash=await self._hash(password),
            created_at=now,
            updated_at=now,
            name=check_name(name),
            language=check_language(language),
            email_verified_at=now,
        )
        await self._drivers.add(driver)
        log.info("driver %s added by an operator", driver.id)
        return driver, generated

    async def drivers(
        self,
        *,
        status: DriverStatus | None = None,
        limit: int = 100,
        after_email: str | None = None,
    ) -> list[Driver]:
        limit = max(0, min(limit, MAX_DRIVER_PAGE))
        return await self._drivers.list(status=status, limit=limit, after_email=after_email)

    async def outbox(self, *, limit: int = 100, before_id: int | None = None) -> list[OutboxMail]:
        return await self._outbox.list(limit=max(0, min(limit, MAX_DRIVER_PAGE)), before_id=before_id)

    async def purge_expired_tokens(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Remove tokens that expired more than ``older_than`` ago (a periodic chore)."""
        return await self._tokens.purge(self._clock.now() - older_than)
