"""SQL repositories (SQLite and PostgreSQL): writes through the :class:`Writer`, reads on the engine.

Every write method returns only after its transaction is committed (group commit makes that
cheap). Errors are the ports' ``AlreadyExists`` / ``NotFound``; a reference to a site that does
not exist is ``NotFound`` too (its message names the site).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.access import ApiKey, Role
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import (
    ConnectorState,
    ConnectorStatus,
    Presence,
    RegistrationStatus,
    Site,
    Station,
    StationInfo,
)
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage._sql import SqlRepository, ordered, upsert, utc, utc_or_none
from evcms.storage.tables import api_keys, connector_states, sites, station_presence, stations

# -- sites ------------------------------------------------------------------------------------


def _site_from_row(row: Row[Any]) -> Site:
    return Site(
        id=SiteId(row.id),
        name=row.name,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
    )


def _site_values(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
    }


class SqlSiteRepository(SqlRepository):
    async def add(self, site: Site) -> None:
        values = {"id": site.id, **_site_values(site), "created_at": self._clock.now()}

        async def op(conn: AsyncConnection) -> None:
            if await conn.scalar(select(exists().where(sites.c.id == site.id))):
                raise AlreadyExists(f"site {site.id!r} already exists")
            await conn.execute(insert(sites).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # added concurrently by another node
            raise AlreadyExists(f"site {site.id!r} already exists") from exc

    async def get(self, site_id: SiteId) -> Site | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(sites).where(sites.c.id == site_id))).first()
        return None if row is None else _site_from_row(row)

    async def list(self) -> builtins.list[Site]:
        query = select(sites).order_by(ordered(sites.c.id, self._dialect))
        async with self._engine.connect() as conn:
            return [_site_from_row(row) for row in await conn.execute(query)]

    async def update(self, site: Site) -> None:
        async def op(conn: AsyncConnection) -> None:
            result = await conn.execute(
                update(sites).where(sites.c.id == site.id).values(_site_values(site))
            )
            if result.rowcount == 0:
                raise NotFound(f"site {site.id!r} does not exist")

        await self._writer.submit(op)

    async def delete(self, site_id: SiteId) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            result = await conn.execute(delete(sites).where(sites.c.id == site_id))
            return result.rowcount > 0

        return await self._writer.submit(op)


# -- stations ---------------------------------------------------------------------------------

_INFO_COLUMNS = (
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
)


def _info_values(info: StationInfo | None) -> dict[str, Any]:
    if info is None:
        return dict.fromkeys(_INFO_COLUMNS)
    return {column: getattr(info, column) for column in _INFO_COLUMNS}


def _station_from_row(row: Row[Any]) -> Station:
    info = None
    if row.vendor is not None or row.model is not None:
        info = StationInfo(**{column: getattr(row, column) for column in _INFO_COLUMNS})
    return Station(
        id=StationId(row.id),
        created_at=row.created_at,
        site_id=None if row.site_id is None else SiteId(row.site_id),
        name=row.name,
        registration=RegistrationStatus(row.registration),
        password_hash=row.password_hash,
        info=info,
        ocpp_version=row.ocpp_version,
        last_boot_at=row.last_boot_at,
    )


def _station_values(station: Station) -> dict[str, Any]:
    """The columns ``update`` replaces (everything but id and created_at)."""
    return {
        "site_id": station.site_id,
        "name": station.name,
        "registration": station.registration.value,
        "password_hash": station.password_hash,
        "ocpp_version": station.ocpp_version,
        **_info_values(station.info),
        "last_boot_at": utc_or_none(station.last_boot_at),
    }


_CONNECTOR_KEY = ("station_id", "evse_id", "connector_id")


def _connector_values(state: ConnectorState) -> dict[str, Any]:
    return {
        "station_id": state.station_id,
        "evse_id": state.evse_id,
        "connector_id": state.connector_id,
        "status": state.status.value,
        "error_code": state.error_code,
        "info": state.info,
        "vendor_id": state.vendor_id,
        "vendor_error_code": state.vendor_error_code,
        "updated_at": utc(state.updated_at),
    }


def _connector_from_row(row: Row[Any]) -> ConnectorState:
    return ConnectorState(
        station_id=StationId(row.station_id),
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=ConnectorStatus(row.status),
        updated_at=row.updated_at,
        error_code=row.error_code,
        info=row.info,
        vendor_id=row.vendor_id,
        vendor_error_code=row.vendor_error_code,
    )


def _presence_values(presence: Presence) -> dict[str, Any]:
    return {
        "station_id": presence.station_id,
        "connected": presence.connected,
        "connected_since": utc_or_none(presence.connected_since),
        "last_message_at": utc_or_none(presence.last_message_at),
        "ocpp_version": presence.ocpp_version,
    }


def _presence_from_row(row: Row[Any]) -> Presence:
    return Presence(
        station_id=StationId(row.station_id),
        connected=row.connected,
        connected_since=row.connected_since,
        last_message_at=row.last_message_at,
        ocpp_version=row.ocpp_version,
    )


async def _require_site(conn: AsyncConnection, site_id: SiteId | None) -> None:
    if site_id is not None and not await conn.scalar(select(exists().where(sites.c.id == site_id))):
        raise NotFound(f"site {site_id!r} does not exist")


class SqlStationRepository(SqlRepository):
    async def add(self, station: Station) -> None:
        now = self._clock.now()
        values = {
            "id": station.id,
            **_station_values(station),
            "created_at": utc(station.created_at),
            "updated_at": now,
        }

        async def op(conn: AsyncConnection) -> None:
            if await conn.scalar(select(exists().where(stations.c.id == station.id))):
                raise AlreadyExists(f"station {station.id!r} already exists")
            await _require_site(conn, station.site_id)
            await conn.execute(insert(stations).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # added concurrently by another node
            raise AlreadyExists(f"station {station.id!r} already exists") from exc

    async def get(self, station_id: StationId) -> Station | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(stations).where(stations.c.id == station_id))).first()
        return None if row is None else _station_from_row(row)

    async def list(self, site_id: SiteId | None = None) -> builtins.list[Station]:
        query = select(stations).order_by(ordered(stations.c.id, self._dialect))
        if site_id is not None:
            query = query.where(stations.c.site_id == site_id)
        async with self._engine.connect() as conn:
            return [_station_from_row(row) for row in await conn.execute(query)]

    async def update(self, station: Station) -> None:
        values = {**_station_values(station), "updated_at": self._clock.now()}

        async def op(conn: AsyncConnection) -> None:
            await _require_site(conn, station.site_id)
            result = await conn.execute(
                update(stations).where(stations.c.id == station.id).values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"station {station.id!r} does not exist")

        await self._writer.submit(op)

    async def delete(self, station_id: StationId) -> bool:
        async def op(conn: AsyncConnection) -> bool:
            # Connector states and presence go with it (ON DELETE CASCADE).
            result = await conn.execute(delete(stations).where(stations.c.id == station_id))
            return result.rowcount > 0

        return await self._writer.submit(op)

    async def record_boot(
        self, station_id: StationId, info: StationInfo, ocpp_version: str, at: datetime
    ) -> None:
        values = {
            **_info_values(info),
            "ocpp_version": ocpp_version,
            "last_boot_at": utc(at),
            "updated_at": self._clock.now(),
        }

        async def op(conn: AsyncConnection) -> None:
            result = await conn.execute(
                update(stations).where(stations.c.id == station_id).values(values)
            )
            if result.rowcount == 0:
                raise NotFound(f"station {station_id!r} does not exist")

        await self._writer.submit(op)

    async def save_connector_state(self, state: ConnectorState) -> None:
        """Upsert; ``NotFound`` when the station does not exist."""
        statement = upsert(self._dialect, connector_states, _CONNECTOR_KEY)
        try:
            await self._writer.execute(statement, _connector_values(state))
        except IntegrityError as exc:  # the only constraint that can fail: the station's FK
            raise NotFound(f"station {state.station_id!r} does not exist") from exc

    async def connector_states(self, station_id: StationId) -> builtins.list[ConnectorState]:
        query = (
            select(connector_states)
            .where(connector_states.c.station_id == station_id)
            .order_by(connector_states.c.evse_id, connector_states.c.connector_id)
        )
        async with self._engine.connect() as conn:
            return [_connector_from_row(row) for row in await conn.execute(query)]

    async def save_presence(self, presences: Sequence[Presence]) -> None:
        """Upsert many. Presences of stations that do not exist (deleted meanwhile) are ignored,
        so one vanished station never fails the batch of the others."""
        rows = list({p.station_id: _presence_values(p) for p in presences}.values())
        if not rows:
            return

        statement = upsert(self._dialect, station_presence, ("station_id",))

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement, rows)

        async def op_known_only(conn: AsyncConnection) -> None:
            ids = [row["station_id"] for row in rows]
            query = select(stations.c.id).where(stations.c.id.in_(ids))
            known = set((await conn.execute(query)).scalars())
            kept = [row for row in rows if row["station_id"] in known]
            if kept:
                await conn.execute(statement, kept)

        try:
            await self._writer.submit(op)
        except IntegrityError:
            await self._writer.submit(op_known_only)

    async def presence(self, station_id: StationId) -> Presence | None:
        query = select(station_presence).where(station_presence.c.station_id == station_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _presence_from_row(row)

    async def mark_all_disconnected(self, at: datetime) -> None:
        """At start-up: no station is connected to a process that just started. Connected
        stations become disconnected (``connected_since`` cleared); ``last_message_at`` is kept.
        ``at`` is checked (aware) but not stored: the schema has no disconnected-at column."""
        utc(at)

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(
                update(station_presence)
                .where(station_presence.c.connected.is_(True))
                .values(connected=False, connected_since=None)
            )

        await self._writer.submit(op)


# -- API keys ---------------------------------------------------------------------------------


def _api_key_from_row(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        revoked=row.revoked,
    )


class SqlApiKeyRepository(SqlRepository):
    async def add(self, key: ApiKey) -> None:
        """``AlreadyExists`` when the id or the secret hash is taken."""
        values = {
            "id": key.id,
            "name": key.name,
            "role": key.role.value,
            "secret_hash": key.secret_hash,
            "created_at": utc(key.created_at),
            "revoked": key.revoked,
        }

        async def op(conn: AsyncConnection) -> None:
            taken = (api_keys.c.id == key.id) | (api_keys.c.secret_hash == key.secret_hash)
            if await conn.scalar(select(exists().where(taken))):
                raise AlreadyExists(f"API key {key.id!r} (or its secret) already exists")
            await conn.execute(insert(api_keys).values(values))

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:
            raise AlreadyExists(f"API key {key.id!r} (or its secret) already exists") from exc

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.secret_hash == secret_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _api_key_from_row(row)

    async def list(self) -> builtins.list[ApiKey]:
        query = select(api_keys).order_by(
            api_keys.c.created_at, ordered(api_keys.c.id, self._dialect)
        )
        async with self._engine.connect() as conn:
            return [_api_key_from_row(row) for row in await conn.execute(query)]

    async def revoke(self, key_id: str) -> bool:
        """True when the key exists (revoking a revoked key is a no-op that returns True)."""

        async def op(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(revoked=True)
            )
            return result.rowcount > 0

        return await self._writer.submit(op)
