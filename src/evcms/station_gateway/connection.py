"""One station's connection: drives the sans-I/O RPC session from a WebSocket.

The read loop only parses, validates and dispatches: each inbound CALL runs its handler in a
task of its own (OCPP-J allows one in flight per direction, so there is at most one), which lets
a handler call back into the same station while the loop goes on reading its answers.
Outbound calls resolve to a ``CommandReply``: the station's result, its CALLERROR, a timeout, or
"disconnected" — never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from evcms.domain.ids import StationId
from evcms.ocpp import (
    Call,
    CallCompleted,
    CallDisconnected,
    CallErrored,
    CallReceived,
    CallTimedOut,
    FaultKind,
    OcppError,
    OcppVersion,
    Role,
    RpcSession,
)
from evcms.services.ports import (
    Clock,
    CommandOutcome,
    CommandReply,
    Direction,
    MessageLog,
)
from evcms.services.station_lifecycle import StationLifecycle
from evcms.station_gateway.routes import RouteTable, StationContext
from evcms.station_gateway.stats import GatewayStats

log = logging.getLogger(__name__)

_IN = Direction.IN
_OUT = Direction.OUT


class StationConnection:
    def __init__(
        self,
        websocket: ServerConnection,
        *,
        context: StationContext,
        routes: RouteTable,
        lifecycle: StationLifecycle,
        message_log: MessageLog,
        clock: Clock,
        stats: GatewayStats,
        call_timeout: float,
    ) -> None:
        self.websocket = websocket
        self.station_id: StationId = context.station_id
        self.version = OcppVersion(context.ocpp_version)
        self._context = context
        self._routes = routes
        self._lifecycle = lifecycle
        self._log = message_log
        self._clock = clock
        self._stats = stats
        self._loop = asyncio.get_running_loop()
        self._rpc = RpcSession(self.version, Role.CSMS, call_timeout=call_timeout)
        self._pending: dict[int, tuple[asyncio.Future[CommandReply], str, float]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.closed = False

    # -- the read loop -------------------------------------------------------------------

    async def serve(self) -> None:
        station_id = self.station_id
        log_append = self._log.append
        touch = self._lifecycle.touch
        clock_now = self._clock.now
        loop_time = self._loop.time
        receive = self._rpc.receive
        data_to_send = self._rpc.data_to_send
        stats = self._stats
        try:
            async for data in self.websocket:
                now = clock_now()
                text = data if isinstance(data, str) else data.decode("utf-8", "replace")
                log_append(station_id, _IN, text, now)
                touch(station_id, now)
                stats.frames_in += 1
                for event in receive(data, loop_time()):
                    self._on_event(event)
                frames = data_to_send()
                if frames:
                    await self._send(frames)
        except ConnectionClosed:
            pass
        finally:
            self._connection_lost()

    def _on_event(self, event: object) -> None:
        if isinstance(event, CallReceived):
            self._dispatch(event.call)
        elif isinstance(event, CallCompleted):
            self._resolve(event.handle, CommandReply(CommandOutcome.RESULT, payload=event.payload))
        elif isinstance(event, CallErrored):
            error = event.error
            self._resolve(
                event.handle,
                CommandReply(
                    CommandOutcome.ERROR,
                    error_code=error.error_code,
                    error_description=error.error_description,
                    error_details=error.error_details,
                ),
            )
        elif isinstance(event, CallTimedOut):
            self._resolve(event.handle, CommandReply(CommandOutcome.TIMEOUT))
        elif isinstance(event, CallDisconnected):
            self._resolve(event.handle, CommandReply(CommandOutcome.DISCONNECTED))
        else:
            log.debug("station %s: %s", self.station_id, event)

    def _dispatch(self, call: Call) -> None:
        action = call.action
        if not self._lifecycle.may_send(self.station_id, action):
            self._stats.messages["in", action, "SecurityError"] += 1
            self._rpc.send_error(
                call.unique_id,
                FaultKind.SECURITY,
                "the station is not accepted: only BootNotification is allowed until it is",
            )
            return
        handler = self._routes.get(action)
        if handler is None:
            self._stats.messages["in", action, "NotImplemented"] += 1
            self._rpc.send_error(
                call.unique_id,
                FaultKind.NOT_IMPLEMENTED,
                f"{action} is not implemented by this CSMS yet",
            )
            return
        task = self._loop.create_task(self._handle(call, handler))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, call: Call, handler: Any) -> None:
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await handler(self._context, call.payload)
            self._rpc.send_result(call.unique_id, result)
        except OcppError as exc:
            outcome = exc.code(self.version)
            self._rpc.send_error(call.unique_id, exc.kind, exc.description, exc.details)
        except Exception:
            outcome = "InternalError"
            log.exception("station %s: %s handler failed", self.station_id, call.action)
            self._rpc.send_error(
                call.unique_id, FaultKind.INTERNAL, f"evcms failed to process {call.action}"
            )
        self._stats.messages["in", call.action, outcome] += 1
        self._stats.inbound_latency[call.action].observe(time.perf_counter() - started)
        if not self.closed:
            await self._flush()

    # -- outbound calls ------------------------------------------------------------------

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CommandReply:
        if self.closed:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if action == "TriggerMessage" and payload.get("requestedMessage") == "BootNotification":
            self._lifecycle.boot_asked(self.station_id)  # the boot that follows is no reboot
        try:
            handle = self._rpc.send_call(action, payload, self._loop.time(), timeout=timeout)
        except Exception as exc:  # our payload is not valid for this action/version
            return CommandReply(
                CommandOutcome.REJECTED, error_code="Rejected", error_description=str(exc)
            )
        future: asyncio.Future[CommandReply] = self._loop.create_future()
        self._pending[handle] = (future, action, time.perf_counter())
        self._arm_timer()
        await self._flush()
        return await future

    def _resolve(self, handle: int, reply: CommandReply) -> None:
        entry = self._pending.pop(handle, None)
        if entry is None:
            return
        future, action, started = entry
        self._stats.messages["out", action, reply.error_code or reply.outcome.value] += 1
        self._stats.outbound_latency[action].observe(time.perf_counter() - started)
        if not future.done():
            future.set_result(reply)
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self._rpc.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        for event in self._rpc.tick(self._loop.time()):
            self._on_event(event)
        self._arm_timer()
        frames = self._rpc.data_to_send()
        if frames and not self.closed:
            task = self._loop.create_task(self._send(frames))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    # -- writing -------------------------------------------------------------------------

    async def _flush(self) -> None:
        frames = self._rpc.data_to_send()
        if frames:
            await self._send(frames)

    async def _send(self, frames: list[str]) -> None:
        now = self._clock.now()
        for frame in frames:
            self._log.append(self.station_id, _OUT, frame, now)
            self._stats.frames_out += 1
            try:
                await self.websocket.send(frame)
            except ConnectionClosed:
                return

    # -- shutdown --------------------------------------------------------------------------

    def _connection_lost(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for event in self._rpc.connection_lost():
            self._on_event(event)

    async def drain(self, timeout: float) -> None:
        """Wait for handlers already running to answer (used by a graceful shutdown)."""
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=timeout)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)
