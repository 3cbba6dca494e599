"""The seams between services and adapters (typing.Protocol).

Services depend on these; `storage/`, `messaging/` and `station_gateway/` implement them, and
`bootstrap.py` wires the concrete ones in. Every repository has an in-memory twin
(`storage/memory.py`) for tests that are not about storage.

Write methods of repositories return only after the change is durably committed: a station
message that changes state is answered after its change is stored.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from evcms.domain.access import ApiKey
from evcms.domain.charging_sessions import (
    ChargingSession,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from evcms.domain.events import Event
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import ConnectorState, Presence, Site, Station, StationInfo
from evcms.domain.tokens import IdToken


class AlreadyExists(Exception):
    """An entity with the same id is already stored."""


class NotFound(Exception):
    """The entity to change does not exist."""


class ServiceError(Exception):
    """A request a service cannot do; ``status`` is an HTTP-like hint for adapters and the
    message says what is wrong (what to fix, when that is up to the caller)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class SiteRepository(Protocol):
    async def add(self, site: Site) -> None: ...  # AlreadyExists

    async def get(self, site_id: SiteId) -> Site | None: ...

    async def list(self) -> builtins.list[Site]: ...

    async def update(self, site: Site) -> None: ...  # NotFound

    async def delete(self, site_id: SiteId) -> bool: ...  # stations of the site keep site_id None


class StationRepository(Protocol):
    async def add(self, station: Station) -> None: ...  # AlreadyExists

    async def get(self, station_id: StationId) -> Station | None: ...

    async def list(self, site_id: SiteId | None = None) -> builtins.list[Station]: ...

    async def update(self, station: Station) -> None: ...  # NotFound

    async def delete(self, station_id: StationId) -> bool: ...  # also its connectors

    async def record_boot(
        self, station_id: StationId, info: StationInfo, ocpp_version: str, at: datetime
    ) -> None: ...

    async def save_connector_state(self, state: ConnectorState) -> None: ...  # upsert

    async def connector_states(self, station_id: StationId) -> builtins.list[ConnectorState]: ...

    async def save_presence(self, presences: Sequence[Presence]) -> None: ...  # upsert many

    async def presence(self, station_id: StationId) -> Presence | None: ...

    async def mark_all_disconnected(self, at: datetime) -> None: ...  # at start-up


class Direction(enum.StrEnum):
    IN = "in"  # station -> evcms
    OUT = "out"  # evcms -> station


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    id: int
    station_id: StationId
    at: datetime
    direction: Direction
    frame: str


class MessageLog(Protocol):
    """The raw OCPP frames of each station, kept for a bounded time.

    ``append`` never blocks and never does I/O on the caller's path: adapters buffer and write
    in batches. ``flush`` writes what is buffered (tests and shutdown call it).
    """

    def append(self, station_id: StationId, direction: Direction, frame: str, at: datetime) -> None: ...

    async def flush(self) -> None: ...

    async def recent(
        self, station_id: StationId, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[LoggedMessage]: ...  # newest first

    async def purge(self, older_than: datetime) -> int: ...  # rows removed


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None: ...

    async def list(self) -> builtins.list[ApiKey]: ...

    async def revoke(self, key_id: str) -> bool: ...


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...  # never blocks

    def subscribe(
        self,
        handler: Callable[[Event], Awaitable[None] | None],
        *,
        types: Iterable[type[Any]] | None = None,  # only these event classes (None: all)
    ) -> Callable[[], None]: ...


class CommandOutcome(enum.StrEnum):
    RESULT = "result"
    ERROR = "error"  # the station answered CALLERROR
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"  # not connected, or lost while waiting
    REJECTED = "rejected"  # refused before sending (invalid payload / unknown action)


@dataclass(frozen=True, slots=True)
class CommandReply:
    outcome: CommandOutcome
    payload: dict[str, Any] | None = None  # the CALLRESULT payload
    error_code: str | None = None
    error_description: str | None = None
    error_details: dict[str, Any] | None = None


class StationCommands(Protocol):
    """Sends a CSMS-initiated OCPP call to a connected station and waits for its answer."""

    def is_connected(self, station_id: StationId) -> bool: ...

    def version_of(self, station_id: StationId) -> str | None: ...

    async def call(
        self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CommandReply: ...


# -- identification tokens and charging sessions (issue 3) ---------------------------------


class TokenRepository(Protocol):
    async def add(self, token: IdToken) -> None: ...  # AlreadyExists; NotFound for an unknown driver

    async def get(self, token_id: str) -> IdToken | None: ...

    async def update(self, token: IdToken) -> None: ...  # NotFound

    async def delete(self, token_id: str) -> bool: ...

    async def list(
        self, *, driver_id: str | None = None, limit: int = 100, after_id: str | None = None
    ) -> builtins.list[IdToken]: ...  # ordered by id


@dataclass(frozen=True, slots=True)
class SessionFilter:
    station_id: StationId | None = None
    driver_id: str | None = None
    id_token: str | None = None
    status: SessionStatus | None = None
    started_from: datetime | None = None  # inclusive
    started_until: datetime | None = None  # exclusive


class ChargingSessionRepository(Protocol):
    """Sessions and their events. ``record`` stores an event and the state it leads to at once."""

    async def create(
        self,
        *,
        station_id: StationId,
        evse_id: int,
        connector_id: int,
        ocpp_version: str,
        transaction_id: str | None,
        start_key: str | None,
        driver_id: str | None,
        at: datetime,
    ) -> tuple[ChargingSession, bool]:
        """A new Active session with an empty state, or the existing one with the same
        (station_id, transaction_id) or (station_id, start_key): (session, created).
        With ``transaction_id`` None the session's own id, as text, becomes its transaction id
        (OCPP 1.6, where evcms assigns transactionId)."""
        ...

    async def get(self, session_id: int) -> ChargingSession | None: ...

    async def find(self, station_id: StationId, transaction_id: str) -> ChargingSession | None: ...

    async def has_event(self, session_id: int, key: str) -> bool: ...

    async def events(self, session_id: int) -> builtins.list[SessionEvent]: ...  # sorted (seq_no, at)

    async def record(
        self, session_id: int, event: SessionEvent, state: SessionState, at: datetime
    ) -> bool:
        """Store ``event`` (once per key) and, if it was new, the session's new ``state``.
        Returns False when an event with that key was already stored (nothing changes)."""
        ...

    async def save_state(
        self,
        session_id: int,
        state: SessionState,
        at: datetime,
        *,
        driver_id: str | None = None,
        closed_by: str | None = None,
        close_note: str | None = None,
    ) -> None: ...  # NotFound

    async def active(
        self, *, station_id: StationId | None = None, id_token: str | None = None
    ) -> builtins.list[ChargingSession]: ...  # Active sessions, oldest first

    async def list(
        self, filter: SessionFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[ChargingSession]: ...  # newest (highest id) first
