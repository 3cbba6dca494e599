"""/api/v1/firmware: firmware files (upload, list, delete), UpdateFirmware to one station
(/api/v1/stations/{id}/firmware-update), updates, and rollouts in waves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    UploadFile,
    status,
)
from fastapi.responses import Response

from evcms.domain.diagnostics import safe_file_name
from evcms.domain.firmware import RolloutStatus
from evcms.domain.ids import StationId
from evcms.services.firmware import Firmware, RolloutTarget
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.maintenance_schemas import (
    FirmwareList,
    FirmwareOut,
    FirmwareUpdateCreate,
    FirmwareUpdateOut,
    FirmwareUpdatePage,
    RolloutCreate,
    RolloutList,
    RolloutOut,
    RolloutSummary,
)
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(tags=["firmware"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Not found"}}


def firmware_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Firmware:
    if deps.firmware is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "firmware is not enabled on this server")
    return deps.firmware


Service = Annotated[Firmware, Depends(firmware_service)]


def _models(given: list[str]) -> list[str]:
    """Models as repeated form fields and/or comma-separated."""
    return [part for value in given for part in value.split(",")]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while data := await upload.read(1 << 20):
        yield data


@router.post(
    "/firmware",
    status_code=status.HTTP_201_CREATED,
    response_model=FirmwareOut,
    responses={
        413: {"model": ErrorOut, "description": "The file is larger than the limit"},
        422: {"model": ErrorOut, "description": "Missing version or file, or an empty file"},
    },
    summary="Upload a firmware file (multipart/form-data)",
)
async def upload_firmware(
    service: Service,
    key: StationOperator,
    file: Annotated[UploadFile, File(description="The firmware image")],
    version: Annotated[str, Form(min_length=1, max_length=100, description="Its version")],
    models: Annotated[
        list[str], Form(description="Station models it fits (repeat the field or separate by commas); none: every model")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    signing_certificate: Annotated[
        str | None, Form(max_length=5500, description="2.0.1 signed updates: PEM certificate")
    ] = None,
    signature: Annotated[
        str | None, Form(max_length=800, description="2.0.1 signed updates: base64 signature")
    ] = None,
    notes: Annotated[str, Form(max_length=2000)] = "",
) -> FirmwareOut:
    if (signing_certificate is None) != (signature is None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "give both signing_certificate and signature, or neither",
        )
    name = safe_file_name(file.filename, f"firmware-{version}.bin")
    try:
        added = await service.add_file(
            version=version,
            file_name=name,
            chunks=_chunks(file),
            models=_models(models),
            signing_certificate=signing_certificate,
            signature=signature,
            notes=notes,
            created_by=key.name,
        )
    finally:
        await file.close()
    return FirmwareOut.of(added)


@router.get("/firmware", response_model=FirmwareList, summary="Firmware files, newest first")
async def list_firmware(service: Service, _: Reader) -> FirmwareList:
    return FirmwareList(firmware=[FirmwareOut.of(f) for f in await service.files()])


@router.get("/firmware/updates", response_model=FirmwareUpdatePage, summary="Firmware updates, newest first")
async def list_updates(
    service: Service,
    _: Reader,
    station_id: Annotated[str | None, Query()] = None,
    rollout_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FirmwareUpdatePage:
    found = await service.updates(
        station_id=None if station_id is None else StationId(station_id),
        rollout_id=rollout_id,
        limit=limit,
        before_id=before_id,
    )
    return FirmwareUpdatePage(
        updates=[FirmwareUpdateOut.of(u) for u in found],
        next_before_id=found[-1].id if len(found) == limit else None,
    )


@router.get("/firmware/updates/{update_id}", response_model=FirmwareUpdateOut, responses=_NOT_FOUND)
async def get_update(update_id: int, service: Service, _: Reader) -> FirmwareUpdateOut:
    return FirmwareUpdateOut.of(await service.update(update_id))


@router.get("/firmware/rollouts", response_model=RolloutList, summary="Rollouts, newest first")
async def list_rollouts(
    service: Service,
    _: Reader,
    firmware_id: Annotated[int | None, Query(ge=1)] = None,
    rollout_status: Annotated[RolloutStatus | None, Query(alias="status")] = None,
) -> RolloutList:
    found = await service.rollouts(firmware_id=firmware_id, status=rollout_status)
    return RolloutList(
        rollouts=[
            RolloutSummary(
                id=r.id,
                firmware_id=r.firmware_id,
                status=r.status,
                target=r.target,
                current_wave=r.current_wave,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in found
        ]
    )


@router.get(
    "/firmware/rollouts/{rollout_id}",
    response_model=RolloutOut,
    responses=_NOT_FOUND,
    summary="A rollout's progress: counts per state, the current wave, every station",
)
async def get_rollout(rollout_id: int, service: Service, _: Reader) -> RolloutOut:
    return RolloutOut.of(await service.rollout(rollout_id))


@router.post(
    "/firmware/rollouts/{rollout_id}/cancel",
    response_model=RolloutOut,
    responses={**_NOT_FOUND, 409: {"model": ErrorOut, "description": "The rollout is over"}},
    summary="Cancel a rollout: stations not started are skipped (started updates go on)",
)
async def cancel_rollout(rollout_id: int, service: Service, key: StationOperator) -> RolloutOut:
    return RolloutOut.of(await service.cancel_rollout(rollout_id, by=key.name))


@router.get("/firmware/{firmware_id}", response_model=FirmwareOut, responses=_NOT_FOUND)
async def get_firmware(firmware_id: int, service: Service, _: Reader) -> FirmwareOut:
    return FirmwareOut.of(await service.file(firmware_id))


@router.delete(
    "/firmware/{firmware_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_NOT_FOUND, 409: {"model": ErrorOut, "description": "In use by a rollout or update"}},
)
async def delete_firmware(firmware_id: int, service: Service, _: StationOperator) -> Response:
    await service.delete_file(firmware_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/firmware/{firmware_id}/rollouts",
    status_code=status.HTTP_201_CREATED,
    response_model=RolloutOut,
    responses={
        **_NOT_FOUND,
        422: {"model": ErrorOut, "description": "No station matches, or the file does not fit some"},
    },
    summary="Roll a firmware out to many stations in waves",
)
async def start_rollout(
    firmware_id: int, body: RolloutCreate, service: Service, key: StationOperator
) -> RolloutOut:
    view = await service.start_rollout(
        firmware_id,
        RolloutTarget(
            station_ids=tuple(body.station_ids or ()), site_id=body.site_id, model=body.model
        ),
        wave_size=body.wave_size,
        max_failure_rate=body.max_failure_rate,
        wave_timeout=body.wave_timeout,
        retries=body.retries,
        retry_interval=body.retry_interval,
        force=body.force,
        created_by=key.name,
    )
    return RolloutOut.of(view)


@router.post(
    "/stations/{station_id}/firmware-update",
    status_code=status.HTTP_201_CREATED,
    response_model=FirmwareUpdateOut,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorOut, "description": "The station is not connected"},
        422: {"model": ErrorOut, "description": "The file does not fit the station's model (use force)"},
        502: {"model": ErrorOut, "description": "The station answered with a CALLERROR"},
        504: {"model": ErrorOut, "description": "The station did not answer in time"},
    },
    summary="Send UpdateFirmware with evcms's download link of the file",
)
async def update_station(
    station_id: str, body: FirmwareUpdateCreate, service: Service, key: StationOperator
) -> FirmwareUpdateOut:
    update = await service.update_station(
        StationId(station_id),
        body.firmware_id,
        retrieve_at=body.retrieve_at,
        install_at=body.install_at,
        retries=body.retries,
        retry_interval=body.retry_interval,
        force=body.force,
        requested_by=key.name,
    )
    return FirmwareUpdateOut.of(update)
