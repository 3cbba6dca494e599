"""Reservations: ReserveNow / CancelReservation, expiry, and holding a reserved EVSE at start.

Version-neutral: the station gateway turns ``reserve_now`` / ``cancel_reservation`` into the
OCPP call of the station's version (``station_gateway.reservation_commands``) and 2.0.1's
ReservationStatusUpdate into ``station_reported``. ``Charging`` asks ``admit_start`` before a
session starts (a safety net: stations themselves refuse other tokens on a reserved EVSE) and so
marks the reservation Used with the session's id.

Expiry: ``expire_due(now)`` turns every Accepted reservation past its expiry into Expired (the
composition root runs it periodically); reads show such a reservation as Expired already.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from evcms.domain.ids import StationId
from evcms.domain.reservations import (
    OPEN,
    InvalidReservation,
    Reservation,
    ReservationStatus,
    answer_status,
    check_evse_id,
    check_expiry,
    holds_start,
    update_status,
)
from evcms.domain.stations import ConnectorStatus
from evcms.domain.tokens import AuthorizationStatus, IdToken, authorize
from evcms.services.ports import (
    ChargingSessionRepository,
    Clock,
    CommandOutcome,
    CommandReply,
    ServiceError,
    StationRepository,
    TokenRepository,
)

log = logging.getLogger(__name__)

_NOT_FREE = frozenset({ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE})


class ReservationError(ServiceError):
    """A reservation request that cannot be done."""


@dataclass(frozen=True, slots=True)
class ReservationPolicy:
    default_duration: timedelta = timedelta(minutes=15)
    max_duration: timedelta = timedelta(hours=24)  # for operators
    # Drivers reserve for themselves: one place at a time, for a short while, so nobody can
    # hold a whole network.
    driver_max_duration: timedelta = timedelta(hours=1)
    driver_max_active: int = 1


@dataclass(frozen=True, slots=True)
class ReservationFilter:
    station_id: StationId | None = None
    driver_id: str | None = None
    id_token: str | None = None
    status: ReservationStatus | None = None


@dataclass(frozen=True, slots=True)
class NewReservation:
    station_id: StationId
    evse_id: int
    id_token: str
    expires_at: datetime
    group_id: str | None = None
    driver_id: str | None = None
    created_by: str | None = None


# -- ports ----------------------------------------------------------------------------------------


class ReservationRepository(Protocol):
    """Reservations; writes return once committed."""

    async def add(self, new: NewReservation, status: ReservationStatus, at: datetime) -> Reservation:
        """Store a new reservation; its id (the OCPP reservationId) is assigned here."""
        ...

    async def get(self, reservation_id: int) -> Reservation | None: ...

    async def set_status(
        self,
        reservation_id: int,
        status: ReservationStatus,
        at: datetime,
        *,
        only_from: frozenset[ReservationStatus] | None = None,
        session_id: int | None = None,
    ) -> Reservation | None:
        """Change the status (and the session, when given) if the reservation exists and, with
        ``only_from``, is in one of those statuses: the reservation as changed, else None."""
        ...

    async def accepted(self, station_id: StationId) -> builtins.list[Reservation]:
        """The station's Accepted reservations (expired or not), oldest first."""
        ...

    async def expire_due(self, now: datetime) -> int:
        """Every Accepted reservation with ``expires_at <= now`` becomes Expired: how many."""
        ...

    async def list(
        self, filter: ReservationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Reservation]: ...  # newest (highest id) first


class StationReservationCommands(Protocol):
    """Version-neutral reservation commands to a station (implemented by the station gateway)."""

    def is_connected(self, station_id: StationId) -> bool: ...

    async def reserve_now(
        self,
        station_id: StationId,
        *,
        reservation_id: int,
        evse_id: int,
        token: IdToken,
        expires_at: datetime,
        group_id: str | None,
    ) -> CommandReply: ...

    async def cancel_reservation(self, station_id: StationId, reservation_id: int) -> CommandReply: ...


# -- the service ----------------------------------------------------------------------------------


class Reservations:
    def __init__(
        self,
        *,
        reservations: ReservationRepository,
        tokens: TokenRepository,
        stations: StationRepository,
        sessions: ChargingSessionRepository,
        commands: StationReservationCommands,
        clock: Clock,
        policy: ReservationPolicy | None = None,
    ) -> None:
        self._reservations = reservations
        self._tokens = tokens
        self._stations = stations
        self._sessions = sessions
        self._commands = commands
        self._clock = clock
        self.policy = policy or ReservationPolicy()

    # -- operators and drivers ------------------------------------------------------------

    async def reserve(
        self,
        station_id: StationId,
        *,
        evse_id: int,
        token_id: str,
        expires_at: datetime | None = None,
        driver_id: str | None = None,
        created_by: str | None = None,
    ) -> tuple[Reservation, CommandReply]:
        """Reserve an EVSE (0: any) of a connected station for a token until ``expires_at``
        (default: the policy's duration from now). A driver may only reserve with their own
        token. The reservation is stored, ReserveNow sent, and the station's answer recorded:
        Accepted, Faulted, Occupied, Rejected, Unavailable, or Failed without an answer."""
        now = self._clock.now()
        longest = self.policy.max_duration if driver_id is None else self.policy.driver_max_duration
        try:
            evse_id = check_evse_id(evse_id)
            until = check_expiry(
                expires_at or now + self.policy.default_duration, now=now, longest=longest
            )
        except InvalidReservation as exc:
            raise ReservationError(str(exc), 422) from exc
        if await self._stations.get(station_id) is None:
            raise ReservationError(f"station {station_id!r} does not exist", 404)
        token = await self._tokens.get(token_id)
        if token is None or (driver_id is not None and token.driver_id != driver_id):
            raise ReservationError(f"token {token_id!r} does not exist", 404)
        verdict = authorize(token, now=now, active_sessions=0, starting=False)
        if verdict.status is not AuthorizationStatus.ACCEPTED:
            raise ReservationError(f"token {token_id!r} may not charge now: {verdict.status.value}")
        if driver_id is not None:
            held_by_driver = [
                r
                for status in (ReservationStatus.PENDING, ReservationStatus.ACCEPTED)
                for r in await self._reservations.list(
                    ReservationFilter(driver_id=driver_id, status=status),
                    limit=self.policy.driver_max_active + 1,
                )
                if r.is_active(now) or r.status is ReservationStatus.PENDING
            ]
            if len(held_by_driver) >= self.policy.driver_max_active:
                raise ReservationError(
                    f"you already hold {len(held_by_driver)} reservation(s); cancel one first", 409
                )
        if not self._commands.is_connected(station_id):
            raise ReservationError(f"station {station_id} is not connected", 409)
        for held in await self._reservations.accepted(station_id):
            if held.is_active(now) and held.evse_id == evse_id:
                where = "the station" if evse_id == 0 else f"EVSE {evse_id}"
                raise ReservationError(
                    f"{where} of {station_id} is already reserved (reservation {held.id})", 409
                )
        reservation = await self._reservations.add(
            NewReservation(
                station_id=station_id,
                evse_id=evse_id,
                id_token=token.id,
                expires_at=until,
                group_id=token.group_id,
                driver_id=token.driver_id,
                created_by=created_by,
            ),
            ReservationStatus.PENDING,
            now,
        )
        reply = await self._commands.reserve_now(
            station_id,
            reservation_id=reservation.id,
            evse_id=evse_id,
            token=token,
            expires_at=until,
            group_id=token.group_id,
        )
        if reply.outcome is CommandOutcome.RESULT and reply.payload is not None:
            status = answer_status(str(reply.payload.get("status")))
        else:
            status = ReservationStatus.FAILED
        log.info("reservation %s on %s/%s for %s: %s", reservation.id, station_id, evse_id, token.id, status)
        changed = await self._reservations.set_status(
            reservation.id, status, self._clock.now(), only_from=frozenset({ReservationStatus.PENDING})
        )
        return (changed or await self._require(reservation.id, None)), reply

    async def cancel(
        self, reservation_id: int, *, driver_id: str | None = None
    ) -> tuple[Reservation, CommandReply]:
        """Send CancelReservation for an Accepted, unexpired reservation — or a Failed one, whose
        ReserveNow went unanswered: the station may hold it all the same. It is Cancelled when the
        station accepts, or answers Rejected (it holds no such reservation any more)."""
        reservation = await self._require(reservation_id, driver_id)
        if reservation.status not in (ReservationStatus.ACCEPTED, ReservationStatus.FAILED):
            raise ReservationError(
                f"reservation {reservation_id} is {reservation.status.value}, not Accepted", 409
            )
        reply = await self._commands.cancel_reservation(reservation.station_id, reservation.id)
        if reply.outcome is CommandOutcome.RESULT:
            changed = await self._reservations.set_status(
                reservation.id,
                ReservationStatus.CANCELLED,
                self._clock.now(),
                only_from=OPEN | {ReservationStatus.FAILED},
            )
            reservation = changed or await self._require(reservation_id, None)
        return reservation, reply

    async def get(self, reservation_id: int, *, driver_id: str | None = None) -> Reservation:
        return await self._require(reservation_id, driver_id)

    async def list(
        self, filter: ReservationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[Reservation]:
        now = self._clock.now()
        if filter.status in (ReservationStatus.ACCEPTED, ReservationStatus.EXPIRED):
            await self._reservations.expire_due(now)  # so the filter sees the statuses as of now
        found = await self._reservations.list(filter, limit=limit, before_id=before_id)
        return [await self._current(r, now) for r in found]

    # -- expiry and the station's own updates ---------------------------------------------

    async def expire_due(self, now: datetime | None = None) -> int:
        """Accepted reservations past their expiry become Expired: how many did."""
        count = await self._reservations.expire_due(now or self._clock.now())
        if count:
            log.info("%d reservation(s) expired", count)
        return count

    async def station_reported(
        self, station_id: StationId, reservation_id: int, update: str
    ) -> Reservation | None:
        """2.0.1 / 2.1 ReservationStatusUpdate: the station ended a reservation (Expired,
        Removed, 2.1 NoTransaction). Unknown reservations, or another station's, are ignored."""
        reservation = await self._reservations.get(reservation_id)
        if reservation is None or reservation.station_id != station_id:
            log.info("%s reported unknown reservation %s: %s", station_id, reservation_id, update)
            return None
        changed = await self._reservations.set_status(
            reservation_id, update_status(update), self._clock.now(), only_from=OPEN
        )
        return changed or reservation

    # -- at session start (``Charging``'s port) --------------------------------------------

    async def admit_start(
        self,
        *,
        station_id: StationId,
        evse_id: int,
        token_id: str,
        group_id: str | None,
        reservation_id: int | None,
        session_id: int,
    ) -> bool:
        """Whether a session may start on ``evse_id`` with this token as far as reservations go;
        a reservation the start uses (named by ``reservation_id``, or the token's own on that
        EVSE) becomes Used with ``session_id``."""
        now = self._clock.now()
        if reservation_id is not None:
            named = await self._reservations.get(reservation_id)
            if (
                named is not None
                and named.station_id == station_id
                and named.admits(token_id, group_id)
            ):
                if named.session_id == session_id:
                    return True  # the same start again
                if named.status in (ReservationStatus.ACCEPTED, ReservationStatus.EXPIRED):
                    # the station honoured it; an expiry by our clock a moment ago yields to it
                    await self._use(named, session_id, now, also_expired=True)
                    return True
        held = await self._reservations.accepted(station_id)
        if not held:
            return True
        for reservation in held:
            if (
                reservation.is_active(now)
                and reservation.covers(evse_id)
                and reservation.admits(token_id, group_id)
            ):
                await self._use(reservation, session_id, now, also_expired=False)
                return True
        free = None
        if any(r.evse_id == 0 and r.is_active(now) for r in held):
            free = await self._free_evses(station_id, session_id)
        return not holds_start(
            held,
            evse_id=evse_id,
            token_id=token_id,
            group_id=group_id,
            now=now,
            free_evses=free,
        )

    # -- internals ------------------------------------------------------------------------

    async def _use(
        self, reservation: Reservation, session_id: int, now: datetime, *, also_expired: bool
    ) -> None:
        statuses = {ReservationStatus.ACCEPTED}
        if also_expired:
            statuses.add(ReservationStatus.EXPIRED)
        changed = await self._reservations.set_status(
            reservation.id,
            ReservationStatus.USED,
            now,
            only_from=frozenset(statuses),
            session_id=session_id,
        )
        if changed is not None:
            log.info("reservation %s used by session %s", reservation.id, session_id)

    async def _free_evses(self, station_id: StationId, session_id: int) -> frozenset[int] | None:
        """The station's EVSEs that no other session occupies and that are not out of order;
        None when the station has reported no EVSE yet."""
        states = await self._stations.connector_states(station_id)
        evses = {s.evse_id for s in states if s.evse_id > 0}
        if not evses:
            return None
        broken = {s.evse_id for s in states if s.evse_id > 0 and s.status in _NOT_FREE}
        busy = {
            s.state.evse_id or s.evse_id  # the EVSE a 2.0.1 station named after the start
            for s in await self._sessions.active(station_id=station_id)
            if s.id != session_id
        }
        return frozenset(evses - broken - busy)

    async def _current(self, reservation: Reservation, now: datetime) -> Reservation:
        """``reservation`` as of now; an Accepted one past its expiry is stored as Expired."""
        current = reservation.as_of(now)
        if current.status is not reservation.status:
            changed = await self._reservations.set_status(
                reservation.id,
                ReservationStatus.EXPIRED,
                now,
                only_from=frozenset({ReservationStatus.ACCEPTED}),
            )
            if changed is not None:
                return changed
            return await self._reservations.get(reservation.id) or current
        return current

    async def _require(self, reservation_id: int, driver_id: str | None) -> Reservation:
        reservation = await self._reservations.get(reservation_id)
        if reservation is None or (driver_id is not None and reservation.driver_id != driver_id):
            raise ReservationError(f"reservation {reservation_id} does not exist", 404)
        return await self._current(reservation, self._clock.now())
