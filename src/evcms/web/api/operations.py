"""Remote operations: version-neutral ones, those in a version's own form, the audit trail and
bulk operations.

- ``POST /stations/{id}/operations/reset`` (and change-availability, unlock-connector,
  trigger-message, clear-cache, data-transfer, set-charging-profile, clear-charging-profile,
  composite-schedule): the neutral form, translated for the station's OCPP version;
- ``POST /stations/{id}/operations/{Action}`` with the OCPP payload for the version's own
  operations (GetConfiguration, GetVariables, GetBaseReport, ...);
- ``GET /operations``, ``/operations/{id}``, ``/stations/{id}/operations``: who sent what, and
  what the station answered;
- ``POST /operations/bulk``, ``GET /operations/bulk``, ``/operations/bulk/{id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from evcms.domain.ids import StationId
from evcms.domain.operations import OperationFilter, OperationOutcome
from evcms.services.ports import NotFound, ServiceError
from evcms.services.remote_operations import VERSION_OPERATIONS, RemoteOperations, Sent
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.errors import validation_errors
from evcms.web.operation_schemas import (
    NEUTRAL_MODELS,
    BulkIn,
    BulkOut,
    BulkSummaryOut,
    ChangeAvailabilityIn,
    ClearCacheIn,
    ClearChargingProfileIn,
    CompositeScheduleIn,
    DataTransferIn,
    NeutralIn,
    OperationErrorOut,
    OperationOut,
    OperationPage,
    ResetIn,
    SetChargingProfileIn,
    TriggerMessageIn,
    UnlockConnectorIn,
)
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(tags=["operations"])

Deps = Annotated[WebDeps, Depends(web_deps)]
MAX_CALL_TIMEOUT = 300.0
Timeout = Annotated[
    float | None,
    Query(
        alias="timeout",
        gt=0,
        le=MAX_CALL_TIMEOUT,
        description="Seconds to wait for the answer (default: the configured call timeout)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Operations per page")]
BeforeId = Annotated[int | None, Query(ge=1, description="Only older operations (paging)")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The station answered (its CALLRESULT or CALLERROR), recorded"},
    404: {"model": ErrorOut, "description": "No such station"},
    409: {"model": OperationErrorOut, "description": "The station is not connected"},
    422: {
        "model": OperationErrorOut,
        "description": "Not possible for the station's OCPP version, or invalid",
    },
    504: {"model": OperationErrorOut, "description": "The station did not answer in time"},
}


def _operations(deps: WebDeps) -> RemoteOperations:
    return deps.operations


async def _require_station(deps: WebDeps, station_id: str) -> StationId:
    if await deps.network.station(StationId(station_id)) is None:
        raise NotFound(f"station {station_id!r} does not exist")
    return StationId(station_id)


def _answer(sent: Sent) -> JSONResponse:
    record = sent.record
    body = OperationOut.of(record).model_dump(mode="json")
    station, action = record.station_id, record.action
    match record.outcome:
        case OperationOutcome.RESULT | OperationOutcome.ERROR:
            return JSONResponse(body)
        case OperationOutcome.REJECTED:
            why = record.error_description or record.error_code or "invalid request"
            detail, code = f"{action} was not sent to {station}: {why}", 422
        case OperationOutcome.DISCONNECTED:
            detail, code = f"station {station} is not connected", 409
        case _:
            detail, code = f"station {station} did not answer {action} in time", 504
    return JSONResponse({"detail": detail, "operation": body}, status_code=code)


async def _neutral(
    deps: WebDeps, station_id: str, body: NeutralIn, key: Any, timeout: float | None
) -> JSONResponse:
    sid = await _require_station(deps, station_id)
    sent = await _operations(deps).send(
        sid, body.to_domain(), requested_by=key.name, timeout=timeout
    )
    return _answer(sent)


_STATION = "/stations/{station_id}/operations"


@router.post(f"{_STATION}/reset", responses=_RESPONSES, response_model=OperationOut)
async def reset(
    station_id: str, body: ResetIn, deps: Deps, key: StationOperator, timeout: Timeout = None
) -> JSONResponse:
    """Reset the station (Soft/Hard; 2.0.1 Immediate/OnIdle, optionally one EVSE)."""
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(
    f"{_STATION}/change-availability", responses=_RESPONSES, response_model=OperationOut
)
async def change_availability(
    station_id: str,
    body: ChangeAvailabilityIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    """Make the station, an EVSE or a connector Operative or Inoperative."""
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(f"{_STATION}/unlock-connector", responses=_RESPONSES, response_model=OperationOut)
async def unlock_connector(
    station_id: str,
    body: UnlockConnectorIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(f"{_STATION}/trigger-message", responses=_RESPONSES, response_model=OperationOut)
async def trigger_message(
    station_id: str,
    body: TriggerMessageIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    """Ask the station to send a message now (a 1.6 station cannot be asked for 2.0.1-only
    messages: 422)."""
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(f"{_STATION}/clear-cache", responses=_RESPONSES, response_model=OperationOut)
async def clear_cache(
    station_id: str, deps: Deps, key: StationOperator, timeout: Timeout = None
) -> JSONResponse:
    return await _neutral(deps, station_id, ClearCacheIn(), key, timeout)


@router.post(f"{_STATION}/data-transfer", responses=_RESPONSES, response_model=OperationOut)
async def data_transfer(
    station_id: str,
    body: DataTransferIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(
    f"{_STATION}/set-charging-profile", responses=_RESPONSES, response_model=OperationOut
)
async def set_charging_profile(
    station_id: str,
    body: SetChargingProfileIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    """Install a charging profile (1.6 csChargingProfiles on a connector; 2.0.1
    chargingProfile on an EVSE)."""
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(
    f"{_STATION}/clear-charging-profile", responses=_RESPONSES, response_model=OperationOut
)
async def clear_charging_profile(
    station_id: str,
    body: ClearChargingProfileIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    return await _neutral(deps, station_id, body, key, timeout)


@router.post(
    f"{_STATION}/composite-schedule", responses=_RESPONSES, response_model=OperationOut
)
async def composite_schedule(
    station_id: str,
    body: CompositeScheduleIn,
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    """GetCompositeSchedule: the schedule the station will follow on an EVSE."""
    return await _neutral(deps, station_id, body, key, timeout)


_VERSION_ACTIONS = "|".join(sorted(VERSION_OPERATIONS))


@router.post(f"{_STATION}/{{action}}", responses=_RESPONSES, response_model=OperationOut)
async def version_operation(
    station_id: str,
    action: Annotated[
        str,
        Path(
            description="An operation of the station's version: "
            + ", ".join(sorted(VERSION_OPERATIONS))
        ),
    ],
    payload: Annotated[
        dict[str, Any],
        Body(
            description="The OCPP request payload (validated against the official schema);"
            " GetBaseReport / GetReport / GetMonitoringReport get a requestId when it has none",
            examples=[{"key": ["HeartbeatInterval"]}, {"reportBase": "FullInventory"}],
        ),
    ],
    deps: Deps,
    key: StationOperator,
    timeout: Timeout = None,
) -> JSONResponse:
    """An operation in its version's own form (1.6 GetConfiguration/ChangeConfiguration; 2.0.1
    GetVariables/SetVariables, GetBaseReport/GetReport, SetVariableMonitoring/
    ClearVariableMonitoring, SetNetworkProfile, GetTransactionStatus, ...). An operation of
    another version than the station's is refused with 422."""
    sid = await _require_station(deps, station_id)
    if action not in VERSION_OPERATIONS:
        neutral = ", ".join(
            n.replace("_", "-") for n in NEUTRAL_MODELS if n != "get_composite_schedule"
        )
        raise ServiceError(
            f"unknown operation {action!r}: use one of {', '.join(sorted(VERSION_OPERATIONS))},"
            f" or the neutral {neutral}, composite-schedule",
            404,
        )
    sent = await _operations(deps).send_version_specific(
        sid, action, payload, requested_by=key.name, timeout=timeout
    )
    return _answer(sent)


# -- the audit trail -------------------------------------------------------------------------


def _page(records: list[Any], limit: int) -> OperationPage:
    return OperationPage(
        operations=[OperationOut.of(r) for r in records],
        next_before_id=records[-1].id if len(records) == limit else None,
    )


@router.get(_STATION)
async def station_operations(
    station_id: str,
    deps: Deps,
    _: Reader,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> OperationPage:
    """The operations sent to this station, newest first."""
    await _require_station(deps, station_id)
    records = await _operations(deps).list(
        OperationFilter(station_id=station_id), limit=limit, before_id=before_id
    )
    return _page(records, limit)


@router.post(
    "/operations/bulk",
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": ErrorOut, "description": "Invalid operation or no station"}},
)
async def start_bulk(body: BulkIn, deps: Deps, key: StationOperator) -> BulkOut:
    """Run one neutral operation on many stations (listed, or all of a site or of a model), in
    the background; follow it with ``GET /operations/bulk/{id}``."""
    model = NEUTRAL_MODELS[body.operation]
    try:
        params = model.model_validate(body.params)
    except ValidationError as exc:
        detail, _ = validation_errors(list(exc.errors()))  # type: ignore[arg-type]
        raise ServiceError(f"params of {body.operation}: {detail}", 422) from exc
    bulk = await _operations(deps).start_bulk(
        params.to_domain(),
        params.model_dump(mode="json", exclude_none=True),
        body.target.to_domain(),
        requested_by=key.name,
    )
    return BulkOut.of(bulk)


@router.get("/operations/bulk")
async def list_bulk(
    deps: Deps, _: Reader, limit: Limit = 100, before_id: BeforeId = None
) -> list[BulkSummaryOut]:
    """Bulk operations, newest first."""
    return [BulkSummaryOut.of(b) for b in await _operations(deps).bulks(limit=limit, before_id=before_id)]


@router.get("/operations/bulk/{bulk_id}")
async def get_bulk(bulk_id: int, deps: Deps, _: Reader) -> BulkOut:
    """A bulk operation's progress (total, done, by outcome and status) and the result per
    station, with the ids of its operations."""
    bulk, progress = await _operations(deps).bulk(bulk_id)
    return BulkOut.of(bulk, progress)


@router.get("/operations")
async def list_operations(
    deps: Deps,
    _: Reader,
    station_id: Annotated[str | None, Query(description="Only this station's")] = None,
    action: Annotated[str | None, Query(description="Only this OCPP action, e.g. Reset")] = None,
    outcome: Annotated[OperationOutcome | None, Query(description="Only those that ended so")] = None,
    requested_by: Annotated[str | None, Query(description="Only those of this API key")] = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> OperationPage:
    """Every CSMS-initiated operation: who asked, when, what was sent and what came back,
    newest first."""
    records = await _operations(deps).list(
        OperationFilter(
            station_id=station_id, action=action, outcome=outcome, requested_by=requested_by
        ),
        limit=limit,
        before_id=before_id,
    )
    return _page(records, limit)


@router.get("/operations/{operation_id}", responses={404: {"model": ErrorOut}})
async def get_operation(operation_id: int, deps: Deps, _: Reader) -> OperationOut:
    record = await _operations(deps).get(operation_id)
    if record is None:
        raise NotFound(f"operation {operation_id} does not exist")
    return OperationOut.of(record)
