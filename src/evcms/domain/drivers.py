"""Driver accounts: the account, the rules for e-mail addresses, passwords and names, the
purposes and lifetimes of the tokens a driver authenticates with, and the mail texts (pure).

Every rule raises :class:`InvalidDriver` with a message that says what to fix.
"""

# The Bulgarian mail texts are Cyrillic on purpose (RUF001 flags letters that look Latin).
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

DRIVER_ID_MAX_LENGTH = 36  # a UUID
EMAIL_MAX_LENGTH = 320
EMAIL_LOCAL_MAX_LENGTH = 64
EMAIL_DOMAIN_MAX_LENGTH = 255
NAME_MAX_LENGTH = 200
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256  # argon2 hashes any length; a cap keeps requests small
PASSWORD_MIN_CLASSES = 2

# Characters a local part may hold without quoting (RFC 5322 atext, plus the dots between atoms).
_LOCAL_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~.")


class InvalidDriver(ValueError):
    """Driver input that breaks a rule; the message says what to fix."""


class Language(enum.StrEnum):
    EN = "en"
    BG = "bg"


class DriverStatus(enum.StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class AuthTokenPurpose(enum.StrEnum):
    SESSION = "session"  # a bearer token from login
    VERIFY_EMAIL = "verify_email"  # the link in the welcome mail
    RESET_PASSWORD = "reset_password"  # the link in the password-reset mail

    @property
    def lifetime(self) -> timedelta:
        return TOKEN_LIFETIMES[self]

    @property
    def single_use(self) -> bool:
        return self is not AuthTokenPurpose.SESSION


TOKEN_LIFETIMES: dict[AuthTokenPurpose, timedelta] = {
    AuthTokenPurpose.SESSION: timedelta(days=30),
    AuthTokenPurpose.VERIFY_EMAIL: timedelta(days=2),
    AuthTokenPurpose.RESET_PASSWORD: timedelta(hours=1),
}


@dataclass(frozen=True, slots=True)
class Driver:
    id: str
    email: str  # lower-cased, see check_email
    password_hash: str
    created_at: datetime
    updated_at: datetime
    name: str = ""
    language: Language = Language.EN
    status: DriverStatus = DriverStatus.ACTIVE
    email_verified_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is DriverStatus.ACTIVE

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def replace(self, **changes: object) -> Driver:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AuthToken:
    """A driver's bearer session or a one-time link token, as stored: only a hash of the secret."""

    token_hash: str
    driver_id: str
    purpose: AuthTokenPurpose
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None  # a used link, or a session that was logged out / revoked

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


# -- rules ------------------------------------------------------------------------------------


def check_email(email: str) -> str:
    """The address lower-cased and without surrounding spaces; InvalidDriver when it is not one."""
    address = email.strip().lower()
    if not address:
        raise InvalidDriver("e-mail address is empty")
    if len(address) > EMAIL_MAX_LENGTH:
        raise InvalidDriver(f"e-mail address is longer than {EMAIL_MAX_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in address):
        raise InvalidDriver("e-mail address must not contain spaces or control characters")
    if address.count("@") != 1:
        raise InvalidDriver("e-mail address must contain exactly one '@', like name@example.com")
    local, domain = address.split("@")
    if not local:
        raise InvalidDriver("e-mail address needs a name before the '@'")
    if len(local) > EMAIL_LOCAL_MAX_LENGTH:
        raise InvalidDriver(
            f"the part of the e-mail address before '@' is longer than {EMAIL_LOCAL_MAX_LENGTH}"
            " characters"
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidDriver("the part before '@' must not start or end with '.' or contain '..'")
    if any(not (c.isalnum() or c in _LOCAL_SPECIALS) for c in local):
        raise InvalidDriver("the part of the e-mail address before '@' has a character not allowed")
    _check_domain(domain)
    return address


def _check_domain(domain: str) -> None:
    if not domain:
        raise InvalidDriver("e-mail address needs a domain after the '@', like example.com")
    if len(domain) > EMAIL_DOMAIN_MAX_LENGTH:
        raise InvalidDriver(f"e-mail domain is longer than {EMAIL_DOMAIN_MAX_LENGTH} characters")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidDriver(f"e-mail domain {domain!r} needs a dot, like example.com")
    for label in labels:
        if not label:
            raise InvalidDriver(f"e-mail domain {domain!r} has an empty part between dots")
        if len(label) > 63:
            raise InvalidDriver(f"e-mail domain {domain!r} has a part longer than 63 characters")
        if label.startswith("-") or label.endswith("-"):
            raise InvalidDriver(f"e-mail domain {domain!r} has a part that starts or ends with '-'")
        if any(not (c.isalnum() or c == "-") for c in label):
            raise InvalidDriver(
                f"e-mail domain {domain!r} may only hold letters, digits, '-' and dots"
            )
    if labels[-1].isdigit():
        raise InvalidDriver(f"e-mail domain {domain!r} must end in a name, like .com")


def _character_classes(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not c.isalnum() for c in password)
    return lower + upper + digit + other


def check_password(password: str, *, email: str | None = None) -> str:
    """The password unchanged when it follows the rules; InvalidDriver saying what to fix."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidDriver(
            f"password must be at least {PASSWORD_MIN_LENGTH} characters long"
            f" (it has {len(password)})"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidDriver(f"password must be at most {PASSWORD_MAX_LENGTH} characters long")
    if any(not c.isprintable() and c != " " for c in password):
        raise InvalidDriver("password must not contain control characters")
    if len(set(password)) == 1:
        raise InvalidDriver("password must not be one character repeated")
    if _character_classes(password) < PASSWORD_MIN_CLASSES:
        raise InvalidDriver(
            "password must mix at least two kinds of characters: lower-case letters,"
            " upper-case letters, digits, symbols or spaces"
        )
    if email is not None:
        lowered = password.strip().lower()
        address = email.strip().lower()
        if lowered == address or lowered == address.split("@")[0]:
            raise InvalidDriver("password must not be your e-mail address")
    return password


def check_name(name: str) -> str:
    """The name without surrounding spaces (may be empty)."""
    cleaned = name.strip()
    if len(cleaned) > NAME_MAX_LENGTH:
        raise InvalidDriver(f"name is longer than {NAME_MAX_LENGTH} characters")
    if not cleaned.isprintable():
        raise InvalidDriver("name must not contain control characters or line breaks")
    return cleaned


def check_language(language: str) -> Language:
    try:
        return Language(language.strip().lower())
    except ValueError:
        choices = ", ".join(repr(lang.value) for lang in Language)
        raise InvalidDriver(f"language {language!r} is not supported; use one of {choices}") from None


# -- mail texts -------------------------------------------------------------------------------


class MailKind(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"


# (subject, body) per language; bodies are str.format templates with {name}, {link}, {hours}.
MAIL_CATALOGUE: dict[Language, dict[MailKind, tuple[str, str]]] = {
    Language.EN: {
        MailKind.VERIFY_EMAIL: (
            "Confirm your e-mail address",
            "Hello{name},\n\n"
            "Welcome! Please confirm your e-mail address by opening this link:\n\n"
            "{link}\n\n"
            "The link works once and expires in {hours} hours. If you did not create an"
            " account, ignore this message.\n",
        ),
        MailKind.RESET_PASSWORD: (
            "Reset your password",
            "Hello{name},\n\n"
            "Someone (hopefully you) asked to reset the password of your account. To choose"
            " a new password, open this link:\n\n"
            "{link}\n\n"
            "The link works once and expires in {hours} hours. If you did not ask for this,"
            " ignore this message: your password stays as it is.\n",
        ),
    },
    Language.BG: {
        MailKind.VERIFY_EMAIL: (
            "Потвърдете имейл адреса си",
            "Здравейте{name},\n\n"
            "Добре дошли! Моля, потвърдете имейл адреса си, като отворите тази връзка:\n\n"
            "{link}\n\n"
            "Връзката може да се използва веднъж и изтича след {hours} часа. Ако не сте"
            " създавали профил, не обръщайте внимание на това съобщение.\n",
        ),
        MailKind.RESET_PASSWORD: (
            "Смяна на паролата",
            "Здравейте{name},\n\n"
            "Някой (надяваме се вие) поиска смяна на паролата на профила ви. За да изберете"
            " нова парола, отворете тази връзка:\n\n"
            "{link}\n\n"
            "Връзката може да се използва веднъж и изтича след {hours} часа. Ако не сте"
            " поискали това, не обръщайте внимание на съобщението: паролата ви остава"
            " същата.\n",
        ),
    },
}


def mail_text(
    kind: MailKind, language: Language, *, name: str, link: str, valid_for: timedelta
) -> tuple[str, str]:
    """The (subject, body) of a mail to a driver, in their language."""
    subject, body = MAIL_CATALOGUE[language][kind]
    hours = max(1, round(valid_for.total_seconds() / 3600))
    return subject, body.format(name=f" {name}" if name else "", link=link, hours=hours)
