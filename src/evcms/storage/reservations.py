"""Reservations: the SQL repository (SQLite and PostgreSQL) and its in-memory twin.

Both implement ``services.reservations.ReservationRepository`` and pass the same contract tests.
Status changes are compare-and-set (``only_from``), so the expiry sweep, a session using the
reservation and a cancellation never overwrite one another.
"""

from __future__ import annotations

import builtins
import dataclasses
import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evcms.domain.ids import StationId
from evcms.domain.reservations import Reservation, ReservationStatus
from evcms.services.clock import SystemClock
from evcms.services.ports import Clock
from evcms.services.reservations import NewReservation, ReservationFilter
from evcms.storage._sql import utc
from evcms.storage.tables import reservations
from evcms.storage.writer import Writer


def _from_row(row: Row[Any]) -> Reservation:
    return Reservation(
        id=row.id,
        station_id=StationId(row.station_id),
        evse_id=row.evse_id,
        id_token=row.id_token,
        status=ReservationStatus(row.status),
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        group_id=row.group_id,
        driver_id=row.driver_id,
        session_id=row.session_id,
        created_by=row.created_by,
    )


def _conditions(filter: ReservationFilter) -> list[ColumnElement[bool]]:
    c = reservations.c
    found: list[ColumnElement[bool]] = []
    if filter.station_id is not None:
        found.append(c.station_id == filter.station_id)
    if filter.driver_id is not None:
        found.append(c.driver_id == filter.driver_id)
    if filter.id_token is not None:
        found.append(c.id_token == filter.id_token)
    if filter.status is not None:
        found.append(c.status == ReservationStatus(filter.status).value)
    return found


class SqlReservationRepository:
    def __init__(self, engine: AsyncEngine, writer: Writer, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._writer = writer
        self._clock: Clock = clock or SystemClock()

    async def add(self, new: NewReservation, status: ReservationStatus, at: datetime) -> Reservation:
        at = utc(at)
        values = {
            "station_id": new.station_id,
            "evse_id": new.evse_id,
            "id_token": new.id_token,
            "group_id": new.group_id,
            "driver_id": new.driver_id,
            "status": ReservationStatus(status).value,
            "expires_at": utc(new.expires_at),
            "session_id": None,
            "created_by": new.created_by,
            "created_at": at,
            "updated_at": at,
        }

        async def op(conn: AsyncConnection) -> Reservation:
            new_id = await conn.scalar(insert(reservations).values(values).returning(reservations.c.id))
            row = (await conn.execute(select(reservations).where(reservations.c.id == new_id))).one()
            return _from_row(row)

        return await self._writer.submit(op)

    async def get(self, reservation_id: int) -> Reservation | None:
        query = select(reservations).where(reservations.c.id == reservation_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _from_row(row)

    async def set_status(
        self,
        reservation_id: int,
        status: ReservationStatus,
        at: datetime,
        *,
        only_from: frozenset[ReservationStatus] | None = None,
        session_id: int | None = None,
    ) -> Reservation | None:
        c = reservations.c
        values: dict[str, Any] = {"status": ReservationStatus(status).value, "updated_at": utc(at)}
        if session_id is not None:
            values["session_id"] = session_id
        statement = update(reservations).where(c.id == reservation_id).values(values)
        if only_from is not None:
            statement = statement.where(c.status.in_(sorted(s.value for s in only_from)))

        async def op(conn: AsyncConnection) -> Reservation | None:
            result = await conn.execute(statement)
            if result.rowcount == 0:
                return None
            row = (await conn.execute(select(reservations).where(c.id == reservation_id))).one()
            return _from_row(row)

        return await self._writer.submit(op)

    async def accepted(self, station_id: StationId) -> builtins.list[Reservation]:
        c = reservations.c
        query = (
            select(reservations)
            .where(c.station_id == station_id, c.status == ReservationStatus.ACCEPTED.value)
            .order_by(c.id)
        )
        async with self._engine.connect() as conn:
            return [_from_row(row) for row in await conn.execute(query)]

    async def expire_due(self, now: datetime) -> int:
        c = reservations.c
        statement = (
            update(reservations)
            .where(c.status == ReservationStatus.ACCEPTED.value, c.expires_at <= utc(now))
            .values(status=ReservationStatus.EXPIRED.value, updated_at=utc(now))
        )

        async def op(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await self._writer.submit(op)

    async def list(
        self, filter: ReservationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Reservation]:
        if limit <= 0:
            return []
        c = reservations.c
        conditions = _conditions(filter)
        if before_id is not None:
            conditions.append(c.id < before_id)
        query = select(reservations).order_by(c.id.desc()).limit(limit)
        if conditions:
            query = query.where(and_(*conditions))
        async with self._engine.connect() as conn:
            return [_from_row(row) for row in await conn.execute(query)]


class MemoryReservationRepository:
    """The in-memory twin: the same contract, for tests that are not about storage."""

    def __init__(self) -> None:
        self.reservations: dict[int, Reservation] = {}
        self._ids = itertools.count(1)

    async def add(self, new: NewReservation, status: ReservationStatus, at: datetime) -> Reservation:
        at = utc(at)
        reservation = Reservation(
            id=next(self._ids),
            station_id=new.station_id,
            evse_id=new.evse_id,
            id_token=new.id_token,
            status=ReservationStatus(status),
            expires_at=utc(new.expires_at),
            created_at=at,
            updated_at=at,
            group_id=new.group_id,
            driver_id=new.driver_id,
            created_by=new.created_by,
        )
        self.reservations[reservation.id] = reservation
        return reservation

    async def get(self, reservation_id: int) -> Reservation | None:
        return self.reservations.get(reservation_id)

    async def set_status(
        self,
        reservation_id: int,
        status: ReservationStatus,
        at: datetime,
        *,
        only_from: frozenset[ReservationStatus] | None = None,
        session_id: int | None = None,
    ) -> Reservation | None:
        current = self.reservations.get(reservation_id)
        if current is None or (only_from is not None and current.status not in only_from):
            return None
        changed = dataclasses.replace(
            current,
            status=ReservationStatus(status),
            updated_at=utc(at),
            session_id=current.session_id if session_id is None else session_id,
        )
        self.reservations[reservation_id] = changed
        return changed

    async def accepted(self, station_id: StationId) -> builtins.list[Reservation]:
        return [
            r
            for _, r in sorted(self.reservations.items())
            if r.station_id == station_id and r.status is ReservationStatus.ACCEPTED
        ]

    async def expire_due(self, now: datetime) -> int:
        now = utc(now)
        due = [
            r
            for r in self.reservations.values()
            if r.status is ReservationStatus.ACCEPTED and r.expires_at <= now
        ]
        for r in due:
            self.reservations[r.id] = dataclasses.replace(
                r, status=ReservationStatus.EXPIRED, updated_at=now
            )
        return len(due)

    async def list(
        self, filter: ReservationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Reservation]:
        found = [
            r
            for _, r in sorted(self.reservations.items(), reverse=True)
            if (before_id is None or r.id < before_id)
            and (filter.station_id is None or r.station_id == filter.station_id)
            and (filter.driver_id is None or r.driver_id == filter.driver_id)
            and (filter.id_token is None or r.id_token == filter.id_token)
            and (filter.status is None or r.status is filter.status)
        ]
        return found[: max(limit, 0)]
