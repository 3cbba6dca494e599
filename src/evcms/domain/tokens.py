"""Identification tokens (RFID cards, app tokens, ...) and the rule that authorises them (pure).

A token is what a station sends to identify a driver: 1.6's ``idTag`` (at most 20 characters),
2.0.1's ``IdToken`` (``idToken`` of at most 36 characters and a ``type``; 255 in 2.1). Tokens are
looked up by their id; the type is kept and checked when the station sends one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from evcms.domain.ids import StationId

TOKEN_ID_MAX_LENGTH = 255  # 2.1; 1.6 stations can only carry 20 and 2.0.1 stations 36


class TokenType(enum.StrEnum):
    """2.0.1's IdTokenEnumType; 1.6 idTags are ISO14443 unless registered otherwise."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class TokenStatus(enum.StrEnum):
    """What an operator set on a token."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class AuthorizationStatus(enum.StrEnum):
    """The verdict sent to the station (the intersection of 1.6 and 2.0.1, plus Unknown)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"  # 2.0.1 only; 1.6 says Invalid
    # 2.0.1 only; 1.6 says Invalid. A valid token refused for now: the EVSE is reserved for
    # another token.
    NOT_AT_THIS_TIME = "NotAtThisTime"
    # 2.0.1 only; 1.6 says Blocked. The driver cannot pay: a wallet below the minimum balance,
    # no card on file, or a declined pre-authorisation.
    NO_CREDIT = "NoCredit"


class InvalidToken(ValueError):
    """A token that breaks a rule; the message says which."""


@dataclass(frozen=True, slots=True)
class IdToken:
    id: str
    type: TokenType
    created_at: datetime
    status: TokenStatus = TokenStatus.ACCEPTED
    driver_id: str | None = None
    group_id: str | None = None  # 1.6 parentIdTag / 2.0.1 groupIdToken
    expires_at: datetime | None = None
    max_concurrent: int = 1  # sessions at once; 0 = no limit
    label: str = ""
    pending_approval: bool = False  # added by a driver, waiting for an operator




def check_token_id(token_id: str) -> str:
    if not token_id:
        raise InvalidToken("token id is empty")
    if len(token_id) > TOKEN_ID_MAX_LENGTH:
        raise InvalidToken(f"token id is longer than {TOKEN_ID_MAX_LENGTH} characters")
    if not token_id.isprintable() or token_id.strip() != token_id:
        raise InvalidToken("token id must be printable without leading or trailing spaces")
    return token_id


def check_max_concurrent(value: int) -> int:
    if value < 0:
        raise InvalidToken("max_concurrent must be 0 (no limit) or more")
    return value


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer for a token at one moment, with what the station may cache."""

    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None
    driver_id: str | None = None
    reason: str | None = None  # why it was refused, for people (API errors, logs); not sent


def authorize(
    token: IdToken | None,
    *,
    now: datetime,
    active_sessions: int,
    starting: bool,
    token_type: TokenType | None = None,
) -> Authorization:
    """Decide whether ``token`` may charge now.

    ``active_sessions`` counts the token's sessions in progress (not including the one being
    decided); ``starting`` is True when the question is "may a new session start" (Authorize,
    StartTransaction, a TransactionEvent that starts), False for a stop or a mid-session check,
    where the concurrency limit does not apply.
    """
    if token is None:
        return Authorization(AuthorizationStatus.UNKNOWN)
    if token_type is not None and token.type is not token_type and not _compatible(token.type, token_type):
        return Authorization(AuthorizationStatus.UNKNOWN)
    info = {"expires_at": token.expires_at, "group_id": token.group_id, "driver_id": token.driver_id}
    if token.status is not TokenStatus.ACCEPTED:
        return Authorization(AuthorizationStatus(token.status.value), **info)  # type: ignore[arg-type]
    if token.pending_approval:  # a driver added it; an operator has not approved it yet
        return Authorization(AuthorizationStatus.INVALID, **info)  # type: ignore[arg-type]
    if token.expires_at is not None and token.expires_at <= now:
        return Authorization(AuthorizationStatus.EXPIRED, **info)  # type: ignore[arg-type]
    if starting and token.max_concurrent and active_sessions >= token.max_concurrent:
        return Authorization(AuthorizationStatus.CONCURRENT_TX, **info)  # type: ignore[arg-type]
    return Authorization(AuthorizationStatus.ACCEPTED, **info)  # type: ignore[arg-type]


def _compatible(registered: TokenType, presented: TokenType) -> bool:
    # An RFID card registered without knowing the standard still matches either RFID type.
    rfid = {TokenType.ISO14443, TokenType.ISO15693}
    return registered in rfid and presented in rfid


_NOT_IN_V16 = frozenset({AuthorizationStatus.UNKNOWN, AuthorizationStatus.NOT_AT_THIS_TIME})


def status_for_v16(status: AuthorizationStatus) -> str:
    """1.6's AuthorizationStatus has no Unknown, NotAtThisTime nor NoCredit: the first two are
    Invalid; a token that cannot pay is Blocked (for now: the next Authorize asks again)."""
    if status is AuthorizationStatus.NO_CREDIT:
        return "Blocked"
    return "Invalid" if status in _NOT_IN_V16 else status.value


__all__ = [
    "Authorization",
    "AuthorizationStatus",
    "IdToken",
    "InvalidToken",
    "StationId",
    "TokenStatus",
    "TokenType",
    "authorize",
]
