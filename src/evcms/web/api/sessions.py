"""/api/v1/sessions: charging sessions, their meter values, remote stop and force-close;
/api/v1/stations/{id}/start: remote start; /api/v1/me/sessions: a driver's own sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse

from evcms.domain.charging_sessions import ChargingSession, SessionStatus
from evcms.domain.ids import StationId
from evcms.services.charging import Charging, ChargingError
from evcms.services.network import InvalidRequest
from evcms.services.ports import CommandReply, NotFound, SessionFilter
from evcms.web.api.stations import ocpp_reply_response
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import MAX_PAGE, ErrorOut, OcppError, OcppResult
from evcms.web.session_schemas import (
    NAIVE_TIME,
    DriverRemoteStart,
    ForceClose,
    RemoteStart,
    SampleOut,
    SamplesOut,
    SessionDetailOut,
    SessionOut,
    SessionPage,
    flatten_samples,
)

Deps = Annotated[WebDeps, Depends(web_deps)]

_NO_SESSION: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such session"}
}
_COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": OcppResult | OcppError,
        "description": 'The station answered: its CALLRESULT (e.g. {"status": "Accepted"}),'
        " or its CALLERROR",
    },
    403: {"model": ErrorOut, "description": "Not allowed (a driver: not your token)"},
    404: {"model": ErrorOut, "description": "No such session, station or token"},
    409: {
        "model": ErrorOut,
        "description": "The station is not connected, the EVSE is busy, the session has ended,"
        " or the token may not charge now",
    },
    422: {"model": ErrorOut, "description": "Not sent: the request does not fit the station"},
    504: {"model": ErrorOut, "description": "The station did not answer in time"},
}

router = APIRouter(tags=["charging sessions"])
me_router = APIRouter(prefix="/me/sessions", tags=["driver sessions"])


def charging_service(deps: Deps) -> Charging:
    """The charging service; 503 when this evcms runs without it."""
    if deps.charging is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "charging sessions are not enabled on this server"
        )
    return deps.charging


ChargingService = Annotated[Charging, Depends(charging_service)]


def _now(deps: WebDeps) -> datetime:
    return deps.clock.now() if deps.clock is not None else datetime.now(UTC)


@asynccontextmanager
async def _charging_errors() -> AsyncIterator[None]:
    """``ChargingError`` -> its status with its message."""
    try:
        yield
    except ChargingError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidRequest(f"{name} {NAIVE_TIME}")
    return value


class _Filters:
    """The query parameters that narrow a list of sessions (driver_id is added for operators)."""

    def __init__(
        self,
        station_id: Annotated[str | None, Query(description="Only this station's sessions")] = None,
        id_token: Annotated[
            str | None, Query(description="Only sessions started with this token")
        ] = None,
        session_status: Annotated[
            SessionStatus | None, Query(alias="status", description="Active or Ended")
        ] = None,
        started_from: Annotated[
            datetime | None, Query(description="Started at or after (ISO 8601 with a zone)")
        ] = None,
        started_until: Annotated[
            datetime | None, Query(description="Started before (ISO 8601 with a zone)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Sessions per page")] = 100,
        before_id: Annotated[
            int | None, Query(ge=1, description="Only sessions older than this id (paging)")
        ] = None,
    ) -> None:
        self.station_id = station_id
        self.id_token = id_token
        self.status = session_status
        self.started_from = _aware("started_from", started_from)
        self.started_until = _aware("started_until", started_until)
        self.limit = limit
        self.before_id = before_id

    def filter(self, driver_id: str | None) -> SessionFilter:
        return SessionFilter(
            station_id=StationId(self.station_id) if self.station_id is not None else None,
            driver_id=driver_id,
            id_token=self.id_token,
            status=self.status,
            started_from=self.started_from,
            started_until=self.started_until,
        )


Filters = Annotated[_Filters, Depends()]


async def _list(
    charging: Charging, deps: WebDeps, filters: _Filters, driver_id: str | None
) -> SessionPage:
    found = await charging.list(
        filters.filter(driver_id), limit=filters.limit, before_id=filters.before_id
    )
    now = _now(deps)
    return SessionPage(
        sessions=[SessionOut.of(s, now) for s in found],
        next_before_id=found[-1].id if len(found) == filters.limit else None,
    )


async def _detail(
    charging: Charging, deps: WebDeps, session_id: int, driver_id: str | None
) -> SessionDetailOut:
    async with _charging_errors():
        session = await charging.session(session_id, driver_id=driver_id)
        events = await charging.events_of(session_id, driver_id=driver_id)
    return SessionDetailOut.of_events(session, events, _now(deps))


async def _samples(
    charging: Charging, session_id: int, driver_id: str | None, measurand: str | None
) -> SamplesOut:
    async with _charging_errors():
        events = await charging.events_of(session_id, driver_id=driver_id)
    return SamplesOut(
        session_id=session_id,
        samples=[SampleOut.of(s) for s in flatten_samples(events, measurand)],
    )


def _command_response(station_id: str, what: str, reply: CommandReply) -> JSONResponse:
    return ocpp_reply_response(station_id, what, reply)


async def _stop(charging: Charging, session_id: int, driver_id: str | None) -> JSONResponse:
    async with _charging_errors():
        session: ChargingSession = await charging.session(session_id, driver_id=driver_id)
        reply = await charging.remote_stop(session_id, driver_id=driver_id)
    return _command_response(session.station_id, "the remote stop", reply)


async def _start(
    charging: Charging,
    deps: WebDeps,
    station_id: str,
    evse_id: int,
    token_id: str,
    driver_id: str | None,
) -> JSONResponse:
    if await deps.network.station(StationId(station_id)) is None:
        raise NotFound(f"station {station_id!r} does not exist")
    try:
        reply = await charging.remote_start(
            StationId(station_id), evse_id=evse_id, token_id=token_id, driver_id=driver_id
        )
    except ChargingError as exc:
        if driver_id is not None and exc.status == status.HTTP_403_FORBIDDEN:
            # another driver's token: as unknown as a token that does not exist
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"token {token_id!r} does not exist"
            ) from exc
        raise HTTPException(exc.status, str(exc)) from exc
    return _command_response(station_id, "the remote start", reply)


_Measurand = Annotated[
    str | None,
    Query(
        description="Only this measurand, e.g. Energy.Active.Import.Register",
        examples=["Power.Active.Import"],
    ),
]


# -- operators -----------------------------------------------------------------------------------


@router.get("/sessions")
async def list_sessions(
    charging: ChargingService,
    deps: Deps,
    filters: Filters,
    _: Reader,
    driver_id: Annotated[str | None, Query(description="Only this driver's sessions")] = None,
) -> SessionPage:
    """Charging sessions, newest first, a page at a time."""
    return await _list(charging, deps, filters, driver_id)


@router.get("/sessions/{session_id}", responses=_NO_SESSION)
async def get_session(
    session_id: int, charging: ChargingService, deps: Deps, _: Reader
) -> SessionDetailOut:
    """A session with a summary of each station message about it."""
    return await _detail(charging, deps, session_id, None)


@router.get("/sessions/{session_id}/samples", responses=_NO_SESSION)
async def session_samples(
    session_id: int, charging: ChargingService, _: Reader, measurand: _Measurand = None
) -> SamplesOut:
    """The meter values of a session as one time series, oldest first, in base units."""
    return await _samples(charging, session_id, None, measurand)


@router.post("/sessions/{session_id}/stop", responses=_COMMAND_RESPONSES)
async def stop_session(
    session_id: int, charging: ChargingService, _: StationOperator
) -> JSONResponse:
    """Ask the station to stop the session (RemoteStop / RequestStopTransaction). The session
    ends when the station reports it."""
    return await _stop(charging, session_id, None)


@router.post(
    "/sessions/{session_id}/force-close",
    responses={
        **_NO_SESSION,
        409: {"model": ErrorOut, "description": "The session has already ended"},
        422: {"model": ErrorOut, "description": "No reason given"},
    },
)
async def force_close_session(
    session_id: int, body: ForceClose, charging: ChargingService, deps: Deps, key: StationOperator
) -> SessionOut:
    """End a stuck session in evcms without asking the station; who and why are recorded."""
    async with _charging_errors():
        session = await charging.force_close(session_id, reason=body.reason, by=key.name)
    return SessionOut.of(session, _now(deps))


@router.post("/stations/{station_id}/start", responses=_COMMAND_RESPONSES)
async def start_session(
    station_id: str,
    body: RemoteStart,
    charging: ChargingService,
    deps: Deps,
    _: StationOperator,
) -> JSONResponse:
    """Ask the station to start charging on an EVSE with a token (RemoteStart /
    RequestStartTransaction). The session appears when the station reports it."""
    return await _start(charging, deps, station_id, body.evse_id, body.token_id, None)


# -- the driver's own sessions -------------------------------------------------------------------


@me_router.get("")
async def my_sessions(
    charging: ChargingService, deps: Deps, filters: Filters, session: CurrentDriver
) -> SessionPage:
    """Your charging sessions, newest first."""
    return await _list(charging, deps, filters, session.driver.id)


@me_router.post("/start", responses=_COMMAND_RESPONSES)
async def start_my_session(
    body: DriverRemoteStart, charging: ChargingService, deps: Deps, session: CurrentDriver
) -> JSONResponse:
    """Start charging with one of your tokens."""
    return await _start(
        charging, deps, body.station_id, body.evse_id, body.token_id, session.driver.id
    )


@me_router.get("/{session_id}", responses=_NO_SESSION)
async def my_session(
    session_id: int, charging: ChargingService, deps: Deps, session: CurrentDriver
) -> SessionDetailOut:
    return await _detail(charging, deps, session_id, session.driver.id)


@me_router.get("/{session_id}/samples", responses=_NO_SESSION)
async def my_session_samples(
    session_id: int,
    charging: ChargingService,
    session: CurrentDriver,
    measurand: _Measurand = None,
) -> SamplesOut:
    return await _samples(charging, session_id, session.driver.id, measurand)


@me_router.post("/{session_id}/stop", responses=_COMMAND_RESPONSES)
async def stop_my_session(
    session_id: int, charging: ChargingService, session: CurrentDriver
) -> JSONResponse:
    """Stop one of your sessions."""
    return await _stop(charging, session_id, session.driver.id)
