"""Local authorisation list state per station: SQL repository and its in-memory twin.

``local_lists`` holds one row per station (the acknowledged version, the sync status, when it
last synced and why it last failed); ``local_list_entries`` the entries the station
acknowledged, each one's info as version-neutral JSON (``{"type", "status", "expires_at"?,
"group_id"?}``; see :func:`entry_to_json`). Both implement
``services.local_lists.LocalListRepository``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListEntry, ListStatus, ListUpdate
from evcms.domain.tokens import AuthorizationStatus, TokenType
from evcms.services.local_lists import LocalListState
from evcms.storage._sql import ordered, upsert, utc
from evcms.storage.tables import local_list_entries, local_lists
from evcms.storage.writer import Writer

ERROR_LENGTH = 500
_STATE_COLUMNS = ("station_id", "status", "error", "updated_at")  # what ``mark`` replaces


def entry_to_json(entry: ListEntry) -> str:
    data: dict[str, Any] = {
        "type": TokenType(entry.type).value,
        "status": AuthorizationStatus(entry.status).value,
    }
    if entry.expires_at is not None:
        data["expires_at"] = utc(entry.expires_at).isoformat().replace("+00:00", "Z")
    if entry.group_id is not None:
        data["group_id"] = entry.group_id
    return orjson.dumps(data).decode()


def entry_from_json(token_id: str, text: str | bytes) -> ListEntry:
    data = orjson.loads(text)
    expires = data.get("expires_at")
    return ListEntry(
        token_id=token_id,
        type=TokenType(data["type"]),
        status=AuthorizationStatus(data["status"]),
        expires_at=None if expires is None else datetime.fromisoformat(expires).astimezone(UTC),
        group_id=data.get("group_id"),
    )


def _normalised(entry: ListEntry) -> ListEntry:
    """The entry as storage gives it back (UTC, enum members)."""
    return entry_from_json(entry.token_id, entry_to_json(entry))


def _error(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_LENGTH]



# -- SQL --------------------------------------------------------------------------------------


def _state_from_row(row: Row[Any]) -> LocalListState:
    return LocalListState(
        station_id=StationId(row.station_id),
        version=row.version,
        status=ListStatus(row.status),
        updated_at=row.updated_at,
        synced_at=row.synced_at,
        error=row.error,
        entries=row.entries or 0,
    )


class SqlLocalListRepository:
    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    @property
    def _dialect(self) -> str:
        return self._engine.dialect.name

    def _state_query(self) -> Any:
        counts = (
            select(
                local_list_entries.c.station_id,
                func.count().label("entries"),
            )
            .group_by(local_list_entries.c.station_id)
            .subquery()
        )
        return select(local_lists, counts.c.entries).select_from(
            local_lists.outerjoin(counts, counts.c.station_id == local_lists.c.station_id)
        )

    async def get(self, station_id: StationId) -> LocalListState | None:
        query = self._state_query().where(local_lists.c.station_id == station_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _state_from_row(row)

    async def states(self) -> builtins.list[LocalListState]:
        query = self._state_query().order_by(ordered(local_lists.c.station_id, self._dialect))
        async with self._engine.connect() as conn:
            return [_state_from_row(row) for row in await conn.execute(query)]

    async def entries(self, station_id: StationId) -> dict[str, ListEntry]:
        query = select(local_list_entries.c.token_id, local_list_entries.c.info).where(
            local_list_entries.c.station_id == station_id
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.token_id: entry_from_json(row.token_id, row.info) for row in rows}

    async def record_accepted(
        self, station_id: StationId, update: ListUpdate, *, status: ListStatus, at: datetime
    ) -> None:
        at = utc(at)
        state = {
            "station_id": station_id,
            "version": update.version,
            "status": ListStatus(status).value,
            "synced_at": at,
            "error": None,
            "updated_at": at,
        }
        entries = local_list_entries.c
        rows = [
            {"station_id": station_id, "token_id": e.token_id, "info": entry_to_json(e)}
            for e in update.upserts
        ]
        removed = [e.token_id for e in update.removals]
        state_stmt = upsert(self._dialect, local_lists, ["station_id"])
        entry_stmt = upsert(self._dialect, local_list_entries, ["station_id", "token_id"])

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(state_stmt, state)
            if update.full:
                await conn.execute(delete(local_list_entries).where(entries.station_id == station_id))
            if removed:
                await conn.execute(
                    delete(local_list_entries).where(
                        entries.station_id == station_id, entries.token_id.in_(removed)
                    )
                )
            if rows:
                await conn.execute(entry_stmt, rows)

        await self._writer.submit(op)

    async def mark(
        self, station_id: StationId, status: ListStatus, *, at: datetime, error: str | None = None
    ) -> None:
        row = {
            "station_id": station_id,
            "version": 0,  # only when the station has no state yet
            "status": ListStatus(status).value,
            "error": _error(error),
            "updated_at": utc(at),
        }
        stmt = upsert(self._dialect, local_lists, ["station_id"], _STATE_COLUMNS)

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(stmt, row)

        await self._writer.submit(op)

    async def mark_stale(self, at: datetime) -> int:
        stmt = (
            update(local_lists)
            .where(local_lists.c.status == ListStatus.IN_SYNC.value)
            .values(status=ListStatus.PENDING.value, updated_at=utc(at))
        )

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(stmt)).rowcount

        return await self._writer.submit(op)

    async def delete(self, station_id: StationId) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            await conn.execute(
                delete(local_list_entries).where(local_list_entries.c.station_id == station_id)
            )
            result = await conn.execute(
                delete(local_lists).where(local_lists.c.station_id == station_id)
            )
            return result.rowcount > 0

        return await self._writer.submit(op)


# -- in memory --------------------------------------------------------------------------------


@dataclass
class _MemoryList:
    version: int
    status: ListStatus
    updated_at: datetime
    synced_at: datetime | None = None
    error: str | None = None
    entries: dict[str, ListEntry] = field(default_factory=dict)


class MemoryLocalListRepository:
    """Twin of :class:`SqlLocalListRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.lists: dict[StationId, _MemoryList] = {}

    def _state(self, station_id: StationId, found: _MemoryList) -> LocalListState:
        return LocalListState(
            station_id=station_id,
            version=found.version,
            status=found.status,
            updated_at=found.updated_at,
            synced_at=found.synced_at,
            error=found.error,
            entries=len(found.entries),
        )

    async def get(self, station_id: StationId) -> LocalListState | None:
        found = self.lists.get(station_id)
        return None if found is None else self._state(station_id, found)

    async def states(self) -> builtins.list[LocalListState]:
        return [self._state(sid, self.lists[sid]) for sid in sorted(self.lists)]

    async def entries(self, station_id: StationId) -> dict[str, ListEntry]:
        found = self.lists.get(station_id)
        return {} if found is None else dict(found.entries)

    async def record_accepted(
        self, station_id: StationId, update: ListUpdate, *, status: ListStatus, at: datetime
    ) -> None:
        at = utc(at)
        found = self.lists.get(station_id)
        entries = {} if found is None or update.full else dict(found.entries)
        for entry in update.removals:
            entries.pop(entry.token_id, None)
        for entry in update.upserts:
            entries[entry.token_id] = _normalised(entry)
        self.lists[station_id] = _MemoryList(
            update.version, ListStatus(status), at, synced_at=at, entries=entries
        )

    async def mark(
        self, station_id: StationId, status: ListStatus, *, at: datetime, error: str | None = None
    ) -> None:
        at = utc(at)
        found = self.lists.get(station_id)
        if found is None:
            self.lists[station_id] = _MemoryList(0, ListStatus(status), at, error=_error(error))
            return
        found.status, found.error, found.updated_at = ListStatus(status), _error(error), at

    async def mark_stale(self, at: datetime) -> int:
        at = utc(at)
        stale = [found for found in self.lists.values() if found.status is ListStatus.IN_SYNC]
        for found in stale:
            found.status, found.updated_at = ListStatus.PENDING, at
        return len(stale)

    async def delete(self, station_id: StationId) -> bool:
        return self.lists.pop(station_id, None) is not None


__all__: Sequence[str] = (
    "MemoryLocalListRepository",
    "SqlLocalListRepository",
    "entry_from_json",
    "entry_to_json",
)
