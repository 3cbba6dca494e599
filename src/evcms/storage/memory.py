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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from evcms.domain.access import ApiKey
from evcms.domain.charging_sessions import (
    ChargingSession,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import ConnectorState, Presence, Site, Station, StationInfo
from evcms.domain.tokens import IdToken, TokenStatus, TokenType
from evcms.services.clock import SystemClock
from evcms.services.ports import (
    AlreadyExists,
    Clock,
    Direction,
    LoggedMessage,
    NotFound,
    SessionFilter,
)
from evcms.storage._sql import utc, utc_or_none
from evcms.storage.charging import event_from_json, event_to_json

_D = TypeVar("_D")



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
    # Drivers by id: the drivers twin keeps its records here; tokens check their driver_id.
    drivers: dict[str, Any] = field(default_factory=dict)
    id_tokens: dict[str, IdToken] = field(default_factory=dict)
    charging_sessions: dict[int, ChargingSession] = field(default_factory=dict)
    session_start_keys: dict[tuple[StationId, str], int] = field(default_factory=dict)
    session_events: dict[int, dict[str, SessionEvent]] = field(default_factory=dict)
    next_session_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


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
        self._clock: Clock = clock or SystemClock()
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


# -- identification tokens and charging sessions ----------------------------------------------




def _normalised_token(token: IdToken) -> IdToken:
    return _replace(
        token,
        type=TokenType(token.type),
        status=TokenStatus(token.status),
        created_at=utc(token.created_at),
        expires_at=utc_or_none(token.expires_at),
    )


class MemoryTokenRepository:
    """Twin of ``SqlTokenRepository``: a token's ``driver_id`` must be None or a key of
    ``drivers`` — the drivers twin's dict (``MemoryDriverStore.drivers``) when given, else
    ``db.drivers``."""

    def __init__(
        self, db: MemoryDatabase | None = None, *, drivers: Mapping[str, Any] | None = None
    ) -> None:
        self.db = db or MemoryDatabase()
        self._drivers: Mapping[str, Any] = self.db.drivers if drivers is None else drivers

    def _require_driver(self, driver_id: str | None) -> None:
        if driver_id is not None and driver_id not in self._drivers:
            raise NotFound(f"driver {driver_id!r} does not exist")

    async def add(self, token: IdToken) -> None:
        token = _normalised_token(token)
        if token.id in self.db.id_tokens:
            raise AlreadyExists(f"token {token.id!r} already exists")
        self._require_driver(token.driver_id)
        self.db.id_tokens[token.id] = token

    async def get(self, token_id: str) -> IdToken | None:
        return self.db.id_tokens.get(token_id)

    async def update(self, token: IdToken) -> None:
        token = _normalised_token(token)
        self._require_driver(token.driver_id)
        stored = self.db.id_tokens.get(token.id)
        if stored is None:
            raise NotFound(f"token {token.id!r} does not exist")
        self.db.id_tokens[token.id] = _replace(token, created_at=stored.created_at)

    async def delete(self, token_id: str) -> bool:
        return self.db.id_tokens.pop(token_id, None) is not None

    async def list(
        self, *, driver_id: str | None = None, limit: int = 100, after_id: str | None = None
    ) -> builtins.list[IdToken]:
        if limit <= 0:
            return []
        found = [
            self.db.id_tokens[key]
            for key in sorted(self.db.id_tokens)
            if (after_id is None or key > after_id)
            and (driver_id is None or self.db.id_tokens[key].driver_id == driver_id)
        ]
        return found[:limit]


def _normalised_state(state: SessionState) -> SessionState:
    """Times in UTC (naive ones refused) and enum values as the SQL twin gives them back."""
    return _replace(
        state,
        status=SessionStatus(state.status),
        started_at=utc_or_none(state.started_at),
        ended_at=utc_or_none(state.ended_at),
        last_at=utc_or_none(state.last_at),
        last_sample_at=utc_or_none(state.last_sample_at),
    )


class MemoryChargingSessionRepository:
    """Twin of ``SqlChargingSessionRepository``: the same idempotency, ordering and errors.

    Events are stored as what their JSON gives back (``event_from_json(event_to_json(e))``), so
    they normalise exactly like the SQL ones.
    """

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def _existing(
        self, station_id: StationId, transaction_id: str | None, start_key: str | None
    ) -> ChargingSession | None:
        if transaction_id is not None:
            for session in self.db.charging_sessions.values():
                if session.station_id == station_id and session.transaction_id == transaction_id:
                    return session
        if start_key is not None:
            session_id = self.db.session_start_keys.get((station_id, start_key))
            if session_id is not None:
                return self.db.charging_sessions[session_id]
        return None

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
        at = utc(at)
        found = self._existing(station_id, transaction_id, start_key)
        if found is not None:
            return found, False
        session_id = next(self.db.next_session_id)
        session = ChargingSession(
            id=session_id,
            station_id=station_id,
            transaction_id=transaction_id if transaction_id is not None else str(session_id),
            state=SessionState(),
            evse_id=evse_id,
            connector_id=connector_id,
            created_at=at,
            updated_at=at,
            driver_id=driver_id,
            ocpp_version=ocpp_version,
        )
        self.db.charging_sessions[session_id] = session
        self.db.session_events[session_id] = {}
        if start_key is not None:
            self.db.session_start_keys[(station_id, start_key)] = session_id
        return session, True

    async def get(self, session_id: int) -> ChargingSession | None:
        return self.db.charging_sessions.get(session_id)

    async def find(self, station_id: StationId, transaction_id: str) -> ChargingSession | None:
        return self._existing(station_id, transaction_id, None)

    async def has_event(self, session_id: int, key: str) -> bool:
        return key in self.db.session_events.get(session_id, {})

    async def events(self, session_id: int) -> builtins.list[SessionEvent]:
        stored = self.db.session_events.get(session_id, {})
        return sorted(stored.values(), key=lambda e: (e.seq_no, e.at, e.key))

    async def record(
        self, session_id: int, event: SessionEvent, state: SessionState, at: datetime
    ) -> bool:
        stored_event = event_from_json(event_to_json(event))
        state = _normalised_state(state)
        at = utc(at)
        session = self.db.charging_sessions.get(session_id)
        if session is None:
            raise NotFound(f"session {session_id} does not exist")
        events = self.db.session_events[session_id]
        if event.key in events:
            return False
        events[event.key] = stored_event
        self.db.charging_sessions[session_id] = _replace(session, state=state, updated_at=at)
        return True

    async def save_state(
        self,
        session_id: int,
        state: SessionState,
        at: datetime,
        *,
        driver_id: str | None = None,
        closed_by: str | None = None,
        close_note: str | None = None,
    ) -> None:
        state = _normalised_state(state)
        at = utc(at)
        session = self.db.charging_sessions.get(session_id)
        if session is None:
            raise NotFound(f"session {session_id} does not exist")
        changes: dict[str, object] = {"state": state, "updated_at": at}
        for name, value in (
            ("driver_id", driver_id),
            ("closed_by", closed_by),
            ("close_note", close_note),
        ):
            if value is not None:
                changes[name] = value
        self.db.charging_sessions[session_id] = _replace(session, **changes)

    async def active(
        self, *, station_id: StationId | None = None, id_token: str | None = None
    ) -> builtins.list[ChargingSession]:
        return [
            self.db.charging_sessions[key]
            for key in sorted(self.db.charging_sessions)
            if self.db.charging_sessions[key].state.status is SessionStatus.ACTIVE
            and (station_id is None or self.db.charging_sessions[key].station_id == station_id)
            and (id_token is None or self.db.charging_sessions[key].state.id_token == id_token)
        ]

    async def list(
        self, filter: SessionFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[ChargingSession]:
        if limit <= 0:
            return []
        started_from = utc_or_none(filter.started_from)
        started_until = utc_or_none(filter.started_until)
        found: builtins.list[ChargingSession] = []
        for key in sorted(self.db.charging_sessions, reverse=True):
            if before_id is not None and key >= before_id:
                continue
            session = self.db.charging_sessions[key]
            started = session.state.started_at
            if (
                (filter.station_id is not None and session.station_id != filter.station_id)
                or (filter.driver_id is not None and session.driver_id != filter.driver_id)
                or (filter.id_token is not None and session.state.id_token != filter.id_token)
                or (filter.status is not None and session.state.status != filter.status)
                or (started_from is not None and (started is None or started < started_from))
                or (started_until is not None and (started is None or started >= started_until))
            ):
                continue
            found.append(session)
            if len(found) == limit:
                break
        return found
