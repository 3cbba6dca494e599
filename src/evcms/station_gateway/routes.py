"""What a route table is: OCPP action -> handler, one explicit dict per protocol version.

A handler receives the station's context and the (already schema-valid) request payload and
returns the response payload. It may raise ``evcms.ocpp.OcppError`` to answer with a CALLERROR.
Handlers run in their own task, so one that calls back into the same station does not block the
connection's read loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from evcms.domain.ids import StationId
from evcms.services.station_lifecycle import StationLifecycle


@dataclass(frozen=True, slots=True)
class GatewayServices:
    """The version-neutral services the route tables call."""

    lifecycle: StationLifecycle


@dataclass(frozen=True, slots=True)
class StationContext:
    station_id: StationId
    ocpp_version: str
    services: GatewayServices


Payload = dict[str, Any]
Handler = Callable[[StationContext, Payload], Awaitable[Payload]]
RouteTable = dict[str, Handler]
