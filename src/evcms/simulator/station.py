"""A simulated station: boots, reports status, heartbeats, and now and then charges a car."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from evcms.ocpp import (
    CallCompleted,
    CallDisconnected,
    CallErrored,
    CallReceived,
    CallTimedOut,
    FaultKind,
    OcppVersion,
    Role,
    RpcSession,
)
from evcms.simulator import messages

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationProfile:
    station_id: str
    version: str  # "ocpp1.6" | "ocpp2.0.1" | "ocpp2.1"
    password: str | None = None
    connectors: int = 2
    vendor: str = "evcms-sim"
    model: str = "Sim-22"
    firmware: str = "1.0.0"
    max_heartbeat: float = 30.0  # the demo heartbeats at least this often
    meter_interval: float = 10.0
    cards: tuple[str, ...] = ()  # RFID cards drivers badge here


class SimulatedStation:
    def __init__(self, profile: StationProfile, url: str, *, seed: int | None = None) -> None:
        self.profile = profile
        self.url = url
        self.random = random.Random(seed)
        self.rpc = RpcSession(OcppVersion(profile.version), Role.STATION, call_timeout=30)
        self.ws: ClientConnection | None = None
        self.boot_status: str | None = None
        self._pending: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self.energy_wh = [0.0] * (profile.connectors + 1)

    # -- RPC plumbing ----------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[str, Any]:
        assert self._loop is not None and self.ws is not None
        handle = self.rpc.send_call(action, payload, self._loop.time())
        future: asyncio.Future[tuple[str, Any]] = self._loop.create_future()
        self._pending[handle] = future
        await self._flush()
        deadline = self.rpc.next_deadline()
        timeout = max(0.0, deadline - self._loop.time()) + 0.1 if deadline else None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            for event in self.rpc.tick(self._loop.time()):
                self._on_event(event)
            return await future

    async def _flush(self) -> None:
        assert self.ws is not None
        for frame in self.rpc.data_to_send():
            await self.ws.send(frame)

    def _on_event(self, event: object) -> None:
        if isinstance(event, CallReceived):
            call = event.call
            reply = messages.answer(self.profile.version, call.action, call.payload)
            if reply is None:
                self.rpc.send_error(call.unique_id, FaultKind.NOT_SUPPORTED, "not simulated")
            else:
                self.rpc.send_result(call.unique_id, reply)
                if call.action == "TriggerMessage" and call.payload.get("requestedMessage") == "BootNotification":
                    assert self._loop is not None
                    self._loop.create_task(self._boot())
            return
        outcome: tuple[str, Any] | None = None
        if isinstance(event, CallCompleted):
            outcome = ("result", event.payload)
        elif isinstance(event, CallErrored):
            outcome = ("error", event.error)
        elif isinstance(event, CallTimedOut):
            outcome = ("timeout", None)
        elif isinstance(event, CallDisconnected):
            outcome = ("disconnected", None)
        if outcome is not None:
            future = self._pending.pop(event.handle, None)  # type: ignore[attr-defined]
            if future is not None and not future.done():
                future.set_result(outcome)

    async def _reader(self) -> None:
        assert self.ws is not None and self._loop is not None
        try:
            async for data in self.ws:
                for event in self.rpc.receive(data, self._loop.time()):
                    self._on_event(event)
                await self._flush()
        except ConnectionClosed:
            pass
        finally:
            for event in self.rpc.connection_lost():
                self._on_event(event)

    # -- behaviour -------------------------------------------------------------------

    async def _boot(self) -> float:
        p = self.profile
        kind, answer = await self.call(
            "BootNotification",
            messages.boot(p.version, p.vendor, p.model, f"SN-{p.station_id}", p.firmware),
        )
        if kind != "result":
            return 10.0
        self.boot_status = answer["status"]
        return float(answer["interval"])

    async def run_once(self) -> None:
        """One connection's life: connect, boot (retrying while Pending), then operate."""
        p = self.profile
        headers = {}
        if p.password is not None:
            token = base64.b64encode(f"{p.station_id}:{p.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._loop = asyncio.get_running_loop()
        self.rpc = RpcSession(OcppVersion(p.version), Role.STATION, call_timeout=30)
        async with connect(
            self.url,
            subprotocols=[p.version],  # type: ignore[list-item]
            additional_headers=headers,
            compression=None,
            open_timeout=10,
        ) as ws:
            self.ws = ws
            reader = asyncio.create_task(self._reader())
            try:
                interval = await self._boot()
                while self.boot_status != "Accepted" and not self._stop.is_set():
                    await self._sleep(min(interval, 10.0))
                    interval = await self._boot()
                for connector in range(1, p.connectors + 1):
                    await self.call("StatusNotification", messages.status(p.version, connector, "Available"))
                await self._operate(min(interval, p.max_heartbeat))
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def _operate(self, heartbeat: float) -> None:
        p = self.profile
        tasks = [asyncio.create_task(self._heartbeats(heartbeat))]
        tasks += [asyncio.create_task(self._connector(c)) for c in range(1, p.connectors + 1)]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.call("Heartbeat", {})

    async def _connector(self, connector: int) -> None:
        """Now and then a driver arrives, badges a card, charges for a while and leaves."""
        p = self.profile
        rnd = self.random
        while True:
            await asyncio.sleep(rnd.uniform(5, 40))
            await self.call("StatusNotification", messages.status(p.version, connector, "Preparing"))
            card = rnd.choice(p.cards) if p.cards else None
            if card is not None:
                kind, answer = await self.call("Authorize", messages.authorize(p.version, card))
                if kind != "result" or messages.authorization_status(p.version, answer) != "Accepted":
                    await self.call("StatusNotification", messages.status(p.version, connector, "Available"))
                    continue
            await asyncio.sleep(rnd.uniform(2, 5))
            session = messages.Transaction(p.version, connector, card, self.energy_wh[connector])
            kind, answer = await self.call(session.start_action, session.start())
            if kind == "result" and p.version == "ocpp1.6":
                session.transaction_id = answer["transactionId"]
            await self.call("StatusNotification", messages.status(p.version, connector, "Charging"))
            power = rnd.choice([7_400.0, 11_000.0, 22_000.0])
            soc = rnd.randint(10, 60)
            for _ in range(rnd.randint(3, 12)):
                await asyncio.sleep(p.meter_interval)
                self.energy_wh[connector] += power * p.meter_interval / 3600
                soc = min(100, soc + 1)
                await self.call(session.meter_action, session.meter(self.energy_wh[connector], power, soc))
            await self.call(session.stop_action, session.stop(self.energy_wh[connector]))
            await self.call("StatusNotification", messages.status(p.version, connector, "Finishing"))
            await asyncio.sleep(rnd.uniform(2, 8))
            await self.call("StatusNotification", messages.status(p.version, connector, "Available"))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    async def run_forever(self) -> None:
        """Stay connected; reconnect with back-off like a real station."""
        backoff = 1.0
        while not self._stop.is_set():
            try:
                await self.run_once()
                backoff = 1.0
            except InvalidStatus as exc:
                log.warning("%s refused: HTTP %s", self.profile.station_id, exc.response.status_code)
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                log.debug("%s connection lost: %s", self.profile.station_id, exc)
            await self._sleep(backoff + self.random.uniform(0, 1))
            backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self._stop.set()
