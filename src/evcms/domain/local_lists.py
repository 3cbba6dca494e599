"""Local authorisation lists (pure): what belongs on a station's list, and the update to send.

A station keeps a *local authorisation list* (OCPP 1.6 SendLocalList / 2.0.1 D01) so it can
authorise cards while it is offline, and without a round trip while it is online. evcms keeps,
per station, the entries it last had acknowledged (token id -> :class:`ListEntry`) and the list
version; this module decides what the list should hold now and how to get it there.

**Which tokens go on a list** (:func:`entries_for`):

- every token with status Accepted that has not expired: as Accepted, with its expiry and group;
- a token that is Blocked, Expired or Invalid, or whose expiry has passed, stays on the list
  *only if it was on it* — with its new status, so a station that knew the card as Accepted
  (and may also hold it in its authorisation cache) learns the block while offline. Tokens that
  expired by date are dropped ``expired_grace`` after their expiry; a token that was never on
  the list is not added just to say it is bad;
- a deleted token is removed from the list (the station then asks evcms, which does not know it);
- app tokens (Central) and NoAuthorization are never put on lists: nobody presents them at a
  station's reader.

**Full or differential** (:func:`plan_update`): full when the station has no acknowledged
version (never synced, or the last attempt failed, so what it holds is unknown), or when the
differential would carry at least as many entries as the full list; otherwise differential.
Nothing is sent when the station already holds exactly the wanted list.

Versions only grow: the next version is the last one plus one (at least 1, since 2.0.1 wants a
version above 0 and 1.6 uses 0 for "no list"). A big update is cut into several messages
(:func:`split`) with consecutive versions: the first keeps the update's type, the rest are
differential, so a station applies them in order and ends at the last one's version.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from evcms.domain.tokens import AuthorizationStatus, IdToken, TokenStatus, TokenType

DEFAULT_EXPIRED_GRACE = timedelta(days=30)
NOT_FOR_LISTS = frozenset({TokenType.CENTRAL, TokenType.NO_AUTHORIZATION})


class ListStatus(enum.StrEnum):
    """Where a station's list stands."""

    IN_SYNC = "in_sync"  # the station acknowledged the list evcms wants it to have
    PENDING = "pending"  # tokens changed (or never sent): a sync is due
    FAILED = "failed"  # the last update was refused or lost: the next one is full
    UNSUPPORTED = "unsupported"  # the station does not support local lists


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry of a local list, version-neutral (1.6 idTagInfo / 2.0.1 idTokenInfo)."""

    token_id: str
    type: TokenType
    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListUpdate:
    """A SendLocalList: ``upserts`` carry their info, ``removals`` are sent without it.

    A differential update applies the removals first, then the upserts (a token whose type
    changed is removed under the old type and added under the new one). A full update has no
    removals: the station replaces its list with the upserts.
    """

    version: int
    full: bool
    upserts: tuple[ListEntry, ...] = ()
    removals: tuple[ListEntry, ...] = ()

    @property
    def size(self) -> int:
        return len(self.upserts) + len(self.removals)


def entry_for(token: IdToken, *, now: datetime) -> ListEntry:
    """The entry of ``token`` as it stands at ``now``."""
    if token.status is TokenStatus.ACCEPTED and token.pending_approval:
        status = AuthorizationStatus.INVALID  # not approved yet: never on a list as Accepted
    elif token.status is TokenStatus.ACCEPTED:
        expired = token.expires_at is not None and token.expires_at <= now
        status = AuthorizationStatus.EXPIRED if expired else AuthorizationStatus.ACCEPTED
    else:
        status = AuthorizationStatus(token.status.value)
    return ListEntry(
        token_id=token.id,
        type=token.type,
        status=status,
        expires_at=token.expires_at,
        group_id=token.group_id,
    )


def entries_for(
    tokens: Iterable[IdToken],
    *,
    now: datetime,
    previous: Mapping[str, ListEntry],
    expired_grace: timedelta = DEFAULT_EXPIRED_GRACE,
    max_token_length: int | None = None,
) -> tuple[dict[str, ListEntry], list[str]]:
    """The list a station should hold (see the module docstring), and the ids of tokens left
    off because they are longer than ``max_token_length`` (1.6 idTags carry 20 characters)."""
    wanted: dict[str, ListEntry] = {}
    too_long: list[str] = []
    for token in tokens:
        if token.type in NOT_FOR_LISTS:
            continue
        entry = entry_for(token, now=now)
        if entry.status is not AuthorizationStatus.ACCEPTED:
            if token.id not in previous:
                continue
            if (
                token.expires_at is not None
                and token.expires_at + expired_grace <= now
                and token.status in (TokenStatus.ACCEPTED, TokenStatus.EXPIRED)
            ):
                continue
        if max_token_length is not None and len(token.id) > max_token_length:
            too_long.append(token.id)
            continue
        wanted[token.id] = entry
    return wanted, too_long


def next_version(last_version: int) -> int:
    return max(last_version, 0) + 1


def plan_update(
    wanted: Mapping[str, ListEntry],
    sent: Mapping[str, ListEntry],
    *,
    last_version: int,
    acknowledged: bool,
) -> ListUpdate | None:
    """The update that takes a station from ``sent`` to ``wanted``; None when there is nothing
    to send (``acknowledged`` and equal). Without an acknowledged version the update is full."""
    version = next_version(last_version)
    full_update = ListUpdate(version, True, tuple(wanted[k] for k in sorted(wanted)))
    if not acknowledged:
        return full_update
    removals: list[ListEntry] = []
    upserts: list[ListEntry] = []
    for token_id in sorted(sent.keys() | wanted.keys()):
        old, new = sent.get(token_id), wanted.get(token_id)
        if old == new:
            continue
        if new is None:
            assert old is not None
            removals.append(old)
            continue
        if old is not None and old.type is not new.type:
            removals.append(old)
        upserts.append(new)
    if not removals and not upserts:
        return None
    if len(removals) + len(upserts) >= len(wanted):
        return full_update
    return ListUpdate(version, False, tuple(upserts), tuple(removals))


def apply(update: ListUpdate, held: Mapping[str, ListEntry]) -> dict[str, ListEntry]:
    """What a station holds after applying ``update`` to ``held``."""
    result: dict[str, ListEntry] = {} if update.full else dict(held)
    for entry in update.removals:
        result.pop(entry.token_id, None)
    for entry in update.upserts:
        result[entry.token_id] = entry
    return result


def split(update: ListUpdate, max_entries: int) -> list[ListUpdate]:
    """``update`` as messages of at most ``max_entries`` entries each, with consecutive versions
    ending at ``update.version + len(messages) - 1``. The first message keeps the type of the
    update; the others are differential. A full update of an empty list is one empty message."""
    if max_entries < 1:
        raise ValueError("max_entries must be at least 1")
    if update.size <= max_entries:
        return [update]
    items: list[tuple[bool, ListEntry]] = [(False, e) for e in update.removals]
    items += [(True, e) for e in update.upserts]
    messages = []
    for n, start in enumerate(range(0, len(items), max_entries)):
        chunk = items[start : start + max_entries]
        messages.append(
            ListUpdate(
                version=update.version + n,
                full=update.full and n == 0,
                upserts=tuple(e for upsert, e in chunk if upsert),
                removals=tuple(e for upsert, e in chunk if not upsert),
            )
        )
    return messages
