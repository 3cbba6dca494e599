"""Reservations of an EVSE (or of any EVSE of a station) for one token until an expiry (pure).

evcms assigns the reservation id (OCPP ``reservationId``), sends ReserveNow and records the
station's answer. While a reservation is Accepted and unexpired, only its token — or a token of
the same group (1.6 parentIdTag / 2.0.1 groupIdToken) — may start on the reserved EVSE; evse 0
reserves "one EVSE of the station, whichever" (1.6 connector 0, 2.0.1 without ``evseId``).

Life of a reservation::

    Pending --station answers--> Accepted | Faulted | Occupied | Rejected | Unavailable
    Pending --no answer / not sent--> Failed
    Accepted --> Used (a session started on it) | Cancelled | Expired | Removed (2.0.1 station)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from evcms.domain.ids import StationId


class ReservationStatus(enum.StrEnum):
    PENDING = "Pending"  # ReserveNow sent, no answer yet
    # the station's answers (1.6 ReservationStatus, 2.0.1 ReserveNowStatusEnumType)
    ACCEPTED = "Accepted"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"
    FAILED = "Failed"  # not sent, or no answer (timeout, CALLERROR, connection lost)
    # what became of an Accepted reservation
    USED = "Used"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"
    REMOVED = "Removed"  # 2.0.1 ReservationStatusUpdate Removed: the station dropped it


STATION_ANSWERS = frozenset(
    {
        ReservationStatus.ACCEPTED,
        ReservationStatus.FAULTED,
        ReservationStatus.OCCUPIED,
        ReservationStatus.REJECTED,
        ReservationStatus.UNAVAILABLE,
    }
)
# statuses in which the station may still hold the reservation
OPEN = frozenset({ReservationStatus.PENDING, ReservationStatus.ACCEPTED})
ENDED = frozenset(ReservationStatus) - OPEN


class InvalidReservation(ValueError):
    """A reservation request that breaks a rule; the message says which."""


@dataclass(frozen=True, slots=True)
class Reservation:
    id: int  # the OCPP reservationId
    station_id: StationId
    evse_id: int  # 0: any EVSE of the station
    id_token: str
    status: ReservationStatus
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    group_id: str | None = None
    driver_id: str | None = None
    session_id: int | None = None  # the session that used it
    created_by: str | None = None  # the API key's name, or "driver:<id>"

    def is_active(self, now: datetime) -> bool:
        """Accepted by the station and not yet past its expiry: the EVSE is held."""
        return self.status is ReservationStatus.ACCEPTED and now < self.expires_at

    def as_of(self, now: datetime) -> Reservation:
        """The reservation as it stands at ``now``: an Accepted one past its expiry is Expired."""
        if self.status is ReservationStatus.ACCEPTED and now >= self.expires_at:
            return replace(self, status=ReservationStatus.EXPIRED, updated_at=now)
        return self

    def covers(self, evse_id: int) -> bool:
        """Whether a start on ``evse_id`` falls under this reservation (evse 0: any EVSE)."""
        return self.evse_id == 0 or self.evse_id == evse_id

    def admits(self, token_id: str, group_id: str | None) -> bool:
        """Whether a token (with its group) may use the reservation.

        As 1.6 §5.13 puts it: the incoming idTag or its parent idTag matches the idTag or the
        parent idTag of the reservation.
        """
        mine = {self.id_token, self.group_id} - {None}
        return token_id in mine or (group_id is not None and group_id in mine)


def answer_status(station_status: str) -> ReservationStatus:
    """The station's ReserveNow answer -> the reservation's status (anything else: Failed)."""
    try:
        status = ReservationStatus(station_status)
    except ValueError:
        return ReservationStatus.FAILED
    return status if status in STATION_ANSWERS else ReservationStatus.FAILED


def update_status(station_status: str) -> ReservationStatus:
    """2.0.1 / 2.1 ReservationStatusUpdate -> the status: Removed, or Expired (Expired, and
    2.1's NoTransaction: the reservation ran out without a transaction)."""
    return ReservationStatus.REMOVED if station_status == "Removed" else ReservationStatus.EXPIRED


def check_expiry(expires_at: datetime, *, now: datetime, longest: timedelta) -> datetime:
    """``expires_at`` if it is aware, in the future and at most ``longest`` from ``now``."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InvalidReservation("expires_at needs a time zone, e.g. 2027-01-01T00:00:00Z")
    if expires_at <= now:
        raise InvalidReservation("expires_at must be in the future")
    if expires_at - now > longest:
        minutes = int(longest.total_seconds() // 60)
        raise InvalidReservation(f"a reservation may last at most {minutes} minutes")
    return expires_at


def check_evse_id(evse_id: int) -> int:
    if evse_id < 0:
        raise InvalidReservation("evse_id must be 0 (any EVSE) or more")
    return evse_id


def holds_start(
    reservations: list[Reservation],
    *,
    evse_id: int,
    token_id: str,
    group_id: str | None,
    now: datetime,
    free_evses: frozenset[int] | None,
) -> bool:
    """Whether the active reservations of a station forbid ``token_id`` to start on ``evse_id``.

    A reservation of that EVSE for another token holds it. Reservations of "any EVSE" (evse 0)
    for other tokens hold a start only when it would leave fewer EVSEs free than they need:
    ``free_evses`` are the station's EVSEs free before this start (None: not known, so every
    start is held). EVSEs reserved by their id are not free for "any EVSE" reservations.
    """
    others = [
        r for r in reservations if r.is_active(now) and not r.admits(token_id, group_id)
    ]
    if any(r.evse_id == evse_id for r in others):
        return True
    anywhere = sum(1 for r in others if r.evse_id == 0)
    if not anywhere:
        return False
    if free_evses is None:
        return True
    reserved = {r.evse_id for r in reservations if r.is_active(now) and r.evse_id != 0}
    left = free_evses - reserved - {evse_id}
    return len(left) < anywhere


__all__ = [
    "ENDED",
    "OPEN",
    "STATION_ANSWERS",
    "InvalidReservation",
    "Reservation",
    "ReservationStatus",
    "answer_status",
    "check_evse_id",
    "check_expiry",
    "holds_start",
    "update_status",
]
