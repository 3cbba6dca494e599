"""Diagnostics requests: the SQL repository and its in-memory twin (both implement
``services.diagnostics.DiagnosticsRepository`` and pass the same contract tests).

Attaching the uploaded file is compare-and-set (only while none is attached), so a token takes
one file even when two uploads race.
"""

from __future__ import annotations

import builtins
import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.diagnostics import DiagnosticsRequest, LogType, UploadedFile
from evcms.domain.ids import StationId
from evcms.storage._sql import SqlRepository, utc, utc_or_none
from evcms.storage.tables import diagnostics_requests

_T = diagnostics_requests


def _from_row(row: Row[Any]) -> DiagnosticsRequest:
    file = None
    if row.file_name is not None:
        file = UploadedFile(row.file_name, row.file_size, row.file_sha256, row.file_received_at)
    return DiagnosticsRequest(
        id=row.id,
        station_id=row.station_id,
        ocpp_version=row.ocpp_version,
        token=row.token,
        token_expires_at=row.token_expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        requested_by=row.requested_by,
        log_type=LogType(row.log_type),
        since=row.since,
        until=row.until,
        retries=row.retries,
        retry_interval=row.retry_interval,
        command_outcome=row.command_outcome,
        answer_status=row.answer_status,
        answer_file_name=row.answer_file_name,
        station_status=row.station_status,
        station_status_at=row.station_status_at,
        file=file,
        file_key=row.file_key,
    )


def _row(request: DiagnosticsRequest) -> dict[str, Any]:
    file = request.file
    return {
        "station_id": request.station_id,
        "ocpp_version": request.ocpp_version,
        "token": request.token,
        "token_expires_at": utc(request.token_expires_at),
        "requested_by": request.requested_by,
        "log_type": LogType(request.log_type).value,
        "since": utc_or_none(request.since),
        "until": utc_or_none(request.until),
        "retries": request.retries,
        "retry_interval": request.retry_interval,
        "command_outcome": request.command_outcome,
        "answer_status": request.answer_status,
        "answer_file_name": request.answer_file_name,
        "station_status": request.station_status,
        "station_status_at": utc_or_none(request.station_status_at),
        "file_name": None if file is None else file.name,
        "file_size": None if file is None else file.size,
        "file_sha256": None if file is None else file.sha256,
        "file_received_at": None if file is None else utc(file.received_at),
        "file_key": request.file_key,
        "created_at": utc(request.created_at),
        "updated_at": utc(request.updated_at),
    }


def _normal(request: DiagnosticsRequest) -> DiagnosticsRequest:
    """Times in UTC, as the database gives them back (the twin behaves the same)."""
    row = _row(request)
    file = request.file
    return request.replace(
        **{k: row[k] for k in ("token_expires_at", "since", "until", "station_status_at", "created_at", "updated_at")},
        file=None if file is None else UploadedFile(file.name, file.size, file.sha256, row["file_received_at"]),
    )


class SqlDiagnosticsRepository(SqlRepository):
    async def _change(self, request_id: int, values: dict[str, Any], *conditions: Any) -> DiagnosticsRequest | None:
        statement = update(_T).where(_T.c.id == request_id, *conditions).values(values)

        async def op(conn: AsyncConnection) -> DiagnosticsRequest | None:
            if (await conn.execute(statement)).rowcount == 0:
                return None
            return _from_row((await conn.execute(select(_T).where(_T.c.id == request_id))).one())

        result: DiagnosticsRequest | None = await self._writer.submit(op)
        return result

    async def add(self, request: DiagnosticsRequest) -> DiagnosticsRequest:
        values = _row(request)

        async def op(conn: AsyncConnection) -> DiagnosticsRequest:
            new_id = await conn.scalar(insert(_T).values(values).returning(_T.c.id))
            return _from_row((await conn.execute(select(_T).where(_T.c.id == new_id))).one())

        result: DiagnosticsRequest = await self._writer.submit(op)
        return result

    async def _one(self, *conditions: Any) -> DiagnosticsRequest | None:
        query = select(_T).where(*conditions).order_by(_T.c.id.desc()).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _from_row(row)

    async def get(self, request_id: int) -> DiagnosticsRequest | None:
        return await self._one(_T.c.id == request_id)

    async def by_token(self, token: str) -> DiagnosticsRequest | None:
        return await self._one(_T.c.token == token)

    async def latest(self, station_id: StationId) -> DiagnosticsRequest | None:
        return await self._one(_T.c.station_id == station_id)

    async def set_answer(
        self, request_id: int, *, outcome: str, status: str | None, file_name: str | None, at: datetime
    ) -> DiagnosticsRequest | None:
        return await self._change(
            request_id,
            {
                "command_outcome": outcome,
                "answer_status": status,
                "answer_file_name": file_name,
                "updated_at": utc(at),
            },
        )

    async def set_station_status(
        self, request_id: int, status: str, at: datetime
    ) -> DiagnosticsRequest | None:
        at = utc(at)
        return await self._change(
            request_id, {"station_status": status, "station_status_at": at, "updated_at": at}
        )

    async def attach_file(
        self, request_id: int, file: UploadedFile, key: str
    ) -> DiagnosticsRequest | None:
        at = utc(file.received_at)
        return await self._change(
            request_id,
            {
                "file_name": file.name,
                "file_size": file.size,
                "file_sha256": file.sha256,
                "file_received_at": at,
                "file_key": key,
                "updated_at": at,
            },
            _T.c.file_name.is_(None),
        )

    async def list(
        self, station_id: StationId | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DiagnosticsRequest]:
        if limit <= 0:
            return []
        query = select(_T).order_by(_T.c.id.desc()).limit(limit)
        if station_id is not None:
            query = query.where(_T.c.station_id == station_id)
        if before_id is not None:
            query = query.where(_T.c.id < before_id)
        async with self._engine.connect() as conn:
            return [_from_row(row) for row in await conn.execute(query)]


class MemoryDiagnosticsRepository:
    """The in-memory twin: the same contract, for tests that are not about storage."""

    def __init__(self) -> None:
        self.requests: dict[int, DiagnosticsRequest] = {}
        self._ids = itertools.count(1)

    async def add(self, request: DiagnosticsRequest) -> DiagnosticsRequest:
        if any(r.token == request.token for r in self.requests.values()):
            raise ValueError("duplicate upload token")
        stored = _normal(request.replace(id=next(self._ids)))
        self.requests[stored.id] = stored
        return stored

    async def get(self, request_id: int) -> DiagnosticsRequest | None:
        return self.requests.get(request_id)

    async def by_token(self, token: str) -> DiagnosticsRequest | None:
        return next((r for r in self.requests.values() if r.token == token), None)

    async def latest(self, station_id: StationId) -> DiagnosticsRequest | None:
        found = [r for r in self.requests.values() if r.station_id == station_id]
        return max(found, key=lambda r: r.id) if found else None

    def _set(self, request_id: int, **changes: Any) -> DiagnosticsRequest | None:
        current = self.requests.get(request_id)
        if current is None:
            return None
        changed = _normal(current.replace(**changes))
        self.requests[request_id] = changed
        return changed

    async def set_answer(
        self, request_id: int, *, outcome: str, status: str | None, file_name: str | None, at: datetime
    ) -> DiagnosticsRequest | None:
        return self._set(
            request_id,
            command_outcome=outcome,
            answer_status=status,
            answer_file_name=file_name,
            updated_at=at,
        )

    async def set_station_status(
        self, request_id: int, status: str, at: datetime
    ) -> DiagnosticsRequest | None:
        return self._set(request_id, station_status=status, station_status_at=at, updated_at=at)

    async def attach_file(
        self, request_id: int, file: UploadedFile, key: str
    ) -> DiagnosticsRequest | None:
        current = self.requests.get(request_id)
        if current is None or current.file is not None:
            return None
        return self._set(request_id, file=file, file_key=key, updated_at=file.received_at)

    async def list(
        self, station_id: StationId | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DiagnosticsRequest]:
        found = [
            r
            for r in self.requests.values()
            if (station_id is None or r.station_id == station_id)
            and (before_id is None or r.id < before_id)
        ]
        return sorted(found, key=lambda r: r.id, reverse=True)[: max(limit, 0)]
