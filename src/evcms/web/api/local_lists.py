"""/api/v1/stations/{id}/local-list: a station's local authorisation list (state, sync, version
check) and /api/v1/stations/{id}/clear-cache."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListStatus
from evcms.services.local_lists import (
    LocalLists,
    LocalListState,
    SyncOutcome,
    SyncResult,
    VersionCheck,
)
from evcms.services.ports import CommandOutcome, CommandReply, NotFound
from evcms.web.api.stations import ocpp_reply_response
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import ErrorOut, OcppError, OcppResult

Deps = Annotated[WebDeps, Depends(web_deps)]

router = APIRouter(
    prefix="/stations",
    tags=["local authorisation lists"],
    responses={404: {"model": ErrorOut, "description": "No such station"}},
)

_COMMAND: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The station is not connected"},
    504: {"model": ErrorOut, "description": "The station did not answer in time"},
}


def local_lists_service(deps: Deps) -> LocalLists:
    if deps.local_lists is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "local authorisation lists are not enabled on this server",
        )
    return deps.local_lists


Service = Annotated[LocalLists, Depends(local_lists_service)]


async def _require_station(deps: WebDeps, station_id: str) -> StationId:
    sid = StationId(station_id)
    if await deps.network.station(sid) is None:
        raise NotFound(f"station {station_id!r} does not exist")
    return sid


class LocalListOut(BaseModel):
    """What evcms knows of the station's list."""

    station_id: str
    status: ListStatus  # in_sync | pending (a sync is due) | failed (next update full) | unsupported
    version: int  # the version the station last acknowledged (0: none)
    entries: int  # entries the station holds, as far as evcms knows
    synced_at: datetime | None
    error: str | None
    updated_at: datetime
    connected: bool

    @classmethod
    def of(cls, state: LocalListState, *, connected: bool) -> LocalListOut:
        return cls(
            station_id=state.station_id,
            status=state.status,
            version=state.version,
            entries=state.entries,
            synced_at=state.synced_at,
            error=state.error,
            updated_at=state.updated_at,
            connected=connected,
        )


class SyncOut(BaseModel):
    outcome: SyncOutcome
    update_type: str | None  # Full | Differential; None when nothing was sent
    version: int | None  # the version the update was to reach
    messages: int  # SendLocalList messages sent (big lists are cut into several)
    skipped: list[str]  # tokens too long for the station's OCPP version, left off
    detail: str | None
    station_answer: OcppResult | OcppError | None
    local_list: LocalListOut | None

    @classmethod
    def of(cls, result: SyncResult, *, connected: bool) -> SyncOut:
        return cls(
            outcome=result.outcome,
            update_type=None if result.full is None else ("Full" if result.full else "Differential"),
            version=result.version,
            messages=result.messages,
            skipped=list(result.skipped),
            detail=result.detail,
            station_answer=_answer(result.reply),
            local_list=None
            if result.state is None
            else LocalListOut.of(result.state, connected=connected),
        )


class VersionOut(BaseModel):
    station_version: int | None
    evcms_version: int
    in_sync: bool
    station_answer: OcppResult | OcppError
    local_list: LocalListOut | None

    @classmethod
    def of(cls, check: VersionCheck) -> VersionOut:
        answer = _answer(check.reply)
        assert answer is not None
        return cls(
            station_version=check.station_version,
            evcms_version=check.evcms_version,
            in_sync=bool(check.in_sync),
            station_answer=answer,
            local_list=None
            if check.state is None
            else LocalListOut.of(check.state, connected=True),
        )


def _answer(reply: CommandReply | None) -> OcppResult | OcppError | None:
    if reply is None:
        return None
    if reply.outcome is CommandOutcome.RESULT:
        return OcppResult(payload=reply.payload or {})
    if reply.outcome is CommandOutcome.ERROR:
        return OcppError(
            error_code=reply.error_code,
            error_description=reply.error_description,
            error_details=reply.error_details,
        )
    return None


def _not_answered(station_id: str, action: str, reply: CommandReply) -> JSONResponse | None:
    """409 / 504 / 422 when the station was not reached or did not answer."""
    if reply.outcome in (CommandOutcome.RESULT, CommandOutcome.ERROR):
        return None
    return ocpp_reply_response(station_id, action, reply)


@router.get("/{station_id}/local-list")
async def get_local_list(station_id: str, deps: Deps, service: Service, _: Reader) -> LocalListOut:
    """The station's local list: sync status, acknowledged version, entry count."""
    sid = await _require_station(deps, station_id)
    state = await service.state(sid)
    return LocalListOut.of(state, connected=service.is_connected(sid))


@router.post(
    "/{station_id}/local-list/sync",
    responses={
        200: {
            "model": SyncOut,
            "description": "What was sent and how the station answered: outcome sent,"
            " up_to_date, refused (Failed / VersionMismatch), not_supported, error (CALLERROR)",
        },
        **_COMMAND,
    },
)
async def sync_local_list(
    station_id: str,
    deps: Deps,
    service: Service,
    _: StationOperator,
    full: Annotated[
        bool, Query(description="Send the whole list even when a differential update would do")
    ] = False,
) -> Any:
    """Send the station the tokens it should hold (SendLocalList, full or differential)."""
    sid = await _require_station(deps, station_id)
    result = await service.sync(sid, full=full)
    if result.outcome is SyncOutcome.DISCONNECTED and result.messages == 0:
        return JSONResponse(
            {"detail": f"station {station_id} is not connected"}, status_code=status.HTTP_409_CONFLICT
        )
    body = SyncOut.of(result, connected=service.is_connected(sid))
    if result.outcome is SyncOutcome.TIMEOUT:
        return JSONResponse(
            {
                **body.model_dump(mode="json"),
                "detail": f"station {station_id} did not answer SendLocalList in time;"
                " the next update will be full",
            },
            status_code=status.HTTP_504_GATEWAY_TIMEOUT,
        )
    return body


@router.post(
    "/{station_id}/local-list/version",
    responses={200: {"model": VersionOut}, **_COMMAND},
)
async def check_local_list_version(
    station_id: str, deps: Deps, service: Service, _: StationOperator
) -> Any:
    """Ask the station its list version (GetLocalListVersion) and compare it with evcms's;
    a mismatch marks the list failed, so the next sync sends it whole."""
    sid = await _require_station(deps, station_id)
    check = await service.version(sid)
    problem = _not_answered(station_id, "GetLocalListVersion", check.reply)
    return problem if problem is not None else VersionOut.of(check)


@router.post(
    "/{station_id}/clear-cache",
    responses={
        200: {
            "model": OcppResult | OcppError,
            "description": 'The station answered: {"status": "Accepted" | "Rejected"},'
            " or its CALLERROR",
        },
        **_COMMAND,
    },
)
async def clear_cache(station_id: str, deps: Deps, service: Service, _: StationOperator) -> Any:
    """ClearCache: the station forgets the authorisations it cached (its local list stays)."""
    sid = await _require_station(deps, station_id)
    return ocpp_reply_response(station_id, "ClearCache", await service.clear_cache(sid))
