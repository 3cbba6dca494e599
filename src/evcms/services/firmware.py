"""Firmware files, UpdateFirmware to one station, and rollouts in waves.

Files: operators upload them (``add_file``: size, SHA-256 and MD5 computed while storing);
stations download them over a token URL of their update (``download``). An update
(``update_station``) sends UpdateFirmware with that URL and follows FirmwareStatusNotification
(``status_reported``) to Installed or a failure; an update with no final status by its deadline
times out (``expire_due``). A reboot with the new version after Installing counts as Installed.

Rollouts: the stations are split into waves (``domain.firmware.plan_waves``); ``advance`` does
what ``domain.firmware.next_step`` says (start the next wave, wait, halt, complete). Rollout
state is in the database: ``advance_all`` (a chore, and at start-up) resumes running rollouts.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import secrets
from collections.abc import AsyncIterable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

from evcms.domain.events import Event, FirmwareStatusChanged, StationBooted
from evcms.domain.firmware import (
    FAILURE_STATUSES,
    FirmwareFile,
    FirmwareUpdate,
    InvalidRollout,
    MemberState,
    Rollout,
    RolloutMember,
    RolloutStatus,
    StepKind,
    UpdateState,
    answer_state,
    check_parameters,
    fits,
    installed_by_boot,
    member_state,
    next_step,
    normal_models,
    plan_waves,
    report_status,
    timed_out,
)
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import Station
from evcms.services.diagnostics import V16, MaintenanceCommands
from evcms.services.files import FileStore
from evcms.services.ports import (
    Clock,
    CommandOutcome,
    EventBus,
    NotFound,
    ServiceError,
    StationRepository,
)

log = logging.getLogger(__name__)

TIMED_OUT_STATUS = "TimedOut"  # the status of FirmwareStatusChanged when evcms gave up waiting
_OUTCOME_STATUS = {  # UpdateFirmware without a result -> the HTTP-like status of the refusal
    CommandOutcome.ERROR: 502,
    CommandOutcome.TIMEOUT: 504,
    CommandOutcome.DISCONNECTED: 409,
    CommandOutcome.REJECTED: 422,
}


class FirmwareRepository(Protocol):
    # files
    async def add_file(self, file: FirmwareFile) -> FirmwareFile: ...  # id assigned

    async def get_file(self, firmware_id: int) -> FirmwareFile | None: ...

    async def list_files(self) -> builtins.list[FirmwareFile]: ...  # newest first

    async def delete_file(self, firmware_id: int) -> bool: ...

    # updates
    async def add_update(self, update: FirmwareUpdate) -> FirmwareUpdate: ...  # id assigned

    async def get_update(self, update_id: int) -> FirmwareUpdate | None: ...

    async def update_by_token(self, token: str) -> FirmwareUpdate | None: ...

    async def save_update(self, update: FirmwareUpdate) -> bool:
        """Store the update's changes unless the stored one is final already (then False)."""
        ...

    async def count_download(self, update_id: int) -> None: ...

    async def open_updates(
        self, station_id: StationId | None = None
    ) -> builtins.list[FirmwareUpdate]: ...  # not final, newest first

    async def list_updates(
        self,
        *,
        station_id: StationId | None = None,
        rollout_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[FirmwareUpdate]: ...  # newest first

    async def uses(self, firmware_id: int) -> bool:
        """An open update or a running rollout uses the file."""
        ...

    # rollouts
    async def add_rollout(
        self, rollout: Rollout, members: Sequence[RolloutMember]
    ) -> Rollout: ...  # id assigned

    async def get_rollout(self, rollout_id: int) -> Rollout | None: ...

    async def list_rollouts(
        self, *, firmware_id: int | None = None, status: RolloutStatus | None = None
    ) -> builtins.list[Rollout]: ...  # newest first

    async def save_rollout(self, rollout: Rollout) -> None: ...

    async def members(self, rollout_id: int) -> builtins.list[RolloutMember]: ...  # (wave, order)

    async def save_members(self, rollout_id: int, members: Sequence[RolloutMember]) -> None: ...


@dataclass(frozen=True, slots=True)
class FirmwarePolicy:
    max_file_bytes: int = 512 * 1024 * 1024
    update_timeout: timedelta = timedelta(hours=2)  # after the retrieve time
    token_margin: timedelta = timedelta(minutes=30)  # the download link outlives the deadline


@dataclass(frozen=True, slots=True)
class RolloutTarget:
    station_ids: tuple[str, ...] = ()
    site_id: str | None = None
    model: str | None = None

    def describe(self) -> str:
        if self.station_ids:
            return "stations " + ", ".join(self.station_ids)
        if self.site_id is not None:
            return f"site {self.site_id}"
        return f"model {self.model}"


@dataclass(frozen=True, slots=True)
class RolloutView:
    rollout: Rollout
    members: list[RolloutMember]


def _model(station: Station) -> str | None:
    return None if station.info is None else station.info.model


def firmware_key() -> str:
    return f"firmware/{uuid4().hex}"


class Firmware:
    def __init__(
        self,
        *,
        repository: FirmwareRepository,
        stations: StationRepository,
        files: FileStore,
        commands: MaintenanceCommands,
        events: EventBus,
        clock: Clock,
        base_url: Callable[[], str],
        policy: FirmwarePolicy | None = None,
    ) -> None:
        self._repo = repository
        self._stations = stations
        self._files = files
        self._commands = commands
        self._events = events
        self._clock = clock
        self._base_url = base_url
        self.policy = policy or FirmwarePolicy()
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- files ---------------------------------------------------------------------------------

    async def add_file(
        self,
        *,
        version: str,
        file_name: str,
        chunks: AsyncIterable[bytes],
        models: Sequence[str] = (),
        signing_certificate: str | None = None,
        signature: str | None = None,
        notes: str = "",
        created_by: str = "",
    ) -> FirmwareFile:
        if not version.strip():
            raise ServiceError("give the firmware's version", 422)
        key = firmware_key()
        stored = await self._files.save(key, chunks, self.policy.max_file_bytes)
        if stored.size == 0:
            await self._files.delete(key)
            raise ServiceError("the firmware file is empty", 422)
        try:
            return await self._repo.add_file(
                FirmwareFile(
                    id=0,
                    version=version.strip(),
                    file_name=file_name,
                    size=stored.size,
                    sha256=stored.sha256,
                    md5=stored.md5,
                    created_at=self._clock.now(),
                    models=normal_models(models),
                    signing_certificate=signing_certificate or None,
                    signature=signature or None,
                    notes=notes,
                    created_by=created_by,
                    file_key=key,
                )
            )
        except BaseException:
            await self._files.delete(key)
            raise

    async def file(self, firmware_id: int) -> FirmwareFile:
        found = await self._repo.get_file(firmware_id)
        if found is None:
            raise NotFound(f"no firmware {firmware_id}")
        return found

    async def files(self) -> builtins.list[FirmwareFile]:
        return await self._repo.list_files()

    async def delete_file(self, firmware_id: int) -> None:
        found = await self.file(firmware_id)
        if await self._repo.uses(firmware_id):
            raise ServiceError(
                f"firmware {firmware_id} is in use by a running rollout or an update in progress",
                409,
            )
        await self._repo.delete_file(firmware_id)
        await self._files.delete(found.file_key)

    def read(self, key: str) -> AsyncIterable[bytes]:
        return self._files.read(key)

    def local_path(self, key: str) -> Path | None:
        return self._files.local_path(key)

    def download_url(self, update: FirmwareUpdate, firmware: FirmwareFile) -> str:
        return f"{self._base_url().rstrip('/')}/firmware-files/{update.token}/{firmware.file_name}"

    async def download(
        self, token: str, *, count: bool = True
    ) -> tuple[FirmwareUpdate, FirmwareFile]:
        """What a station fetching its update's file gets (any number of times until the link
        expires: stations retry and resume)."""
        update = await self._repo.update_by_token(token)
        if update is None:
            raise NotFound("unknown download link")
        if self._clock.now() >= update.token_expires_at:
            raise ServiceError("this download link has expired", 410)
        firmware = await self._repo.get_file(update.firmware_id)
        if firmware is None:
            raise ServiceError("the firmware file of this link was deleted", 410)
        if count:
            await self._repo.count_download(update.id)
        return update, firmware

    # -- updates -------------------------------------------------------------------------------

    async def update_station(
        self,
        station_id: StationId,
        firmware_id: int,
        *,
        retrieve_at: datetime | None = None,
        install_at: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
        force: bool = False,
        requested_by: str = "",
    ) -> FirmwareUpdate:
        """UpdateFirmware to one connected station (409 when not connected, 422 when the file
        does not fit its model and ``force`` is not set)."""
        station = await self._stations.get(station_id)
        if station is None:
            raise NotFound(f"no station {station_id}")
        firmware = await self.file(firmware_id)
        if not force and not fits(firmware, _model(station)):
            raise ServiceError(
                f"firmware {firmware.version} is for {', '.join(firmware.models)}, not for"
                f" {station_id} (model {_model(station) or 'unknown'}); set force to update anyway",
                422,
            )
        if self._commands.version_of(station_id) is None:
            raise ServiceError(f"station {station_id} is not connected", 409)
        now = self._clock.now()
        start = max(now, retrieve_at or now)
        update, outcome = await self._send(
            station_id,
            firmware,
            retrieve_at=retrieve_at or now,
            install_at=install_at,
            retries=retries,
            retry_interval=retry_interval,
            deadline=start + self.policy.update_timeout,
            requested_by=requested_by,
        )
        if outcome is not CommandOutcome.RESULT:
            kept = f"firmware update {update.id} is kept as failed"
            raise ServiceError(
                f"station {station_id}: {update.detail} ({kept})", _OUTCOME_STATUS[outcome]
            )
        return update

    async def _send(
        self,
        station_id: StationId,
        firmware: FirmwareFile,
        *,
        retrieve_at: datetime,
        install_at: datetime | None,
        retries: int | None,
        retry_interval: int | None,
        deadline: datetime,
        requested_by: str,
        rollout_id: int | None = None,
    ) -> tuple[FirmwareUpdate, CommandOutcome]:
        """Record the update and send UpdateFirmware: (the update, the call's outcome)."""
        now = self._clock.now()
        version = self._commands.version_of(station_id)
        update = await self._repo.add_update(
            FirmwareUpdate(
                id=0,
                station_id=station_id,
                firmware_id=firmware.id,
                ocpp_version=version or "",
                token=secrets.token_urlsafe(24),
                token_expires_at=deadline + self.policy.token_margin,
                retrieve_at=retrieve_at,
                deadline=deadline,
                state=UpdateState.REQUESTED,
                created_at=now,
                updated_at=now,
                requested_by=requested_by,
                install_at=install_at,
                retries=retries,
                retry_interval=retry_interval,
                rollout_id=rollout_id,
            )
        )
        if version is None:
            failed = update.replace(
                state=UpdateState.FAILED, detail="the station is not connected", updated_at=now
            )
            await self._repo.save_update(failed)
            return failed, CommandOutcome.DISCONNECTED
        reply = await self._commands.update_firmware(
            station_id,
            request_id=update.request_id,
            location=self.download_url(update, firmware),
            retrieve_at=retrieve_at,
            install_at=install_at,
            retries=retries,
            retry_interval=retry_interval,
            signing_certificate=firmware.signing_certificate if version != V16 else None,
            signature=firmware.signature if version != V16 else None,
        )
        if reply.outcome is CommandOutcome.RESULT:
            status = (reply.payload or {}).get("status")
            state, detail = answer_state(None if status is None else str(status))
        else:
            why = reply.error_description or reply.error_code or reply.outcome.value
            state, detail = UpdateState.FAILED, f"UpdateFirmware was not accepted: {why}"
        current = await self._repo.get_update(update.id) or update
        if current.finished or (state is UpdateState.REQUESTED and current.state is not state):
            return current, reply.outcome  # a status notification came before the answer
        answered = current.replace(state=state, detail=detail, updated_at=self._clock.now())
        await self._repo.save_update(answered)
        return answered, reply.outcome

    async def update(self, update_id: int) -> FirmwareUpdate:
        found = await self._repo.get_update(update_id)
        if found is None:
            raise NotFound(f"no firmware update {update_id}")
        return found

    async def updates(
        self,
        *,
        station_id: StationId | None = None,
        rollout_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[FirmwareUpdate]:
        return await self._repo.list_updates(
            station_id=station_id, rollout_id=rollout_id, limit=limit, before_id=before_id
        )

    async def status_reported(
        self, station_id: StationId, status: str, request_id: int | None = None
    ) -> FirmwareUpdate | None:
        """FirmwareStatusNotification: 2.0.1 by requestId, 1.6 the station's open update."""
        now = self._clock.now()
        update: FirmwareUpdate | None = None
        if request_id is not None:
            update = await self._repo.get_update(request_id)
            if update is not None and update.station_id != station_id:
                update = None
        else:
            open_ = await self._repo.open_updates(station_id)
            update = open_[0] if open_ else None
        changed = None
        if update is not None and not update.finished:
            changed = report_status(update, status, now)
            if not await self._repo.save_update(changed):
                changed = None
        self._publish(station_id, status, now, request_id, changed or update)
        if changed is not None and changed.rollout_id is not None:
            await self._member_changed(changed)
        return changed

    def _publish(
        self,
        station_id: StationId,
        status: str,
        at: datetime,
        request_id: int | None,
        update: FirmwareUpdate | None,
    ) -> None:
        failed = status in FAILURE_STATUSES or status == TIMED_OUT_STATUS
        self._events.publish(
            FirmwareStatusChanged(
                station_id=station_id,
                status=status,
                at=at,
                request_id=request_id,
                update_id=None if update is None else update.id,
                rollout_id=None if update is None else update.rollout_id,
                failed=failed,
                finished=failed or status == "Installed",
            )
        )

    async def on_event(self, event: Event) -> None:
        """A station that boots with the new version after Installing has installed it."""
        if not isinstance(event, StationBooted):
            return
        for update in await self._repo.open_updates(event.station_id):
            firmware = await self._repo.get_file(update.firmware_id)
            if firmware is None:
                continue
            if installed_by_boot(update, event.info.firmware_version, firmware.version):
                changed = update.replace(
                    state=UpdateState.INSTALLED,
                    detail="the station booted with the new version",
                    updated_at=event.at,
                )
                if await self._repo.save_update(changed):
                    self._publish(event.station_id, "Installed", event.at, None, changed)
                    if changed.rollout_id is not None:
                        await self._member_changed(changed)

    async def expire_due(self) -> int:
        """Updates without a final status past their deadline time out; rollouts move on."""
        now = self._clock.now()
        count = 0
        for update in await self._repo.open_updates():
            if not timed_out(update, now):
                continue
            changed = update.replace(
                state=UpdateState.TIMED_OUT,
                detail=f"no final status by {update.deadline.isoformat()}",
                updated_at=now,
            )
            if await self._repo.save_update(changed):
                count += 1
                self._publish(StationId(changed.station_id), TIMED_OUT_STATUS, now, None, changed)
                if changed.rollout_id is not None:
                    await self._member_changed(changed, advance=False)
        return count

    # -- rollouts ------------------------------------------------------------------------------

    async def start_rollout(
        self,
        firmware_id: int,
        target: RolloutTarget,
        *,
        wave_size: int,
        max_failure_rate: Decimal,
        wave_timeout: int,
        retries: int | None = None,
        retry_interval: int | None = None,
        force: bool = False,
        created_by: str = "",
    ) -> RolloutView:
        firmware = await self.file(firmware_id)
        try:
            check_parameters(wave_size, max_failure_rate, wave_timeout)
        except InvalidRollout as exc:
            raise ServiceError(str(exc), 422) from exc
        stations = await self._targets(target)
        if not stations:
            raise ServiceError(f"no station matches the target ({target.describe()})", 422)
        if not force:
            misfits = [s.id for s in stations if not fits(firmware, _model(s))]
            if misfits:
                raise ServiceError(
                    f"firmware {firmware.version} does not fit {', '.join(misfits)} (models"
                    f" {', '.join(firmware.models)}); leave them out or set force",
                    422,
                )
        now = self._clock.now()
        rollout = await self._repo.add_rollout(
            Rollout(
                id=0,
                firmware_id=firmware.id,
                status=RolloutStatus.RUNNING,
                wave_size=wave_size,
                max_failure_rate=max_failure_rate,
                wave_timeout=wave_timeout,
                created_at=now,
                updated_at=now,
                created_by=created_by,
                target=target.describe(),
                retries=retries,
                retry_interval=retry_interval,
                force=force,
            ),
            plan_waves([s.id for s in stations], wave_size),
        )
        await self.advance(rollout.id)
        return await self.rollout(rollout.id)

    async def _targets(self, target: RolloutTarget) -> list[Station]:
        if target.station_ids:
            found = []
            for station_id in dict.fromkeys(target.station_ids):
                station = await self._stations.get(StationId(station_id))
                if station is None:
                    raise NotFound(f"no station {station_id}")
                found.append(station)
            return found
        if target.site_id is not None:
            return await self._stations.list(SiteId(target.site_id))
        if target.model is not None:
            wanted = target.model.strip().casefold()
            return [
                s
                for s in await self._stations.list()
                if (_model(s) or "").strip().casefold() == wanted
            ]
        raise ServiceError("give the target: station_ids, site_id or model", 422)

    async def rollout(self, rollout_id: int) -> RolloutView:
        found = await self._repo.get_rollout(rollout_id)
        if found is None:
            raise NotFound(f"no rollout {rollout_id}")
        return RolloutView(found, await self._repo.members(rollout_id))

    async def rollouts(
        self, *, firmware_id: int | None = None, status: RolloutStatus | None = None
    ) -> builtins.list[Rollout]:
        return await self._repo.list_rollouts(firmware_id=firmware_id, status=status)

    async def cancel_rollout(self, rollout_id: int, by: str = "") -> RolloutView:
        async with self._lock(rollout_id):
            view = await self.rollout(rollout_id)
            if view.rollout.status is not RolloutStatus.RUNNING:
                raise ServiceError(
                    f"rollout {rollout_id} is {view.rollout.status.value} already", 409
                )
            now = self._clock.now()
            skipped = [
                m.replace(state=MemberState.SKIPPED, detail="the rollout was cancelled")
                for m in view.members
                if m.state is MemberState.PENDING
            ]
            await self._repo.save_members(rollout_id, skipped)
            await self._repo.save_rollout(
                view.rollout.replace(
                    status=RolloutStatus.CANCELLED,
                    updated_at=now,
                    detail=f"cancelled by {by}" if by else "cancelled",
                )
            )
        return await self.rollout(rollout_id)

    async def advance_all(self) -> None:
        """Move every running rollout on (a chore; at start-up it resumes them)."""
        await self.expire_due()
        for rollout in await self._repo.list_rollouts(status=RolloutStatus.RUNNING):
            try:
                await self.advance(rollout.id)
            except Exception:
                log.exception("advancing rollout %s failed", rollout.id)

    async def advance(self, rollout_id: int) -> None:
        """Do what the rollout's next step is, until it has to wait."""
        async with self._lock(rollout_id):
            for _ in range(10_000):  # every round starts a wave or ends the rollout
                rollout = await self._repo.get_rollout(rollout_id)
                if rollout is None:
                    return
                members = await self._repo.members(rollout_id)
                now = self._clock.now()
                step = next_step(rollout, members, now)
                if step.kind in (StepKind.NOTHING, StepKind.WAIT):
                    return
                if step.timed_out:
                    await self._time_out_members(rollout, members, step.timed_out, now)
                if step.kind is StepKind.HALT:
                    skipped = set(step.stations)
                    await self._repo.save_members(
                        rollout_id,
                        [
                            m.replace(state=MemberState.SKIPPED, detail="the rollout halted")
                            for m in members
                            if m.station_id in skipped
                        ],
                    )
                    percent = (step.failure_rate * 100).quantize(Decimal("0.1"))
                    await self._repo.save_rollout(
                        rollout.replace(
                            status=RolloutStatus.HALTED,
                            updated_at=now,
                            detail=f"{percent} % of the updates failed, above the limit of"
                            f" {(rollout.max_failure_rate * 100).normalize()} %",
                        )
                    )
                    log.warning("rollout %s halted: %s %% failed", rollout_id, percent)
                    return
                if step.kind is StepKind.COMPLETE:
                    await self._repo.save_rollout(
                        rollout.replace(status=RolloutStatus.COMPLETED, updated_at=now)
                    )
                    return
                await self._start_wave(rollout, step.wave, step.stations, now)
        raise RuntimeError(f"rollout {rollout_id} did not settle")  # pragma: no cover

    async def _time_out_members(
        self,
        rollout: Rollout,
        members: Sequence[RolloutMember],
        station_ids: Sequence[str],
        now: datetime,
    ) -> None:
        late = set(station_ids)
        changed = []
        for member in members:
            if member.station_id not in late:
                continue
            if member.update_id is not None:
                update = await self._repo.get_update(member.update_id)
                if update is not None and not update.finished:
                    expired = update.replace(
                        state=UpdateState.TIMED_OUT,
                        detail=f"the wave timeout ({rollout.wave_timeout} s) passed",
                        updated_at=now,
                    )
                    if await self._repo.save_update(expired):
                        self._publish(StationId(member.station_id), TIMED_OUT_STATUS, now, None, expired)
            changed.append(
                member.replace(state=MemberState.TIMED_OUT, detail="no final status in time")
            )
        await self._repo.save_members(rollout.id, changed)

    async def _start_wave(
        self, rollout: Rollout, wave: int, station_ids: Sequence[str], now: datetime
    ) -> None:
        await self._repo.save_rollout(
            rollout.replace(current_wave=wave, wave_started_at=now, updated_at=now)
        )
        firmware = await self._repo.get_file(rollout.firmware_id)
        deadline = now + timedelta(seconds=rollout.wave_timeout)

        async def one(station_id: str) -> RolloutMember:
            member = RolloutMember(station_id, wave)
            if firmware is None:
                return member.replace(state=MemberState.FAILED, detail="the firmware was deleted")
            try:
                update, _ = await self._send(
                    StationId(station_id),
                    firmware,
                    retrieve_at=now,
                    install_at=None,
                    retries=rollout.retries,
                    retry_interval=rollout.retry_interval,
                    deadline=deadline,
                    requested_by=rollout.created_by or f"rollout {rollout.id}",
                    rollout_id=rollout.id,
                )
            except Exception as exc:
                log.exception("rollout %s: updating %s failed", rollout.id, station_id)
                return member.replace(state=MemberState.FAILED, detail=str(exc) or "error")
            return member.replace(
                state=member_state(update.state),
                update_id=update.id,
                station_status=update.station_status,
                detail=update.detail,
            )

        started = await asyncio.gather(*(one(s) for s in station_ids))
        await self._repo.save_members(rollout.id, started)

    async def _member_changed(self, update: FirmwareUpdate, *, advance: bool = True) -> None:
        """Mirror an update's state on its rollout member; move the rollout on later."""
        assert update.rollout_id is not None
        rollout_id = update.rollout_id
        async with self._lock(rollout_id):
            for member in await self._repo.members(rollout_id):
                if member.update_id == update.id and member.state not in (
                    MemberState.TIMED_OUT,
                    MemberState.SKIPPED,
                ):
                    await self._repo.save_members(
                        rollout_id,
                        [
                            member.replace(
                                state=member_state(update.state),
                                station_status=update.station_status,
                                detail=update.detail,
                            )
                        ],
                    )
        if advance and update.finished:
            self._spawn(self.advance(rollout_id), f"advancing rollout {rollout_id}")

    def _lock(self, rollout_id: int) -> asyncio.Lock:
        lock = self._locks.get(rollout_id)
        if lock is None:
            lock = self._locks[rollout_id] = asyncio.Lock()
        return lock

    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``work`` in the background (not in the station's message handler)."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for background work (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
