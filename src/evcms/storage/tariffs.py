"""Tariffs and tariff assignments: SQL repository and its in-memory twin.

``tariffs`` keeps every version of every tariff (primary key id, version) with the OCPI JSON
text exactly as imported; ``tariff_assignments`` one row per scope (``default`` with scope_id
'', ``site`` / ``station`` with their id). Both implement ``services.tariffs.TariffRepository``.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.ids import SiteId, StationId
from evcms.services.tariffs import AssignmentScope, StoredTariff, TariffAssignment
from evcms.storage._sql import SqlRepository, ordered, upsert, utc
from evcms.storage.tables import tariff_assignments, tariffs

_DEFAULT_SCOPE_ID = ""  # primary key columns cannot be NULL


def _stored(row: Row[Any]) -> StoredTariff:
    return StoredTariff(
        id=row.id,
        version=row.version,
        name=row.name,
        currency=row.currency,
        time_zone=row.time_zone,
        ocpi=row.ocpi,
        created_at=row.created_at,
    )


def _candidates(station_id: StationId, site_id: SiteId | None) -> list[tuple[AssignmentScope, str]]:
    """The scopes that may apply to a station, the most specific first."""
    found = [(AssignmentScope.STATION, str(station_id))]
    if site_id is not None:
        found.append((AssignmentScope.SITE, str(site_id)))
    found.append((AssignmentScope.DEFAULT, _DEFAULT_SCOPE_ID))
    return found


def _scope_id(scope: AssignmentScope, scope_id: str | None) -> str:
    if AssignmentScope(scope) is AssignmentScope.DEFAULT:
        return _DEFAULT_SCOPE_ID
    if not scope_id:
        raise ValueError(f"a {scope} assignment needs a scope_id")
    return scope_id


# -- SQL --------------------------------------------------------------------------------------


class SqlTariffRepository(SqlRepository):
    async def add_version(
        self,
        tariff_id: str,
        *,
        name: str,
        currency: str,
        time_zone: str,
        ocpi: str,
        at: datetime,
    ) -> StoredTariff:
        at = utc(at)

        async def op(conn: AsyncConnection) -> StoredTariff:
            last = await conn.scalar(
                select(func.max(tariffs.c.version)).where(tariffs.c.id == tariff_id)
            )
            stored = StoredTariff(
                id=tariff_id,
                version=(last or 0) + 1,
                name=name,
                currency=currency,
                time_zone=time_zone,
                ocpi=ocpi,
                created_at=at,
            )
            await conn.execute(
                tariffs.insert(),
                {c.name: getattr(stored, c.name) for c in tariffs.columns},
            )
            return stored

        result: StoredTariff = await self._writer.submit(op)
        return result

    async def latest(self, tariff_id: str) -> StoredTariff | None:
        query = (
            select(tariffs)
            .where(tariffs.c.id == tariff_id)
            .order_by(tariffs.c.version.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored(row)

    async def get(self, tariff_id: str, version: int) -> StoredTariff | None:
        query = select(tariffs).where(tariffs.c.id == tariff_id, tariffs.c.version == version)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored(row)

    async def list(self) -> builtins.list[StoredTariff]:
        last = (
            select(tariffs.c.id, func.max(tariffs.c.version).label("version"))
            .group_by(tariffs.c.id)
            .subquery()
        )
        query = (
            select(tariffs)
            .join(last, and_(tariffs.c.id == last.c.id, tariffs.c.version == last.c.version))
            .order_by(ordered(tariffs.c.id, self._dialect))
        )
        async with self._engine.connect() as conn:
            return [_stored(row) for row in await conn.execute(query)]

    async def assign(
        self, scope: AssignmentScope, scope_id: str | None, tariff_id: str, *, at: datetime
    ) -> None:
        row = {
            "scope": AssignmentScope(scope).value,
            "scope_id": _scope_id(scope, scope_id),
            "tariff_id": tariff_id,
            "since": utc(at),
        }
        await self._writer.execute(upsert(self._dialect, tariff_assignments, ["scope", "scope_id"]), row)

    async def assignment_for(
        self, station_id: StationId, site_id: SiteId | None
    ) -> TariffAssignment | None:
        candidates = _candidates(station_id, site_id)
        a = tariff_assignments.c
        latest = (
            select(func.max(tariffs.c.version))
            .where(tariffs.c.id == a.tariff_id)
            .scalar_subquery()
            .label("version")
        )
        query = select(a.scope, a.scope_id, a.tariff_id, a.since, latest).where(
            or_(*(and_(a.scope == s.value, a.scope_id == i) for s, i in candidates))
        )
        async with self._engine.connect() as conn:
            rows = {AssignmentScope(r.scope): r for r in await conn.execute(query)}
        for scope, _ in candidates:
            row = rows.get(scope)
            if row is not None and row.version is not None:
                return TariffAssignment(
                    scope=scope,
                    scope_id=row.scope_id or None,
                    tariff_id=row.tariff_id,
                    version=row.version,
                    since=row.since,
                )
        return None


# -- memory -----------------------------------------------------------------------------------


class MemoryTariffRepository:
    """Twin of :class:`SqlTariffRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.versions: dict[str, builtins.list[StoredTariff]] = {}
        self.assignments: dict[tuple[AssignmentScope, str], tuple[str, datetime]] = {}

    async def add_version(
        self,
        tariff_id: str,
        *,
        name: str,
        currency: str,
        time_zone: str,
        ocpi: str,
        at: datetime,
    ) -> StoredTariff:
        versions = self.versions.setdefault(tariff_id, [])
        stored = StoredTariff(
            id=tariff_id,
            version=len(versions) + 1,
            name=name,
            currency=currency,
            time_zone=time_zone,
            ocpi=ocpi,
            created_at=utc(at),
        )
        versions.append(stored)
        return stored

    async def latest(self, tariff_id: str) -> StoredTariff | None:
        versions = self.versions.get(tariff_id)
        return versions[-1] if versions else None

    async def get(self, tariff_id: str, version: int) -> StoredTariff | None:
        for stored in self.versions.get(tariff_id, []):
            if stored.version == version:
                return stored
        return None

    async def list(self) -> builtins.list[StoredTariff]:
        return [self.versions[k][-1] for k in sorted(self.versions) if self.versions[k]]

    async def assign(
        self, scope: AssignmentScope, scope_id: str | None, tariff_id: str, *, at: datetime
    ) -> None:
        key = (AssignmentScope(scope), _scope_id(scope, scope_id))
        self.assignments[key] = (tariff_id, utc(at))

    async def assignment_for(
        self, station_id: StationId, site_id: SiteId | None
    ) -> TariffAssignment | None:
        for scope, scope_id in _candidates(station_id, site_id):
            found = self.assignments.get((scope, scope_id))
            if found is None:
                continue
            tariff_id, since = found
            latest = await self.latest(tariff_id)
            if latest is None:
                continue
            return TariffAssignment(
                scope=scope,
                scope_id=scope_id or None,
                tariff_id=tariff_id,
                version=latest.version,
                since=since,
            )
        return None
