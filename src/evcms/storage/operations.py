"""The audit trail of remote operations and the bulk operations: SQL repository and its
in-memory twin (both implement ``services.remote_operations.OperationRepository``).

Tables ``operations`` (one row per CSMS-initiated call: stored pending before it is sent, then
completed) and ``bulk_operations``.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.operations import (
    BulkOperation,
    NewOperation,
    OperationFilter,
    OperationOutcome,
    OperationRecord,
    OperationResult,
    finish,
)
from evcms.services.ports import NotFound
from evcms.storage._sql import SqlRepository, utc
from evcms.storage.tables import bulk_operations, operations


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _record(row: Row[Any]) -> OperationRecord:
    return OperationRecord(
        id=row.id,
        station_id=row.station_id,
        action=row.action,
        request=_load(row.request),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        outcome=OperationOutcome(row.outcome),
        operation=row.operation,
        ocpp_version=row.ocpp_version,
        status=row.status,
        response=_load(row.response),
        error_code=row.error_code,
        error_description=row.error_description,
        finished_at=row.finished_at,
        bulk_id=row.bulk_id,
    )


def _bulk(row: Row[Any]) -> BulkOperation:
    return BulkOperation(
        id=row.id,
        operation=row.operation,
        params=_load(row.params),
        target=_load(row.target),
        station_ids=tuple(_load(row.station_ids)),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        finished_at=row.finished_at,
    )


def _result_values(result: OperationResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "status": result.status,
        "response": None if result.response is None else _dump(result.response),
        "error_code": result.error_code,
        "error_description": result.error_description,
        "finished_at": utc(result.finished_at),
    }


class SqlOperationRepository(SqlRepository):
    async def start(self, operation: NewOperation) -> OperationRecord:
        row = {
            "station_id": operation.station_id,
            "action": operation.action,
            "operation": operation.operation,
            "ocpp_version": operation.ocpp_version,
            "request": _dump(operation.request),
            "requested_by": operation.requested_by,
            "requested_at": utc(operation.requested_at),
            "outcome": OperationOutcome.PENDING.value,
            "bulk_id": operation.bulk_id,
        }

        async def op(conn: AsyncConnection) -> int:
            new_id = await conn.scalar(operations.insert().values(row).returning(operations.c.id))
            return int(new_id)

        new_id: int = await self._writer.submit(op)
        return OperationRecord(
            id=new_id,
            station_id=operation.station_id,
            action=operation.action,
            request=operation.request,
            requested_by=operation.requested_by,
            requested_at=utc(operation.requested_at),
            operation=operation.operation,
            ocpp_version=operation.ocpp_version,
            bulk_id=operation.bulk_id,
        )

    async def finish(self, operation_id: int, result: OperationResult) -> OperationRecord:
        c = operations.c
        values = _result_values(result)

        async def op(conn: AsyncConnection) -> OperationRecord:
            # one statement in the usual case (the row comes back from the update)
            row = (
                await conn.execute(
                    operations.update()
                    .where((c.id == operation_id) & (c.outcome == OperationOutcome.PENDING.value))
                    .values(values)
                    .returning(*operations.c)
                )
            ).first()
            if row is None:  # finished already (or no such operation)
                row = (await conn.execute(select(operations).where(c.id == operation_id))).first()
            if row is None:
                raise NotFound(f"operation {operation_id} does not exist")
            return _record(row)

        record: OperationRecord = await self._writer.submit(op)
        return record

    async def interrupt(self, result: OperationResult) -> int:
        """Finish every pending operation and unfinished bulk with ``result`` (at start-up: the
        node that sent them is gone, and with it the stations' connections)."""
        values = _result_values(result)
        pending = operations.c.outcome == OperationOutcome.PENDING.value

        async def op(conn: AsyncConnection) -> int:
            done = (await conn.execute(operations.update().where(pending).values(values))).rowcount
            await conn.execute(
                bulk_operations.update()
                .where(bulk_operations.c.finished_at.is_(None))
                .values(finished_at=utc(result.finished_at))
            )
            return int(done)

        count: int = await self._writer.submit(op)
        return count

    async def get(self, operation_id: int) -> OperationRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(operations).where(operations.c.id == operation_id))
            ).first()
        return None if row is None else _record(row)

    async def list(
        self, filter: OperationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OperationRecord]:
        c = operations.c
        query = select(operations).order_by(c.id.desc()).limit(limit)
        if filter.station_id is not None:
            query = query.where(c.station_id == filter.station_id)
        if filter.action is not None:
            query = query.where(c.action == filter.action)
        if filter.outcome is not None:
            query = query.where(c.outcome == filter.outcome.value)
        if filter.requested_by is not None:
            query = query.where(c.requested_by == filter.requested_by)
        if filter.bulk_id is not None:
            query = query.where(c.bulk_id == filter.bulk_id)
        if before_id is not None:
            query = query.where(c.id < before_id)
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def add_bulk(self, bulk: BulkOperation) -> BulkOperation:
        row = {
            "operation": bulk.operation,
            "params": _dump(bulk.params),
            "target": _dump(bulk.target),
            "station_ids": _dump(list(bulk.station_ids)),
            "requested_by": bulk.requested_by,
            "requested_at": utc(bulk.requested_at),
            "finished_at": None if bulk.finished_at is None else utc(bulk.finished_at),
        }

        async def op(conn: AsyncConnection) -> int:
            new_id = await conn.scalar(
                bulk_operations.insert().values(row).returning(bulk_operations.c.id)
            )
            return int(new_id)

        new_id: int = await self._writer.submit(op)
        return replace(bulk, id=new_id, requested_at=utc(bulk.requested_at))

    async def finish_bulk(self, bulk_id: int, at: datetime) -> None:
        c = bulk_operations.c

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(
                bulk_operations.update()
                .where((c.id == bulk_id) & c.finished_at.is_(None))
                .values(finished_at=utc(at))
            )

        await self._writer.submit(op)

    async def get_bulk(self, bulk_id: int) -> BulkOperation | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(bulk_operations).where(bulk_operations.c.id == bulk_id))
            ).first()
        return None if row is None else _bulk(row)

    async def list_bulk(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[BulkOperation]:
        c = bulk_operations.c
        query = select(bulk_operations).order_by(c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(c.id < before_id)
        async with self._engine.connect() as conn:
            return [_bulk(row) for row in await conn.execute(query)]


# -- in memory ----------------------------------------------------------------------------------


class MemoryOperationRepository:
    def __init__(self) -> None:
        self._records: dict[int, OperationRecord] = {}
        self._bulks: dict[int, BulkOperation] = {}

    async def start(self, operation: NewOperation) -> OperationRecord:
        record = OperationRecord(
            id=len(self._records) + 1,
            station_id=operation.station_id,
            action=operation.action,
            request=json.loads(_dump(operation.request)),
            requested_by=operation.requested_by,
            requested_at=utc(operation.requested_at),
            operation=operation.operation,
            ocpp_version=operation.ocpp_version,
            bulk_id=operation.bulk_id,
        )
        self._records[record.id] = record
        return record

    async def finish(self, operation_id: int, result: OperationResult) -> OperationRecord:
        record = self._records.get(operation_id)
        if record is None:
            raise NotFound(f"operation {operation_id} does not exist")
        stored = replace(
            result,
            finished_at=utc(result.finished_at),
            response=None if result.response is None else json.loads(_dump(result.response)),
        )
        self._records[operation_id] = finish(record, stored)
        return self._records[operation_id]

    async def interrupt(self, result: OperationResult) -> int:
        pending = [r for r in self._records.values() if r.outcome is OperationOutcome.PENDING]
        for record in pending:
            await self.finish(record.id, result)
        for bulk in list(self._bulks.values()):
            await self.finish_bulk(bulk.id, result.finished_at)
        return len(pending)

    async def get(self, operation_id: int) -> OperationRecord | None:
        return self._records.get(operation_id)

    async def list(
        self, filter: OperationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OperationRecord]:
        found = [
            r
            for r in self._records.values()
            if filter.matches(r) and (before_id is None or r.id < before_id)
        ]
        return sorted(found, key=lambda r: r.id, reverse=True)[:limit]

    async def add_bulk(self, bulk: BulkOperation) -> BulkOperation:
        stored = replace(
            bulk,
            id=len(self._bulks) + 1,
            requested_at=utc(bulk.requested_at),
            params=json.loads(_dump(bulk.params)),
        )
        self._bulks[stored.id] = stored
        return stored

    async def finish_bulk(self, bulk_id: int, at: datetime) -> None:
        bulk = self._bulks.get(bulk_id)
        if bulk is not None and bulk.finished_at is None:
            self._bulks[bulk_id] = replace(bulk, finished_at=utc(at))

    async def get_bulk(self, bulk_id: int) -> BulkOperation | None:
        return self._bulks.get(bulk_id)

    async def list_bulk(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[BulkOperation]:
        found = [b for b in self._bulks.values() if before_id is None or b.id < before_id]
        return sorted(found, key=lambda b: b.id, reverse=True)[:limit]
