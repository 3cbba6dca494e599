"""Local authorisation lists: keeping each station's list in step with the tokens.

Which tokens go on a list and when an update is full or differential is decided in
``domain.local_lists``. This service keeps per-station sync state (version, status, the entries
the station acknowledged) through :class:`LocalListRepository`, and talks to stations through the
version-neutral :class:`StationListCommands` (implemented by
``station_gateway.local_list_commands``).

Results of a SendLocalList:

- Accepted: the version and the entries are stored (per message when a big update is cut into
  several), status ``in_sync``;
- Failed / VersionMismatch, a CALLERROR, or no answer in time: status ``failed`` — what the
  station holds is unknown, so the next update is full;
- NotSupported (or CALLERROR NotImplemented / NotSupported): status ``unsupported``; automatic
  syncs skip the station until it boots again (new firmware may support lists), an operator's
  sync always tries.

When tokens change (:meth:`LocalLists.tokens_changed`, called by ``TokenAdmin``) every stored
list becomes ``pending`` and the connected, accepted stations get a sync after a short debounce,
so a burst of token changes costs one update per station. A station that was offline syncs when
it boots (:meth:`LocalLists.station_booted`, or :meth:`LocalLists.on_event` on the bus) if its
list is not in step.
"""

from __future__ import annotations

import asyncio
import builtins
import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from evcms.domain.events import Event, StationBooted
from evcms.domain.ids import StationId
from evcms.domain.local_lists import (
    DEFAULT_EXPIRED_GRACE,
    ListEntry,
    ListStatus,
    ListUpdate,
    entries_for,
    plan_update,
    split,
)
from evcms.domain.stations import RegistrationStatus
from evcms.domain.tokens import IdToken
from evcms.services.ports import (
    Clock,
    CommandOutcome,
    CommandReply,
    StationRepository,
    TokenRepository,
)

log = logging.getLogger(__name__)

TOKEN_PAGE = 1000
UNSUPPORTED_ERRORS = frozenset({"NotImplemented", "NotSupported"})


# -- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalListState:
    """What evcms knows of a station's list."""

    station_id: StationId
    version: int  # the last version the station acknowledged (0: none)
    status: ListStatus
    updated_at: datetime
    synced_at: datetime | None = None  # when the station last acknowledged an update
    error: str | None = None  # why the last update failed
    entries: int = 0  # entries the station holds (as far as evcms knows)


class LocalListRepository(Protocol):
    """Per-station list state and the acknowledged entries (storage/local_lists.py)."""

    async def get(self, station_id: StationId) -> LocalListState | None: ...

    async def states(self) -> builtins.list[LocalListState]: ...  # ordered by station id

    async def entries(self, station_id: StationId) -> dict[str, ListEntry]: ...

    async def record_accepted(
        self, station_id: StationId, update: ListUpdate, *, status: ListStatus, at: datetime
    ) -> None:
        """Store ``update`` as applied: its version, the entries after it (a full update
        replaces them, a differential one removes and upserts), ``synced_at`` = ``at``, no
        error, and ``status``. In one transaction."""
        ...

    async def mark(
        self, station_id: StationId, status: ListStatus, *, at: datetime, error: str | None = None
    ) -> None:
        """Set the status (and error) keeping the version and entries; creates the state with
        version 0 for a station that has none."""
        ...

    async def mark_stale(self, at: datetime) -> int:
        """``in_sync`` lists become ``pending``; returns how many."""
        ...

    async def delete(self, station_id: StationId) -> bool: ...


@dataclass(frozen=True, slots=True)
class ListLimits:
    """What a connected station can take."""

    max_token_length: int  # 20 for an OCPP 1.6 idTag, 36 for 2.0.1, 255 for 2.1
    entries_per_message: int  # cut bigger updates into several SendLocalList


@dataclass(frozen=True, slots=True)
class ListVersionReply:
    reply: CommandReply
    version: int | None  # the station's list version when it answered


class StationListCommands(Protocol):
    """Version-neutral local list commands (station_gateway/local_list_commands.py)."""

    def limits(self, station_id: StationId) -> ListLimits | None: ...  # None: not connected

    async def send_local_list(self, station_id: StationId, update: ListUpdate) -> CommandReply: ...

    async def local_list_version(self, station_id: StationId) -> ListVersionReply: ...

    async def clear_cache(self, station_id: StationId) -> CommandReply: ...


# -- results ----------------------------------------------------------------------------------


class SyncOutcome(enum.StrEnum):
    SENT = "sent"  # every message was accepted
    UP_TO_DATE = "up_to_date"  # nothing to send
    REFUSED = "refused"  # the station answered Failed or VersionMismatch
    NOT_SUPPORTED = "not_supported"
    ERROR = "error"  # the station answered a CALLERROR
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    REJECTED = "rejected"  # not sent: the message did not fit the station


@dataclass(frozen=True, slots=True)
class SyncResult:
    station_id: StationId
    outcome: SyncOutcome
    state: LocalListState | None = None  # after the sync
    full: bool | None = None  # the type of update (None when nothing was sent)
    version: int | None = None  # the version the update was to reach
    messages: int = 0  # SendLocalList messages sent
    skipped: tuple[str, ...] = ()  # tokens too long for this station's protocol
    reply: CommandReply | None = None  # the station's last answer
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class VersionCheck:
    station_id: StationId
    reply: CommandReply
    station_version: int | None  # None when the station did not answer
    evcms_version: int  # the version evcms last had acknowledged (0: none)
    in_sync: bool | None  # None when the station did not answer
    state: LocalListState | None = None


@dataclass(frozen=True, slots=True)
class LocalListPolicy:
    auto_sync: bool = True  # sync on token changes and at boots
    debounce_seconds: float = 2.0  # wait for more token changes before syncing
    expired_grace: timedelta = DEFAULT_EXPIRED_GRACE


@dataclass
class _Station:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    scheduled: asyncio.Task[None] | None = None


# -- the service ------------------------------------------------------------------------------


class LocalLists:
    def __init__(
        self,
        *,
        lists: LocalListRepository,
        tokens: TokenRepository,
        stations: StationRepository,
        commands: StationListCommands,
        clock: Clock,
        policy: LocalListPolicy | None = None,
    ) -> None:
        self._lists = lists
        self._tokens = tokens
        self._stations = stations
        self._commands = commands
        self._clock = clock
        self.policy = policy or LocalListPolicy()
        self._per_station: dict[StationId, _Station] = {}
        self._changes = 0  # bumped by every tokens_changed: a sync racing one stays pending
        self._closed = False
        self._fan_out: asyncio.Task[None] | None = None  # the debounced "sync every station"

    def _station(self, station_id: StationId) -> _Station:
        found = self._per_station.get(station_id)
        if found is None:
            found = self._per_station[station_id] = _Station()
        return found

    # -- reading --------------------------------------------------------------------------

    async def state(self, station_id: StationId) -> LocalListState:
        """The station's list state; a station never synced is ``pending`` at version 0."""
        found = await self._lists.get(station_id)
        if found is not None:
            return found
        return LocalListState(station_id, 0, ListStatus.PENDING, self._clock.now())

    async def entries(self, station_id: StationId) -> dict[str, ListEntry]:
        return await self._lists.entries(station_id)

    def is_connected(self, station_id: StationId) -> bool:
        return self._commands.limits(station_id) is not None

    async def _all_tokens(self) -> list[IdToken]:
        found: list[IdToken] = []
        after: str | None = None
        while True:
            page = await self._tokens.list(limit=TOKEN_PAGE, after_id=after)
            found.extend(page)
            if len(page) < TOKEN_PAGE:
                return found
            after = page[-1].id

    # -- SendLocalList --------------------------------------------------------------------

    async def sync(self, station_id: StationId, *, full: bool = False) -> SyncResult:
        """Bring the station's list in step with the tokens (``full`` forces a full update)."""
        async with self._station(station_id).lock:
            return await self._sync(station_id, full=full)

    async def _sync(self, station_id: StationId, *, full: bool) -> SyncResult:
        limits = self._commands.limits(station_id)
        if limits is None:
            return SyncResult(
                station_id,
                SyncOutcome.DISCONNECTED,
                await self._lists.get(station_id),
                detail=f"station {station_id} is not connected",
            )
        changes_seen = self._changes
        state = await self._lists.get(station_id)
        held = await self._lists.entries(station_id)
        now = self._clock.now()
        wanted, too_long = entries_for(
            await self._all_tokens(),
            now=now,
            previous=held,
            expired_grace=self.policy.expired_grace,
            max_token_length=limits.max_token_length,
        )
        if too_long:
            log.warning(
                "local list of %s: %d token(s) longer than %d characters left off: %s",
                station_id,
                len(too_long),
                limits.max_token_length,
                ", ".join(too_long[:20]),
            )
        acknowledged = (
            not full
            and state is not None
            and state.version > 0
            and state.status in (ListStatus.IN_SYNC, ListStatus.PENDING)
        )
        update = plan_update(
            wanted, held, last_version=state.version if state else 0, acknowledged=acknowledged
        )
        skipped = tuple(too_long)
        if update is None:
            if state is not None and state.status is not ListStatus.IN_SYNC:
                await self._lists.mark(station_id, ListStatus.IN_SYNC, at=now)
            return SyncResult(
                station_id, SyncOutcome.UP_TO_DATE, await self._lists.get(station_id), skipped=skipped
            )
        messages = split(update, limits.entries_per_message)
        reply: CommandReply | None = None
        for n, message in enumerate(messages):
            reply = await self._commands.send_local_list(station_id, message)
            outcome, problem = _judge(reply)
            if outcome is not SyncOutcome.SENT:
                nothing_sent = n == 0 and outcome is SyncOutcome.DISCONNECTED
                if outcome is SyncOutcome.NOT_SUPPORTED:
                    await self._lists.mark(
                        station_id, ListStatus.UNSUPPORTED, at=self._clock.now(), error=problem
                    )
                elif not nothing_sent:
                    await self._lists.mark(
                        station_id, ListStatus.FAILED, at=self._clock.now(), error=problem
                    )
                log.info("local list of %s not updated: %s", station_id, problem)
                return SyncResult(
                    station_id,
                    outcome,
                    await self._lists.get(station_id),
                    full=update.full,
                    version=message.version,
                    messages=n + 1,
                    skipped=skipped,
                    reply=reply,
                    detail=problem,
                )
            last = n == len(messages) - 1
            in_step = last and self._changes == changes_seen
            await self._lists.record_accepted(
                station_id,
                message,
                status=ListStatus.IN_SYNC if in_step else ListStatus.PENDING,
                at=self._clock.now(),
            )
        return SyncResult(
            station_id,
            SyncOutcome.SENT,
            await self._lists.get(station_id),
            full=update.full,
            version=messages[-1].version,
            messages=len(messages),
            skipped=skipped,
            reply=reply,
        )

    # -- GetLocalListVersion, ClearCache ---------------------------------------------------

    async def version(self, station_id: StationId) -> VersionCheck:
        """Ask the station for its list version and compare it with the one evcms sent.

        A different version marks the list ``failed`` (the next update is full); 1.6's -1
        ("local lists not supported") marks it ``unsupported``.
        """
        answer = await self._commands.local_list_version(station_id)
        state = await self._lists.get(station_id)
        ours = state.version if state is not None else 0
        theirs = answer.version
        if theirs is None:
            return VersionCheck(station_id, answer.reply, None, ours, None, state)
        now = self._clock.now()
        if theirs < 0:
            await self._lists.mark(
                station_id, ListStatus.UNSUPPORTED, at=now, error="the station reports no local list support"
            )
        elif theirs != ours and (state is None or state.status is not ListStatus.UNSUPPORTED):
            await self._lists.mark(
                station_id,
                ListStatus.FAILED,
                at=now,
                error=f"the station holds version {theirs}, evcms sent version {ours}",
            )
        return VersionCheck(
            station_id,
            answer.reply,
            theirs,
            ours,
            theirs == ours,
            await self._lists.get(station_id),
        )

    async def clear_cache(self, station_id: StationId) -> CommandReply:
        """ClearCache: the station forgets the authorisations it cached (not its local list)."""
        return await self._commands.clear_cache(station_id)

    # -- keeping lists in step -------------------------------------------------------------

    async def tokens_changed(self, token_ids: Iterable[str]) -> None:
        """Tokens were issued, changed or removed: every list is due a sync (stored at once);
        after the debounce the connected, accepted stations get one (when ``auto_sync``).
        A burst of changes costs one UPDATE each and one sync per station."""
        self._changes += 1
        await self._lists.mark_stale(self._clock.now())
        if not self.policy.auto_sync or self._closed:
            return
        if self._fan_out is None or self._fan_out.done():
            self._fan_out = asyncio.get_running_loop().create_task(
                self._sync_connected_later(), name="evcms-local-lists-fan-out"
            )

    async def _sync_connected_later(self) -> None:
        await asyncio.sleep(self.policy.debounce_seconds)
        changes_seen = self._changes
        try:
            await self._sync_connected()
        except Exception:
            log.exception("scheduling local list syncs failed")
        finally:
            self._fan_out = None
        if self._changes != changes_seen and not self._closed:  # changed meanwhile: again
            self._fan_out = asyncio.get_running_loop().create_task(
                self._sync_connected_later(), name="evcms-local-lists-fan-out"
            )

    async def _sync_connected(self) -> None:
        unsupported = {
            s.station_id for s in await self._lists.states() if s.status is ListStatus.UNSUPPORTED
        }
        for station in await self._stations.list():
            if (
                station.registration is RegistrationStatus.ACCEPTED
                and station.id not in unsupported
                and self.is_connected(station.id)
            ):
                self.schedule(station.id, delay=0.0)

    async def station_booted(self, station_id: StationId) -> bool:
        """A station booted and was accepted: schedule a sync unless its list is in step.
        Returns whether one was scheduled."""
        if not self.policy.auto_sync:
            return False
        state = await self._lists.get(station_id)
        if state is not None and state.status is ListStatus.IN_SYNC:
            return False
        self.schedule(station_id)
        return True

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: an accepted BootNotification -> :meth:`station_booted`."""
        if isinstance(event, StationBooted) and event.registration is RegistrationStatus.ACCEPTED:
            await self.station_booted(event.station_id)

    def schedule(self, station_id: StationId, *, delay: float | None = None) -> None:
        """Sync the station after ``delay`` (default: the debounce) unless one is scheduled
        already; changes meanwhile join the same sync."""
        if self._closed:
            return
        slot = self._station(station_id)
        if slot.scheduled is not None and not slot.scheduled.done():
            return
        wait = self.policy.debounce_seconds if delay is None else delay
        slot.scheduled = asyncio.get_running_loop().create_task(
            self._sync_later(station_id, slot, wait), name=f"evcms-local-list-{station_id}"
        )

    async def _sync_later(self, station_id: StationId, slot: _Station, delay: float) -> None:
        await asyncio.sleep(delay)
        slot.scheduled = None  # changes from now on schedule another sync
        try:
            result = await self.sync(station_id)
        except Exception:
            log.exception("local list sync of %s failed", station_id)
            return
        log.debug("local list sync of %s: %s", station_id, result.outcome)

    def _pending_tasks(self) -> builtins.list[asyncio.Task[None]]:
        tasks = [
            s.scheduled
            for s in self._per_station.values()
            if s.scheduled is not None and not s.scheduled.done()
        ]
        if self._fan_out is not None and not self._fan_out.done():
            tasks.append(self._fan_out)
        return tasks

    async def settle(self) -> None:
        """Wait until every scheduled sync has run (tests; shutdown)."""
        while True:
            tasks = self._pending_tasks()
            if not tasks:
                locks = [s.lock for s in self._per_station.values() if s.lock.locked()]
                if not locks:
                    return
                await asyncio.sleep(0.01)
                continue
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel scheduled syncs (at shutdown)."""
        self._closed = True
        tasks = self._pending_tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _judge(reply: CommandReply) -> tuple[SyncOutcome, str | None]:
    """A SendLocalList answer -> (outcome, what went wrong)."""
    match reply.outcome:
        case CommandOutcome.RESULT:
            status = (reply.payload or {}).get("status")
            if status == "Accepted":
                return SyncOutcome.SENT, None
            if status == "NotSupported":
                return SyncOutcome.NOT_SUPPORTED, "the station does not support local lists"
            return SyncOutcome.REFUSED, f"the station answered {status}"
        case CommandOutcome.ERROR:
            if reply.error_code in UNSUPPORTED_ERRORS:
                return SyncOutcome.NOT_SUPPORTED, f"the station answered {reply.error_code}"
            why = f": {reply.error_description}" if reply.error_description else ""
            return SyncOutcome.ERROR, f"the station answered {reply.error_code}{why}"[:500]
        case CommandOutcome.TIMEOUT:
            return SyncOutcome.TIMEOUT, "the station did not answer in time"
        case CommandOutcome.DISCONNECTED:
            return SyncOutcome.DISCONNECTED, "the station is not connected"
        case CommandOutcome.REJECTED:
            why = reply.error_description or reply.error_code or "invalid request"
            return SyncOutcome.REJECTED, f"not sent: {why}"[:500]
    raise AssertionError(f"unhandled outcome {reply.outcome}")  # pragma: no cover
