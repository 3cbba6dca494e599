"""Firmware files, updates and rollouts: the SQL repository and its in-memory twin (both
implement ``services.firmware.FirmwareRepository`` and pass the same contract tests).

Saving an update is refused once the stored one is final (installed, failed, timed out), so a
late status, the timeout sweep and the rollout never overwrite a final outcome.
"""

from __future__ import annotations

import builtins
import itertools
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.firmware import (
    FINAL_UPDATE_STATES,
    FirmwareFile,
    FirmwareUpdate,
    MemberState,
    Rollout,
    RolloutMember,
    RolloutStatus,
    UpdateState,
)
from evcms.domain.ids import StationId
from evcms.storage._sql import SqlRepository, utc, utc_or_none
from evcms.storage.tables import (
    firmware_files,
    firmware_rollout_stations,
    firmware_rollouts,
    firmware_updates,
)

_FINAL = sorted(s.value for s in FINAL_UPDATE_STATES)

# -- rows -------------------------------------------------------------------------------------


def _file(row: Row[Any]) -> FirmwareFile:
    return FirmwareFile(
        id=row.id,
        version=row.version,
        file_name=row.file_name,
        size=row.size,
        sha256=row.sha256,
        md5=row.md5,
        created_at=row.created_at,
        models=tuple(json.loads(row.models)),
        signing_certificate=row.signing_certificate,
        signature=row.signature,
        notes=row.notes,
        created_by=row.created_by,
        file_key=row.file_key,
    )


def _file_row(file: FirmwareFile) -> dict[str, Any]:
    return {
        "version": file.version,
        "file_name": file.file_name,
        "size": file.size,
        "sha256": file.sha256,
        "md5": file.md5,
        "models": json.dumps(list(file.models)),
        "signing_certificate": file.signing_certificate,
        "signature": file.signature,
        "notes": file.notes,
        "created_by": file.created_by,
        "file_key": file.file_key,
        "created_at": utc(file.created_at),
    }


_UPDATE_FIELDS = (
    "station_id", "firmware_id", "ocpp_version", "token", "state", "requested_by", "retries",
    "retry_interval", "rollout_id", "station_status", "detail", "downloads",
)
_UPDATE_TIMES = ("token_expires_at", "retrieve_at", "deadline", "created_at", "updated_at")
_UPDATE_OPTIONAL_TIMES = ("install_at", "station_status_at")


def _update(row: Row[Any]) -> FirmwareUpdate:
    values = {name: getattr(row, name) for name in (*_UPDATE_FIELDS, *_UPDATE_TIMES, *_UPDATE_OPTIONAL_TIMES)}
    values["state"] = UpdateState(values["state"])
    return FirmwareUpdate(id=row.id, **values)


def _update_row(update: FirmwareUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(update, name) for name in _UPDATE_FIELDS}
    values["state"] = UpdateState(update.state).value
    values.update({name: utc(getattr(update, name)) for name in _UPDATE_TIMES})
    values.update({name: utc_or_none(getattr(update, name)) for name in _UPDATE_OPTIONAL_TIMES})
    return values


_ROLLOUT_FIELDS = (
    "firmware_id", "status", "wave_size", "max_failure_rate", "wave_timeout", "current_wave",
    "created_by", "target", "retries", "retry_interval", "force", "detail",
)


def _rollout(row: Row[Any]) -> Rollout:
    values = {name: getattr(row, name) for name in _ROLLOUT_FIELDS}
    values["status"] = RolloutStatus(values["status"])
    values["force"] = bool(values["force"])
    values["max_failure_rate"] = Decimal(values["max_failure_rate"]).normalize()
    return Rollout(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        wave_started_at=row.wave_started_at,
        **values,
    )


def _rollout_row(rollout: Rollout) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(rollout, name) for name in _ROLLOUT_FIELDS}
    values["status"] = RolloutStatus(rollout.status).value
    values["created_at"] = utc(rollout.created_at)
    values["updated_at"] = utc(rollout.updated_at)
    values["wave_started_at"] = utc_or_none(rollout.wave_started_at)
    return values


def _member(row: Row[Any]) -> RolloutMember:
    return RolloutMember(
        station_id=row.station_id,
        wave=row.wave,
        state=MemberState(row.state),
        update_id=row.update_id,
        station_status=row.station_status,
        detail=row.detail,
    )


def _member_values(member: RolloutMember) -> dict[str, Any]:
    return {
        "state": MemberState(member.state).value,
        "update_id": member.update_id,
        "station_status": member.station_status,
        "detail": member.detail,
        "wave": member.wave,
    }


# -- SQL --------------------------------------------------------------------------------------


class SqlFirmwareRepository(SqlRepository):
    async def _insert(self, table: Any, values: dict[str, Any], convert: Any) -> Any:
        async def op(conn: AsyncConnection) -> Any:
            new_id = await conn.scalar(insert(table).values(values).returning(table.c.id))
            return convert((await conn.execute(select(table).where(table.c.id == new_id))).one())

        return await self._writer.submit(op)

    async def _select(self, query: Any, convert: Any) -> builtins.list[Any]:
        async with self._engine.connect() as conn:
            return [convert(row) for row in await conn.execute(query)]

    # files
    async def add_file(self, file: FirmwareFile) -> FirmwareFile:
        result: FirmwareFile = await self._insert(firmware_files, _file_row(file), _file)
        return result

    async def get_file(self, firmware_id: int) -> FirmwareFile | None:
        found = await self._select(select(firmware_files).where(firmware_files.c.id == firmware_id), _file)
        return found[0] if found else None

    async def list_files(self) -> builtins.list[FirmwareFile]:
        return await self._select(select(firmware_files).order_by(firmware_files.c.id.desc()), _file)

    async def delete_file(self, firmware_id: int) -> bool:
        statement = delete(firmware_files).where(firmware_files.c.id == firmware_id)

        async def op(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(statement)).rowcount)

        result: bool = await self._writer.submit(op)
        return result

    # updates
    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        result: FirmwareUpdate = await self._insert(firmware_updates, _update_row(update), _update)
        return result

    async def get_update(self, update_id: int) -> FirmwareUpdate | None:
        found = await self._select(select(firmware_updates).where(firmware_updates.c.id == update_id), _update)
        return found[0] if found else None

    async def update_by_token(self, token: str) -> FirmwareUpdate | None:
        found = await self._select(select(firmware_updates).where(firmware_updates.c.token == token), _update)
        return found[0] if found else None

    async def save_update(self, changed: FirmwareUpdate) -> bool:
        c = firmware_updates.c
        values = _update_row(changed)
        values.pop("downloads")
        statement = (
            update(firmware_updates).where(c.id == changed.id, c.state.not_in(_FINAL)).values(values)
        )

        async def op(conn: AsyncConnection) -> bool:
            return bool((await conn.execute(statement)).rowcount)

        result: bool = await self._writer.submit(op)
        return result

    async def count_download(self, update_id: int) -> None:
        c = firmware_updates.c
        statement = update(firmware_updates).where(c.id == update_id).values(downloads=c.downloads + 1)

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement)

        await self._writer.submit(op)

    async def open_updates(self, station_id: StationId | None = None) -> builtins.list[FirmwareUpdate]:
        c = firmware_updates.c
        query = select(firmware_updates).where(c.state.not_in(_FINAL)).order_by(c.id.desc())
        if station_id is not None:
            query = query.where(c.station_id == station_id)
        return await self._select(query, _update)

    async def list_updates(
        self,
        *,
        station_id: StationId | None = None,
        rollout_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[FirmwareUpdate]:
        if limit <= 0:
            return []
        c = firmware_updates.c
        query = select(firmware_updates).order_by(c.id.desc()).limit(limit)
        if station_id is not None:
            query = query.where(c.station_id == station_id)
        if rollout_id is not None:
            query = query.where(c.rollout_id == rollout_id)
        if before_id is not None:
            query = query.where(c.id < before_id)
        return await self._select(query, _update)

    async def uses(self, firmware_id: int) -> bool:
        u, r = firmware_updates.c, firmware_rollouts.c
        async with self._engine.connect() as conn:
            updates = await conn.scalar(
                select(func.count()).where(u.firmware_id == firmware_id, u.state.not_in(_FINAL))
            )
            rollouts = await conn.scalar(
                select(func.count()).where(
                    r.firmware_id == firmware_id, r.status == RolloutStatus.RUNNING.value
                )
            )
        return bool(updates) or bool(rollouts)

    # rollouts
    async def add_rollout(self, rollout: Rollout, members: Sequence[RolloutMember]) -> Rollout:
        values = _rollout_row(rollout)
        rows = [
            {"station_id": m.station_id, "position": n, **_member_values(m)}
            for n, m in enumerate(members)
        ]

        async def op(conn: AsyncConnection) -> Rollout:
            new_id = await conn.scalar(insert(firmware_rollouts).values(values).returning(firmware_rollouts.c.id))
            if rows:
                await conn.execute(
                    insert(firmware_rollout_stations), [{**row, "rollout_id": new_id} for row in rows]
                )
            row = (await conn.execute(select(firmware_rollouts).where(firmware_rollouts.c.id == new_id))).one()
            return _rollout(row)

        result: Rollout = await self._writer.submit(op)
        return result

    async def get_rollout(self, rollout_id: int) -> Rollout | None:
        found = await self._select(select(firmware_rollouts).where(firmware_rollouts.c.id == rollout_id), _rollout)
        return found[0] if found else None

    async def list_rollouts(
        self, *, firmware_id: int | None = None, status: RolloutStatus | None = None
    ) -> builtins.list[Rollout]:
        c = firmware_rollouts.c
        query = select(firmware_rollouts).order_by(c.id.desc())
        if firmware_id is not None:
            query = query.where(c.firmware_id == firmware_id)
        if status is not None:
            query = query.where(c.status == RolloutStatus(status).value)
        return await self._select(query, _rollout)

    async def save_rollout(self, rollout: Rollout) -> None:
        statement = (
            update(firmware_rollouts)
            .where(firmware_rollouts.c.id == rollout.id)
            .values(_rollout_row(rollout))
        )

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement)

        await self._writer.submit(op)

    async def members(self, rollout_id: int) -> builtins.list[RolloutMember]:
        c = firmware_rollout_stations.c
        query = (
            select(firmware_rollout_stations)
            .where(c.rollout_id == rollout_id)
            .order_by(c.wave, c.position)
        )
        return await self._select(query, _member)

    async def save_members(self, rollout_id: int, members: Sequence[RolloutMember]) -> None:
        if not members:
            return
        c = firmware_rollout_stations.c
        statements = [
            update(firmware_rollout_stations)
            .where(c.rollout_id == rollout_id, c.station_id == m.station_id)
            .values(_member_values(m))
            for m in members
        ]

        async def op(conn: AsyncConnection) -> None:
            for statement in statements:
                await conn.execute(statement)

        await self._writer.submit(op)


# -- memory -----------------------------------------------------------------------------------


class MemoryFirmwareRepository:
    """The in-memory twin: the same contract, for tests that are not about storage."""

    def __init__(self) -> None:
        self.files: dict[int, FirmwareFile] = {}
        self.updates: dict[int, FirmwareUpdate] = {}
        self.rollouts: dict[int, Rollout] = {}
        self.rollout_members: dict[int, builtins.list[RolloutMember]] = {}
        self._file_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._rollout_ids = itertools.count(1)

    async def add_file(self, file: FirmwareFile) -> FirmwareFile:
        stored = file.replace(id=next(self._file_ids), created_at=utc(file.created_at))
        self.files[stored.id] = stored
        return stored

    async def get_file(self, firmware_id: int) -> FirmwareFile | None:
        return self.files.get(firmware_id)

    async def list_files(self) -> builtins.list[FirmwareFile]:
        return sorted(self.files.values(), key=lambda f: f.id, reverse=True)

    async def delete_file(self, firmware_id: int) -> bool:
        return self.files.pop(firmware_id, None) is not None

    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        if any(u.token == update.token for u in self.updates.values()):
            raise ValueError("duplicate download token")
        stored = FirmwareUpdate(id=next(self._update_ids), **_update_row(update))
        stored = stored.replace(state=UpdateState(stored.state))
        self.updates[stored.id] = stored
        return stored

    async def get_update(self, update_id: int) -> FirmwareUpdate | None:
        return self.updates.get(update_id)

    async def update_by_token(self, token: str) -> FirmwareUpdate | None:
        return next((u for u in self.updates.values() if u.token == token), None)

    async def save_update(self, changed: FirmwareUpdate) -> bool:
        current = self.updates.get(changed.id)
        if current is None or current.finished:
            return False
        values = _update_row(changed)
        values["downloads"] = current.downloads
        values["state"] = UpdateState(values["state"])
        self.updates[changed.id] = FirmwareUpdate(id=changed.id, **values)
        return True

    async def count_download(self, update_id: int) -> None:
        current = self.updates.get(update_id)
        if current is not None:
            self.updates[update_id] = current.replace(downloads=current.downloads + 1)

    async def open_updates(self, station_id: StationId | None = None) -> builtins.list[FirmwareUpdate]:
        found = [
            u
            for u in self.updates.values()
            if not u.finished and (station_id is None or u.station_id == station_id)
        ]
        return sorted(found, key=lambda u: u.id, reverse=True)

    async def list_updates(
        self,
        *,
        station_id: StationId | None = None,
        rollout_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[FirmwareUpdate]:
        found = [
            u
            for u in self.updates.values()
            if (station_id is None or u.station_id == station_id)
            and (rollout_id is None or u.rollout_id == rollout_id)
            and (before_id is None or u.id < before_id)
        ]
        return sorted(found, key=lambda u: u.id, reverse=True)[: max(limit, 0)]

    async def uses(self, firmware_id: int) -> bool:
        return any(
            u.firmware_id == firmware_id and not u.finished for u in self.updates.values()
        ) or any(
            r.firmware_id == firmware_id and r.status is RolloutStatus.RUNNING
            for r in self.rollouts.values()
        )

    async def add_rollout(self, rollout: Rollout, members: Sequence[RolloutMember]) -> Rollout:
        stored = _normal_rollout(rollout.replace(id=next(self._rollout_ids)))
        self.rollouts[stored.id] = stored
        self.rollout_members[stored.id] = list(members)
        return stored

    async def get_rollout(self, rollout_id: int) -> Rollout | None:
        return self.rollouts.get(rollout_id)

    async def list_rollouts(
        self, *, firmware_id: int | None = None, status: RolloutStatus | None = None
    ) -> builtins.list[Rollout]:
        found = [
            r
            for r in self.rollouts.values()
            if (firmware_id is None or r.firmware_id == firmware_id)
            and (status is None or r.status is RolloutStatus(status))
        ]
        return sorted(found, key=lambda r: r.id, reverse=True)

    async def save_rollout(self, rollout: Rollout) -> None:
        if rollout.id in self.rollouts:
            self.rollouts[rollout.id] = _normal_rollout(rollout)

    async def members(self, rollout_id: int) -> builtins.list[RolloutMember]:
        members = self.rollout_members.get(rollout_id, [])
        order = {m.station_id: n for n, m in enumerate(members)}
        return sorted(members, key=lambda m: (m.wave, order[m.station_id]))

    async def save_members(self, rollout_id: int, members: Sequence[RolloutMember]) -> None:
        current = self.rollout_members.get(rollout_id)
        if current is None:
            return
        changed = {m.station_id: m for m in members}
        self.rollout_members[rollout_id] = [changed.get(m.station_id, m) for m in current]


def _normal_rollout(rollout: Rollout) -> Rollout:
    values = _rollout_row(rollout)
    return rollout.replace(
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        wave_started_at=values["wave_started_at"],
        max_failure_rate=Decimal(rollout.max_failure_rate).normalize(),
    )
