"""Driver accounts over the in-memory twins, with a clock that moves only when told to."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from evcms.domain.drivers import AuthTokenPurpose, DriverStatus, InvalidDriver, Language
from evcms.mail import OutboxMailer
from evcms.passwords import station_hasher
from evcms.services.clock import FixedClock
from evcms.services.drivers import (
    SESSION_PREFIX,
    AccountDeactivated,
    DriverAccounts,
    DriverPolicy,
    EmailNotVerified,
    InvalidLink,
    LoginFailed,
    OutboxMail,
    WrongPassword,
    hash_secret,
)
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "Correct-horse-7"
NEW_PASSWORD = "Battery staple 42"


class ThreadCheckingHasher:
    """A cheap argon2 hasher that records which threads it ran on."""

    def __init__(self) -> None:
        self._inner = station_hasher()
        self.threads: set[str] = set()

    def hash(self, password: str) -> str:
        self.threads.add(threading.current_thread().name)
        return self._inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.threads.add(threading.current_thread().name)
        return self._inner.verify(password_hash, password)


@dataclass
class World:
    accounts: DriverAccounts
    store: MemoryDriverStore
    clock: FixedClock
    hasher: ThreadCheckingHasher = field(default_factory=ThreadCheckingHasher)

    def mails(self) -> list[OutboxMail]:
        return sorted(self.store.mails.values(), key=lambda m: m.id)

    def last_link_token(self, to: str) -> str:
        mail = next(m for m in reversed(self.mails()) if m.to_address == to)
        found = re.search(r"\?token=([A-Za-z0-9_-]+)", mail.body)
        assert found, mail.body
        return found.group(1)

    async def verified(self, email: str = "ana@example.com", password: str = PASSWORD) -> str:
        """Register and confirm a driver; returns its id."""
        driver = await self.accounts.register(email, password, "Ana")
        await self.accounts.verify_email(self.last_link_token(driver.email))
        return driver.id


def build(require_verified: bool = True) -> World:
    store = MemoryDriverStore()
    clock = FixedClock(T0)
    hasher = ThreadCheckingHasher()
    outbox = MemoryOutbox(store)
    accounts = DriverAccounts(
        drivers=MemoryDriverRepository(store),
        tokens=MemoryDriverAuthTokenRepository(store),
        mailer=OutboxMailer(outbox=outbox, clock=clock),
        outbox=outbox,
        hasher=hasher,
        clock=clock,
        policy=DriverPolicy(
            public_base_url="https://charge.example.com/", require_verified_email=require_verified
        ),
    )
    return World(accounts, store, clock, hasher)


@pytest.fixture
def world() -> World:
    return build()


# -- registration and verification ------------------------------------------------------------


async def test_registering_stores_an_unverified_account_and_mails_a_confirmation_link(
    world: World,
) -> None:
    driver = await world.accounts.register("  Ana@Example.COM ", PASSWORD, " Ana ", "bg")

    assert driver.email == "ana@example.com" and driver.name == "Ana"
    assert driver.language is Language.BG and driver.status is DriverStatus.ACTIVE
    assert driver.email_verified_at is None and driver.created_at == T0
    assert world.store.drivers[driver.id] == driver
    assert PASSWORD not in driver.password_hash and driver.password_hash.startswith("$argon2")
    assert threading.main_thread().name not in world.hasher.threads  # argon2 ran off the loop

    [mail] = world.mails()
    assert mail.to_address == "ana@example.com"
    assert mail.subject == "Потвърдете имейл адреса си"  # in the driver's language
    assert "https://charge.example.com/app/verify-email?token=" in mail.body
    secret = world.last_link_token("ana@example.com")
    [token] = world.store.tokens.values()
    assert token.token_hash == hash_secret(secret) and secret not in repr(world.store.tokens)
    assert token.purpose is AuthTokenPurpose.VERIFY_EMAIL
    assert token.expires_at == T0 + timedelta(days=2)


async def test_an_address_registers_once_whatever_its_case(world: World) -> None:
    await world.accounts.register("ana@example.com", PASSWORD)
    with pytest.raises(AlreadyExists, match="already exists; log in or reset the password"):
        await world.accounts.register("ANA@example.com", "Another-pass-1")
    assert len(world.store.drivers) == 1


@pytest.mark.parametrize(
    ("email", "password", "language", "says"),
    [
        ("not-an-address", PASSWORD, "en", "exactly one '@'"),
        ("ana@example.com", "short1", "en", "at least 10 characters"),
        ("ana@example.com", "alllowercaseletters", "en", "mix at least two kinds"),
        ("ana@example.com", PASSWORD, "de", "not supported"),
    ],
)
async def test_invalid_registrations_store_and_mail_nothing(
    world: World, email: str, password: str, language: str, says: str
) -> None:
    with pytest.raises(InvalidDriver, match=says):
        await world.accounts.register(email, password, "", language)
    assert not world.store.drivers and not world.store.mails


async def test_the_confirmation_link_verifies_once(world: World) -> None:
    driver = await world.accounts.register("ana@example.com", PASSWORD)
    secret = world.last_link_token(driver.email)
    world.clock.advance(60)

    verified = await world.accounts.verify_email(secret)
    assert verified.email_verified_at == T0 + timedelta(seconds=60)
    assert world.store.drivers[driver.id].email_verified

    with pytest.raises(InvalidLink, match="already used"):
        await world.accounts.verify_email(secret)


async def test_an_expired_confirmation_link_is_refused_and_a_new_one_can_be_asked_for(
    world: World,
) -> None:
    driver = await world.accounts.register("ana@example.com", PASSWORD)
    old = world.last_link_token(driver.email)
    world.clock.advance(timedelta(days=2).total_seconds())
    with pytest.raises(InvalidLink, match="expired; ask for a new one"):
        await world.accounts.verify_email(old)

    await world.accounts.resend_verification("ANA@example.com")
    new = world.last_link_token(driver.email)
    assert new != old
    assert (await world.accounts.verify_email(new)).email_verified


async def test_a_new_confirmation_link_goes_only_to_unverified_active_accounts(world: World) -> None:
    await world.verified("ana@example.com")
    before = len(world.mails())
    await world.accounts.resend_verification("ana@example.com")  # already verified
    await world.accounts.resend_verification("nobody@example.com")  # no account
    await world.accounts.resend_verification("not an address")
    assert len(world.mails()) == before


@pytest.mark.parametrize("secret", ["", "   ", "nonsense", "drv_" + "x" * 43])
async def test_unknown_links_are_refused(world: World, secret: str) -> None:
    with pytest.raises(InvalidLink, match="not valid"):
        await world.accounts.verify_email(secret)
    with pytest.raises(InvalidLink, match="not valid"):
        await world.accounts.reset_password(secret, NEW_PASSWORD)


async def test_a_link_works_only_for_its_own_purpose(world: World) -> None:
    driver = await world.accounts.register("ana@example.com", PASSWORD)
    verify = world.last_link_token(driver.email)
    with pytest.raises(InvalidLink, match="password reset link is not valid"):
        await world.accounts.reset_password(verify, NEW_PASSWORD)
    await world.accounts.verify_email(verify)
    session = (await world.accounts.login("ana@example.com", PASSWORD)).token
    with pytest.raises(InvalidLink):
        await world.accounts.verify_email(session)


# -- login, sessions, logout ------------------------------------------------------------------


async def test_login_gives_a_bearer_token_that_authenticates_until_it_expires(world: World) -> None:
    driver_id = await world.verified()
    login = await world.accounts.login(" ANA@example.com", PASSWORD)

    assert login.token.startswith(SESSION_PREFIX) and len(login.token) > 40
    assert login.driver.id == driver_id
    assert login.expires_at == T0 + timedelta(days=30)
    assert hash_secret(login.token) in world.store.tokens
    assert login.token not in repr(world.store.tokens)
    assert (await world.accounts.authenticate(login.token)).id == driver_id  # type: ignore[union-attr]

    world.clock.advance(timedelta(days=30).total_seconds() - 1)
    assert await world.accounts.authenticate(login.token) is not None
    world.clock.advance(1)
    assert await world.accounts.authenticate(login.token) is None


async def test_logout_ends_only_that_session(world: World) -> None:
    await world.verified()
    phone = (await world.accounts.login("ana@example.com", PASSWORD)).token
    laptop = (await world.accounts.login("ana@example.com", PASSWORD)).token

    assert await world.accounts.logout(phone) is True
    assert await world.accounts.authenticate(phone) is None
    assert await world.accounts.authenticate(laptop) is not None
    assert await world.accounts.logout(phone) is False  # already ended
    assert await world.accounts.logout("drv_unknown") is False


@pytest.mark.parametrize("secret", ["", "evk_abc_def", "drv_", "drv_nonsense", "Bearer drv_x"])
async def test_anything_but_a_live_session_token_authenticates_nobody(
    world: World, secret: str
) -> None:
    await world.verified()
    assert await world.accounts.authenticate(secret) is None


async def test_a_link_token_is_not_a_session(world: World) -> None:
    await world.verified()
    await world.accounts.request_password_reset("ana@example.com")
    reset = world.last_link_token("ana@example.com")
    assert await world.accounts.authenticate(reset) is None
    assert await world.accounts.authenticate(SESSION_PREFIX + reset) is None


async def test_wrong_password_and_unknown_address_get_the_same_answer(world: World) -> None:
    await world.verified()
    with pytest.raises(LoginFailed) as wrong_password:
        await world.accounts.login("ana@example.com", "Wrong-password-1")
    with pytest.raises(LoginFailed) as unknown:
        await world.accounts.login("bob@example.com", PASSWORD)
    with pytest.raises(LoginFailed) as garbage:
        await world.accounts.login("not an address", PASSWORD)
    assert str(wrong_password.value) == str(unknown.value) == str(garbage.value)
    assert str(unknown.value) == "wrong e-mail address or password"


async def test_an_unverified_account_may_not_log_in_when_verification_is_required() -> None:
    strict, lenient = build(require_verified=True), build(require_verified=False)
    for world in (strict, lenient):
        await world.accounts.register("ana@example.com", PASSWORD)
    with pytest.raises(EmailNotVerified, match="confirm your e-mail address first"):
        await strict.accounts.login("ana@example.com", PASSWORD)
    assert (await lenient.accounts.login("ana@example.com", PASSWORD)).token


async def test_a_wrong_password_does_not_reveal_that_the_account_is_unverified(
    world: World,
) -> None:
    await world.accounts.register("ana@example.com", PASSWORD)
    with pytest.raises(LoginFailed):
        await world.accounts.login("ana@example.com", "Wrong-password-1")


# -- password reset ---------------------------------------------------------------------------


async def test_a_reset_request_never_reveals_whether_the_address_has_an_account(
    world: World,
) -> None:
    await world.verified("ana@example.com")
    closed_id = await world.verified("closed@example.com")
    await world.accounts.deactivate(closed_id, by="test")
    before = len(world.mails())

    for address in ("nobody@example.com", "not an address", "closed@example.com"):
        await world.accounts.request_password_reset(address)  # no error, no answer
    assert len(world.mails()) == before  # nothing mailed to addresses without an active account

    await world.accounts.request_password_reset("Ana@Example.com")
    [mail] = world.mails()[before:]
    assert mail.to_address == "ana@example.com" and mail.subject == "Reset your password"
    assert "https://charge.example.com/app/reset-password?token=" in mail.body
    assert "1 hours" in mail.body


async def test_resetting_the_password_ends_every_session(world: World) -> None:
    driver_id = await world.verified()
    sessions = [(await world.accounts.login("ana@example.com", PASSWORD)).token for _ in range(2)]
    await world.accounts.request_password_reset("ana@example.com")
    secret = world.last_link_token("ana@example.com")
    world.clock.advance(59 * 60)

    driver = await world.accounts.reset_password(secret, NEW_PASSWORD)

    assert driver.id == driver_id and driver.updated_at == T0 + timedelta(minutes=59)
    for session in sessions:
        assert await world.accounts.authenticate(session) is None
    with pytest.raises(LoginFailed):
        await world.accounts.login("ana@example.com", PASSWORD)
    assert (await world.accounts.login("ana@example.com", NEW_PASSWORD)).token
    with pytest.raises(InvalidLink, match="already used"):
        await world.accounts.reset_password(secret, "Yet-another-pass-3")


async def test_a_reset_link_expires_after_an_hour(world: World) -> None:
    await world.verified()
    await world.accounts.request_password_reset("ana@example.com")
    secret = world.last_link_token("ana@example.com")
    world.clock.advance(3600)
    with pytest.raises(InvalidLink, match="expired"):
        await world.accounts.reset_password(secret, NEW_PASSWORD)
    assert (await world.accounts.login("ana@example.com", PASSWORD)).token


async def test_a_weak_new_password_does_not_spend_the_reset_link(world: World) -> None:
    await world.verified()
    await world.accounts.request_password_reset("ana@example.com")
    secret = world.last_link_token("ana@example.com")
    with pytest.raises(InvalidDriver, match="at least 10 characters"):
        await world.accounts.reset_password(secret, "short")
    await world.accounts.reset_password(secret, NEW_PASSWORD)


async def test_a_reset_confirms_the_address_of_an_unverified_account(world: World) -> None:
    driver = await world.accounts.register("ana@example.com", PASSWORD)
    await world.accounts.request_password_reset("ana@example.com")
    reset = await world.accounts.reset_password(world.last_link_token(driver.email), NEW_PASSWORD)
    assert reset.email_verified_at == T0
    assert (await world.accounts.login("ana@example.com", NEW_PASSWORD)).token


async def test_an_older_reset_link_dies_with_the_reset(world: World) -> None:
    await world.verified()
    await world.accounts.request_password_reset("ana@example.com")
    first = world.last_link_token("ana@example.com")
    await world.accounts.request_password_reset("ana@example.com")
    second = world.last_link_token("ana@example.com")
    await world.accounts.reset_password(second, NEW_PASSWORD)
    with pytest.raises(InvalidLink, match="already used"):
        await world.accounts.reset_password(first, "Yet-another-pass-3")


# -- profile, password change, deactivation ---------------------------------------------------


async def test_the_profile_changes_name_and_language(world: World) -> None:
    driver_id = await world.verified()
    world.clock.advance(5)
    changed = await world.accounts.update_profile(driver_id, name="  Ana P. ", language="bg")
    assert (changed.name, changed.language, changed.updated_at) == (
        "Ana P.",
        Language.BG,
        T0 + timedelta(seconds=5),
    )
    assert await world.accounts.profile(driver_id) == changed
    assert await world.accounts.update_profile(driver_id) == changed  # nothing to change

    with pytest.raises(InvalidDriver, match="not supported"):
        await world.accounts.update_profile(driver_id, language="fr")
    await world.accounts.request_password_reset("ana@example.com")
    assert world.mails()[-1].subject == "Смяна на паролата"


async def test_an_unknown_driver_is_not_found(world: World) -> None:
    with pytest.raises(NotFound, match="driver 'nope' does not exist"):
        await world.accounts.profile("nope")
    with pytest.raises(NotFound):
        await world.accounts.deactivate("nope", by="test")
    assert await world.accounts.driver("nope") is None


async def test_changing_the_password_needs_the_old_one_and_ends_the_other_sessions(
    world: World,
) -> None:
    driver_id = await world.verified()
    this = (await world.accounts.login("ana@example.com", PASSWORD)).token
    other = (await world.accounts.login("ana@example.com", PASSWORD)).token

    with pytest.raises(WrongPassword, match="current password is wrong"):
        await world.accounts.change_password(driver_id, "Not-the-password-1", NEW_PASSWORD)
    with pytest.raises(InvalidDriver, match="mix at least two kinds"):
        await world.accounts.change_password(driver_id, PASSWORD, "weakweakweak")
    assert await world.accounts.authenticate(other) is not None  # nothing changed yet

    await world.accounts.change_password(driver_id, PASSWORD, NEW_PASSWORD, keep_session=this)
    assert await world.accounts.authenticate(this) is not None
    assert await world.accounts.authenticate(other) is None
    assert (await world.accounts.login("ana@example.com", NEW_PASSWORD)).token


async def test_a_driver_deactivates_their_own_account_with_their_password(world: World) -> None:
    driver_id = await world.verified()
    session = (await world.accounts.login("ana@example.com", PASSWORD)).token
    with pytest.raises(WrongPassword):
        await world.accounts.deactivate_self(driver_id, "Not-the-password-1")
    assert await world.accounts.authenticate(session) is not None

    closed = await world.accounts.deactivate_self(driver_id, PASSWORD)
    assert closed.status is DriverStatus.DEACTIVATED
    assert await world.accounts.authenticate(session) is None
    with pytest.raises(AccountDeactivated, match="deactivated"):
        await world.accounts.login("ana@example.com", PASSWORD)


async def test_an_operator_deactivates_a_driver_and_their_links_stop_working(
    world: World,
) -> None:
    driver = await world.accounts.register("ana@example.com", PASSWORD)
    verify = world.last_link_token(driver.email)
    await world.accounts.request_password_reset("ana@example.com")
    reset = world.last_link_token(driver.email)

    closed = await world.accounts.deactivate(driver.id, by="API key 'ops'")
    again = await world.accounts.deactivate(driver.id, by="API key 'ops'")
    assert closed.status is again.status is DriverStatus.DEACTIVATED
    assert again.updated_at == closed.updated_at
    for use in (world.accounts.verify_email(verify), world.accounts.reset_password(reset, NEW_PASSWORD)):
        with pytest.raises(InvalidLink, match="already used"):
            await use
    with pytest.raises(AccountDeactivated):
        await world.accounts.login("ana@example.com", PASSWORD)


async def test_a_deactivated_drivers_session_dies_even_if_it_was_not_revoked(world: World) -> None:
    driver_id = await world.verified()
    session = (await world.accounts.login("ana@example.com", PASSWORD)).token
    stored = world.store.drivers[driver_id]
    world.store.drivers[driver_id] = stored.replace(status=DriverStatus.DEACTIVATED)
    assert await world.accounts.authenticate(session) is None


# -- operators --------------------------------------------------------------------------------


async def test_operators_page_through_drivers_by_address_and_filter_by_status(
    world: World,
) -> None:
    ids = {}
    for name in ("carol", "ana", "bob", "dan"):
        ids[name] = (await world.accounts.register(f"{name}@example.com", PASSWORD)).id
    await world.accounts.deactivate(ids["bob"], by="test")

    first = await world.accounts.drivers(limit=2)
    assert [d.email for d in first] == ["ana@example.com", "bob@example.com"]
    rest = await world.accounts.drivers(limit=2, after_email=first[-1].email)
    assert [d.email for d in rest] == ["carol@example.com", "dan@example.com"]
    active = await world.accounts.drivers(status=DriverStatus.ACTIVE)
    assert [d.email for d in active] == ["ana@example.com", "carol@example.com", "dan@example.com"]
    assert (await world.accounts.driver(ids["dan"])).email == "dan@example.com"  # type: ignore[union-attr]


async def test_operators_read_the_outbox_newest_first(world: World) -> None:
    for name in ("ana", "bob", "carol"):
        await world.accounts.register(f"{name}@example.com", PASSWORD)
    newest = await world.accounts.outbox(limit=2)
    assert [m.to_address for m in newest] == ["carol@example.com", "bob@example.com"]
    older = await world.accounts.outbox(limit=2, before_id=newest[-1].id)
    assert [m.to_address for m in older] == ["ana@example.com"]


async def test_expired_tokens_are_purged_after_a_grace_period(world: World) -> None:
    await world.verified()
    await world.accounts.login("ana@example.com", PASSWORD)
    assert len(world.store.tokens) == 2
    world.clock.advance(timedelta(days=2 + 7, seconds=1).total_seconds())
    assert await world.accounts.purge_expired_tokens() == 1  # the confirmation link
    assert [t.purpose for t in world.store.tokens.values()] == [AuthTokenPurpose.SESSION]
