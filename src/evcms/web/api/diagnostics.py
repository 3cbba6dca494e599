"""/api/v1/stations/{id}/diagnostics and /api/v1/diagnostics: ask a station for its diagnostics or
log (GetDiagnostics / GetLog with a one-time upload link of evcms), follow the upload, and
download the file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse, Response, StreamingResponse

from evcms.domain.ids import StationId
from evcms.services.diagnostics import Diagnostics
from evcms.services.ports import CommandOutcome
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.maintenance_schemas import DiagnosticsCreate, DiagnosticsOut, DiagnosticsPage
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(tags=["diagnostics"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such station"},
    409: {"model": ErrorOut, "description": "The station is not connected"},
    422: {"model": ErrorOut, "description": "Not sent: the request does not fit the station"},
    502: {"model": ErrorOut, "description": "The station answered with a CALLERROR"},
    504: {"model": ErrorOut, "description": "The station did not answer in time"},
}


def diagnostics_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Diagnostics:
    if deps.diagnostics is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "diagnostics uploads are not enabled on this server"
        )
    return deps.diagnostics


Service = Annotated[Diagnostics, Depends(diagnostics_service)]


def command_failure(outcome: str | None, what: str, station: str, detail: str) -> None:
    """An HTTP error for a call that did not get a result (``detail`` says what was kept)."""
    match outcome:
        case CommandOutcome.ERROR:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"station {station} answered {what} with an error ({detail})")
        case CommandOutcome.TIMEOUT:
            raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"station {station} did not answer {what} in time ({detail})")
        case CommandOutcome.DISCONNECTED:
            raise HTTPException(status.HTTP_409_CONFLICT, f"station {station} is not connected ({detail})")
        case CommandOutcome.REJECTED:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{what} was not sent to {station} ({detail})"
            )


@router.post(
    "/stations/{station_id}/diagnostics",
    status_code=status.HTTP_201_CREATED,
    response_model=DiagnosticsOut,
    responses=_RESPONSES,
    summary="Ask a station to upload its diagnostics (1.6) or a log (2.0.1) to evcms",
)
async def request_diagnostics(
    station_id: str, body: DiagnosticsCreate, service: Service, key: StationOperator
) -> DiagnosticsOut:
    found = await service.request(
        StationId(station_id),
        since=body.since,
        until=body.until,
        retries=body.retries,
        retry_interval=body.retry_interval,
        log_type=body.log_type,
        requested_by=key.name,
    )
    if found.command_outcome != CommandOutcome.RESULT:
        command_failure(
            found.command_outcome,
            "GetDiagnostics" if found.ocpp_version == "ocpp1.6" else "GetLog",
            station_id,
            f"diagnostics request {found.id} is kept",
        )
    return DiagnosticsOut.of(found)


async def _page(
    service: Diagnostics, station_id: str | None, limit: int, before_id: int | None
) -> DiagnosticsPage:
    found = await service.list(
        None if station_id is None else StationId(station_id), limit=limit, before_id=before_id
    )
    return DiagnosticsPage(
        requests=[DiagnosticsOut.of(r) for r in found],
        next_before_id=found[-1].id if len(found) == limit else None,
    )


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Requests per page")]
BeforeId = Annotated[int | None, Query(ge=1, description="Only requests older than this id")]


@router.get("/diagnostics", response_model=DiagnosticsPage, summary="Diagnostics requests, newest first")
async def list_diagnostics(
    service: Service,
    _: Reader,
    station_id: Annotated[str | None, Query(description="Only this station's")] = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> DiagnosticsPage:
    return await _page(service, station_id, limit, before_id)


@router.get(
    "/stations/{station_id}/diagnostics",
    response_model=DiagnosticsPage,
    summary="A station's diagnostics requests, newest first",
)
async def list_station_diagnostics(
    station_id: str, service: Service, _: Reader, limit: Limit = 100, before_id: BeforeId = None
) -> DiagnosticsPage:
    return await _page(service, station_id, limit, before_id)


@router.get(
    "/diagnostics/{request_id}",
    response_model=DiagnosticsOut,
    responses={404: {"model": ErrorOut, "description": "No such request"}},
)
async def get_diagnostics(request_id: int, service: Service, _: Reader) -> DiagnosticsOut:
    return DiagnosticsOut.of(await service.get(request_id))


@router.get(
    "/diagnostics/{request_id}/file",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The uploaded file"},
        404: {"model": ErrorOut, "description": "No such request, or no file arrived yet"},
    },
    summary="Download the file a station uploaded",
)
async def download_diagnostics(request_id: int, service: Service, _: Reader) -> Response:
    _request, file, key = await service.file(request_id)
    path = service.local_path(key)
    if path is not None:
        return FileResponse(path, filename=file.name, media_type="application/octet-stream")
    return StreamingResponse(
        service.read(key),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": f'attachment; filename="{file.name}"',
        },
    )
