"""Reservations over the in-memory twins: reserving (and what the station answers), cancelling,
expiry, the station's own updates, and session starts on a reserved EVSE through ``Charging``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evcms.domain.charging_sessions import EventKind, SessionEvent
from evcms.domain.ids import StationId
from evcms.domain.reservations import ReservationStatus
from evcms.domain.stations import ConnectorState, ConnectorStatus, Station
from evcms.domain.tokens import AuthorizationStatus, IdToken, TokenStatus, TokenType
from evcms.messaging.bus import InProcessBus
from evcms.services.charging import Charging, Recorded, TokenRef
from evcms.services.clock import FixedClock
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.reservations import (
    ReservationError,
    ReservationFilter,
    ReservationPolicy,
    Reservations,
)
from evcms.storage.memory import (
    MemoryChargingSessionRepository,
    MemoryDatabase,
    MemoryStationRepository,
    MemoryTokenRepository,
)
from evcms.storage.reservations import MemoryReservationRepository

CP = StationId("CP-1")


@dataclass
class FakeReservationCommands:
    connected: set[StationId] = field(default_factory=lambda: {CP})
    reply: CommandReply = field(
        default_factory=lambda: CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    )
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.connected

    async def reserve_now(
        self,
        station_id: StationId,
        *,
        reservation_id: int,
        evse_id: int,
        token: IdToken,
        expires_at: datetime,
        group_id: str | None,
    ) -> CommandReply:
        self.sent.append(
            ("ReserveNow", {"id": reservation_id, "evse": evse_id, "token": token.id,
                            "until": expires_at, "group": group_id})
        )
        return self.reply

    async def cancel_reservation(self, station_id: StationId, reservation_id: int) -> CommandReply:
        self.sent.append(("CancelReservation", {"id": reservation_id}))
        return self.reply


class NoSessionCommands:
    async def remote_start(self, *args: Any, **kwargs: Any) -> CommandReply:
        return CommandReply(CommandOutcome.DISCONNECTED)

    async def remote_stop(self, *args: Any, **kwargs: Any) -> CommandReply:
        return CommandReply(CommandOutcome.DISCONNECTED)

    async def transaction_status(self, *args: Any, **kwargs: Any) -> None:
        return None  # the station cannot tell


@dataclass
class World:
    clock: FixedClock
    db: MemoryDatabase
    repo: MemoryReservationRepository
    commands: FakeReservationCommands
    reservations: Reservations
    charging: Charging
    tokens: MemoryTokenRepository
    stations: MemoryStationRepository

    async def token(self, token_id: str, **fields: Any) -> None:
        await self.tokens.add(IdToken(token_id, TokenType.ISO14443, self.clock.now(), **fields))

    async def start(
        self,
        token_id: str,
        *,
        evse_id: int = 1,
        reservation_id: int | None = None,
        transaction_id: str | None = None,
        offline: bool = False,
    ) -> Recorded:
        now = self.clock.now()
        return await self.charging.record(
            station_id=CP,
            ocpp_version="ocpp1.6",
            transaction_id=transaction_id,
            event=SessionEvent(
                key="start", kind=EventKind.STARTED, seq_no=0, at=now, meter_wh=Decimal(0),
                id_token=token_id, offline=offline,
            ),
            evse_id=evse_id,
            connector_id=1,
            start_key=f"{evse_id}:{token_id}:{now.isoformat()}",
            token=TokenRef(token_id),
            reservation_id=reservation_id,
        )


@pytest.fixture
async def world() -> World:
    clock = FixedClock()
    db = MemoryDatabase()
    db.drivers["ana"] = "ana"
    tokens = MemoryTokenRepository(db)
    stations = MemoryStationRepository(db)
    sessions = MemoryChargingSessionRepository(db)
    await stations.add(Station(CP, clock.now()))
    repo = MemoryReservationRepository()
    commands = FakeReservationCommands()
    reservations = Reservations(
        reservations=repo,
        tokens=tokens,
        stations=stations,
        sessions=sessions,
        commands=commands,
        clock=clock,
        policy=ReservationPolicy(default_duration=timedelta(minutes=15), max_duration=timedelta(hours=1)),
    )
    charging = Charging(
        sessions=sessions,
        tokens=tokens,
        stations=stations,
        commands=NoSessionCommands(),
        events=InProcessBus(),
        clock=clock,
        reservations=reservations,
    )
    w = World(clock, db, repo, commands, reservations, charging, tokens, stations)
    await w.token("CARD-A", group_id="FLEET", driver_id="ana", max_concurrent=0)
    await w.token("CARD-B", max_concurrent=0)
    await w.token("CARD-FLEET-2", group_id="FLEET", max_concurrent=0)
    return w


async def test_reserve_sends_reserve_now_and_records_the_answer(world: World) -> None:
    reservation, reply = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A", created_by="ops")
    assert reply.outcome is CommandOutcome.RESULT
    assert reservation.status is ReservationStatus.ACCEPTED
    assert reservation.expires_at == world.clock.now() + timedelta(minutes=15)
    assert (reservation.group_id, reservation.driver_id, reservation.created_by) == ("FLEET", "ana", "ops")
    assert world.commands.sent == [
        ("ReserveNow", {"id": reservation.id, "evse": 1, "token": "CARD-A",
                        "until": reservation.expires_at, "group": "FLEET"})
    ]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (CommandReply(CommandOutcome.RESULT, {"status": "Occupied"}), ReservationStatus.OCCUPIED),
        (CommandReply(CommandOutcome.RESULT, {"status": "Rejected"}), ReservationStatus.REJECTED),
        (CommandReply(CommandOutcome.TIMEOUT), ReservationStatus.FAILED),
        (CommandReply(CommandOutcome.ERROR, error_code="NotSupported"), ReservationStatus.FAILED),
    ],
)
async def test_a_refusal_or_no_answer_reserves_nothing(
    world: World, reply: CommandReply, status: ReservationStatus
) -> None:
    world.commands.reply = reply
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    assert reservation.status is status
    assert (await world.start("CARD-B")).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_reserve_refuses_what_cannot_be_reserved(world: World) -> None:
    r = world.reservations
    now = world.clock.now()
    cases = [
        (dict(station_id=StationId("NOPE"), evse_id=1, token_id="CARD-A"), 404),
        (dict(station_id=CP, evse_id=1, token_id="NO-SUCH"), 404),
        (dict(station_id=CP, evse_id=1, token_id="CARD-B", driver_id="ana"), 404),  # not hers
        (dict(station_id=CP, evse_id=-1, token_id="CARD-A"), 422),
        (dict(station_id=CP, evse_id=1, token_id="CARD-A", expires_at=now - timedelta(seconds=1)), 422),
        (dict(station_id=CP, evse_id=1, token_id="CARD-A", expires_at=now + timedelta(hours=2)), 422),
    ]
    for kwargs, code in cases:
        station_id = kwargs.pop("station_id")
        with pytest.raises(ReservationError) as caught:
            await r.reserve(station_id, **kwargs)  # type: ignore[arg-type]
        assert caught.value.status == code, kwargs
    await world.token("CARD-BLOCKED", status=TokenStatus.BLOCKED)
    with pytest.raises(ReservationError, match="Blocked"):
        await r.reserve(CP, evse_id=1, token_id="CARD-BLOCKED")
    world.commands.connected.clear()
    with pytest.raises(ReservationError, match="not connected"):
        await r.reserve(CP, evse_id=1, token_id="CARD-A")
    assert world.commands.sent == []


async def test_one_reservation_per_evse_at_a_time(world: World) -> None:
    first, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    with pytest.raises(ReservationError, match=f"already reserved \\(reservation {first.id}\\)"):
        await world.reservations.reserve(CP, evse_id=1, token_id="CARD-B")
    other, _ = await world.reservations.reserve(CP, evse_id=2, token_id="CARD-B")
    assert other.status is ReservationStatus.ACCEPTED
    world.clock.advance(15 * 60)
    again, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-B")
    assert again.status is ReservationStatus.ACCEPTED


async def test_the_reserving_token_starts_and_uses_it_others_are_refused(world: World) -> None:
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    refused = await world.start("CARD-B")
    assert refused.authorization is not None
    assert refused.authorization.status is AuthorizationStatus.NOT_AT_THIS_TIME
    # another EVSE is not reserved
    assert (await world.start("CARD-B", evse_id=2)).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]
    world.clock.advance(60)
    started = await world.start("CARD-A", reservation_id=reservation.id)
    assert started.authorization is not None
    assert started.authorization.status is AuthorizationStatus.ACCEPTED
    used = await world.reservations.get(reservation.id)
    assert used.status is ReservationStatus.USED and used.session_id == started.session.id
    # used: the EVSE is free for everyone again
    world.clock.advance(60)
    assert (await world.start("CARD-B")).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_a_token_of_the_group_may_use_it_without_naming_it(world: World) -> None:
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    started = await world.start("CARD-FLEET-2")  # 2.0.1 stations may leave reservationId out
    assert started.authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]
    used = await world.reservations.get(reservation.id)
    assert used.status is ReservationStatus.USED and used.session_id == started.session.id


async def test_a_retried_start_finds_the_same_answer(world: World) -> None:
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    first = await world.start("CARD-A", reservation_id=reservation.id)
    again = await world.start("CARD-A", reservation_id=reservation.id)
    assert again.session.id == first.session.id
    assert again.authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_offline_starts_are_left_to_the_station(world: World) -> None:
    await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    replayed = await world.start("CARD-B", offline=True)
    assert replayed.authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_any_evse_reservation_keeps_one_evse_for_its_token(world: World) -> None:
    for evse in (1, 2):
        await world.stations.save_connector_state(
            ConnectorState(CP, evse, 1, ConnectorStatus.AVAILABLE, world.clock.now())
        )
    await world.reservations.reserve(CP, evse_id=0, token_id="CARD-A")
    # two EVSEs: CARD-B may take one ...
    assert (await world.start("CARD-B", evse_id=1)).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]
    # ... but not the last one
    await world.token("CARD-C", max_concurrent=0)
    assert (await world.start("CARD-C", evse_id=2)).authorization.status is AuthorizationStatus.NOT_AT_THIS_TIME  # type: ignore[union-attr]
    assert (await world.start("CARD-A", evse_id=2)).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_expiry_lazily_on_read_and_by_the_sweep(world: World) -> None:
    first, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    second, _ = await world.reservations.reserve(CP, evse_id=2, token_id="CARD-B",
                                                 expires_at=world.clock.now() + timedelta(minutes=30))
    world.clock.advance(15 * 60)
    assert (await world.reservations.get(first.id)).status is ReservationStatus.EXPIRED  # read: lazily
    assert world.repo.reservations[first.id].status is ReservationStatus.EXPIRED  # and stored
    # an expired reservation holds nothing
    assert (await world.start("CARD-B", evse_id=1)).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]
    world.clock.advance(15 * 60)
    assert world.repo.reservations[second.id].status is ReservationStatus.ACCEPTED
    assert await world.reservations.expire_due() == 1
    assert world.repo.reservations[second.id].status is ReservationStatus.EXPIRED
    assert await world.reservations.expire_due() == 0
    expired = await world.reservations.list(ReservationFilter(status=ReservationStatus.EXPIRED))
    assert [r.id for r in expired] == [second.id, first.id]


async def test_cancel_sends_cancel_reservation(world: World) -> None:
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    with pytest.raises(ReservationError) as caught:
        await world.reservations.cancel(reservation.id, driver_id="someone-else")
    assert caught.value.status == 404
    world.commands.reply = CommandReply(CommandOutcome.TIMEOUT)
    kept, reply = await world.reservations.cancel(reservation.id, driver_id="ana")
    assert reply.outcome is CommandOutcome.TIMEOUT and kept.status is ReservationStatus.ACCEPTED
    world.commands.reply = CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    cancelled, _ = await world.reservations.cancel(reservation.id, driver_id="ana")
    assert cancelled.status is ReservationStatus.CANCELLED
    assert world.commands.sent[-1] == ("CancelReservation", {"id": reservation.id})
    with pytest.raises(ReservationError, match="Cancelled, not Accepted"):
        await world.reservations.cancel(reservation.id)
    assert (await world.start("CARD-B")).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]


async def test_the_station_reports_a_reservation_ended(world: World) -> None:
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    # another station's word about it counts for nothing
    assert await world.reservations.station_reported(StationId("CP-2"), reservation.id, "Removed") is None
    await world.charging.reservation_status_update(CP, reservation.id, "Removed")
    assert (await world.reservations.get(reservation.id)).status is ReservationStatus.REMOVED
    assert await world.reservations.station_reported(CP, 999, "Expired") is None


async def test_charging_without_reservations_is_unchanged(world: World) -> None:
    plain = Charging(
        sessions=MemoryChargingSessionRepository(world.db),
        tokens=world.tokens,
        stations=world.stations,
        commands=NoSessionCommands(),
        events=InProcessBus(),
        clock=world.clock,
    )
    await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    world.charging = plain
    assert (await world.start("CARD-B", transaction_id="T-1")).authorization.status is AuthorizationStatus.ACCEPTED  # type: ignore[union-attr]
    await plain.reservation_status_update(CP, 1, "Expired")  # nothing to hand it to


async def test_a_driver_holds_one_short_reservation_at_a_time(world: World) -> None:
    r = world.reservations
    first, _ = await r.reserve(CP, evse_id=1, token_id="CARD-A", driver_id="ana")
    assert first.status is ReservationStatus.ACCEPTED
    with pytest.raises(ReservationError, match="already hold 1 reservation") as caught:
        await r.reserve(CP, evse_id=2, token_id="CARD-A", driver_id="ana")
    assert caught.value.status == 409
    await r.cancel(first.id, driver_id="ana")
    with pytest.raises(ReservationError) as too_long:  # drivers reserve for an hour at most
        await r.reserve(
            CP, evse_id=2, token_id="CARD-A", driver_id="ana",
            expires_at=world.clock.now() + timedelta(minutes=61),
        )
    assert too_long.value.status == 422
    second, _ = await r.reserve(CP, evse_id=2, token_id="CARD-A", driver_id="ana")
    assert second.status is ReservationStatus.ACCEPTED


async def test_a_reservation_whose_reserve_now_went_unanswered_can_be_cancelled(world: World) -> None:
    world.commands.reply = CommandReply(CommandOutcome.TIMEOUT)
    reservation, _ = await world.reservations.reserve(CP, evse_id=1, token_id="CARD-A")
    assert reservation.status is ReservationStatus.FAILED
    world.commands.reply = CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    cancelled, reply = await world.reservations.cancel(reservation.id)
    assert reply.outcome is CommandOutcome.RESULT
    assert cancelled.status is ReservationStatus.CANCELLED
