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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from evcms.domain.access import ApiKey
from evcms.domain.events import Event
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import ConnectorState, Presence, Site, Station, StationInfo


class AlreadyExists(Exception):
    """An entity with the same id is already stored."""


class NotFound(Exception):
    """The entity to change does not exist."""


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

    def subscribe(self, handler: Callable[[Event], Awaitable[None] | None]) -> Callable[[], None]: ...


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
