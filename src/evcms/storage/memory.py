"""In-memory twins of the repositories and the message log, for tests that are not about storage.

They behave like the SQL ones (the same contract tests run against both): the same errors,
the same ordering (ids by code point), timestamps normalised to aware UTC (naive ones refused),
cascades (deleting a station drops its connectors and presence; deleting a site detaches its
stations), and a message log that buffers until ``flush``.

Repositories that refer to each other share one :class:`MemoryDatabase`::

    db = MemoryDatabase()
    sites, stations = MemorySiteRepository(db), MemoryStationRepository(db)
"""

from __future__ import annotations

import builtins
import dataclasses
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from evcms.domain.access import ApiKey
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import ConnectorState, Presence, Site, Station, StationInfo
from evcms.services.ports import AlreadyExists, Clock, Direction, LoggedMessage, NotFound
from evcms.storage._sql import utc, utc_or_none

_D = TypeVar("_D")


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class MemoryDatabase:
    """The shared state of the in-memory repositories."""

    sites: dict[SiteId, Site] = field(default_factory=dict)
    stations: dict[StationId, Station] = field(default_factory=dict)
    connectors: dict[tuple[StationId, int, int], ConnectorState] = field(default_factory=dict)
    presence: dict[StationId, Presence] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    messages: dict[int, LoggedMessage] = field(default_factory=dict)
    next_message_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class MemorySiteRepository:
    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    async def add(self, site: Site) -> None:
        if site.id in self.db.sites:
            raise AlreadyExists(f"site {site.id!r} already exists")
        self.db.sites[site.id] = site

    async def get(self, site_id: SiteId) -> Site | None:
        return self.db.sites.get(site_id)

    async def list(self) -> builtins.list[Site]:
        return [self.db.sites[key] for key in sorted(self.db.sites)]

    async def update(self, site: Site) -> None:
        if site.id not in self.db.sites:
            raise NotFound(f"site {site.id!r} does not exist")
        self.db.sites[site.id] = site

    async def delete(self, site_id: SiteId) -> bool:
        if self.db.sites.pop(site_id, None) is None:
            return False
        for station_id, station in builtins.list(self.db.stations.items()):
            if station.site_id == site_id:
                self.db.stations[station_id] = station.replace(site_id=None)
        return True


def _normalised(station: Station) -> Station:
    return station.replace(
        created_at=utc(station.created_at), last_boot_at=utc_or_none(station.last_boot_at)
    )


class MemoryStationRepository:
    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def _require_site(self, site_id: SiteId | None) -> None:
        if site_id is not None and site_id not in self.db.sites:
            raise NotFound(f"site {site_id!r} does not exist")

    async def add(self, station: Station) -> None:
        station = _normalised(station)
        if station.id in self.db.stations:
            raise AlreadyExists(f"station {station.id!r} already exists")
        self._require_site(station.site_id)
        self.db.stations[station.id] = station

    async def get(self, station_id: StationId) -> Station | None:
        return self.db.stations.get(station_id)

    async def list(self, site_id: SiteId | None = None) -> builtins.list[Station]:
        return [
            self.db.stations[key]
            for key in sorted(self.db.stations)
            if site_id is None or self.db.stations[key].site_id == site_id
        ]

    async def update(self, station: Station) -> None:
        station = _normalised(station)
        self._require_site(station.site_id)
        stored = self.db.stations.get(station.id)
        if stored is None:
            raise NotFound(f"station {station.id!r} does not exist")
        self.db.stations[station.id] = station.replace(created_at=stored.created_at)

    async def delete(self, station_id: StationId) -> bool:
        if self.db.stations.pop(station_id, None) is None:
            return False
        for key in [key for key in self.db.connectors if key[0] == station_id]:
            del self.db.connectors[key]
        self.db.presence.pop(station_id, None)
        return True

    async def record_boot(
        self, station_id: StationId, info: StationInfo, ocpp_version: str, at: datetime
    ) -> None:
        at = utc(at)
        stored = self.db.stations.get(station_id)
        if stored is None:
            raise NotFound(f"station {station_id!r} does not exist")
        self.db.stations[station_id] = stored.replace(
            info=info, ocpp_version=ocpp_version, last_boot_at=at
        )

    async def save_connector_state(self, state: ConnectorState) -> None:
        updated_at = utc(state.updated_at)
        if state.station_id not in self.db.stations:
            raise NotFound(f"station {state.station_id!r} does not exist")
        key = (state.station_id, state.evse_id, state.connector_id)
        self.db.connectors[key] = _replace(state, updated_at=updated_at)

    async def connector_states(self, station_id: StationId) -> builtins.list[ConnectorState]:
        return [
            self.db.connectors[key]
            for key in sorted(key for key in self.db.connectors if key[0] == station_id)
        ]

    async def save_presence(self, presences: Sequence[Presence]) -> None:
        normalised = [
            _replace(
                p,
                connected_since=utc_or_none(p.connected_since),
                last_message_at=utc_or_none(p.last_message_at),
            )
            for p in presences
        ]
        for presence in normalised:
            if presence.station_id in self.db.stations:
                self.db.presence[presence.station_id] = presence

    async def presence(self, station_id: StationId) -> Presence | None:
        return self.db.presence.get(station_id)

    async def mark_all_disconnected(self, at: datetime) -> None:
        utc(at)
        for station_id, presence in builtins.list(self.db.presence.items()):
            if presence.connected:
                self.db.presence[station_id] = _replace(
                    presence, connected=False, connected_since=None
                )


def _replace(obj: _D, **changes: object) -> _D:
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


class MemoryApiKeyRepository:
    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    async def add(self, key: ApiKey) -> None:
        key = _replace(key, created_at=utc(key.created_at))
        if key.id in self.db.api_keys or any(
            k.secret_hash == key.secret_hash for k in self.db.api_keys.values()
        ):
            raise AlreadyExists(f"API key {key.id!r} (or its secret) already exists")
        self.db.api_keys[key.id] = key

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        return next((k for k in self.db.api_keys.values() if k.secret_hash == secret_hash), None)

    async def list(self) -> builtins.list[ApiKey]:
        return sorted(self.db.api_keys.values(), key=lambda k: (k.created_at, k.id))

    async def revoke(self, key_id: str) -> bool:
        key = self.db.api_keys.get(key_id)
        if key is None:
            return False
        self.db.api_keys[key_id] = _replace(key, revoked=True)
        return True


class MemoryMessageLog:
    """Buffers on ``append`` like the SQL log; ``flush`` makes the frames visible."""

    def __init__(
        self,
        db: MemoryDatabase | None = None,
        *,
        max_buffer: int = 50_000,
        retention: timedelta | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db or MemoryDatabase()
        self.max_buffer = max_buffer
        self.retention = retention
        self._clock: Clock = clock or _SystemClock()
        self._buffer: deque[tuple[StationId, Direction, str, datetime]] = deque()
        self.dropped = 0
        self.written = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def append(self, station_id: StationId, direction: Direction, frame: str, at: datetime) -> None:
        entry = (station_id, Direction(direction), frame, utc(at))
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(entry)

    async def flush(self) -> None:
        while self._buffer:
            station_id, direction, frame, at = self._buffer.popleft()
            message_id = next(self.db.next_message_id)
            self.db.messages[message_id] = LoggedMessage(
                message_id, station_id, at, direction, frame
            )
            self.written += 1

    async def recent(
        self, station_id: StationId, limit: int = 100, before_id: int | None = None
    ) -> list[LoggedMessage]:
        if limit <= 0:
            return []
        found: list[LoggedMessage] = []
        for message_id in sorted(self.db.messages, reverse=True):
            if before_id is not None and message_id >= before_id:
                continue
            message = self.db.messages[message_id]
            if message.station_id == station_id:
                found.append(message)
                if len(found) == limit:
                    break
        return found

    async def purge(self, older_than: datetime) -> int:
        cutoff = utc(older_than)
        doomed = [i for i, m in self.db.messages.items() if m.at < cutoff]
        for message_id in doomed:
            del self.db.messages[message_id]
        return len(doomed)

    async def apply_retention(self) -> int:
        if self.retention is None:
            return 0
        return await self.purge(self._clock.now() - self.retention)

    async def start(self) -> None:
        """Nothing runs in the background (tests flush explicitly); here for symmetry."""

    async def close(self) -> None:
        await self.flush()
