"""SQL repositories of identification tokens and charging sessions (SQLite and PostgreSQL).

Writes go through the :class:`Writer` (group commit), reads through the engine. A session's
:class:`SessionState` is spread over columns of ``charging_sessions`` (the energy counter is
``energy_wh`` + ``last_register_wh``); each :class:`SessionEvent` is a row of ``session_events``
whose ``data`` is the event as JSON (:func:`event_to_json` / :func:`event_from_json`).

Idempotency lives in the database, so it also holds across processes:

- ``create`` inserts with ``ON CONFLICT DO NOTHING`` against the unique (station_id,
  transaction_id) and (station_id, start_key) and re-selects when it lost a race;
- ``record`` inserts the event with ``ON CONFLICT (session_id, key) DO NOTHING`` and updates the
  session's state only when the event was new, in one writer op (one transaction).
"""

from __future__ import annotations

import builtins
import functools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update

from evcms.domain.charging_sessions import (
    ChargingSession,
    EventKind,
    SessionEvent,
    SessionState,
    SessionStatus,
)
from evcms.domain.ids import StationId
from evcms.domain.metering import EnergyCounter, MeterSample
from evcms.domain.tokens import IdToken, TokenStatus, TokenType
from evcms.services.ports import AlreadyExists, NotFound, SessionFilter
from evcms.storage._sql import SqlRepository, ordered, utc, utc_or_none
from evcms.storage.tables import charging_sessions, drivers, id_tokens, session_events
from evcms.storage.writer import Op

# -- events as JSON ---------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds kept: ``2025-03-01T12:00:00.123456Z``."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"stored time {text!r} has no zone")
    return moment.astimezone(UTC)


def _sample_to_dict(sample: MeterSample) -> dict[str, Any]:
    data: dict[str, Any] = {
        "at": _iso(sample.at),
        "measurand": sample.measurand,
        "value": str(sample.value),
        "unit": sample.unit,
    }
    for name in ("phase", "location", "context", "signed"):
        value = getattr(sample, name)
        if value is not None:
            data[name] = value
    return data


def _sample_from_dict(data: dict[str, Any]) -> MeterSample:
    return MeterSample(
        at=_moment(data["at"]),
        measurand=data["measurand"],
        value=Decimal(data["value"]),
        unit=data["unit"],
        phase=data.get("phase"),
        location=data.get("location"),
        context=data.get("context"),
        signed=data.get("signed"),
    )


def event_to_json(event: SessionEvent) -> str:
    """The whole event as compact JSON: Decimals as strings (every digit kept), times ISO 8601
    UTC, signed meter data verbatim; fields that are None (or False / empty) are left out.
    A naive datetime anywhere is a ``ValueError``."""
    data: dict[str, Any] = {
        "key": event.key,
        "kind": event.kind.value,
        "seq_no": event.seq_no,
        "at": _iso(event.at),
    }
    if event.samples:
        data["samples"] = [_sample_to_dict(sample) for sample in event.samples]
    if event.meter_wh is not None:
        data["meter_wh"] = str(event.meter_wh)
    for name in (
        "id_token", "reason", "charging_state", "evse_id", "connector_id", "number_of_phases"
    ):
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    if event.offline:
        data["offline"] = True
    return orjson.dumps(data).decode()


def event_from_json(text: str | bytes) -> SessionEvent:
    """The inverse of :func:`event_to_json` (datetimes come back aware UTC)."""
    data = orjson.loads(text)
    meter_wh = data.get("meter_wh")
    return SessionEvent(
        key=data["key"],
        kind=EventKind(data["kind"]),
        seq_no=data["seq_no"],
        at=_moment(data["at"]),
        samples=tuple(_sample_from_dict(sample) for sample in data.get("samples", ())),
        meter_wh=None if meter_wh is None else Decimal(meter_wh),
        id_token=data.get("id_token"),
        reason=data.get("reason"),
        offline=bool(data.get("offline", False)),
        charging_state=data.get("charging_state"),
        evse_id=data.get("evse_id"),
        connector_id=data.get("connector_id"),
        number_of_phases=data.get("number_of_phases"),
    )


# -- common -----------------------------------------------------------------------------------




@functools.cache
def _insert_or_ignore(dialect_name: str, table: Table, key: tuple[str, ...] | None) -> Insert:
    """``INSERT ... ON CONFLICT [(key)] DO NOTHING`` (any unique constraint when ``key`` is None);
    built once per dialect and table."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(
            index_elements=list(key) if key else None
        )
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(
            index_elements=list(key) if key else None
        )
    raise NotImplementedError(f"insert-or-ignore is not implemented for {dialect_name}")


# -- tokens -----------------------------------------------------------------------------------


def _token_values(token: IdToken) -> dict[str, Any]:
    """The columns ``update`` replaces (everything but id and created_at)."""
    return {
        "type": TokenType(token.type).value,
        "status": TokenStatus(token.status).value,
        "driver_id": token.driver_id,
        "group_id": token.group_id,
        "expires_at": utc_or_none(token.expires_at),
        "max_concurrent": token.max_concurrent,
        "pending_approval": token.pending_approval,
        "label": token.label,
    }


def _token_from_row(row: Row[Any]) -> IdToken:
    return IdToken(
        id=row.id,
        type=TokenType(row.type),
        created_at=row.created_at,
        status=TokenStatus(row.status),
        driver_id=row.driver_id,
        group_id=row.group_id,
        expires_at=row.expires_at,
        max_concurrent=row.max_concurrent,
        pending_approval=row.pending_approval,
        label=row.label,
    )


async def _require_driver(conn: AsyncConnection, driver_id: str | None) -> None:
    if driver_id is not None and not await conn.scalar(
        select(exists().where(drivers.c.id == driver_id))
    ):
        raise NotFound(f"driver {driver_id!r} does not exist")


class SqlTokenRepository(SqlRepository):
    async def add(self, token: IdToken) -> None:
        """``AlreadyExists`` for a taken id; ``NotFound`` when ``driver_id`` names no driver."""
        values = {
            "id": token.id,
            **_token_values(token),
            "created_at": utc(token.created_at),
            "updated_at": self._clock.now(),
        }

        async def op(conn: AsyncConnection) -> None:
            if await conn.scalar(select(exists().where(id_tokens.c.id == token.id))):
                raise AlreadyExists(f"token {token.id!r} already exists")
            await _require_driver(conn, token.driver_id)
            await conn.execute(insert(id_tokens).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # another process added the token or deleted the driver
            if await self.get(token.id) is not None:
                raise AlreadyExists(f"token {token.id!r} already exists") from exc
            raise NotFound(f"driver {token.driver_id!r} does not exist") from exc

    async def get(self, token_id: str) -> IdToken | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(id_tokens).where(id_tokens.c.id == token_id))).first()
        return None if row is None else _token_from_row(row)

    async def update(self, token: IdToken) -> None:
        """Replaces every field but ``created_at``; ``NotFound`` for an unknown token or driver."""
        values = {**_token_values(token), "updated_at": self._clock.now()}

        async def op(conn: AsyncConnection) -> None:
            await _require_driver(conn, token.driver_id)
            result = await conn.execute(
                update(id_tokens).where(id_tokens.c.id == token.id).values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"token {token.id!r} does not exist")

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # the driver was deleted by another process meanwhile
            raise NotFound(f"driver {token.driver_id!r} does not exist") from exc

    async def delete(self, token_id: str) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            result = await conn.execute(delete(id_tokens).where(id_tokens.c.id == token_id))
            return result.rowcount > 0

        return await self._writer.submit(op)

    async def list(
        self, *, driver_id: str | None = None, limit: int = 100, after_id: str | None = None
    ) -> builtins.list[IdToken]:
        """Tokens (of one driver, or all) ordered by id (code point); the page after ``after_id``."""
        if limit <= 0:
            return []
        key = ordered(id_tokens.c.id, self._dialect)
        query = select(id_tokens).order_by(key).limit(limit)
        if driver_id is not None:
            query = query.where(id_tokens.c.driver_id == driver_id)
        if after_id is not None:
            query = query.where(key > after_id)
        async with self._engine.connect() as conn:
            return [_token_from_row(row) for row in await conn.execute(query)]


# -- charging sessions ------------------------------------------------------------------------


def state_values(state: SessionState) -> dict[str, Any]:
    """The ``charging_sessions`` columns that hold ``state``."""
    return {
        "status": SessionStatus(state.status).value,
        "started_at": utc_or_none(state.started_at),
        "ended_at": utc_or_none(state.ended_at),
        "id_token": state.id_token,
        "stop_id_token": state.stop_id_token,
        "stop_reason": state.stop_reason,
        "meter_start_wh": state.meter_start_wh,
        "meter_stop_wh": state.meter_stop_wh,
        "energy_wh": state.energy.energy_wh,
        "last_register_wh": state.energy.last_register_wh,
        "last_seq_no": state.last_seq_no,
        "last_at": utc_or_none(state.last_at),
        "offline": state.offline,
        "charging_state": state.charging_state,
        "number_of_phases": state.number_of_phases,
        "power_w": state.power_w,
        "soc_percent": state.soc_percent,
        "last_sample_at": utc_or_none(state.last_sample_at),
        "state_evse_id": state.evse_id,
        "state_connector_id": state.connector_id,
        "seen_start": state.seen_start,
    }


def _state_from_row(row: Row[Any]) -> SessionState:
    return SessionState(
        status=SessionStatus(row.status),
        started_at=row.started_at,
        ended_at=row.ended_at,
        id_token=row.id_token,
        stop_id_token=row.stop_id_token,
        stop_reason=row.stop_reason,
        meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh,
        energy=EnergyCounter(row.energy_wh, row.last_register_wh),
        last_seq_no=row.last_seq_no,
        last_at=row.last_at,
        offline=row.offline,
        charging_state=row.charging_state,
        number_of_phases=row.number_of_phases,
        power_w=row.power_w,
        soc_percent=row.soc_percent,
        last_sample_at=row.last_sample_at,
        evse_id=row.state_evse_id,
        connector_id=row.state_connector_id,
        seen_start=row.seen_start,
    )


def _session_from_row(row: Row[Any]) -> ChargingSession:
    return ChargingSession(
        id=row.id,
        station_id=StationId(row.station_id),
        transaction_id=row.transaction_id,
        state=_state_from_row(row),
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        driver_id=row.driver_id,
        ocpp_version=row.ocpp_version,
        closed_by=row.closed_by,
        close_note=row.close_note,
    )


_SESSION_PK = "session_pk"  # the bind parameter naming the row in the cached state update


@functools.cache
def _update_state() -> Update:
    """``UPDATE charging_sessions SET <the params' columns> WHERE id = :session_pk``."""
    return update(charging_sessions).where(charging_sessions.c.id == bindparam(_SESSION_PK))


def _filtered(query: Any, filter: SessionFilter) -> Any:
    c = charging_sessions.c
    conditions: list[ColumnElement[bool]] = []
    if filter.station_id is not None:
        conditions.append(c.station_id == filter.station_id)
    if filter.driver_id is not None:
        conditions.append(c.driver_id == filter.driver_id)
    if filter.id_token is not None:
        conditions.append(c.id_token == filter.id_token)
    if filter.status is not None:
        conditions.append(c.status == SessionStatus(filter.status).value)
    if filter.started_from is not None:
        conditions.append(c.started_at >= utc(filter.started_from))
    if filter.started_until is not None:
        conditions.append(c.started_at < utc(filter.started_until))
    return query.where(and_(*conditions)) if conditions else query


class SqlChargingSessionRepository(SqlRepository):
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
        """See the port. With ``transaction_id`` None the row is inserted with a unique
        placeholder and then given its own id as text, in the same transaction."""
        at = utc(at)
        c = charging_sessions.c
        matches: list[ColumnElement[bool]] = []
        if transaction_id is not None:
            matches.append(c.transaction_id == transaction_id)
        if start_key is not None:
            matches.append(c.start_key == start_key)
        existing_query = (
            select(charging_sessions).where(c.station_id == station_id, or_(*matches))
            if matches
            else None
        )
        base = {
            "station_id": station_id,
            "start_key": start_key,
            "evse_id": evse_id,
            "connector_id": connector_id,
            "ocpp_version": ocpp_version,
            "driver_id": driver_id,
            **state_values(SessionState()),
            "closed_by": None,
            "close_note": None,
            "created_at": at,
            "updated_at": at,
        }
        statement = _insert_or_ignore(self._dialect, charging_sessions, None).returning(c.id)

        async def existing(conn: AsyncConnection) -> ChargingSession | None:
            if existing_query is None:
                return None
            rows = (await conn.execute(existing_query)).all()
            if not rows:
                return None
            # Both keys may match different sessions: the transaction id wins.
            best = next((r for r in rows if r.transaction_id == transaction_id), rows[0])
            return _session_from_row(best)

        async def op(conn: AsyncConnection) -> tuple[ChargingSession, bool]:
            found = await existing(conn)
            if found is not None:
                return found, False
            placeholder = transaction_id or f"pending:{uuid.uuid4().hex}"
            new_id = await conn.scalar(statement, {**base, "transaction_id": placeholder})
            if new_id is None:  # another process created it since our select
                found = await existing(conn)
                if found is None:
                    raise RuntimeError("session insert ignored without a conflicting session")
                return found, False
            if transaction_id is None:
                await conn.execute(
                    update(charging_sessions)
                    .where(c.id == new_id)
                    .values(transaction_id=str(new_id))
                )
            row = (await conn.execute(select(charging_sessions).where(c.id == new_id))).one()
            return _session_from_row(row), True

        return await self._writer.submit(op)

    async def get(self, session_id: int) -> ChargingSession | None:
        query = select(charging_sessions).where(charging_sessions.c.id == session_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _session_from_row(row)

    async def find(self, station_id: StationId, transaction_id: str) -> ChargingSession | None:
        c = charging_sessions.c
        query = select(charging_sessions).where(
            c.station_id == station_id, c.transaction_id == transaction_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _session_from_row(row)

    async def has_event(self, session_id: int, key: str) -> bool:
        c = session_events.c
        query = select(exists().where(c.session_id == session_id, c.key == key))
        async with self._engine.connect() as conn:
            return bool(await conn.scalar(query))

    async def events(self, session_id: int) -> builtins.list[SessionEvent]:
        c = session_events.c
        query = (
            select(c.data)
            .where(c.session_id == session_id)
            .order_by(c.seq_no, c.at, ordered(c.key, self._dialect))
        )
        async with self._engine.connect() as conn:
            return [event_from_json(data) for data in (await conn.execute(query)).scalars()]

    async def record(
        self, session_id: int, event: SessionEvent, state: SessionState, at: datetime
    ) -> bool:
        """One writer op: the event once per key and, if it was new, the state. ``NotFound``
        for an unknown session."""
        try:
            return await self._writer.submit(self.record_op(session_id, event, state, at))
        except IntegrityError as exc:  # the event's foreign key: no such session
            raise NotFound(f"session {session_id} does not exist") from exc

    def record_op(
        self, session_id: int, event: SessionEvent, state: SessionState, at: datetime
    ) -> Op[bool]:
        """The op ``record`` submits (re-runnable; the benchmark also runs it on its own)."""
        event_row = {
            "session_id": session_id,
            "key": event.key,
            "seq_no": event.seq_no,
            "kind": EventKind(event.kind).value,
            "at": utc(event.at),
            "received_at": utc(at),
            "data": event_to_json(event),
        }
        state_row = {**state_values(state), "updated_at": utc(at), _SESSION_PK: session_id}
        insert_event = _insert_or_ignore(self._dialect, session_events, ("session_id", "key"))
        update_state = _update_state()

        async def op(conn: AsyncConnection) -> bool:
            inserted = await conn.execute(insert_event, event_row)
            if inserted.rowcount == 0:
                return False
            updated = await conn.execute(update_state, state_row)
            if updated.rowcount == 0:  # only without foreign keys; roll the event back too
                raise NotFound(f"session {session_id} does not exist")
            return True

        return op

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
        """Replace the state; ``driver_id`` / ``closed_by`` / ``close_note`` only when given."""
        values: dict[str, Any] = {**state_values(state), "updated_at": utc(at)}
        for name, value in (
            ("driver_id", driver_id),
            ("closed_by", closed_by),
            ("close_note", close_note),
        ):
            if value is not None:
                values[name] = value

        async def op(conn: AsyncConnection) -> None:
            result = await conn.execute(
                update(charging_sessions)
                .where(charging_sessions.c.id == session_id)
                .values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"session {session_id} does not exist")

        await self._writer.submit(op)

    async def active(
        self, *, station_id: StationId | None = None, id_token: str | None = None
    ) -> builtins.list[ChargingSession]:
        c = charging_sessions.c
        query = select(charging_sessions).where(c.status == SessionStatus.ACTIVE.value)
        if station_id is not None:
            query = query.where(c.station_id == station_id)
        if id_token is not None:
            query = query.where(c.id_token == id_token)
        async with self._engine.connect() as conn:
            return [_session_from_row(row) for row in await conn.execute(query.order_by(c.id))]

    async def list(
        self, filter: SessionFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[ChargingSession]:
        if limit <= 0:
            return []
        c = charging_sessions.c
        query = _filtered(select(charging_sessions), filter)
        if before_id is not None:
            query = query.where(c.id < before_id)
        query = query.order_by(c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [_session_from_row(row) for row in await conn.execute(query)]
