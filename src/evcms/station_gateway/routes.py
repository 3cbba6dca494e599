"""What a route table is: OCPP action -> handler, one explicit dict per protocol version.

A handler receives the station's context and the (already schema-valid) request payload and
returns the response payload. It may raise ``evcms.ocpp.OcppError`` to answer with a CALLERROR.
Handlers run in their own task, so one that calls back into the same station does not block the
connection's read loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from evcms.domain.ids import StationId
from evcms.services.charging import Charging
from evcms.services.diagnostics import Diagnostics
from evcms.services.firmware import Firmware
from evcms.services.live_cost import LiveCost
from evcms.services.station_config import StationConfiguration
from evcms.services.station_lifecycle import StationLifecycle

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayServices:
    """The version-neutral services the route tables call."""

    lifecycle: StationLifecycle
    charging: Charging
    live_cost: LiveCost | None = None  # 2.0.1/2.1 totalCost in TransactionEvent answers
    # -- remote operations and station configuration --
    configuration: StationConfiguration | None = None  # NotifyReport, NotifyEvent, ...
    # -- diagnostics and firmware --
    diagnostics: Diagnostics | None = None  # DiagnosticsStatus/LogStatusNotification
    firmware: Firmware | None = None  # FirmwareStatusNotification
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def after_answer(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``work`` after the current message is answered (e.g. calls back to the station
        that must not come before its BootNotification answer)."""

        async def later() -> None:
            await asyncio.sleep(0.05)
            try:
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(later())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def cancel_background(self) -> None:
        """At shutdown: stop work scheduled by ``after_answer`` that has not finished."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class StationContext:
    station_id: StationId
    ocpp_version: str
    services: GatewayServices


Payload = dict[str, Any]
Handler = Callable[[StationContext, Payload], Awaitable[Payload]]
RouteTable = dict[str, Handler]
