"""The rules for driver e-mail addresses, passwords, names and languages, and the mail texts."""

# Cyrillic addresses, passwords and texts on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.drivers import (
    PASSWORD_MIN_LENGTH,
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

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given_email", "stored"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Petrova@Example.COM ", "ana.petrova@example.com"),
        ("a+tag@sub.example.bg", "a+tag@sub.example.bg"),
        ("o'neil@mail-server.co.uk", "o'neil@mail-server.co.uk"),
        ("иван@пример.бг", "иван@пример.бг"),
    ],
)
def test_valid_addresses_are_lower_cased_and_trimmed(given_email: str, stored: str) -> None:
    assert check_email(given_email) == stored


@pytest.mark.parametrize(
    ("email", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ana.example.com", "exactly one '@'"),
        ("ana@@example.com", "exactly one '@'"),
        ("@example.com", "name before the '@'"),
        ("ana@", "domain after the '@'"),
        ("ana@localhost", "needs a dot"),
        ("ana@example..com", "empty part"),
        ("ana@-example.com", "starts or ends with '-'"),
        ("ana@exa_mple.com", "letters, digits, '-'"),
        ("ana@10.0.0.1", "end in a name"),
        ("an a@example.com", "spaces"),
        (".ana@example.com", "start or end with '.'"),
        ("a..na@example.com", "contain '..'"),
        ("a(na)@example.com", "not allowed"),
        ("a" * 65 + "@example.com", "longer than 64"),
        ("ana@" + "a" * 64 + ".com", "longer than 63"),
        ("a@" + ("b" * 60 + ".") * 6 + "com", "longer than"),
    ],
)
def test_invalid_addresses_say_what_to_fix(email: str, says: str) -> None:
    with pytest.raises(InvalidDriver) as raised:
        check_email(email)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse",  # letters and spaces
        "Tr0ub4dor&3",
        "abcdefghi1",
        "ABCDEFGHIJk",
        "пароласцифра7",
        "x" * 9 + "Y",
    ],
)
def test_good_passwords_pass(password: str) -> None:
    assert check_password(password, email="ana@example.com") == password


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("", "at least 10 characters long (it has 0)"),
        ("Ab1!", "at least 10 characters long (it has 4)"),
        ("abcdefghij", "mix at least two kinds"),
        ("1234567890123", "mix at least two kinds"),
        ("ABCDEFGHIJ", "mix at least two kinds"),
        ("aaaaaaaaaaaa", "one character repeated"),
        ("abcdefghi\x00", "control characters"),
        ("Ab1" * 100, "at most 256"),
        ("Ana.Petrova@Example.com", "must not be your e-mail address"),
        ("ana.petrova", "must not be your e-mail address"),  # the address's local part
    ],
)
def test_bad_passwords_say_what_to_fix(password: str, says: str) -> None:
    with pytest.raises(InvalidDriver) as raised:
        check_password(password, email="ana.petrova@example.com")
    assert says in str(raised.value)


@given(st.text(min_size=PASSWORD_MIN_LENGTH, max_size=40))
def test_any_password_is_either_accepted_unchanged_or_refused_with_a_reason(password: str) -> None:
    try:
        assert check_password(password) == password
    except InvalidDriver as refused:
        assert str(refused)


@pytest.mark.parametrize(
    ("name", "stored"), [("  Ana Petrova ", "Ana Petrova"), ("", ""), ("Иван", "Иван")]
)
def test_names_are_trimmed(name: str, stored: str) -> None:
    assert check_name(name) == stored


@pytest.mark.parametrize(("name", "says"), [("x" * 201, "longer than 200"), ("a\nb", "line breaks")])
def test_bad_names(name: str, says: str) -> None:
    with pytest.raises(InvalidDriver) as raised:
        check_name(name)
    assert says in str(raised.value)


@pytest.mark.parametrize(("given_language", "language"), [("en", Language.EN), (" BG ", Language.BG)])
def test_languages(given_language: str, language: Language) -> None:
    assert check_language(given_language) is language


def test_an_unsupported_language_lists_the_supported_ones() -> None:
    with pytest.raises(InvalidDriver, match="'de' is not supported; use one of 'en', 'bg'"):
        check_language("de")


@pytest.mark.parametrize(
    ("purpose", "lifetime", "single_use"),
    [
        (AuthTokenPurpose.SESSION, timedelta(days=30), False),
        (AuthTokenPurpose.VERIFY_EMAIL, timedelta(days=2), True),
        (AuthTokenPurpose.RESET_PASSWORD, timedelta(hours=1), True),
    ],
)
def test_token_purposes(purpose: AuthTokenPurpose, lifetime: timedelta, single_use: bool) -> None:
    assert purpose.lifetime == lifetime
    assert purpose.single_use is single_use


@pytest.mark.parametrize(
    ("used_at", "now", "usable"),
    [
        (None, T0, True),
        (None, T0 + timedelta(hours=1) - timedelta(microseconds=1), True),
        (None, T0 + timedelta(hours=1), False),  # expiry is exclusive
        (T0, T0, False),
    ],
)
def test_a_token_is_usable_until_it_expires_or_is_used(
    used_at: datetime | None, now: datetime, usable: bool
) -> None:
    token = AuthToken("h", "d", AuthTokenPurpose.RESET_PASSWORD, T0, T0 + timedelta(hours=1), used_at)
    assert token.usable(now) is usable


def test_a_new_driver_is_active_and_unverified() -> None:
    driver = Driver("d1", "ana@example.com", "hash", T0, T0)
    assert driver.active and not driver.email_verified
    assert driver.language is Language.EN
    closed = driver.replace(status=DriverStatus.DEACTIVATED, email_verified_at=T0)
    assert not closed.active and closed.email_verified


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(MailKind))
def test_every_mail_exists_in_every_language_with_the_link(language: Language, kind: MailKind) -> None:
    subject, body = mail_text(
        kind, language, name="Ana", link="https://x.test/l?token=abc", valid_for=timedelta(hours=48)
    )
    assert subject and "\n" not in subject
    assert "https://x.test/l?token=abc" in body
    assert "Ana," in body and "48" in body


def test_mails_are_in_the_drivers_language() -> None:
    english = mail_text(MailKind.RESET_PASSWORD, Language.EN, name="", link="L", valid_for=timedelta(hours=1))
    bulgarian = mail_text(MailKind.RESET_PASSWORD, Language.BG, name="", link="L", valid_for=timedelta(hours=1))
    assert english[0] == "Reset your password"
    assert bulgarian[0] == "Смяна на паролата"
    assert english[1].startswith("Hello,") and bulgarian[1].startswith("Здравейте,")
