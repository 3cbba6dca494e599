"""/api/v1/stations: registration, credentials, live state, message log, OCPP pass-through."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from fastapi.responses import JSONResponse

from evcms.domain.ids import SiteId, StationId, parse_site_id
from evcms.domain.stations import Station
from evcms.passwords import generate_station_password
from evcms.services.network import StationView
from evcms.services.ports import AlreadyExists, CommandOutcome, CommandReply, NotFound
from evcms.web.auth import NetworkManager, Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import (
    MAX_PAGE,
    CredentialsChange,
    ErrorOut,
    LoggedMessageOut,
    MessagePage,
    OcppError,
    OcppResult,
    StationCreate,
    StationCredentialsOut,
    StationOut,
    StationPatch,
    StationStateOut,
    StationWithCredentialsOut,
)

router = APIRouter(
    prefix="/stations",
    tags=["stations"],
    responses={404: {"model": ErrorOut, "description": "No such station"}},
)

Deps = Annotated[WebDeps, Depends(web_deps)]
MAX_CALL_TIMEOUT = 300.0


def station_url(template: str, station_id: str) -> str:
    """The OCPP URL a station connects to, its id percent-encoded where a URL needs it."""
    return template.replace("{station_id}", quote(station_id, safe=""))


def _credentials(deps: WebDeps, station: Station, generated: str | None) -> StationCredentialsOut:
    return StationCredentialsOut(
        ocpp_url=station_url(deps.ocpp_url, station.id),
        username=station.id,
        password=generated,
        security_profile=0 if station.password_hash is None else 1,
    )


async def _require(deps: WebDeps, station_id: str) -> Station:
    station = await deps.network.station(StationId(station_id))
    if station is None:
        raise NotFound(f"station {station_id!r} does not exist")
    return station


async def _require_view(deps: WebDeps, station_id: str) -> StationView:
    view = await deps.network.view(StationId(station_id))
    if view is None:
        raise NotFound(f"station {station_id!r} does not exist")
    return view


def _site_id(raw: str | None) -> SiteId | None:
    return None if raw is None else parse_site_id(raw)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorOut, "description": "A station with this id exists"}},
)
async def create_station(
    body: StationCreate, deps: Deps, _: NetworkManager
) -> StationWithCredentialsOut:
    """Register a station. With ``generate_password`` the answer holds its password, once."""
    generated = generate_station_password() if body.generate_password else None
    try:
        station = await deps.network.add_station(
            StationId(body.id),
            site_id=_site_id(body.site_id),
            name=body.name,
            password=generated if generated is not None else body.password,
            registration=body.registration,
        )
    except AlreadyExists as exc:
        raise AlreadyExists(f"station {body.id!r} already exists") from exc
    return StationWithCredentialsOut(
        station=StationOut.of(station), credentials=_credentials(deps, station, generated)
    )


@router.get("")
async def list_stations(
    deps: Deps,
    _: Reader,
    site_id: Annotated[str | None, Query(description="Only the stations of this site")] = None,
) -> list[StationStateOut]:
    """Every station with its live state (presence and connector statuses)."""
    stations = await deps.network.stations(SiteId(site_id) if site_id is not None else None)
    running = await deps.charging.running() if deps.charging is not None else []
    found = []
    for station in stations:  # one after another: repositories need not allow concurrent use
        view = await deps.network.view(station.id)
        if view is not None:  # deleted meanwhile
            found.append(StationStateOut.of_view(view, running))
    return sorted(found, key=lambda s: s.id)


@router.get("/{station_id}")
async def get_station(station_id: str, deps: Deps, _: Reader) -> StationStateOut:
    """The station, what its BootNotification said, whether it is connected (and its last
    message), its connectors: status, error code, and the session running on each with its
    energy so far and current power."""
    view = await _require_view(deps, station_id)
    running = (
        await deps.charging.running(StationId(station_id)) if deps.charging is not None else []
    )
    return StationStateOut.of_view(view, running)


@router.patch("/{station_id}")
async def update_station(
    station_id: str, body: StationPatch, deps: Deps, _: NetworkManager
) -> StationOut:
    await _require(deps, station_id)
    changes: dict[str, Any] = {}
    if "site_id" in body.model_fields_set:
        changes["site_id"] = _site_id(body.site_id)
    station = await deps.network.update_station(
        StationId(station_id), name=body.name, registration=body.registration, **changes
    )
    return StationOut.of(station)


@router.delete("/{station_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_station(station_id: str, deps: Deps, _: NetworkManager) -> Response:
    if not await deps.network.delete_station(StationId(station_id)):
        raise NotFound(f"station {station_id!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{station_id}/credentials")
async def change_credentials(
    station_id: str, body: CredentialsChange, deps: Deps, _: NetworkManager
) -> StationWithCredentialsOut:
    """Set a password, generate one (returned once), or remove it (security profile 0)."""
    await _require(deps, station_id)
    generated = generate_station_password() if body.generate else None
    station = await deps.network.set_password(
        StationId(station_id), generated if generated is not None else body.password
    )
    return StationWithCredentialsOut(
        station=StationOut.of(station), credentials=_credentials(deps, station, generated)
    )


@router.post("/{station_id}/accept")
async def accept_station(station_id: str, deps: Deps, _: NetworkManager) -> StationOut:
    """Accept a pending (or rejected) station; a connected one is asked to boot again."""
    await _require(deps, station_id)
    return StationOut.of(await deps.network.accept(StationId(station_id)))


@router.get("/{station_id}/messages")
async def station_messages(
    station_id: str,
    deps: Deps,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Messages per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, description="Only messages older than this id (paging)")
    ] = None,
) -> MessagePage:
    """The raw OCPP frames exchanged with the station, newest first."""
    await _require(deps, station_id)
    logged = await deps.message_log.recent(StationId(station_id), limit, before_id)
    return MessagePage(
        messages=[LoggedMessageOut.of(m) for m in logged],
        next_before_id=logged[-1].id if len(logged) == limit else None,
    )


_OCPP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": OcppResult | OcppError,
        "description": "The station answered: its CALLRESULT, or its CALLERROR",
    },
    409: {"model": ErrorOut, "description": "The station is not connected"},
    422: {"model": ErrorOut, "description": "Not a valid request of the station's OCPP version"},
    504: {"model": ErrorOut, "description": "The station did not answer in time"},
}


@router.post("/{station_id}/ocpp/{action}", responses=_OCPP_RESPONSES)
async def send_ocpp(
    station_id: str,
    action: Annotated[
        str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="e.g. Reset, TriggerMessage")
    ],
    payload: Annotated[
        dict[str, Any], Body(description="The OCPP request payload", examples=[{"type": "Soft"}])
    ],
    deps: Deps,
    key: StationOperator,
    wait: Annotated[
        float | None,
        Query(
            alias="timeout",
            gt=0,
            le=MAX_CALL_TIMEOUT,
            description="Seconds to wait for the answer (default: the configured call timeout)",
        ),
    ] = None,
) -> Response:
    """Send a CSMS-initiated OCPP call with a raw payload, validated against the official
    schema of the station's OCPP version, and return the station's answer."""
    await _require(deps, station_id)
    reply = await deps.operations.send_raw(
        StationId(station_id), action, payload, requested_by=key.name, timeout=wait
    )
    return ocpp_reply_response(station_id, action, reply)


def ocpp_reply_response(station_id: str, action: str, reply: CommandReply) -> JSONResponse:
    match reply.outcome:
        case CommandOutcome.RESULT:
            body: Any = OcppResult(payload=reply.payload or {}).model_dump(mode="json")
            return JSONResponse(body)
        case CommandOutcome.ERROR:
            body = OcppError(
                error_code=reply.error_code,
                error_description=reply.error_description,
                error_details=reply.error_details,
            ).model_dump(mode="json")
            return JSONResponse(body)
        case CommandOutcome.REJECTED:
            why = reply.error_description or reply.error_code or "invalid request"
            return JSONResponse(
                {"detail": f"{action} was not sent to {station_id}: {why}"},
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        case CommandOutcome.DISCONNECTED:
            return JSONResponse(
                {"detail": f"station {station_id} is not connected"},
                status_code=status.HTTP_409_CONFLICT,
            )
        case CommandOutcome.TIMEOUT:
            return JSONResponse(
                {"detail": f"station {station_id} did not answer {action} in time"},
                status_code=status.HTTP_504_GATEWAY_TIMEOUT,
            )
    raise AssertionError(f"unhandled outcome {reply.outcome}")  # pragma: no cover
