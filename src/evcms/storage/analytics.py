"""Analytics rollups and the connector status history: SQL repository and its in-memory twin
(both implement ``services.analytics.AnalyticsRepository``), and the settled-revenue lookups.

Rollup rows are added to, never overwritten: ``INSERT ... ON CONFLICT DO UPDATE SET x = x +
excluded.x`` (one executemany per batch). A session is added once: its id goes into
``analytics_counted_sessions`` in the same transaction as its figures.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from evcms.domain.analytics import CLASSES, StatusChange, StatusClass
from evcms.domain.billing import to_minor
from evcms.services.analytics import (
    FaultRecord,
    FaultTotals,
    RevenueRecord,
    RevenueTotals,
    Scope,
    SessionRecord,
    SessionTotals,
    StatusIncrement,
    StatusTotals,
    TokenTotals,
)
from evcms.services.billing import SETTLED, BillingRepository, ChargeStatus
from evcms.storage._sql import SqlRepository, utc
from evcms.storage.tables import (
    analytics_counted_sessions,
    analytics_fault_hours,
    analytics_report_mails,
    analytics_revenue_hours,
    analytics_session_hours,
    analytics_status_hours,
    analytics_token_hours,
    connector_status_history,
    session_charges,
)

_CLASS_COLUMNS = tuple(f"{cls.value}_us" for cls in CLASSES)
_KEY = ("hour", "station_id", "evse_id", "connector_id")
_SETTLED = sorted(s.value for s in SETTLED)


@functools.cache
def _accumulate(dialect: str, table: Table, key: tuple[str, ...], values: tuple[str, ...]) -> Insert:
    stmt: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(key), set_={c: table.c[c] + stmt.excluded[c] for c in values}
    )


def _revenue_of(session_id: int, stored: Any) -> RevenueRecord:
    charge = stored.charge
    return RevenueRecord(
        session_id,
        charge.currency,
        to_minor(charge.total_excl_vat, charge.currency),
        to_minor(charge.total_incl_vat, charge.currency),
    )


class BillingChargeLookup:
    """``ChargeLookup`` over a billing repository (one read per session; the memory twin's)."""

    def __init__(self, billing: BillingRepository) -> None:
        self._billing = billing

    async def settled_revenue(self, session_ids: Sequence[int]) -> dict[int, RevenueRecord]:
        found: dict[int, RevenueRecord] = {}
        for session_id in session_ids:
            stored = await self._billing.charge(session_id)
            if stored is not None and stored.status in SETTLED:
                found[session_id] = _revenue_of(session_id, stored)
        return found


def _in_scope(table: Table, scope: Scope) -> list[Any]:
    where: list[Any] = []
    if scope.station_ids is not None:
        where.append(table.c.station_id.in_(scope.station_ids))
    if scope.evse_id is not None:
        where.append(table.c.evse_id == scope.evse_id)
    if scope.connector_id is not None:
        where.append(table.c.connector_id == scope.connector_id)
    return where


def _change(row: Any) -> StatusChange:
    return StatusChange(
        row.station_id, row.evse_id, row.connector_id, row.at, row.source, row.status,
        row.error_code, row.vendor_error_code,
    )


class SqlAnalyticsRepository(SqlRepository):
    # -- history --------------------------------------------------------------------------

    async def add_history(self, rows: Sequence[StatusChange]) -> None:
        values = [
            {
                "station_id": r.station_id,
                "evse_id": r.evse_id,
                "connector_id": r.connector_id,
                "at": utc(r.at),
                "source": r.source,
                "status": r.status,
                "error_code": r.error_code,
                "vendor_error_code": r.vendor_error_code,
            }
            for r in rows
        ]

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(connector_status_history.insert(), values)

        await self._writer.submit(op)

    async def history(self, station_id: str, until: datetime) -> builtins.list[StatusChange]:
        h = connector_status_history.c
        query = (
            select(connector_status_history)
            .where(h.station_id == station_id, h.at < utc(until))
            .order_by(h.at, h.id)
        )
        async with self._engine.connect() as conn:
            return [_change(row) for row in await conn.execute(query)]

    async def latest_history(self, station_id: str) -> builtins.list[StatusChange]:
        h = connector_status_history.c
        newest = (
            select(func.max(h.id))
            .where(h.station_id == station_id)
            .group_by(h.evse_id, h.connector_id, h.source)
        )
        query = select(connector_status_history).where(h.id.in_(newest)).order_by(h.at, h.id)
        async with self._engine.connect() as conn:
            return [_change(row) for row in await conn.execute(query)]

    async def history_station_ids(self) -> builtins.list[str]:
        h = connector_status_history.c
        async with self._engine.connect() as conn:
            return list(await conn.scalars(select(h.station_id).distinct().order_by(h.station_id)))

    # -- rollups --------------------------------------------------------------------------

    async def add_status_time(self, increments: Sequence[StatusIncrement], *, fresh: bool = False) -> None:
        """Add time to the hours; ``fresh``: the rows are known not to exist yet (a rebuild
        after ``clear``), so PostgreSQL takes them by COPY."""
        if fresh and self._dialect == "postgresql":
            records = [
                (utc(i.hour), i.station_id, i.evse_id, i.connector_id, *i.micros) for i in increments
            ]

            async def copy(conn: AsyncConnection) -> None:
                raw = await conn.get_raw_connection()
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    analytics_status_hours.name, records=records, columns=[*_KEY, *_CLASS_COLUMNS]
                )

            await self._writer.submit(copy)
            return
        stmt = _accumulate(self._dialect, analytics_status_hours, _KEY, _CLASS_COLUMNS)
        values = [
            {
                "hour": utc(i.hour),
                "station_id": i.station_id,
                "evse_id": i.evse_id,
                "connector_id": i.connector_id,
                **dict(zip(_CLASS_COLUMNS, i.micros, strict=True)),
            }
            for i in increments
        ]

        async def op(conn: AsyncConnection) -> None:
            for n in range(0, len(values), 5000):
                await conn.execute(stmt, values[n : n + 5000])

        await self._writer.submit(op)

    async def add_faults(self, records: Sequence[FaultRecord]) -> None:
        key = (*_KEY, "error_code", "vendor_error_code", "model")
        stmt = _accumulate(self._dialect, analytics_fault_hours, key, ("faults",))
        values = [
            {
                "hour": utc(r.hour),
                "station_id": r.station_id,
                "evse_id": r.evse_id,
                "connector_id": r.connector_id,
                "error_code": r.error_code,
                "vendor_error_code": r.vendor_error_code,
                "model": r.model,
                "faults": 1,
            }
            for r in records
        ]

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(stmt, values)

        await self._writer.submit(op)

    async def count_sessions(self, records: Sequence[SessionRecord], at: datetime) -> builtins.list[int]:
        hours = _accumulate(
            self._dialect, analytics_session_hours, _KEY,
            ("sessions", "successful", "energy_mwh", "duration_us", "charging_us"),
        )
        tokens = _accumulate(
            self._dialect, analytics_token_hours, (*_KEY, "id_token"), ("sessions", "energy_mwh")
        )
        c = analytics_counted_sessions.c

        async def op(conn: AsyncConnection) -> builtins.list[int]:
            ids = list({r.session_id for r in records})
            seen: set[int] = set()
            for n in range(0, len(ids), 1000):
                seen |= set(await conn.scalars(select(c.session_id).where(c.session_id.in_(ids[n : n + 1000]))))
            fresh: dict[int, SessionRecord] = {}
            for r in records:
                if r.session_id not in seen:
                    fresh.setdefault(r.session_id, r)
            if not fresh:
                return []
            await conn.execute(
                analytics_counted_sessions.insert(),
                [
                    {
                        "session_id": r.session_id,
                        "hour": utc(r.hour),
                        "station_id": r.station_id,
                        "evse_id": r.evse_id,
                        "connector_id": r.connector_id,
                        "revenue_counted": False,
                        "counted_at": utc(at),
                    }
                    for r in fresh.values()
                ],
            )
            per_hour, per_token = _session_sums(fresh.values())
            await conn.execute(hours, per_hour)
            if per_token:
                await conn.execute(tokens, per_token)
            return list(fresh)

        result: builtins.list[int] = await self._writer.submit(op)
        return result

    async def sessions_without_revenue(self, since: datetime, limit: int) -> builtins.list[int]:
        c = analytics_counted_sessions.c
        query = (
            select(c.session_id)
            .where(c.revenue_counted.is_(False), c.hour >= utc(since))
            .order_by(c.session_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return list(await conn.scalars(query))

    async def settled_revenue(self, session_ids: Sequence[int]) -> dict[int, RevenueRecord]:
        s = session_charges.c
        query = select(s.session_id, s.currency, s.total_excl_minor, s.total_incl_minor).where(
            s.session_id.in_(list(session_ids)), s.status.in_(_SETTLED)
        )
        async with self._engine.connect() as conn:
            return {
                row.session_id: RevenueRecord(
                    row.session_id, row.currency, row.total_excl_minor, row.total_incl_minor
                )
                for row in await conn.execute(query)
            }

    async def count_revenue(self, records: Sequence[RevenueRecord]) -> int:
        stmt = _accumulate(
            self._dialect, analytics_revenue_hours, (*_KEY, "currency"),
            ("sessions", "excl_minor", "incl_minor"),
        )
        c = analytics_counted_sessions.c
        by_id = {r.session_id: r for r in records}

        async def op(conn: AsyncConnection) -> int:
            rows = (
                await conn.execute(
                    select(c.session_id, c.hour, c.station_id, c.evse_id, c.connector_id).where(
                        c.session_id.in_(list(by_id)), c.revenue_counted.is_(False)
                    )
                )
            ).all()
            if not rows:
                return 0
            await conn.execute(
                update(analytics_counted_sessions)
                .where(c.session_id.in_([row.session_id for row in rows]))
                .values(revenue_counted=True)
            )
            sums: dict[tuple[Any, ...], list[int]] = {}
            for row in rows:
                r = by_id[row.session_id]
                key = (row.hour, row.station_id, row.evse_id, row.connector_id, r.currency)
                acc = sums.setdefault(key, [0, 0, 0])
                acc[0] += 1
                acc[1] += r.excl_minor
                acc[2] += r.incl_minor
            await conn.execute(
                stmt,
                [
                    {
                        "hour": k[0], "station_id": k[1], "evse_id": k[2], "connector_id": k[3],
                        "currency": k[4], "sessions": a[0], "excl_minor": a[1], "incl_minor": a[2],
                    }
                    for k, a in sums.items()
                ],
            )
            return len(rows)

        result: int = await self._writer.submit(op)
        return result

    async def clear(self, start: datetime, end: datetime) -> None:
        tables = (
            analytics_status_hours,
            analytics_session_hours,
            analytics_revenue_hours,
            analytics_token_hours,
            analytics_fault_hours,
            analytics_counted_sessions,
        )

        async def op(conn: AsyncConnection) -> None:
            for table in tables:
                await conn.execute(
                    delete(table).where(table.c.hour >= utc(start), table.c.hour < utc(end))
                )

        await self._writer.submit(op)

    # -- queries ----------------------------------------------------------------------------

    def _where(self, table: Table, scope: Scope, start: datetime, end: datetime) -> Any:
        return and_(table.c.hour >= utc(start), table.c.hour < utc(end), *_in_scope(table, scope))

    @staticmethod
    def _group(table: Table, by: str) -> list[Any]:
        if by == "hour":
            return [table.c.hour]
        return [table.c.station_id, table.c.evse_id, table.c.connector_id]

    async def status_totals(self, scope: Scope, start: datetime, end: datetime, *, by: str) -> builtins.list[StatusTotals]:
        t = analytics_status_hours
        group = self._group(t, by)
        query = (
            select(*group, *(func.sum(t.c[c]).label(c) for c in _CLASS_COLUMNS))
            .where(self._where(t, scope, start, end))
            .group_by(*group)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = []
        for row in rows:
            key = row[0] if by == "hour" else (row[0], row[1], row[2])
            offset = len(group)
            out.append(
                StatusTotals(key, {cls: int(row[offset + n] or 0) for n, cls in enumerate(CLASSES)})
            )
        return out

    async def session_totals(self, scope: Scope, start: datetime, end: datetime, *, by: str) -> builtins.list[SessionTotals]:
        t = analytics_session_hours
        group = self._group(t, by)
        names = ("sessions", "successful", "energy_mwh", "duration_us", "charging_us")
        query = (
            select(*group, *(func.sum(t.c[c]).label(c) for c in names))
            .where(self._where(t, scope, start, end))
            .group_by(*group)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = []
        for row in rows:
            key = row[0] if by == "hour" else (row[0], row[1], row[2])
            values = [int(v or 0) for v in row[len(group) :]]
            out.append(SessionTotals(key, *values))
        return out

    async def revenue_totals(self, scope: Scope, start: datetime, end: datetime) -> builtins.list[RevenueTotals]:
        t = analytics_revenue_hours
        query = (
            select(
                t.c.hour, t.c.currency, func.sum(t.c.sessions), func.sum(t.c.excl_minor),
                func.sum(t.c.incl_minor),
            )
            .where(self._where(t, scope, start, end))
            .group_by(t.c.hour, t.c.currency)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RevenueTotals(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]

    async def fault_totals(self, scope: Scope, start: datetime, end: datetime) -> builtins.list[FaultTotals]:
        t = analytics_fault_hours
        group = [t.c.error_code, t.c.vendor_error_code, t.c.model]
        query = select(*group, func.sum(t.c.faults)).where(self._where(t, scope, start, end)).group_by(*group)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [FaultTotals(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def token_totals(self, scope: Scope, start: datetime, end: datetime, limit: int) -> builtins.list[TokenTotals]:
        t = analytics_token_hours
        energy = func.sum(t.c.energy_mwh)
        query = (
            select(t.c.id_token, func.sum(t.c.sessions), energy)
            .where(self._where(t, scope, start, end))
            .group_by(t.c.id_token)
            .order_by(energy.desc(), t.c.id_token)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [TokenTotals(r[0], int(r[1]), int(r[2])) for r in rows]

    # -- report mails ---------------------------------------------------------------------

    async def report_sent(self, site_id: str, month: str) -> bool:
        m = analytics_report_mails.c
        async with self._engine.connect() as conn:
            found = await conn.scalar(select(m.site_id).where(m.site_id == site_id, m.month == month))
        return found is not None

    async def mark_report_sent(self, site_id: str, month: str, at: datetime) -> None:
        stmt: Any = (
            postgresql.insert(analytics_report_mails)
            if self._dialect == "postgresql"
            else sqlite.insert(analytics_report_mails)
        )
        stmt = stmt.on_conflict_do_nothing()

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(stmt, {"site_id": site_id, "month": month, "sent_at": utc(at)})

        await self._writer.submit(op)


def _session_sums(records: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    hours: dict[tuple[Any, ...], list[int]] = {}
    tokens: dict[tuple[Any, ...], list[int]] = {}
    for r in records:
        key = (utc(r.hour), r.station_id, r.evse_id, r.connector_id)
        acc = hours.setdefault(key, [0, 0, 0, 0, 0])
        acc[0] += 1
        acc[1] += int(r.successful)
        acc[2] += r.energy_mwh
        acc[3] += r.duration_us
        acc[4] += r.charging_us
        if r.id_token:
            t = tokens.setdefault((*key, r.id_token), [0, 0])
            t[0] += 1
            t[1] += r.energy_mwh
    per_hour = [
        {
            "hour": k[0], "station_id": k[1], "evse_id": k[2], "connector_id": k[3],
            "sessions": a[0], "successful": a[1], "energy_mwh": a[2], "duration_us": a[3],
            "charging_us": a[4],
        }
        for k, a in hours.items()
    ]
    per_token = [
        {
            "hour": k[0], "station_id": k[1], "evse_id": k[2], "connector_id": k[3],
            "id_token": k[4], "sessions": a[0], "energy_mwh": a[1],
        }
        for k, a in tokens.items()
    ]
    return per_hour, per_token


# -- the in-memory twin ---------------------------------------------------------------------


def _matches(scope: Scope, station_id: str, evse_id: int, connector_id: int) -> bool:
    if scope.station_ids is not None and station_id not in scope.station_ids:
        return False
    if scope.evse_id is not None and evse_id != scope.evse_id:
        return False
    return scope.connector_id is None or connector_id == scope.connector_id


class MemoryAnalyticsRepository:
    def __init__(self) -> None:
        self.history_rows: list[StatusChange] = []
        self.status: dict[tuple[Any, ...], list[int]] = {}
        self.sessions: dict[tuple[Any, ...], list[int]] = {}
        self.tokens: dict[tuple[Any, ...], list[int]] = {}
        self.revenue: dict[tuple[Any, ...], list[int]] = {}
        self.faults: dict[tuple[Any, ...], int] = {}
        self.counted: dict[int, tuple[Any, ...]] = {}  # id -> (hour, station, evse, conn, revenue?)
        self.mails: dict[tuple[str, str], datetime] = {}

    async def add_history(self, rows: Sequence[StatusChange]) -> None:
        self.history_rows.extend(rows)

    def _ordered(self, station_id: str) -> list[StatusChange]:
        found = [(r.at, n, r) for n, r in enumerate(self.history_rows) if r.station_id == station_id]
        return [r for _, _, r in sorted(found, key=lambda x: (x[0], x[1]))]

    async def history(self, station_id: str, until: datetime) -> builtins.list[StatusChange]:
        return [r for r in self._ordered(station_id) if r.at < until]

    async def latest_history(self, station_id: str) -> builtins.list[StatusChange]:
        latest: dict[tuple[int, int, str], StatusChange] = {}
        for r in self.history_rows:
            if r.station_id == station_id:
                latest[(r.evse_id, r.connector_id, r.source)] = r
        return sorted(latest.values(), key=lambda r: r.at)

    async def history_station_ids(self) -> builtins.list[str]:
        return sorted({r.station_id for r in self.history_rows})

    async def add_status_time(self, increments: Sequence[StatusIncrement], *, fresh: bool = False) -> None:
        for i in increments:
            key = (utc(i.hour), i.station_id, i.evse_id, i.connector_id)
            acc = self.status.setdefault(key, [0] * len(CLASSES))
            for n, value in enumerate(i.micros):
                acc[n] += value

    async def add_faults(self, records: Sequence[FaultRecord]) -> None:
        for r in records:
            key = (utc(r.hour), r.station_id, r.evse_id, r.connector_id, r.error_code, r.vendor_error_code, r.model)
            self.faults[key] = self.faults.get(key, 0) + 1

    async def count_sessions(self, records: Sequence[SessionRecord], at: datetime) -> builtins.list[int]:
        fresh: dict[int, SessionRecord] = {}
        for r in records:
            if r.session_id not in self.counted:
                fresh.setdefault(r.session_id, r)
        per_hour, per_token = _session_sums(fresh.values())
        for row in per_hour:
            key = (row["hour"], row["station_id"], row["evse_id"], row["connector_id"])
            acc = self.sessions.setdefault(key, [0] * 5)
            for n, name in enumerate(("sessions", "successful", "energy_mwh", "duration_us", "charging_us")):
                acc[n] += row[name]
        for row in per_token:
            token_key = (row["hour"], row["station_id"], row["evse_id"], row["connector_id"], row["id_token"])
            acc = self.tokens.setdefault(token_key, [0, 0])
            acc[0] += row["sessions"]
            acc[1] += row["energy_mwh"]
        for r in fresh.values():
            self.counted[r.session_id] = (utc(r.hour), r.station_id, r.evse_id, r.connector_id, False)
        return list(fresh)

    async def sessions_without_revenue(self, since: datetime, limit: int) -> builtins.list[int]:
        return sorted(k for k, v in self.counted.items() if not v[4] and v[0] >= since)[:limit]

    async def count_revenue(self, records: Sequence[RevenueRecord]) -> int:
        added = 0
        for r in records:
            mark = self.counted.get(r.session_id)
            if mark is None or mark[4]:
                continue
            self.counted[r.session_id] = (*mark[:4], True)
            acc = self.revenue.setdefault((*mark[:4], r.currency), [0, 0, 0])
            acc[0] += 1
            acc[1] += r.excl_minor
            acc[2] += r.incl_minor
            added += 1
        return added

    async def clear(self, start: datetime, end: datetime) -> None:
        for table in (self.status, self.sessions, self.tokens, self.revenue, self.faults):
            for key in [k for k in table if start <= k[0] < end]:
                del table[key]
        for session_id in [k for k, v in self.counted.items() if start <= v[0] < end]:
            del self.counted[session_id]

    @staticmethod
    def _group_key(key: tuple[Any, ...], by: str) -> Any:
        return key[0] if by == "hour" else (key[1], key[2], key[3])

    def _selected(self, table: dict[tuple[Any, ...], Any], scope: Scope, start: datetime, end: datetime) -> Any:
        for key, value in table.items():
            if start <= key[0] < end and _matches(scope, key[1], key[2], key[3]):
                yield key, value

    async def status_totals(self, scope: Scope, start: datetime, end: datetime, *, by: str) -> builtins.list[StatusTotals]:
        acc: dict[Any, list[int]] = {}
        for key, value in self._selected(self.status, scope, start, end):
            row = acc.setdefault(self._group_key(key, by), [0] * len(CLASSES))
            for n, v in enumerate(value):
                row[n] += v
        return [StatusTotals(k, dict(zip(CLASSES, v, strict=True))) for k, v in acc.items()]

    async def session_totals(self, scope: Scope, start: datetime, end: datetime, *, by: str) -> builtins.list[SessionTotals]:
        acc: dict[Any, list[int]] = {}
        for key, value in self._selected(self.sessions, scope, start, end):
            row = acc.setdefault(self._group_key(key, by), [0] * 5)
            for n, v in enumerate(value):
                row[n] += v
        return [SessionTotals(k, *v) for k, v in acc.items()]

    async def revenue_totals(self, scope: Scope, start: datetime, end: datetime) -> builtins.list[RevenueTotals]:
        acc: dict[tuple[Any, str], list[int]] = {}
        for key, value in self._selected(self.revenue, scope, start, end):
            row = acc.setdefault((key[0], key[4]), [0, 0, 0])
            for n, v in enumerate(value):
                row[n] += v
        return [RevenueTotals(k[0], k[1], *v) for k, v in acc.items()]

    async def fault_totals(self, scope: Scope, start: datetime, end: datetime) -> builtins.list[FaultTotals]:
        acc: dict[tuple[str, str, str], int] = {}
        for key, value in self._selected(self.faults, scope, start, end):
            acc[key[4:7]] = acc.get(key[4:7], 0) + value
        return [FaultTotals(*k, v) for k, v in acc.items()]

    async def token_totals(self, scope: Scope, start: datetime, end: datetime, limit: int) -> builtins.list[TokenTotals]:
        acc: dict[str, list[int]] = {}
        for key, value in self._selected(self.tokens, scope, start, end):
            row = acc.setdefault(key[4], [0, 0])
            row[0] += value[0]
            row[1] += value[1]
        ordered = sorted(acc.items(), key=lambda kv: (-kv[1][1], kv[0]))
        return [TokenTotals(k, v[0], v[1]) for k, v in ordered[:limit]]

    async def report_sent(self, site_id: str, month: str) -> bool:
        return (site_id, month) in self.mails

    async def mark_report_sent(self, site_id: str, month: str, at: datetime) -> None:
        self.mails.setdefault((site_id, month), at)


__all__ = [
    "BillingChargeLookup",
    "ChargeStatus",
    "MemoryAnalyticsRepository",
    "SqlAnalyticsRepository",
    "StatusClass",
]
