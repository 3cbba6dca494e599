"""Operator accounts of the console (pure): people who sign in with an e-mail and a password and
act with their role's permissions, as API keys do for programs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evcms.domain.access import ApiKey, Role

USER_PRINCIPAL_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class OperatorUser:
    id: str
    email: str  # lower-cased
    name: str
    role: Role
    password_hash: str
    created_at: datetime
    disabled: bool = False
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A signed-in browser: only the SHA-256 of its cookie secret is kept."""

    token_hash: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        return self.ended_at is None and at < self.expires_at


def principal_of(user: OperatorUser) -> ApiKey:
    """The user as the API's caller: the same role checks as an API key, their e-mail as the
    name that audit trails record."""
    return ApiKey(
        id=f"{USER_PRINCIPAL_PREFIX}{user.id}",
        name=user.email,
        role=user.role,
        secret_hash="",
        created_at=user.created_at,
    )
