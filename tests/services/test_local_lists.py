"""LocalLists over the in-memory twins and a fake station that answers SendLocalList."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListEntry, ListStatus, ListUpdate, apply
from evcms.domain.stations import RegistrationStatus, Station
from evcms.domain.tokens import AuthorizationStatus, TokenStatus
from evcms.services.clock import FixedClock
from evcms.services.local_lists import (
    ListLimits,
    ListVersionReply,
    LocalListPolicy,
    LocalLists,
    SyncOutcome,
)
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.tokens import TokenAdmin
from evcms.storage.local_lists import MemoryLocalListRepository
from evcms.storage.memory import MemoryDatabase, MemoryStationRepository, MemoryTokenRepository

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")


def accepted() -> CommandReply:
    return CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})


@dataclass
class FakeStation:
    """A station's list as a real one would keep it, plus scripted answers."""

    limits_: ListLimits = field(default_factory=lambda: ListLimits(20, 250))
    connected: bool = True
    answers: list[CommandReply] = field(default_factory=list)  # next SendLocalList answers
    held: dict[str, ListEntry] = field(default_factory=dict)
    version: int = 0
    sent: list[ListUpdate] = field(default_factory=list)
    cleared: int = 0

    def answer(self) -> CommandReply:
        return self.answers.pop(0) if self.answers else accepted()


@dataclass
class FakeListCommands:
    stations: dict[StationId, FakeStation] = field(default_factory=dict)

    def limits(self, station_id: StationId) -> ListLimits | None:
        station = self.stations.get(station_id)
        return station.limits_ if station is not None and station.connected else None

    async def send_local_list(self, station_id: StationId, update: ListUpdate) -> CommandReply:
        station = self.stations[station_id]
        if not station.connected:
            return CommandReply(CommandOutcome.DISCONNECTED)
        station.sent.append(update)
        reply = station.answer()
        if reply.outcome is CommandOutcome.RESULT and reply.payload == {"status": "Accepted"}:
            station.held = apply(update, station.held)
            station.version = update.version
        return reply

    async def local_list_version(self, station_id: StationId) -> ListVersionReply:
        station = self.stations[station_id]
        return ListVersionReply(
            CommandReply(CommandOutcome.RESULT, {"listVersion": station.version}), station.version
        )

    async def clear_cache(self, station_id: StationId) -> CommandReply:
        self.stations[station_id].cleared += 1
        return accepted()


@dataclass
class World:
    lists: LocalLists
    repo: MemoryLocalListRepository
    tokens: TokenAdmin
    commands: FakeListCommands
    clock: FixedClock

    @property
    def cp(self) -> FakeStation:
        return self.commands.stations[CP]


async def build(policy: LocalListPolicy | None = None) -> World:
    db = MemoryDatabase()
    clock = FixedClock(START)
    stations = MemoryStationRepository(db)
    for sid in ("CP-1", "CP-2", "CP-PENDING"):
        registration = RegistrationStatus.PENDING if sid == "CP-PENDING" else RegistrationStatus.ACCEPTED
        await stations.add(Station(StationId(sid), START, registration=registration))
    repo = MemoryLocalListRepository()
    commands = FakeListCommands({StationId(s): FakeStation() for s in ("CP-1", "CP-2", "CP-PENDING")})
    lists = LocalLists(
        lists=repo,
        tokens=MemoryTokenRepository(db),
        stations=stations,
        commands=commands,
        clock=clock,
        policy=policy or LocalListPolicy(debounce_seconds=0.01),
    )
    tokens = TokenAdmin(tokens=MemoryTokenRepository(db), clock=clock)
    return World(lists, repo, tokens, commands, clock)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = await build()
    yield w
    await w.lists.close()


async def test_the_first_sync_is_full_and_the_next_change_differential(world: World) -> None:
    for card in ("CARD-1", "CARD-2", "CARD-3"):
        await world.tokens.issue(card)
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.SENT and result.full is True and result.version == 1
    assert set(world.cp.held) == {"CARD-1", "CARD-2", "CARD-3"}
    state = await world.lists.state(CP)
    assert (state.status, state.version, state.entries) == (ListStatus.IN_SYNC, 1, 3)
    assert state.synced_at == START

    await world.tokens.block("CARD-2")
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.SENT and result.full is False and result.version == 2
    assert world.cp.sent[-1].upserts == (
        ListEntry("CARD-2", world.cp.held["CARD-2"].type, AuthorizationStatus.BLOCKED),
    )
    assert world.cp.held["CARD-2"].status is AuthorizationStatus.BLOCKED  # the station learns the block
    assert await world.lists.entries(CP) == world.cp.held

    assert (await world.lists.sync(CP)).outcome is SyncOutcome.UP_TO_DATE
    assert len(world.cp.sent) == 2


async def test_a_removed_token_leaves_the_list(world: World) -> None:
    for card in ("A", "B", "C"):
        await world.tokens.issue(card)
    await world.lists.sync(CP)
    await world.tokens.remove("B")
    result = await world.lists.sync(CP)
    assert result.full is False
    assert [e.token_id for e in world.cp.sent[-1].removals] == ["B"]
    assert set(world.cp.held) == {"A", "C"}


@pytest.mark.parametrize("status", ["Failed", "VersionMismatch"])
async def test_a_refused_update_marks_the_list_failed_and_the_next_one_is_full(
    world: World, status: str
) -> None:
    for card in ("A", "B", "C"):
        await world.tokens.issue(card)
    await world.lists.sync(CP)
    await world.tokens.issue("D")
    world.cp.answers = [CommandReply(CommandOutcome.RESULT, {"status": status})]
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.REFUSED
    state = await world.lists.state(CP)
    assert state.status is ListStatus.FAILED and state.version == 1
    assert state.error == f"the station answered {status}"

    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.SENT and result.full is True and result.version == 2
    assert set(world.cp.held) == {"A", "B", "C", "D"}
    assert (await world.lists.state(CP)).error is None


async def test_not_supported_is_remembered_and_skipped_by_automatic_syncs(world: World) -> None:
    await world.tokens.issue("A")
    world.cp.answers = [CommandReply(CommandOutcome.RESULT, {"status": "NotSupported"})]
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.NOT_SUPPORTED
    assert (await world.lists.state(CP)).status is ListStatus.UNSUPPORTED

    await world.lists.tokens_changed(["A"])
    await world.lists.settle()
    assert len(world.cp.sent) == 1  # not tried again on token changes
    assert len(world.commands.stations[StationId("CP-2")].sent) == 1  # the other one synced


async def test_a_callerror_not_implemented_means_unsupported_and_a_timeout_failed(world: World) -> None:
    await world.tokens.issue("A")
    world.cp.answers = [CommandReply(CommandOutcome.ERROR, error_code="NotImplemented")]
    assert (await world.lists.sync(CP)).outcome is SyncOutcome.NOT_SUPPORTED
    world.cp.answers = [CommandReply(CommandOutcome.TIMEOUT)]
    assert (await world.lists.sync(CP)).outcome is SyncOutcome.TIMEOUT
    assert (await world.lists.state(CP)).status is ListStatus.FAILED


async def test_a_disconnected_station_is_not_marked(world: World) -> None:
    await world.tokens.issue("A")
    world.cp.connected = False
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.DISCONNECTED
    assert await world.repo.get(CP) is None
    state = await world.lists.state(CP)
    assert (state.status, state.version, state.entries) == (ListStatus.PENDING, 0, 0)


async def test_big_lists_are_cut_into_messages_with_growing_versions(world: World) -> None:
    world.cp.limits_ = ListLimits(20, 4)
    for n in range(10):
        await world.tokens.issue(f"CARD-{n:02d}")
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.SENT and result.messages == 3 and result.version == 3
    assert [(u.version, u.full, u.size) for u in world.cp.sent] == [
        (1, True, 4),
        (2, False, 4),
        (3, False, 2),
    ]
    state = await world.lists.state(CP)
    assert (state.version, state.entries, state.status) == (3, 10, ListStatus.IN_SYNC)


async def test_a_failure_midway_keeps_what_was_acknowledged_and_forces_full(world: World) -> None:
    world.cp.limits_ = ListLimits(20, 4)
    for n in range(10):
        await world.tokens.issue(f"CARD-{n:02d}")
    world.cp.answers = [accepted(), CommandReply(CommandOutcome.RESULT, {"status": "Failed"})]
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.REFUSED and result.messages == 2
    state = await world.lists.state(CP)
    assert (state.version, state.entries, state.status) == (1, 4, ListStatus.FAILED)
    result = await world.lists.sync(CP)
    assert result.outcome is SyncOutcome.SENT and world.cp.sent[2].full and world.cp.sent[2].version == 2


async def test_tokens_too_long_for_the_station_are_left_off_and_reported(world: World) -> None:
    await world.tokens.issue("SHORT")
    await world.tokens.issue("L" * 30)
    result = await world.lists.sync(CP)
    assert result.skipped == ("L" * 30,)
    assert set(world.cp.held) == {"SHORT"}
    world.cp.limits_ = ListLimits(36, 250)  # the same station now on 2.0.1
    result = await world.lists.sync(CP)
    assert result.full is False and set(world.cp.held) == {"SHORT", "L" * 30}


async def test_token_changes_mark_lists_stale_and_sync_connected_stations_once(world: World) -> None:
    for card in ("A", "D", "E", "F", "G"):
        await world.tokens.issue(card)
    await world.lists.sync(CP)
    world.commands.stations[StationId("CP-2")].connected = False
    admin = TokenAdmin(
        tokens=world.lists._tokens,  # the same repository the service reads
        clock=world.clock,
        on_change=world.lists.tokens_changed,
    )
    await admin.issue("B")
    await admin.issue("C")
    await admin.block("A")
    assert (await world.lists.state(CP)).status is ListStatus.PENDING
    await world.lists.settle()
    assert len(world.cp.sent) == 2  # three changes, one debounced differential
    assert world.cp.sent[-1].full is False
    assert set(world.cp.held) == {"A", "B", "C", "D", "E", "F", "G"}
    assert (await world.lists.state(CP)).status is ListStatus.IN_SYNC
    assert world.commands.stations[StationId("CP-2")].sent == []  # offline: syncs when it boots
    assert world.commands.stations[StationId("CP-PENDING")].sent == []  # not accepted


async def test_a_booted_station_syncs_only_when_its_list_is_not_in_step(world: World) -> None:
    await world.tokens.issue("A")
    assert await world.lists.station_booted(CP) is True
    await world.lists.settle()
    assert len(world.cp.sent) == 1
    assert await world.lists.station_booted(CP) is False
    await world.lists.tokens_changed(["A"])
    await world.lists.settle()
    assert await world.lists.station_booted(CP) is False  # synced by the change already


async def test_auto_sync_off_only_marks() -> None:
    w = await build(LocalListPolicy(auto_sync=False))
    await w.tokens.issue("A")
    await w.lists.sync(CP)
    await w.lists.tokens_changed(["A"])
    assert await w.lists.station_booted(CP) is False
    await w.lists.settle()
    assert (await w.lists.state(CP)).status is ListStatus.PENDING
    assert len(w.cp.sent) == 1


async def test_a_change_during_a_sync_leaves_the_list_pending(world: World) -> None:
    await world.tokens.issue("A")
    original = world.commands.send_local_list

    async def send_and_change(station_id: StationId, update: ListUpdate) -> CommandReply:
        reply = await original(station_id, update)
        await world.lists.tokens_changed(["A"])  # arrives while the station answers
        return reply

    world.commands.send_local_list = send_and_change  # type: ignore[method-assign]
    await world.lists.sync(CP)
    assert (await world.lists.state(CP)).status is ListStatus.PENDING
    world.commands.send_local_list = original  # type: ignore[method-assign]
    await world.lists.settle()
    assert (await world.lists.state(CP)).status is ListStatus.IN_SYNC


async def test_version_check_compares_and_a_mismatch_forces_full(world: World) -> None:
    await world.tokens.issue("A")
    await world.lists.sync(CP)
    check = await world.lists.version(CP)
    assert (check.station_version, check.evcms_version, check.in_sync) == (1, 1, True)
    world.cp.version = 0  # the station lost its list (e.g. a factory reset)
    check = await world.lists.version(CP)
    assert check.in_sync is False
    state = await world.lists.state(CP)
    assert state.status is ListStatus.FAILED and "holds version 0" in (state.error or "")
    result = await world.lists.sync(CP)
    assert result.full is True


async def test_an_expired_token_stays_as_expired_then_goes(world: World) -> None:
    await world.tokens.issue("A", expires_at=START + timedelta(days=1))
    await world.tokens.issue("B")
    await world.tokens.issue("C")
    await world.lists.sync(CP)
    world.clock.advance(2 * 86400)
    await world.lists.sync(CP)
    assert world.cp.held["A"].status is AuthorizationStatus.EXPIRED
    world.clock.advance(31 * 86400)
    await world.lists.sync(CP)
    assert "A" not in world.cp.held


async def test_clear_cache_is_sent(world: World) -> None:
    reply = await world.lists.clear_cache(CP)
    assert reply.payload == {"status": "Accepted"} and world.cp.cleared == 1


async def test_tokens_with_a_status_never_on_the_list_are_not_sent(world: World) -> None:
    await world.tokens.issue("GOOD")
    await world.tokens.issue("BAD", status=TokenStatus.BLOCKED)
    await world.lists.sync(CP)
    assert set(world.cp.held) == {"GOOD"}


async def test_an_accepted_boot_on_the_bus_schedules_a_sync(world: World) -> None:
    from evcms.domain.events import StationBooted
    from evcms.domain.stations import StationInfo

    await world.tokens.issue("A")
    info = StationInfo(vendor="V", model="M")
    await world.lists.on_event(StationBooted(CP, info, RegistrationStatus.PENDING, START))
    await world.lists.settle()
    assert world.cp.sent == []
    await world.lists.on_event(StationBooted(CP, info, RegistrationStatus.ACCEPTED, START))
    await world.lists.settle()
    assert len(world.cp.sent) == 1
