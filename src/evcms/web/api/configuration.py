"""A station's configuration as it last reported it, and what its device model told on its own:
``/stations/{id}/configuration``, ``/device-events``, ``/security-events``, ``/data-transfers``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from evcms.domain.ids import StationId
from evcms.services.ports import NotFound, ServiceError
from evcms.services.station_config import StationConfiguration
from evcms.web.auth import Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.operation_schemas import (
    ConfigurationOut,
    DataTransferOut,
    DeviceEventOut,
    SecurityEventOut,
)
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(
    prefix="/stations/{station_id}",
    tags=["configuration"],
    responses={404: {"model": ErrorOut, "description": "No such station"}},
)

Deps = Annotated[WebDeps, Depends(web_deps)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
BeforeId = Annotated[int | None, Query(ge=1, description="Only older ones (paging)")]


async def _service(deps: WebDeps, station_id: str) -> StationConfiguration:
    if deps.configuration is None:
        raise ServiceError("station configuration is not available on this server", 503)
    if await deps.network.station(StationId(station_id)) is None:
        raise NotFound(f"station {station_id!r} does not exist")
    return deps.configuration


@router.get("/configuration")
async def configuration(station_id: str, deps: Deps, _: Reader) -> ConfigurationOut:
    """What the station last reported: OCPP 1.6 configuration keys (GetConfiguration,
    ChangeConfiguration), 2.0.1 device model variables (NotifyReport, GetVariables,
    SetVariables) with their characteristics, variable monitors and report series; each
    with when it was reported."""
    service = await _service(deps, station_id)
    return ConfigurationOut.of(await service.configuration(station_id))


@router.get("/device-events")
async def device_events(
    station_id: str, deps: Deps, _: Reader, limit: Limit = 100, before_id: BeforeId = None
) -> list[DeviceEventOut]:
    """2.0.1 NotifyEvent: every EventData the station sent, newest first."""
    service = await _service(deps, station_id)
    return [DeviceEventOut.of(e) for e in await service.events(station_id, limit, before_id)]


@router.get("/security-events")
async def security_events(
    station_id: str, deps: Deps, _: Reader, limit: Limit = 100, before_id: BeforeId = None
) -> list[SecurityEventOut]:
    """SecurityEventNotification, newest first."""
    service = await _service(deps, station_id)
    found = await service.security_events(station_id, limit, before_id)
    return [SecurityEventOut.of(e) for e in found]


@router.get("/data-transfers")
async def data_transfers(
    station_id: str, deps: Deps, _: Reader, limit: Limit = 100, before_id: BeforeId = None
) -> list[DataTransferOut]:
    """DataTransfer messages the station sent (and what evcms answered), newest first."""
    service = await _service(deps, station_id)
    found = await service.data_transfers(station_id, limit, before_id)
    return [DataTransferOut.of(t) for t in found]
