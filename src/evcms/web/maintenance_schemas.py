"""Request and response bodies of /diagnostics and /firmware (pydantic), and their mapping from
the domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evcms.domain.diagnostics import DiagnosticsRequest, LogType, Progress, progress
from evcms.domain.firmware import (
    FirmwareFile,
    FirmwareUpdate,
    MemberState,
    RolloutMember,
    RolloutStatus,
    UpdateState,
    counts,
)
from evcms.services.firmware import RolloutView


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# -- diagnostics ------------------------------------------------------------------------------


class DiagnosticsCreate(_Strict):
    since: datetime | None = Field(
        None, alias="from", description="Oldest logging information to include"
    )
    until: datetime | None = Field(
        None, alias="to", description="Newest logging information to include"
    )
    retries: int | None = Field(None, ge=0, le=100, description="Upload attempts before giving up")
    retry_interval: int | None = Field(None, ge=0, description="Seconds between attempts")
    log_type: LogType = Field(
        LogType.DIAGNOSTICS, description="2.0.1: DiagnosticsLog or SecurityLog (1.6: diagnostics only)"
    )

    @model_validator(mode="after")
    def _aware(self) -> DiagnosticsCreate:
        for name, value in (("from", self.since), ("to", self.until)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"'{name}' needs a time zone (e.g. a trailing Z)")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("'from' must not be after 'to'")
        return self


class UploadedFileOut(BaseModel):
    name: str
    size: int
    sha256: str
    received_at: datetime
    download: str = Field(description="API path to download it")


class DiagnosticsOut(BaseModel):
    id: int
    station_id: str
    ocpp_version: str
    log_type: LogType
    progress: Progress = Field(
        description="requested, not_sent, rejected, uploading, file_received, completed,"
        " uploaded_without_file (the station said Uploaded but no file arrived), failed"
    )
    requested_by: str
    created_at: datetime
    updated_at: datetime
    since: datetime | None = Field(None, serialization_alias="from")
    until: datetime | None = Field(None, serialization_alias="to")
    retries: int | None
    retry_interval: int | None
    upload_expires_at: datetime
    command_outcome: str | None = Field(description="result, error, timeout, disconnected, rejected")
    answer_status: str | None = Field(description="2.0.1: Accepted, Rejected, AcceptedCanceled")
    answer_file_name: str | None = Field(description="The file name the station announced")
    station_status: str | None = Field(description="The station's last status notification")
    station_status_at: datetime | None
    file: UploadedFileOut | None

    @classmethod
    def of(cls, request: DiagnosticsRequest, api_prefix: str = "/api/v1") -> DiagnosticsOut:
        file = None
        if request.file is not None:
            f = request.file
            file = UploadedFileOut(
                name=f.name,
                size=f.size,
                sha256=f.sha256,
                received_at=f.received_at,
                download=f"{api_prefix}/diagnostics/{request.id}/file",
            )
        return cls(
            id=request.id,
            station_id=request.station_id,
            ocpp_version=request.ocpp_version,
            log_type=request.log_type,
            progress=progress(request),
            requested_by=request.requested_by,
            created_at=request.created_at,
            updated_at=request.updated_at,
            since=request.since,
            until=request.until,
            retries=request.retries,
            retry_interval=request.retry_interval,
            upload_expires_at=request.token_expires_at,
            command_outcome=request.command_outcome,
            answer_status=request.answer_status,
            answer_file_name=request.answer_file_name,
            station_status=request.station_status,
            station_status_at=request.station_status_at,
            file=file,
        )


class DiagnosticsPage(BaseModel):
    requests: list[DiagnosticsOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page")


class UploadReceived(BaseModel):
    id: int
    size: int
    sha256: str


# -- firmware ---------------------------------------------------------------------------------


class FirmwareOut(BaseModel):
    id: int
    version: str
    file_name: str
    size: int
    sha256: str
    md5: str
    models: list[str] = Field(description="Station models it fits; empty: every model")
    signed: bool = Field(description="A signing certificate and signature are kept for 2.0.1")
    signing_certificate: str | None
    signature: str | None
    notes: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, file: FirmwareFile) -> FirmwareOut:
        return cls(
            id=file.id,
            version=file.version,
            file_name=file.file_name,
            size=file.size,
            sha256=file.sha256,
            md5=file.md5,
            models=list(file.models),
            signed=file.signature is not None and file.signing_certificate is not None,
            signing_certificate=file.signing_certificate,
            signature=file.signature,
            notes=file.notes,
            created_by=file.created_by,
            created_at=file.created_at,
        )


class FirmwareList(BaseModel):
    firmware: list[FirmwareOut]


class FirmwareUpdateCreate(_Strict):
    firmware_id: int
    retrieve_at: datetime | None = Field(None, description="When to download (default: now)")
    install_at: datetime | None = Field(None, description="2.0.1: when to install")
    retries: int | None = Field(None, ge=0, le=100)
    retry_interval: int | None = Field(None, ge=0)
    force: bool = Field(False, description="Update even when the file is not for the station's model")

    @model_validator(mode="after")
    def _aware(self) -> FirmwareUpdateCreate:
        for name, value in (("retrieve_at", self.retrieve_at), ("install_at", self.install_at)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. a trailing Z)")
        return self


class FirmwareUpdateOut(BaseModel):
    id: int
    station_id: str
    firmware_id: int
    ocpp_version: str
    state: UpdateState = Field(description="requested, in_progress, installed, failed, timed_out")
    station_status: str | None = Field(description="The last FirmwareStatusNotification")
    station_status_at: datetime | None
    detail: str | None
    retrieve_at: datetime
    install_at: datetime | None
    deadline: datetime
    retries: int | None
    retry_interval: int | None
    rollout_id: int | None
    requested_by: str
    downloads: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, update: FirmwareUpdate) -> FirmwareUpdateOut:
        return cls(
            id=update.id,
            station_id=update.station_id,
            firmware_id=update.firmware_id,
            ocpp_version=update.ocpp_version,
            state=update.state,
            station_status=update.station_status,
            station_status_at=update.station_status_at,
            detail=update.detail,
            retrieve_at=update.retrieve_at,
            install_at=update.install_at,
            deadline=update.deadline,
            retries=update.retries,
            retry_interval=update.retry_interval,
            rollout_id=update.rollout_id,
            requested_by=update.requested_by,
            downloads=update.downloads,
            created_at=update.created_at,
            updated_at=update.updated_at,
        )


class FirmwareUpdatePage(BaseModel):
    updates: list[FirmwareUpdateOut]
    next_before_id: int | None


class RolloutCreate(_Strict):
    station_ids: list[str] | None = Field(None, min_length=1, description="These stations, in this order")
    site_id: str | None = Field(None, description="Every station of the site")
    model: str | None = Field(None, description="Every station of this model")
    wave_size: int = Field(10, ge=1, le=10_000, description="Stations updated at once")
    max_failure_rate: Decimal = Field(
        Decimal("0.2"), ge=0, le=1, description="Stop when failures so far are above this share"
    )
    wave_timeout: int = Field(
        3600, ge=1, description="Seconds a wave may take; unfinished stations then count as failed"
    )
    retries: int | None = Field(None, ge=0, le=100)
    retry_interval: int | None = Field(None, ge=0)
    force: bool = Field(False, description="Include stations whose model the file does not fit")

    @model_validator(mode="after")
    def _one_target(self) -> RolloutCreate:
        given = [n for n in ("station_ids", "site_id", "model") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one target: station_ids, site_id or model")
        return self


class RolloutStationOut(BaseModel):
    station_id: str
    wave: int
    state: MemberState
    update_id: int | None
    station_status: str | None
    detail: str | None

    @classmethod
    def of(cls, member: RolloutMember) -> RolloutStationOut:
        return cls(
            station_id=member.station_id,
            wave=member.wave,
            state=member.state,
            update_id=member.update_id,
            station_status=member.station_status,
            detail=member.detail,
        )


class RolloutOut(BaseModel):
    id: int
    firmware_id: int
    status: RolloutStatus = Field(description="running, completed, halted, cancelled")
    target: str
    wave_size: int
    max_failure_rate: Decimal
    wave_timeout: int
    current_wave: int
    waves: int
    wave_started_at: datetime | None
    total: int
    counts: dict[str, int] = Field(description="Stations per state")
    detail: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    stations: list[RolloutStationOut]

    @classmethod
    def of(cls, view: RolloutView) -> RolloutOut:
        r = view.rollout
        return cls(
            id=r.id,
            firmware_id=r.firmware_id,
            status=r.status,
            target=r.target,
            wave_size=r.wave_size,
            max_failure_rate=r.max_failure_rate,
            wave_timeout=r.wave_timeout,
            current_wave=r.current_wave,
            waves=max((m.wave for m in view.members), default=0),
            wave_started_at=r.wave_started_at,
            total=len(view.members),
            counts=counts(view.members),
            detail=r.detail,
            created_by=r.created_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
            stations=[RolloutStationOut.of(m) for m in view.members],
        )


class RolloutSummary(BaseModel):
    id: int
    firmware_id: int
    status: RolloutStatus
    target: str
    current_wave: int
    created_at: datetime
    updated_at: datetime


class RolloutList(BaseModel):
    rollouts: list[RolloutSummary]
