"""/api/v1/reservations: reserve an EVSE for a token (ReserveNow), cancel (CancelReservation),
list; /api/v1/me/reservations: a driver's own, with their own tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from evcms.domain.ids import StationId
from evcms.domain.reservations import Reservation, ReservationStatus
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.reservations import ReservationError, ReservationFilter, Reservations
from evcms.web.auth import Reader, StationOperator
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.reservation_schemas import ReservationCreate, ReservationOut, ReservationPage
from evcms.web.schemas import MAX_PAGE, ErrorOut

_NO_RESERVATION: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such reservation"}
}
_COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such station, token or reservation"},
    409: {
        "model": ErrorOut,
        "description": "The station is not connected, the EVSE is already reserved, the token"
        " may not charge now, or the reservation is no longer Accepted",
    },
    422: {"model": ErrorOut, "description": "Not sent: the request does not fit the station"},
    502: {"model": ErrorOut, "description": "The station answered with a CALLERROR"},
    504: {"model": ErrorOut, "description": "The station did not answer in time"},
}

router = APIRouter(prefix="/reservations", tags=["reservations"])
me_router = APIRouter(prefix="/me/reservations", tags=["driver reservations"])


def reservations_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Reservations:
    """The reservations service; 503 when this evcms runs without it."""
    if deps.reservations is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "reservations are not enabled on this server"
        )
    return deps.reservations


ReservationsService = Annotated[Reservations, Depends(reservations_service)]


@asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    """``ReservationError`` -> its status with its message."""
    try:
        yield
    except ReservationError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _answered(reservation: Reservation, reply: CommandReply, action: str) -> ReservationOut:
    """The reservation when the station answered; otherwise an HTTP error saying why not."""
    station = reservation.station_id
    match reply.outcome:
        case CommandOutcome.RESULT:
            return ReservationOut.of(reservation)
        case CommandOutcome.ERROR:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY,
                f"station {station} answered {action} with the error {reply.error_code}:"
                f" {reply.error_description or 'no description'} (reservation {reservation.id}"
                f" is {reservation.status.value})",
            )
        case CommandOutcome.REJECTED:
            why = reply.error_description or reply.error_code or "invalid request"
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{action} was not sent to {station}: {why}"
            )
        case CommandOutcome.DISCONNECTED:
            raise HTTPException(status.HTTP_409_CONFLICT, f"station {station} is not connected")
        case CommandOutcome.TIMEOUT:
            raise HTTPException(
                status.HTTP_504_GATEWAY_TIMEOUT,
                f"station {station} did not answer {action} in time (reservation"
                f" {reservation.id} is {reservation.status.value})",
            )
    raise AssertionError(f"unhandled outcome {reply.outcome}")  # pragma: no cover


class _Filters:
    def __init__(
        self,
        station_id: Annotated[str | None, Query(description="Only this station's")] = None,
        id_token: Annotated[str | None, Query(description="Only for this token")] = None,
        reservation_status: Annotated[
            ReservationStatus | None, Query(alias="status", description="Only in this status")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Reservations per page")] = 100,
        before_id: Annotated[
            int | None, Query(ge=1, description="Only reservations older than this id (paging)")
        ] = None,
    ) -> None:
        self.station_id = station_id
        self.id_token = id_token
        self.status = reservation_status
        self.limit = limit
        self.before_id = before_id

    def filter(self, driver_id: str | None) -> ReservationFilter:
        return ReservationFilter(
            station_id=StationId(self.station_id) if self.station_id is not None else None,
            driver_id=driver_id,
            id_token=self.id_token,
            status=self.status,
        )


Filters = Annotated[_Filters, Depends()]


async def _list(service: Reservations, filters: _Filters, driver_id: str | None) -> ReservationPage:
    found = await service.list(
        filters.filter(driver_id), limit=filters.limit, before_id=filters.before_id
    )
    return ReservationPage(
        reservations=[ReservationOut.of(r) for r in found],
        next_before_id=found[-1].id if len(found) == filters.limit else None,
    )


async def _reserve(
    service: Reservations, body: ReservationCreate, driver_id: str | None, by: str
) -> ReservationOut:
    async with _errors():
        reservation, reply = await service.reserve(
            StationId(body.station_id),
            evse_id=body.evse_id,
            token_id=body.token_id,
            expires_at=body.expires_at,
            driver_id=driver_id,
            created_by=by,
        )
    return _answered(reservation, reply, "ReserveNow")


async def _get(service: Reservations, reservation_id: int, driver_id: str | None) -> ReservationOut:
    async with _errors():
        return ReservationOut.of(await service.get(reservation_id, driver_id=driver_id))


async def _cancel(
    service: Reservations, reservation_id: int, driver_id: str | None
) -> ReservationOut:
    async with _errors():
        reservation, reply = await service.cancel(reservation_id, driver_id=driver_id)
    return _answered(reservation, reply, "CancelReservation")


_RESERVE_DOC = (
    "Reserve an EVSE (0: any) of a connected station for a token until `expires_at`. evcms"
    " sends ReserveNow and answers 201 with the reservation, whose `status` is the station's"
    " answer: Accepted, or Faulted / Occupied / Rejected / Unavailable (nothing reserved)."
)


# -- operators -----------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, responses=_COMMAND_RESPONSES)
async def create_reservation(
    body: ReservationCreate, service: ReservationsService, key: StationOperator
) -> ReservationOut:
    return await _reserve(service, body, None, key.name)


create_reservation.__doc__ = _RESERVE_DOC


@router.get("")
async def list_reservations(
    service: ReservationsService,
    filters: Filters,
    _: Reader,
    driver_id: Annotated[str | None, Query(description="Only this driver's")] = None,
) -> ReservationPage:
    """Reservations, newest first, a page at a time (Accepted ones past expiry show Expired)."""
    return await _list(service, filters, driver_id)


@router.get("/{reservation_id}", responses=_NO_RESERVATION)
async def get_reservation(
    reservation_id: int, service: ReservationsService, _: Reader
) -> ReservationOut:
    return await _get(service, reservation_id, None)


@router.post("/{reservation_id}/cancel", responses=_COMMAND_RESPONSES)
async def cancel_reservation(
    reservation_id: int, service: ReservationsService, _: StationOperator
) -> ReservationOut:
    """Send CancelReservation; the reservation is Cancelled once the station answers."""
    return await _cancel(service, reservation_id, None)


# -- the driver's own ----------------------------------------------------------------------------


@me_router.post("", status_code=status.HTTP_201_CREATED, responses=_COMMAND_RESPONSES)
async def reserve_for_me(
    body: ReservationCreate, service: ReservationsService, session: CurrentDriver
) -> ReservationOut:
    return await _reserve(service, body, session.driver.id, f"driver:{session.driver.id}")


reserve_for_me.__doc__ = _RESERVE_DOC.replace("a token", "one of your tokens")


@me_router.get("")
async def my_reservations(
    service: ReservationsService, filters: Filters, session: CurrentDriver
) -> ReservationPage:
    """Your reservations, newest first."""
    return await _list(service, filters, session.driver.id)


@me_router.get("/{reservation_id}", responses=_NO_RESERVATION)
async def my_reservation(
    reservation_id: int, service: ReservationsService, session: CurrentDriver
) -> ReservationOut:
    return await _get(service, reservation_id, session.driver.id)


@me_router.post("/{reservation_id}/cancel", responses=_COMMAND_RESPONSES)
async def cancel_my_reservation(
    reservation_id: int, service: ReservationsService, session: CurrentDriver
) -> ReservationOut:
    """Cancel one of your reservations."""
    return await _cancel(service, reservation_id, session.driver.id)
