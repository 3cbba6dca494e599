"""The gateway with in-memory storage: route dispatch, call-backs, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from evcms.domain.ids import StationId
from evcms.domain.stations import Station
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.charging import Charging
from evcms.services.clock import SystemClock
from evcms.services.ports import CommandOutcome
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.station_gateway import server as server_module
from evcms.station_gateway.registry import StationRegistry
from evcms.station_gateway.routes import GatewayServices, Payload, StationContext
from evcms.station_gateway.server import GatewayConfig, StationGateway
from evcms.station_gateway.session_commands import SessionCommands
from evcms.storage.memory import (
    MemoryChargingSessionRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemoryStationRepository,
    MemoryTokenRepository,
)


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StationGateway]:
    clock = SystemClock()
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    await stations.add(Station(StationId("CP-1"), created_at=clock.now()))
    lifecycle = StationLifecycle(
        stations=stations,
        hasher=station_hasher(),
        events=InProcessBus(),
        clock=clock,
        policy=LifecyclePolicy("off", True, 300, 60),
    )
    registry = StationRegistry()
    charging = Charging(
        sessions=MemoryChargingSessionRepository(db),
        tokens=MemoryTokenRepository(db),
        stations=stations,
        commands=SessionCommands(registry),
        events=InProcessBus(),
        clock=clock,
    )
    gw = StationGateway(
        registry=registry,
        config=GatewayConfig(port=0, call_timeout=2.0, shutdown_grace=2.0),
        services=GatewayServices(lifecycle=lifecycle, charging=charging),
        message_log=MemoryMessageLog(),
        clock=clock,
    )
    await gw.start()
    yield gw
    await gw.stop()


def routes_with(monkeypatch: pytest.MonkeyPatch, action: str, handler: Any) -> None:
    table = dict(server_module.ROUTES_BY_VERSION["ocpp1.6"])
    table[action] = handler
    monkeypatch.setitem(server_module.ROUTES_BY_VERSION, "ocpp1.6", table)


async def test_a_handler_can_call_back_into_the_same_station(gateway, monkeypatch):
    """Handlers run beside the read loop, so the station's answer to our call gets through."""
    asked: dict[str, Any] = {}

    async def heartbeat_that_asks_first(ctx: StationContext, payload: Payload) -> Payload:
        reply = await gateway.call(ctx.station_id, "GetConfiguration", {"key": ["A"]})
        asked["reply"] = reply
        return {"currentTime": "2026-01-01T00:00:00.000Z"}

    routes_with(monkeypatch, "Heartbeat", heartbeat_that_asks_first)
    url = f"ws://127.0.0.1:{gateway.port}/ocpp/CP-1"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send('[2,"hb","Heartbeat",{}]')
        call = json.loads(await ws.recv())
        assert call[0] == 2 and call[2] == "GetConfiguration"
        await ws.send(json.dumps([3, call[1], {"configurationKey": [], "unknownKey": ["A"]}]))
        answer = json.loads(await ws.recv())
        assert answer == [3, "hb", {"currentTime": "2026-01-01T00:00:00.000Z"}]
    assert asked["reply"].outcome is CommandOutcome.RESULT
    assert asked["reply"].payload == {"configurationKey": [], "unknownKey": ["A"]}


async def test_outbound_calls_queue_one_at_a_time(gateway):
    url = f"ws://127.0.0.1:{gateway.port}/ocpp/CP-1"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        await asyncio.sleep(0.05)
        first = asyncio.create_task(gateway.call(StationId("CP-1"), "ClearCache", {}))
        second = asyncio.create_task(gateway.call(StationId("CP-1"), "ClearCache", {}))
        sent = json.loads(await ws.recv())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)  # the second waits for the first's answer
        await ws.send(json.dumps([3, sent[1], {"status": "Accepted"}]))
        sent2 = json.loads(await ws.recv())
        assert sent2[1] != sent[1]
        await ws.send(json.dumps([3, sent2[1], {"status": "Rejected"}]))
        assert (await first).payload == {"status": "Accepted"}
        assert (await second).payload == {"status": "Rejected"}


async def test_an_invalid_answer_from_the_station_is_an_error_not_a_crash(gateway):
    url = f"ws://127.0.0.1:{gateway.port}/ocpp/CP-1"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        await asyncio.sleep(0.05)
        pending = asyncio.create_task(gateway.call(StationId("CP-1"), "ClearCache", {}))
        sent = json.loads(await ws.recv())
        await ws.send(json.dumps([3, sent[1], {"status": "Maybe"}]))
        reply = await pending
        assert reply.outcome is CommandOutcome.ERROR
        assert reply.error_code == "PropertyConstraintViolation"


async def test_shutdown_lets_the_running_handler_answer_then_says_going_away(gateway, monkeypatch):
    release = asyncio.Event()

    async def slow_heartbeat(ctx: StationContext, payload: Payload) -> Payload:
        await release.wait()
        return {"currentTime": "2026-01-01T00:00:00.000Z"}

    routes_with(monkeypatch, "Heartbeat", slow_heartbeat)
    url = f"ws://127.0.0.1:{gateway.port}/ocpp/CP-1"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send('[2,"slow","Heartbeat",{}]')
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(gateway.stop())
        await asyncio.sleep(0.1)
        release.set()
        answer = json.loads(await ws.recv())
        assert answer[:2] == [3, "slow"]
        await stopping
        await ws.wait_closed()
        assert ws.close_code == 1001
