"""Charging sessions: authorisation, start, updates, stop, remote start/stop, force-close.

Version-neutral: the station gateway turns 1.6 StartTransaction / MeterValues / StopTransaction
and 2.0.1 TransactionEvent into ``SessionEvent``s and calls ``record``. Every event is stored
once per key together with the state it leads to (see ``domain.charging_sessions``), so retries
and offline replays never create a second session or count energy twice, and out-of-order events
end in the same state as in-order ones.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from evcms.domain.charging_sessions import (
    STOP_SEQ,
    ChargingSession,
    EventKind,
    SessionEvent,
    SessionStatus,
    apply_or_refold,
)
from evcms.domain.events import MeterSampled, SessionEnded, SessionStarted, SessionUpdated
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorStatus
from evcms.domain.tokens import (
    Authorization,
    AuthorizationStatus,
    IdToken,
    TokenType,
    authorize,
)
from evcms.services.ports import (
    ChargingSessionRepository,
    Clock,
    CommandReply,
    EventBus,
    ServiceError,
    SessionFilter,
    StationRepository,
    TokenRepository,
)

log = logging.getLogger(__name__)

# Synthetic events evcms adds itself sort just before a station's own stop, so a stop the station
# delivers later still wins.
EVCMS_STOP_SEQ = STOP_SEQ - 1
FREE_VEND_TOKEN_TYPES = frozenset({TokenType.NO_AUTHORIZATION})
STARTABLE = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING})


class ChargingError(ServiceError):
    """A session request that cannot be done (remote start on a busy EVSE, ...)."""


@dataclass(frozen=True, slots=True)
class TokenRef:
    """A token as a station presented it."""

    id: str
    type: TokenType | None = None


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    ongoing: bool | None  # None: the station did not say
    messages_queued: bool


@dataclass(frozen=True, slots=True)
class Recorded:
    session: ChargingSession
    authorization: Authorization | None  # for events that carried a token
    duplicate: bool  # the event had been stored before: nothing changed


class StationSessionCommands(Protocol):
    """Version-neutral session commands to a station (implemented by the station gateway)."""

    async def remote_start(
        self,
        station_id: StationId,
        *,
        evse_id: int,
        token: IdToken,
        remote_start_id: int,
    ) -> CommandReply: ...

    async def remote_stop(self, station_id: StationId, transaction_id: str) -> CommandReply: ...

    async def transaction_status(
        self, station_id: StationId, transaction_id: str
    ) -> TransactionStatus | None:
        """What the station says about a transaction; None when it cannot tell (no answer,
        an error, or a version without the question)."""
        ...


class SessionReservations(Protocol):
    """Reservations as session starts see them (implemented by ``services.reservations``)."""

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
        """False when a reservation for another token holds the EVSE; a reservation the start
        uses becomes Used with ``session_id``."""
        ...

    async def station_reported(
        self, station_id: StationId, reservation_id: int, update: str
    ) -> object: ...


class PaymentGate(Protocol):
    """Whether the driver of a token can pay for a session now (billing implements it).

    Asked for an accepted token at Authorize (``session_id`` None), at a remote start, and when
    a session starts (``session_id`` given: a card can be pre-authorised then). Returns None
    when the driver may charge, else the refusal (NoCredit, with a reason for people).
    """

    async def admit(
        self, token: IdToken, *, station_id: StationId | None, session_id: int | None
    ) -> Authorization | None: ...


class Charging:
    def __init__(
        self,
        *,
        sessions: ChargingSessionRepository,
        tokens: TokenRepository,
        stations: StationRepository,
        commands: StationSessionCommands,
        events: EventBus,
        clock: Clock,
        reservations: SessionReservations | None = None,
        payment_gate: PaymentGate | None = None,
    ) -> None:
        self._sessions = sessions
        self.payment_gate = payment_gate
        self._tokens = tokens
        self._stations = stations
        self._commands = commands
        self._events = events
        self._clock = clock
        self._reservations = reservations
        self._active: dict[tuple[StationId, str], ChargingSession] = {}
        self._locks: dict[StationId, asyncio.Lock] = {}

    # -- authorisation ------------------------------------------------------------------

    async def authorize(
        self,
        token: TokenRef,
        *,
        starting: bool = True,
        session_id: int | None = None,
        station_id: StationId | None = None,
    ) -> Authorization:
        """The verdict for ``token`` now (Authorize, and the idTagInfo of transaction answers)."""
        stored = None if token.type in FREE_VEND_TOKEN_TYPES else await self._tokens.get(token.id)
        return await self._decide(
            token, stored, starting=starting, session_id=session_id, station_id=station_id
        )

    async def _decide(
        self,
        token: TokenRef,
        stored: IdToken | None,
        *,
        starting: bool,
        session_id: int | None,
        station_id: StationId | None = None,
    ) -> Authorization:
        if token.type in FREE_VEND_TOKEN_TYPES:
            return Authorization(AuthorizationStatus.ACCEPTED)
        active = 0
        if starting and stored is not None and stored.max_concurrent:
            active = sum(1 for s in await self._sessions.active(id_token=token.id) if s.id != session_id)
        verdict = authorize(
            stored,
            now=self._clock.now(),
            active_sessions=active,
            starting=starting,
            token_type=token.type,
        )
        if (
            starting
            and self.payment_gate is not None
            and stored is not None
            and stored.driver_id is not None
            and verdict.status is AuthorizationStatus.ACCEPTED
        ):
            refusal = await self.payment_gate.admit(
                stored, station_id=station_id, session_id=session_id
            )
            if refusal is not None:
                return refusal
        return verdict

    # -- station messages ---------------------------------------------------------------

    async def record(
        self,
        *,
        station_id: StationId,
        ocpp_version: str,
        transaction_id: str | None,
        event: SessionEvent,
        evse_id: int,
        connector_id: int,
        start_key: str | None = None,
        token: TokenRef | None = None,
        reservation_id: int | None = None,
    ) -> Recorded:
        """Store one station event of a session, creating the session when it is new.

        ``transaction_id`` None asks evcms to assign one (1.6 StartTransaction; ``start_key``
        makes a retried start find its session again). ``reservation_id`` is the reservation the
        station says the start uses (1.6 StartTransaction / 2.0.1 TransactionEvent reservationId).
        """
        async with self._lock(station_id):
            return await self._record(
                station_id=station_id,
                ocpp_version=ocpp_version,
                transaction_id=transaction_id,
                event=event,
                evse_id=evse_id,
                connector_id=connector_id,
                start_key=start_key,
                token=token,
                reservation_id=reservation_id,
            )

    def _lock(self, station_id: StationId) -> asyncio.Lock:
        """One writer at a time per station: a station's own messages come one by one, but an
        operator's force-close or a reboot check can meet them; without this, the one that read
        the session first could overwrite the other's write."""
        lock = self._locks.get(station_id)
        if lock is None:
            lock = self._locks[station_id] = asyncio.Lock()
        return lock

    async def _record(
        self,
        *,
        station_id: StationId,
        ocpp_version: str,
        transaction_id: str | None,
        event: SessionEvent,
        evse_id: int,
        connector_id: int,
        start_key: str | None = None,
        token: TokenRef | None = None,
        reservation_id: int | None = None,
    ) -> Recorded:
        now = self._clock.now()
        starting = event.kind is EventKind.STARTED
        stored_token = None
        if token is not None and token.type not in FREE_VEND_TOKEN_TYPES:
            stored_token = await self._tokens.get(token.id)
        token_driver = stored_token.driver_id if stored_token is not None else None
        session = None
        if transaction_id is not None:
            session = await self.find(station_id, transaction_id)
        created = False
        if session is None:
            session, created = await self._sessions.create(
                station_id=station_id,
                evse_id=evse_id,
                connector_id=connector_id,
                ocpp_version=ocpp_version,
                transaction_id=transaction_id,
                start_key=start_key,
                driver_id=token_driver,
                at=now,
            )
        authorization = None
        if token is not None:
            authorization = await self._decide(
                token, stored_token, starting=starting, session_id=session.id, station_id=station_id
            )
            if starting and not event.offline:
                authorization = await self._check_reservations(
                    authorization, station_id, evse_id, token, reservation_id, session.id
                )
        # The usual case — the next event of a session — costs one write and no reads. An event
        # that does not follow the ones applied is either a repeat (stored already) or late.
        all_events = None
        if not session.state.follows(event):
            if await self._sessions.has_event(session.id, event.key):
                return Recorded(session, authorization, duplicate=True)
            all_events = await self._sessions.events(session.id)
        state = apply_or_refold(session.state, event, all_events)
        if not await self._sessions.record(session.id, event, state, now):
            current = await self._sessions.get(session.id)  # the same event raced in
            self._remember(current)
            return Recorded(current or session, authorization, duplicate=True)
        driver_id = session.driver_id
        if driver_id is None and token_driver is not None:  # a token learned mid-session
            await self._sessions.save_state(session.id, state, now, driver_id=token_driver)
            driver_id = token_driver
        updated = replace(session, state=state, updated_at=now, driver_id=driver_id)
        self._remember(updated)
        self._publish(updated, created, session.state.status)
        if event.samples and state.last_sample_at is not None:
            self._events.publish(
                MeterSampled(
                    station_id=station_id,
                    session_id=updated.id,
                    transaction_id=updated.transaction_id,
                    evse_id=state.evse_id if state.evse_id is not None else updated.evse_id,
                    connector_id=(
                        state.connector_id if state.connector_id is not None else updated.connector_id
                    ),
                    at=state.last_sample_at,
                    power_w=state.power_w,
                    energy_wh=state.energy_wh,
                    soc_percent=state.soc_percent,
                )
            )
        return Recorded(updated, authorization, duplicate=False)

    def _remember(self, session: ChargingSession | None) -> None:
        """Keep active sessions of stations connected here in memory: their next event then
        needs no read. Only this node writes a session's station events (its connection is
        here); operator actions on a session go through this service too."""
        if session is None:
            return
        key = (session.station_id, session.transaction_id)
        if session.state.status is SessionStatus.ACTIVE:
            self._active[key] = session
        else:
            self._active.pop(key, None)

    async def _check_reservations(
        self,
        authorization: Authorization,
        station_id: StationId,
        evse_id: int,
        token: TokenRef,
        reservation_id: int | None,
        session_id: int,
    ) -> Authorization:
        """An accepted start on an EVSE reserved for another token is refused NotAtThisTime
        (1.6: Invalid). Stations refuse such tokens themselves; this is the safety net. Offline
        starts are left alone: the station decided while it could not ask."""
        if self._reservations is None or authorization.status is not AuthorizationStatus.ACCEPTED:
            return authorization
        admitted = await self._reservations.admit_start(
            station_id=station_id,
            evse_id=evse_id,
            token_id=token.id,
            group_id=authorization.group_id,
            reservation_id=reservation_id,
            session_id=session_id,
        )
        if admitted:
            return authorization
        log.info("start on reserved %s/%s with %s refused", station_id, evse_id, token.id)
        return replace(authorization, status=AuthorizationStatus.NOT_AT_THIS_TIME)

    async def reservation_status_update(
        self, station_id: StationId, reservation_id: int, update: str
    ) -> None:
        """2.0.1 / 2.1 ReservationStatusUpdate (Expired, Removed): handed to the reservations."""
        if self._reservations is not None:
            await self._reservations.station_reported(station_id, reservation_id, update)

    async def running(self, station_id: StationId | None = None) -> list[ChargingSession]:
        """Active sessions (of one station, or all), with their latest figures."""
        return await self._sessions.active(station_id=station_id)

    async def find(self, station_id: StationId, transaction_id: str) -> ChargingSession | None:
        cached = self._active.get((station_id, transaction_id))
        if cached is not None:
            return cached
        session = await self._sessions.find(station_id, transaction_id)
        self._remember(session)
        return session

    async def active_on(self, station_id: StationId, evse_id: int) -> ChargingSession | None:
        for session in await self._sessions.active(station_id=station_id):
            # A 2.0.1 session may start before the station names its EVSE (evse_id 0): the
            # EVSE it named later is in its state.
            if (session.state.evse_id or session.evse_id) == evse_id:
                return session
        return None

    async def station_rebooted(
        self, station_id: StationId, *, booted_at: datetime, ask_station: bool
    ) -> list[int]:
        """Close the sessions a station had open before it booted again at ``booted_at``.

        With ``ask_station`` (2.0.1/2.1), GetTransactionStatus tells whether the station still
        runs the transaction or has messages about it queued; then the session stays open and
        the station's own events will end it. Sessions that began after the boot are left alone.
        """
        closed = []
        for session in await self._sessions.active(station_id=station_id):
            if session.created_at >= booted_at:
                continue
            if ask_station:
                status = await self._commands.transaction_status(
                    station_id, session.transaction_id
                )
                # Close only when the station says the transaction is over and nothing about
                # it is queued; no answer (timeout, error, gone) leaves the session open.
                if status is None or status.ongoing is not False or status.messages_queued:
                    continue
            await self._close(session, reason="StationRebooted", by=None, note=None)
            closed.append(session.id)
        return closed

    # -- operators and drivers ------------------------------------------------------------

    async def remote_start(
        self,
        station_id: StationId,
        *,
        evse_id: int,
        token_id: str,
        driver_id: str | None = None,
    ) -> CommandReply:
        """Ask a station to start charging with a token (a driver may only use their own)."""
        token = await self._tokens.get(token_id)
        if token is None:
            raise ChargingError(f"token {token_id!r} does not exist", 404)
        if driver_id is not None and token.driver_id != driver_id:
            raise ChargingError("you can only start with your own token", 403)
        verdict = await self.authorize(TokenRef(token.id, token.type), station_id=station_id)
        if verdict.status is AuthorizationStatus.NO_CREDIT:
            raise ChargingError(verdict.reason or "the driver cannot pay for a session now", 402)
        if verdict.status is not AuthorizationStatus.ACCEPTED:
            raise ChargingError(f"token {token_id!r} may not charge now: {verdict.status.value}")
        states = {
            (c.evse_id): c.status for c in await self._stations.connector_states(station_id)
        }
        status = states.get(evse_id)
        if status is not None and status not in STARTABLE:
            raise ChargingError(
                f"EVSE {evse_id} of {station_id} is {status.value}, not available", 409
            )
        if await self.active_on(station_id, evse_id) is not None:
            raise ChargingError(f"EVSE {evse_id} of {station_id} is already charging", 409)
        reply = await self._commands.remote_start(
            station_id, evse_id=evse_id, token=token, remote_start_id=secrets.randbelow(2**31 - 1) + 1
        )
        log.info("remote start on %s/%s with %s: %s", station_id, evse_id, token_id, reply.outcome)
        return reply

    async def remote_stop(self, session_id: int, *, driver_id: str | None = None) -> CommandReply:
        session = await self._require(session_id, driver_id)
        if session.state.status is not SessionStatus.ACTIVE:
            raise ChargingError(f"session {session_id} has already ended", 409)
        return await self._commands.remote_stop(session.station_id, session.transaction_id)

    async def force_close(self, session_id: int, *, reason: str, by: str) -> ChargingSession:
        """End a stuck session in evcms without asking the station (audited: who and why)."""
        if not reason.strip():
            raise ChargingError("give a reason for closing the session", 422)
        session = await self._require(session_id, None)
        if session.state.status is not SessionStatus.ACTIVE:
            raise ChargingError(f"session {session_id} has already ended", 409)
        log.warning("session %s force-closed by %s: %s", session_id, by, reason)
        return await self._close(session, reason="ForceClosed", by=by, note=reason)

    async def session(self, session_id: int, *, driver_id: str | None = None) -> ChargingSession:
        return await self._require(session_id, driver_id)

    async def events_of(self, session_id: int, *, driver_id: str | None = None) -> list[SessionEvent]:
        await self._require(session_id, driver_id)
        return await self._sessions.events(session_id)

    async def session_events(self, session: ChargingSession) -> list[SessionEvent]:
        """The stored events of a session the caller has read (and checked) already."""
        return await self._sessions.events(session.id)

    async def list(
        self, filter: SessionFilter, *, limit: int = 100, before_id: int | None = None
    ) -> list[ChargingSession]:
        return await self._sessions.list(filter, limit=limit, before_id=before_id)

    # -- internals -----------------------------------------------------------------------

    async def _require(self, session_id: int, driver_id: str | None) -> ChargingSession:
        session = await self._sessions.get(session_id)
        if session is None or (driver_id is not None and session.driver_id != driver_id):
            raise ChargingError(f"session {session_id} does not exist", 404)
        return session

    async def _close(
        self, session: ChargingSession, *, reason: str, by: str | None, note: str | None
    ) -> ChargingSession:
        async with self._lock(session.station_id):
            # Read again under the lock: the station's own stop may have come in meanwhile.
            fresh = await self._sessions.get(session.id)
            if fresh is None or fresh.state.status is not SessionStatus.ACTIVE:
                self._remember(fresh)
                return fresh or session
            return await self._close_locked(fresh, reason=reason, by=by, note=note)

    async def _close_locked(
        self, session: ChargingSession, *, reason: str, by: str | None, note: str | None
    ) -> ChargingSession:
        now = self._clock.now()
        event = SessionEvent(
            key=f"evcms:{reason}:{now.isoformat()}",
            kind=EventKind.ENDED,
            seq_no=EVCMS_STOP_SEQ,
            at=now,
            reason=reason,
        )
        all_events = await self._sessions.events(session.id)
        state = apply_or_refold(session.state, event, all_events)
        await self._sessions.record(session.id, event, state, now)
        if by is not None:
            await self._sessions.save_state(session.id, state, now, closed_by=by, close_note=note)
        updated = await self._sessions.get(session.id)
        assert updated is not None
        self._remember(updated)
        self._publish(updated, False, session.state.status)
        return updated

    def _publish(self, session: ChargingSession, created: bool, before: SessionStatus) -> None:
        if created:
            self._events.publish(SessionStarted(session))
        if before is SessionStatus.ACTIVE and session.state.status is SessionStatus.ENDED:
            self._events.publish(SessionEnded(session))
        elif not created:
            self._events.publish(SessionUpdated(session))


def started_key(connector_id: int, id_tag: str, timestamp: datetime) -> str:
    """1.6 StartTransaction's idempotency key: the same start sent again finds its session."""
    return f"{connector_id}:{id_tag}:{timestamp.isoformat()}"[:160]
