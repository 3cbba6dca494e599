"""Identification tokens: issuing, changing and listing them (operators), and a driver's own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from evcms.domain.tokens import (
    IdToken,
    InvalidToken,
    TokenStatus,
    TokenType,
    check_max_concurrent,
    check_token_id,
)
from evcms.services.ports import AlreadyExists, Clock, NotFound, TokenRepository

log = logging.getLogger(__name__)

_UNSET = object()

TokensChanged = Callable[[list[str]], Awaitable[None]]


class TokenAdmin:
    def __init__(
        self,
        *,
        tokens: TokenRepository,
        clock: Clock,
        on_change: TokensChanged | None = None,
        driver_tokens_need_approval: bool = True,
    ) -> None:
        """``on_change`` is awaited with the ids of tokens after each issue, change, block and
        remove (e.g. ``LocalLists.tokens_changed``); its failures are logged, never raised: the
        token change itself is already stored."""
        self._tokens = tokens
        self._clock = clock
        self._on_change = on_change
        self.driver_tokens_need_approval = driver_tokens_need_approval

    async def _changed(self, token_ids: list[str]) -> None:
        if self._on_change is None:
            return
        try:
            await self._on_change(token_ids)
        except Exception:
            log.exception("reacting to the change of tokens %s failed", token_ids)

    async def issue(
        self,
        token_id: str,
        *,
        type: TokenType = TokenType.ISO14443,
        status: TokenStatus = TokenStatus.ACCEPTED,
        driver_id: str | None = None,
        group_id: str | None = None,
        expires_at: datetime | None = None,
        max_concurrent: int = 1,
        label: str = "",
    ) -> IdToken:
        """Register a token (AlreadyExists if it is; NotFound for an unknown driver)."""
        _check_expiry(expires_at)
        token = IdToken(
            id=check_token_id(token_id),
            type=type,
            created_at=self._clock.now(),
            status=status,
            driver_id=driver_id,
            group_id=check_token_id(group_id) if group_id else None,
            expires_at=expires_at,
            max_concurrent=check_max_concurrent(max_concurrent),
            label=label,
        )
        await self._tokens.add(token)
        await self._changed([token.id])
        return token

    async def get(self, token_id: str, *, driver_id: str | None = None) -> IdToken:
        token = await self._tokens.get(token_id)
        if token is None or (driver_id is not None and token.driver_id != driver_id):
            raise NotFound(f"token {token_id!r} does not exist")
        return token

    async def change(
        self,
        token_id: str,
        *,
        status: TokenStatus | None = None,
        driver_id: str | object | None = _UNSET,
        group_id: str | object | None = _UNSET,
        expires_at: datetime | object | None = _UNSET,
        max_concurrent: int | None = None,
        label: str | None = None,
    ) -> IdToken:
        token = await self.get(token_id)
        changes: dict[str, object] = {}
        if status is not None:
            changes["status"] = status
        if driver_id is not _UNSET:
            changes["driver_id"] = driver_id
        if group_id is not _UNSET:
            changes["group_id"] = check_token_id(group_id) if isinstance(group_id, str) else None
        if expires_at is not _UNSET:
            _check_expiry(expires_at)  # type: ignore[arg-type]
            changes["expires_at"] = expires_at
        if max_concurrent is not None:
            changes["max_concurrent"] = check_max_concurrent(max_concurrent)
        if label is not None:
            changes["label"] = label
        updated = replace(token, **changes)  # type: ignore[arg-type]
        await self._tokens.update(updated)
        await self._changed([updated.id])
        return updated

    async def add_own(
        self,
        driver_id: str,
        token_id: str,
        *,
        type: TokenType = TokenType.ISO14443,
        label: str = "",
    ) -> IdToken:
        """A driver registers their own card. When driver tokens need approval (the default) it
        cannot charge until an operator approves it: a card UID is easy to copy, so someone must
        check that the card is theirs."""
        token = IdToken(
            id=check_token_id(token_id),
            type=type,
            created_at=self._clock.now(),
            driver_id=driver_id,
            label=label,
            pending_approval=self.driver_tokens_need_approval,
        )
        try:
            await self._tokens.add(token)
        except AlreadyExists:
            raise AlreadyExists(f"token {token_id!r} is already registered") from None
        await self._changed([token.id])
        return token

    async def approve(self, token_id: str) -> IdToken:
        token = await self.get(token_id)
        updated = replace(token, pending_approval=False)
        await self._tokens.update(updated)
        await self._changed([token_id])
        return updated

    async def block(self, token_id: str, *, driver_id: str | None = None) -> IdToken:
        """Block a token (a driver may block their own lost card)."""
        await self.get(token_id, driver_id=driver_id)
        return await self.change(token_id, status=TokenStatus.BLOCKED)

    async def block_all_of(self, driver_id: str) -> list[str]:
        """Block every token of a driver (their account was deactivated); returns their ids."""
        blocked: list[str] = []
        after: str | None = None
        while page := await self._tokens.list(driver_id=driver_id, limit=500, after_id=after):
            for token in page:
                if token.status is not TokenStatus.BLOCKED:
                    await self._tokens.update(replace(token, status=TokenStatus.BLOCKED))
                    blocked.append(token.id)
            after = page[-1].id
        if blocked:
            log.info("blocked %d token(s) of deactivated driver %s", len(blocked), driver_id)
            await self._changed(blocked)
        return blocked

    async def remove_own(self, token_id: str, *, driver_id: str) -> None:
        """A driver removes one of their cards (NotFound for anyone else's); sessions it started
        keep its id."""
        await self.get(token_id, driver_id=driver_id)
        if not await self.remove(token_id):
            raise NotFound(f"token {token_id!r} does not exist")

    async def remove(self, token_id: str) -> bool:
        removed = await self._tokens.delete(token_id)
        if removed:
            await self._changed([token_id])
        return removed

    async def list(
        self, *, driver_id: str | None = None, limit: int = 100, after_id: str | None = None
    ) -> list[IdToken]:
        return await self._tokens.list(driver_id=driver_id, limit=limit, after_id=after_id)


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and (expires_at.tzinfo is None or expires_at.utcoffset() is None):
        raise InvalidToken("expires_at needs a time zone, e.g. 2027-01-01T00:00:00Z")
