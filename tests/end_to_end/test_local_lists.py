"""Local authorisation lists end to end: real stations (the `ocpp` package) over real sockets.

The stations keep their list the way the specifications say (Full replaces it, Differential
adds, changes and — for entries without info — removes), so the tests check what a station
ends up holding, not only what was sent. LocalLists runs over the node's own database and
station registry (``bootstrap`` wiring is the composition root's business; this builds the
same graph from the same pieces).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListStatus
from evcms.domain.tokens import TokenStatus, TokenType
from evcms.services.clock import SystemClock
from evcms.services.local_lists import LocalListPolicy, LocalLists, SyncOutcome
from evcms.services.tokens import TokenAdmin
from evcms.station_gateway.local_list_commands import LocalListCommands
from evcms.storage.charging import SqlTokenRepository
from evcms.storage.database import create_engine
from evcms.storage.local_lists import SqlLocalListRepository
from evcms.storage.repositories import SqlStationRepository
from evcms.storage.writer import Writer

LONG_ID = "CARD-WITH-A-LONG-ID-0001"  # 24 characters: too long for a 1.6 idTag


class Station16(ChargePoint16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_version = 0
        self.held: dict[str, dict[str, Any]] = {}
        self.updates: list[tuple[str, int, int]] = []
        self.cleared = 0

    @on("SendLocalList")
    def on_send_local_list(self, list_version, update_type, local_authorization_list=(), **_):
        if update_type == "Full":
            self.held = {}
        for item in local_authorization_list:
            if "id_tag_info" in item:
                self.held[item["id_tag"]] = item["id_tag_info"]
            else:
                self.held.pop(item["id_tag"], None)
        self.list_version = list_version
        self.updates.append((update_type, list_version, len(local_authorization_list)))
        return r16.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **_):
        return r16.GetLocalListVersion(list_version=self.list_version)

    @on("ClearCache")
    def on_clear_cache(self, **_):
        self.cleared += 1
        return r16.ClearCache(status="Accepted")


class Station201(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_version = 0
        self.held: dict[tuple[str, str], dict[str, Any]] = {}
        self.updates: list[tuple[str, int, int]] = []
        self.answer = "Accepted"

    @on("SendLocalList")
    def on_send_local_list(self, version_number, update_type, local_authorization_list=(), **_):
        if self.answer != "Accepted":
            return r201.SendLocalList(status=self.answer)
        if update_type == "Full":
            self.held = {}
        for item in local_authorization_list:
            key = (item["id_token"]["id_token"], item["id_token"]["type"])
            if "id_token_info" in item:
                self.held[key] = item["id_token_info"]
            else:
                self.held.pop(key, None)
        self.list_version = version_number
        self.updates.append((update_type, version_number, len(local_authorization_list)))
        return r201.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **_):
        return r201.GetLocalListVersion(version_number=self.list_version)

    @on("ClearCache")
    def on_clear_cache(self, **_):
        return r201.ClearCache(status="Rejected")


class Lists:
    def __init__(self, service: LocalLists, tokens: TokenAdmin) -> None:
        self.service = service
        self.tokens = tokens


@pytest.fixture
async def lists(evcms) -> AsyncIterator[Lists]:
    """LocalLists over the node's database and station registry; token changes reach it."""
    engine = create_engine(evcms.node.settings.database_url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    clock = SystemClock()
    token_repository = SqlTokenRepository(engine, writer, clock=clock)
    service = LocalLists(
        lists=SqlLocalListRepository(engine, writer),
        tokens=token_repository,
        stations=SqlStationRepository(engine, writer, clock=clock),
        commands=LocalListCommands(evcms.node.gateway.registry),
        clock=clock,
        policy=LocalListPolicy(debounce_seconds=0.05),
    )
    tokens = TokenAdmin(tokens=token_repository, clock=clock, on_change=service.tokens_changed)
    try:
        yield Lists(service, tokens)
    finally:
        await service.close()
        await writer.close()
        await engine.dispose()


async def cards(lists: Lists) -> None:
    """Issue the cards, then let the debounced "sync every connected station" run while no
    station is connected yet, so a test's own sync is the first one a station sees."""
    tokens = lists.tokens
    for card in ("CARD-A", "CARD-B", "CARD-C", "CARD-D", "CARD-E"):
        await tokens.issue(card)
    await tokens.issue(LONG_ID, type=TokenType.ISO15693)
    await tokens.issue("CARD-LOST", status=TokenStatus.BLOCKED)  # never on a list
    await tokens.issue("APP-1", type=TokenType.CENTRAL)  # app tokens are not for readers
    await lists.service.settle()


async def test_v16_station_gets_its_list_then_learns_a_block(evcms, lists):
    h = evcms
    await cards(lists)
    await h.add_station("LL16-1")
    async with h.connect("LL16-1", "ocpp1.6", handlers=Station16) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        result = await lists.service.sync(StationId("LL16-1"))
        assert result.outcome is SyncOutcome.SENT, result
        assert result.skipped == (LONG_ID,)
        assert cp.updates == [("Full", 1, 5)]
        assert cp.held == {card: {"status": "Accepted"} for card in ("CARD-A", "CARD-B", "CARD-C", "CARD-D", "CARD-E")}

        await lists.tokens.block("CARD-B")  # -> tokens_changed -> a debounced sync
        await h.wait_for(lambda: cp.held["CARD-B"]["status"] == "Blocked")
        await lists.service.settle()
        assert cp.updates[-1] == ("Differential", 2, 1)
        await lists.tokens.remove("CARD-E")
        await h.wait_for(lambda: "CARD-E" not in cp.held)
        await lists.service.settle()
        assert cp.updates[-1] == ("Differential", 3, 1)

        check = await lists.service.version(StationId("LL16-1"))
        assert (check.station_version, check.evcms_version, check.in_sync) == (3, 3, True)
        state = await lists.service.state(StationId("LL16-1"))
        assert (state.status, state.version, state.entries) == (ListStatus.IN_SYNC, 3, 4)

        reply = await lists.service.clear_cache(StationId("LL16-1"))
        assert reply.payload == {"status": "Accepted"} and cp.cleared == 1


async def test_v201_station_gets_id_tokens_and_a_failure_forces_a_full_list(evcms, lists):
    h = evcms
    await cards(lists)
    await h.add_station("LL201-1")
    sid = StationId("LL201-1")
    async with h.connect("LL201-1", "ocpp2.0.1", handlers=Station201) as cp:
        await cp.call(c201.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        result = await lists.service.sync(sid)
        assert result.outcome is SyncOutcome.SENT and result.skipped == ()
        assert cp.updates == [("Full", 1, 6)]
        assert cp.held[(LONG_ID, "ISO15693")] == {"status": "Accepted"}
        assert ("APP-1", "Central") not in cp.held

        cp.answer = "VersionMismatch"
        await lists.tokens.issue("CARD-F")
        await lists.service.settle()
        state = await lists.service.state(sid)
        assert state.status is ListStatus.FAILED
        assert state.error == "the station answered VersionMismatch"

        cp.answer = "Accepted"
        result = await lists.service.sync(sid)
        assert result.outcome is SyncOutcome.SENT and result.full is True
        assert cp.updates[-1] == ("Full", 2, 7)
        check = await lists.service.version(sid)
        assert check.in_sync is True and check.station_version == 2

        reply = await lists.service.clear_cache(sid)
        assert reply.payload == {"status": "Rejected"}


async def test_a_station_that_boots_later_gets_the_list_it_missed(evcms, lists):
    h = evcms
    await cards(lists)
    await h.add_station("LL16-2")
    sid = StationId("LL16-2")
    async with h.connect("LL16-2", "ocpp1.6", handlers=Station16) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await lists.service.sync(sid)
    await h.wait_for(lambda: not h.node.gateway.is_connected(sid))
    await lists.tokens.block("CARD-A")  # while the station is offline
    await lists.service.settle()
    assert (await lists.service.state(sid)).status is ListStatus.PENDING
    async with h.connect("LL16-2", "ocpp1.6", handlers=Station16) as cp:
        cp.list_version, cp.held = 1, {}  # a new client object: it "remembers" version 1
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        assert await lists.service.station_booted(sid) is True
        await lists.service.settle()
        await asyncio.sleep(0)
        assert cp.updates == [("Differential", 2, 1)]
        assert cp.held == {"CARD-A": {"status": "Blocked"}}
        assert (await lists.service.state(sid)).status is ListStatus.IN_SYNC
