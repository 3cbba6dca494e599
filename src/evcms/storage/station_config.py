"""What stations report of their configuration and device model: SQL repository and its
in-memory twin (both implement ``services.station_config.StationConfigRepository``).

Tables ``station_config_keys`` (1.6), ``device_variables``, ``device_reports``,
``variable_monitors`` (2.0.1 device model), ``device_events`` (NotifyEvent),
``security_events`` and ``inbound_data_transfers``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.station_config import (
    AttributeType,
    ConfigKey,
    DeviceEvent,
    DeviceReport,
    DeviceVariable,
    InboundDataTransfer,
    SecurityEvent,
    VariableCharacteristics,
    VariableKey,
    VariableMonitor,
    VariableSource,
)
from evcms.storage._sql import SqlRepository, upsert, utc, utc_or_none
from evcms.storage.tables import (
    device_events,
    device_reports,
    device_variables,
    inbound_data_transfers,
    security_events,
    station_config_keys,
    variable_monitors,
)

_KEY_COLUMNS = (
    "station_id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)


def _key_row(station_id: str, key: ConfigKey) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "key": key.key,
        "value": key.value,
        "readonly": key.readonly,
        "reported_at": utc(key.reported_at),
    }


def _key(row: Row[Any]) -> ConfigKey:
    return ConfigKey(row.key, row.value, bool(row.readonly), row.reported_at)


def _variable_row(station_id: str, variable: DeviceVariable) -> dict[str, Any]:
    k = variable.key
    ch = variable.characteristics
    return {
        "station_id": station_id,
        "component": k.component,
        "component_instance": k.component_instance,
        "evse_id": k.evse_id,
        "connector_id": k.connector_id,
        "variable": k.variable,
        "variable_instance": k.variable_instance,
        "attribute_type": k.attribute_type.value,
        "value": variable.value,
        "mutability": variable.mutability,
        "data_type": None if ch is None else ch.data_type,
        "unit": None if ch is None else ch.unit,
        "values_list": None if ch is None else ch.values_list,
        "min_limit": None if ch is None else ch.min_limit,
        "max_limit": None if ch is None else ch.max_limit,
        "supports_monitoring": None if ch is None else ch.supports_monitoring,
        "source": variable.source.value,
        "reported_at": utc(variable.reported_at),
    }


def _variable(row: Row[Any] | dict[str, Any]) -> DeviceVariable:
    r = row if isinstance(row, dict) else row._mapping
    characteristics = None
    if any(
        r[c] is not None
        for c in ("data_type", "unit", "values_list", "min_limit", "max_limit", "supports_monitoring")
    ):
        characteristics = VariableCharacteristics(
            data_type=r["data_type"],
            unit=r["unit"],
            values_list=r["values_list"],
            min_limit=r["min_limit"],
            max_limit=r["max_limit"],
            supports_monitoring=None
            if r["supports_monitoring"] is None
            else bool(r["supports_monitoring"]),
        )
    return DeviceVariable(
        key=VariableKey(
            component=r["component"],
            variable=r["variable"],
            attribute_type=AttributeType(r["attribute_type"]),
            component_instance=r["component_instance"],
            evse_id=r["evse_id"],
            connector_id=r["connector_id"],
            variable_instance=r["variable_instance"],
        ),
        value=r["value"],
        reported_at=r["reported_at"],
        source=VariableSource(r["source"]),
        mutability=r["mutability"],
        characteristics=characteristics,
    )


def _variable_order(v: DeviceVariable) -> tuple[Any, ...]:
    k = v.key
    return (
        k.component,
        k.component_instance,
        k.evse_id,
        k.connector_id,
        k.variable,
        k.variable_instance,
        k.attribute_type.value,
    )


def _report_row(report: DeviceReport) -> dict[str, Any]:
    return {
        "station_id": report.station_id,
        "request_id": report.request_id,
        "parts": report.parts,
        "last_seq_no": report.last_seq_no,
        "complete": report.complete,
        "variables": report.variables,
        "started_at": utc(report.started_at),
        "updated_at": utc(report.updated_at),
        "generated_at": utc_or_none(report.generated_at),
    }


def _report(row: Row[Any] | dict[str, Any]) -> DeviceReport:
    r = row if isinstance(row, dict) else row._mapping
    return DeviceReport(
        station_id=r["station_id"],
        request_id=r["request_id"],
        parts=r["parts"],
        last_seq_no=r["last_seq_no"],
        complete=bool(r["complete"]),
        variables=r["variables"],
        started_at=r["started_at"],
        updated_at=r["updated_at"],
        generated_at=r["generated_at"],
    )


def _monitor_row(station_id: str, m: VariableMonitor) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "id": m.id,
        "component": m.component,
        "component_instance": m.component_instance,
        "evse_id": m.evse_id,
        "connector_id": m.connector_id,
        "variable": m.variable,
        "variable_instance": m.variable_instance,
        "type": m.type,
        "value": m.value,
        "severity": m.severity,
        "transaction": m.transaction,
        "reported_at": utc(m.reported_at),
    }


def _monitor(row: Row[Any] | dict[str, Any]) -> VariableMonitor:
    r = dict(row if isinstance(row, dict) else row._mapping)
    r.pop("station_id")
    r["transaction"] = bool(r["transaction"])
    return VariableMonitor(**r)


def _event_row(e: DeviceEvent) -> dict[str, Any]:
    return {
        "station_id": e.station_id,
        "event_id": e.event_id,
        "at": utc(e.at),
        "trigger": e.trigger,
        "cause": e.cause,
        "actual_value": e.actual_value,
        "tech_code": e.tech_code,
        "tech_info": e.tech_info,
        "cleared": e.cleared,
        "transaction_id": e.transaction_id,
        "variable_monitoring_id": e.variable_monitoring_id,
        "event_notification_type": e.event_notification_type,
        "component": e.component,
        "component_instance": e.component_instance,
        "evse_id": e.evse_id,
        "connector_id": e.connector_id,
        "variable": e.variable,
        "variable_instance": e.variable_instance,
        "received_at": utc(e.received_at),
    }


def _event(row: Row[Any]) -> DeviceEvent:
    r = dict(row._mapping)
    r["cleared"] = bool(r["cleared"])
    return DeviceEvent(**r)


def _security_row(e: SecurityEvent) -> dict[str, Any]:
    return {
        "station_id": e.station_id,
        "kind": e.kind,
        "at": utc(e.at),
        "tech_info": e.tech_info,
        "received_at": utc(e.received_at),
    }


def _transfer_row(t: InboundDataTransfer) -> dict[str, Any]:
    return {
        "station_id": t.station_id,
        "vendor_id": t.vendor_id,
        "message_id": t.message_id,
        "data": None if t.data is None else json.dumps(t.data, ensure_ascii=False),
        "answer_status": t.answer_status,
        "received_at": utc(t.received_at),
    }


def _transfer(row: Row[Any]) -> InboundDataTransfer:
    return InboundDataTransfer(
        id=row.id,
        station_id=row.station_id,
        vendor_id=row.vendor_id,
        message_id=row.message_id,
        data=None if row.data is None else json.loads(row.data),
        answer_status=row.answer_status,
        received_at=row.received_at,
    )


class SqlStationConfigRepository(SqlRepository):
    async def save_keys(self, station_id: str, keys: Sequence[ConfigKey]) -> None:
        rows = [_key_row(station_id, k) for k in keys]
        if not rows:
            return
        statement = upsert(self._dialect, station_config_keys, ("station_id", "key"))

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement, rows)

        await self._writer.submit(op)

    async def keys(self, station_id: str) -> builtins.list[ConfigKey]:
        c = station_config_keys.c
        query = select(station_config_keys).where(c.station_id == station_id)
        async with self._engine.connect() as conn:
            found = [_key(row) for row in await conn.execute(query)]
        return sorted(found, key=lambda k: k.key)

    async def save_variables(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        rows = [_variable_row(station_id, v) for v in variables]
        if not rows:
            return
        statement = upsert(self._dialect, device_variables, _KEY_COLUMNS)

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement, rows)

        await self._writer.submit(op)

    async def variables(self, station_id: str) -> builtins.list[DeviceVariable]:
        query = select(device_variables).where(device_variables.c.station_id == station_id)
        async with self._engine.connect() as conn:
            found = [_variable(row) for row in await conn.execute(query)]
        return sorted(found, key=_variable_order)

    async def report(self, station_id: str, request_id: int) -> DeviceReport | None:
        c = device_reports.c
        query = select(device_reports).where(
            (c.station_id == station_id) & (c.request_id == request_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _report(row)

    async def save_report(self, report: DeviceReport, variables: Sequence[DeviceVariable]) -> None:
        report_statement = upsert(self._dialect, device_reports, ("station_id", "request_id"))
        variable_statement = upsert(self._dialect, device_variables, _KEY_COLUMNS)
        report_row = _report_row(report)
        rows = [_variable_row(report.station_id, v) for v in variables]

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(report_statement, [report_row])
            if rows:
                await conn.execute(variable_statement, rows)

        await self._writer.submit(op)

    async def reports(self, station_id: str) -> builtins.list[DeviceReport]:
        c = device_reports.c
        query = (
            select(device_reports)
            .where(c.station_id == station_id)
            .order_by(c.started_at.desc(), c.request_id.desc())
        )
        async with self._engine.connect() as conn:
            return [_report(row) for row in await conn.execute(query)]

    async def save_monitors(self, station_id: str, monitors: Sequence[VariableMonitor]) -> None:
        rows = [_monitor_row(station_id, m) for m in monitors]
        if not rows:
            return
        statement = upsert(self._dialect, variable_monitors, ("station_id", "id"))

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement, rows)

        await self._writer.submit(op)

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None:
        c = variable_monitors.c

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(variable_monitors).where(
                    (c.station_id == station_id) & c.id.in_(list(ids))
                )
            )

        await self._writer.submit(op)

    async def monitors(self, station_id: str) -> builtins.list[VariableMonitor]:
        c = variable_monitors.c
        query = select(variable_monitors).where(c.station_id == station_id).order_by(c.id)
        async with self._engine.connect() as conn:
            return [_monitor(row) for row in await conn.execute(query)]

    async def _insert_many(
        self, table: Table, rows: builtins.list[dict[str, Any]]
    ) -> builtins.list[int]:
        async def op(conn: AsyncConnection) -> builtins.list[int]:
            ids = []
            for row in rows:
                ids.append(int(await conn.scalar(table.insert().values(row).returning(table.c.id))))
            return ids

        result: builtins.list[int] = await self._writer.submit(op)
        return result

    async def add_events(self, events: Sequence[DeviceEvent]) -> builtins.list[DeviceEvent]:
        ids = await self._insert_many(device_events, [_event_row(e) for e in events])
        return [replace(e, id=i) for e, i in zip(events, ids, strict=True)]

    async def _page(
        self, table: Table, station_id: str, limit: int, before_id: int | None
    ) -> builtins.list[Row[Any]]:
        c = table.c
        query = select(table).where(c.station_id == station_id).order_by(c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(c.id < before_id)
        async with self._engine.connect() as conn:
            return list(await conn.execute(query))

    async def events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DeviceEvent]:
        return [_event(r) for r in await self._page(device_events, station_id, limit, before_id)]

    async def add_security_event(self, event: SecurityEvent) -> SecurityEvent:
        (new_id,) = await self._insert_many(security_events, [_security_row(event)])
        return replace(event, id=new_id)

    async def security_events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[SecurityEvent]:
        return [
            SecurityEvent(**dict(r._mapping))
            for r in await self._page(security_events, station_id, limit, before_id)
        ]

    async def add_data_transfer(self, transfer: InboundDataTransfer) -> InboundDataTransfer:
        (new_id,) = await self._insert_many(inbound_data_transfers, [_transfer_row(transfer)])
        return replace(transfer, id=new_id)

    async def data_transfers(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[InboundDataTransfer]:
        rows = await self._page(inbound_data_transfers, station_id, limit, before_id)
        return [_transfer(r) for r in rows]


# -- in memory ----------------------------------------------------------------------------------


def _page_of(items: builtins.list[Any], limit: int, before_id: int | None) -> builtins.list[Any]:
    found = [i for i in items if before_id is None or i.id < before_id]
    return sorted(found, key=lambda i: i.id, reverse=True)[:limit]


class MemoryStationConfigRepository:
    """The twin; values go through the same row shapes as the SQL one (times in UTC)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], ConfigKey] = {}
        self._variables: dict[tuple[str, VariableKey], DeviceVariable] = {}
        self._reports: dict[tuple[str, int], DeviceReport] = {}
        self._monitors: dict[tuple[str, int], VariableMonitor] = {}
        self._events: builtins.list[DeviceEvent] = []
        self._security: builtins.list[SecurityEvent] = []
        self._transfers: builtins.list[InboundDataTransfer] = []

    async def save_keys(self, station_id: str, keys: Sequence[ConfigKey]) -> None:
        for k in keys:
            self._keys[station_id, k.key] = replace(k, reported_at=utc(k.reported_at))

    async def keys(self, station_id: str) -> builtins.list[ConfigKey]:
        return sorted((k for (s, _), k in self._keys.items() if s == station_id), key=lambda k: k.key)

    async def save_variables(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        for v in variables:
            self._variables[station_id, v.key] = _variable(_variable_row(station_id, v))

    async def variables(self, station_id: str) -> builtins.list[DeviceVariable]:
        found = [v for (s, _), v in self._variables.items() if s == station_id]
        return sorted(found, key=_variable_order)

    async def report(self, station_id: str, request_id: int) -> DeviceReport | None:
        return self._reports.get((station_id, request_id))

    async def save_report(self, report: DeviceReport, variables: Sequence[DeviceVariable]) -> None:
        self._reports[report.station_id, report.request_id] = _report(_report_row(report))
        await self.save_variables(report.station_id, variables)

    async def reports(self, station_id: str) -> builtins.list[DeviceReport]:
        found = [r for (s, _), r in self._reports.items() if s == station_id]
        return sorted(found, key=lambda r: (r.started_at, r.request_id), reverse=True)

    async def save_monitors(self, station_id: str, monitors: Sequence[VariableMonitor]) -> None:
        for m in monitors:
            self._monitors[station_id, m.id] = _monitor(_monitor_row(station_id, m))

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None:
        for monitor_id in ids:
            self._monitors.pop((station_id, monitor_id), None)

    async def monitors(self, station_id: str) -> builtins.list[VariableMonitor]:
        found = [m for (s, _), m in self._monitors.items() if s == station_id]
        return sorted(found, key=lambda m: m.id)

    async def add_events(self, events: Sequence[DeviceEvent]) -> builtins.list[DeviceEvent]:
        stored = []
        for e in events:
            row = _event_row(e)
            item = DeviceEvent(**row, id=len(self._events) + 1)
            self._events.append(item)
            stored.append(item)
        return stored

    async def events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DeviceEvent]:
        return _page_of([e for e in self._events if e.station_id == station_id], limit, before_id)

    async def add_security_event(self, event: SecurityEvent) -> SecurityEvent:
        item = SecurityEvent(**_security_row(event), id=len(self._security) + 1)
        self._security.append(item)
        return item

    async def security_events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[SecurityEvent]:
        mine = [e for e in self._security if e.station_id == station_id]
        return _page_of(mine, limit, before_id)

    async def add_data_transfer(self, transfer: InboundDataTransfer) -> InboundDataTransfer:
        row = _transfer_row(transfer)
        item = replace(
            transfer,
            id=len(self._transfers) + 1,
            received_at=row["received_at"],
            data=None if row["data"] is None else json.loads(row["data"]),
        )
        self._transfers.append(item)
        return item

    async def data_transfers(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[InboundDataTransfer]:
        mine = [t for t in self._transfers if t.station_id == station_id]
        return _page_of(mine, limit, before_id)
