"""Diagnostics and log uploads to evcms itself (GetDiagnostics 1.6, GetLog 2.0.1).

An operator asks (``request``); evcms makes a record with a one-time upload token and sends
the station evcms's own upload URL. The station uploads there (``receive_upload``: once, before
the token expires, at most ``max_upload_bytes``) and reports its progress
(``status_reported``: DiagnosticsStatusNotification / LogStatusNotification), which is kept and
published as ``DiagnosticsStatusChanged``. The operator downloads the file (``file``).
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from evcms.domain.diagnostics import (
    DiagnosticsRequest,
    LogType,
    TokenState,
    UploadedFile,
    is_failure,
    is_final,
    safe_file_name,
    token_state,
)
from evcms.domain.events import DiagnosticsStatusChanged
from evcms.domain.ids import StationId
from evcms.services.files import FileStore
from evcms.services.ports import (
    Clock,
    CommandOutcome,
    CommandReply,
    EventBus,
    NotFound,
    ServiceError,
    StationRepository,
)

log = logging.getLogger(__name__)

V16 = "ocpp1.6"


class MaintenanceCommands(Protocol):
    """GetDiagnostics / GetLog and UpdateFirmware in the station's version
    (``station_gateway.maintenance_commands``)."""

    def version_of(self, station_id: StationId) -> str | None: ...

    async def get_diagnostics(
        self,
        station_id: StationId,
        *,
        request_id: int,
        location: str,
        log_type: LogType,
        since: datetime | None,
        until: datetime | None,
        retries: int | None,
        retry_interval: int | None,
    ) -> CommandReply: ...

    async def update_firmware(
        self,
        station_id: StationId,
        *,
        request_id: int,
        location: str,
        retrieve_at: datetime,
        install_at: datetime | None,
        retries: int | None,
        retry_interval: int | None,
        signing_certificate: str | None,
        signature: str | None,
    ) -> CommandReply: ...


class DiagnosticsRepository(Protocol):
    async def add(self, request: DiagnosticsRequest) -> DiagnosticsRequest: ...  # id assigned

    async def get(self, request_id: int) -> DiagnosticsRequest | None: ...

    async def by_token(self, token: str) -> DiagnosticsRequest | None: ...

    async def latest(self, station_id: StationId) -> DiagnosticsRequest | None: ...

    async def set_answer(
        self,
        request_id: int,
        *,
        outcome: str,
        status: str | None,
        file_name: str | None,
        at: datetime,
    ) -> DiagnosticsRequest | None: ...

    async def set_station_status(
        self, request_id: int, status: str, at: datetime
    ) -> DiagnosticsRequest | None: ...

    async def attach_file(
        self, request_id: int, file: UploadedFile, key: str
    ) -> DiagnosticsRequest | None:
        """Only while no file is attached (compare-and-set); None otherwise."""
        ...

    async def list(
        self, station_id: StationId | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DiagnosticsRequest]: ...  # newest first


@dataclass(frozen=True, slots=True)
class DiagnosticsPolicy:
    token_ttl: timedelta = timedelta(hours=1)
    max_upload_bytes: int = 100 * 1024 * 1024


def file_key(request_id: int) -> str:
    return f"diagnostics/{request_id}"


class Diagnostics:
    def __init__(
        self,
        *,
        requests: DiagnosticsRepository,
        stations: StationRepository,
        files: FileStore,
        commands: MaintenanceCommands,
        events: EventBus,
        clock: Clock,
        base_url: Callable[[], str],
        policy: DiagnosticsPolicy | None = None,
    ) -> None:
        self._requests = requests
        self._stations = stations
        self._files = files
        self._commands = commands
        self._events = events
        self._clock = clock
        self._base_url = base_url
        self.policy = policy or DiagnosticsPolicy()
        self._receiving: set[str] = set()

    def upload_url(self, token: str) -> str:
        return f"{self._base_url().rstrip('/')}/uploads/{token}"

    async def request(
        self,
        station_id: StationId,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
        log_type: LogType = LogType.DIAGNOSTICS,
        requested_by: str = "",
    ) -> DiagnosticsRequest:
        """Record the request and send it; the record holds the station's answer (or why it
        was not reached)."""
        if await self._stations.get(station_id) is None:
            raise NotFound(f"no station {station_id}")
        if since is not None and until is not None and since > until:
            raise ServiceError("'from' must not be after 'to'", 422)
        version = self._commands.version_of(station_id)
        if version is None:
            raise ServiceError(f"station {station_id} is not connected", 409)
        if version == V16 and log_type is not LogType.DIAGNOSTICS:
            raise ServiceError("OCPP 1.6 stations upload diagnostics only (no SecurityLog)", 422)
        now = self._clock.now()
        record = await self._requests.add(
            DiagnosticsRequest(
                id=0,
                station_id=station_id,
                ocpp_version=version,
                token=secrets.token_urlsafe(24),
                token_expires_at=now + self.policy.token_ttl,
                created_at=now,
                updated_at=now,
                requested_by=requested_by,
                log_type=log_type,
                since=since,
                until=until,
                retries=retries,
                retry_interval=retry_interval,
            )
        )
        reply = await self._commands.get_diagnostics(
            station_id,
            request_id=record.request_id,
            location=self.upload_url(record.token),
            log_type=log_type,
            since=since,
            until=until,
            retries=retries,
            retry_interval=retry_interval,
        )
        status, file_name = _answer(reply)
        answered = await self._requests.set_answer(
            record.id,
            outcome=reply.outcome.value,
            status=status,
            file_name=file_name,
            at=self._clock.now(),
        )
        return answered or record

    async def get(self, request_id: int) -> DiagnosticsRequest:
        found = await self._requests.get(request_id)
        if found is None:
            raise NotFound(f"no diagnostics request {request_id}")
        return found

    async def list(
        self, station_id: StationId | None = None, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DiagnosticsRequest]:
        return await self._requests.list(station_id, limit=limit, before_id=before_id)

    async def check_token(self, token: str) -> DiagnosticsRequest:
        """The request an upload token belongs to, if it may take a file now."""
        found = await self._requests.by_token(token)
        if found is None:
            raise NotFound("unknown upload link")
        match token_state(found, self._clock.now()):
            case TokenState.USED:
                raise ServiceError("this upload link was used already", 409)
            case TokenState.EXPIRED:
                raise ServiceError("this upload link has expired", 410)
        if token in self._receiving:
            raise ServiceError("an upload to this link is in progress", 409)
        return found

    async def receive_upload(
        self,
        token: str,
        chunks: AsyncIterable[bytes],
        file_name: str | Callable[[], str | None] | None = None,
    ) -> DiagnosticsRequest:
        """Keep the uploaded file of the request ``token`` belongs to (once). ``file_name``
        may be a callable, asked once the bytes are in (a multipart part names its file)."""
        found = await self.check_token(token)
        self._receiving.add(token)
        try:
            key = file_key(found.id)
            stored = await self._files.save(key, chunks, self.policy.max_upload_bytes)
            given = file_name() if callable(file_name) else file_name
            name = safe_file_name(
                given or found.answer_file_name, f"{found.station_id}-diagnostics-{found.id}.log"
            )
            uploaded = UploadedFile(name, stored.size, stored.sha256, self._clock.now())
            attached = await self._requests.attach_file(found.id, uploaded, key)
            if attached is None:
                raise ServiceError("this upload link was used already", 409)
        finally:
            self._receiving.discard(token)
        log.info("diagnostics %s of %s arrived: %d bytes", found.id, found.station_id, stored.size)
        return attached

    async def file(self, request_id: int) -> tuple[DiagnosticsRequest, UploadedFile, str]:
        """(request, file, file store key) of an uploaded file."""
        found = await self.get(request_id)
        if found.file is None or found.file_key is None:
            raise ServiceError(f"no file has arrived for diagnostics request {request_id}", 404)
        return found, found.file, found.file_key

    def read(self, key: str) -> AsyncIterable[bytes]:
        return self._files.read(key)

    def local_path(self, key: str) -> Path | None:
        return self._files.local_path(key)

    async def status_reported(
        self, station_id: StationId, status: str, request_id: int | None = None
    ) -> DiagnosticsRequest | None:
        """DiagnosticsStatusNotification (1.6: the station's latest request) or
        LogStatusNotification (2.0.1: by requestId)."""
        now = self._clock.now()
        found: DiagnosticsRequest | None
        if request_id is not None:
            found = await self._requests.get(request_id)
            if found is not None and found.station_id != station_id:
                found = None
        elif self._commands.version_of(station_id) in (None, V16):
            found = await self._requests.latest(station_id)
        else:
            found = None  # 2.0.1 without requestId: a triggered report, no upload going on
        updated = None
        if found is not None:
            updated = await self._requests.set_station_status(found.id, status, now)
        self._events.publish(
            DiagnosticsStatusChanged(
                station_id=station_id,
                status=status,
                at=now,
                request_id=request_id,
                upload_id=None if found is None else found.id,
                failed=is_failure(status),
                finished=is_final(status),
            )
        )
        return updated


def _answer(reply: CommandReply) -> tuple[str | None, str | None]:
    """(status, file name) of the station's answer to GetDiagnostics / GetLog."""
    if reply.outcome is not CommandOutcome.RESULT or reply.payload is None:
        return None, None
    payload = reply.payload
    status = payload.get("status")
    file_name = payload.get("fileName") or payload.get("filename")
    return (str(status) if status is not None else None), (
        str(file_name) if file_name is not None else None
    )
