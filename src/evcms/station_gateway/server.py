"""The station WebSocket server: handshake, one connection per station, outbound commands.

Implements ``services.ports.StationCommands`` for the stations connected to this node.
"""

from __future__ import annotations

import asyncio
import http
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectionVerdict, Station
from evcms.services.ports import Clock, CommandReply, MessageLog
from evcms.services.station_lifecycle import StationLifecycle
from evcms.station_gateway import v16_inbound, v201_inbound
from evcms.station_gateway.connection import StationConnection
from evcms.station_gateway.handshake import (
    SUBPROTOCOLS,
    HandshakeRefused,
    challenge_headers,
    choose_subprotocol,
    password_for,
    station_id_from_path,
)
from evcms.station_gateway.registry import StationRegistry
from evcms.station_gateway.routes import GatewayServices, RouteTable, StationContext
from evcms.station_gateway.stats import GatewayStats

log = logging.getLogger(__name__)

ROUTES_BY_VERSION: dict[str, RouteTable] = {
    "ocpp1.6": v16_inbound.ROUTES,
    "ocpp2.0.1": v201_inbound.ROUTES,
    "ocpp2.1": v201_inbound.ROUTES,
}

_NO_HEADERS = Headers()
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 1000


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    call_timeout: float = 30.0
    ping_interval: float | None = 60.0
    ping_timeout: float | None = 30.0
    max_message_size: int = 256 * 1024
    compression: bool = False
    shutdown_grace: float = 5.0


_VERDICT_STATUS = {
    ConnectionVerdict.UNKNOWN_STATION: (404, "unknown station {id}: register it in evcms first"),
    ConnectionVerdict.BAD_CREDENTIALS: (401, "wrong password for station {id}"),
    ConnectionVerdict.CREDENTIALS_REQUIRED: (
        401,
        "station {id} must authenticate with HTTP Basic auth (user name = station id)",
    ),
    ConnectionVerdict.TOO_MANY_ATTEMPTS: (
        429,
        "too many wrong passwords for station {id}; wait a minute before trying again",
    ),
}


class StationGateway:
    def __init__(
        self,
        *,
        config: GatewayConfig,
        registry: StationRegistry,
        services: GatewayServices,
        message_log: MessageLog,
        clock: Clock,
        stats: GatewayStats | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._services = services
        self._lifecycle: StationLifecycle = services.lifecycle
        self._message_log = message_log
        self._clock = clock
        self.stats = stats or GatewayStats()
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, tuple[Station, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._server: Server | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._serve_connection,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            compression="deflate" if self.config.compression else None,
            max_size=self.config.max_message_size,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
            close_timeout=5,
            server_header="evcms",
        )

    @property
    def port(self) -> int:
        """The port actually bound (useful when configured as 0)."""
        assert self._server is not None
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return self.config.port

    async def stop(self) -> None:
        """Stop accepting, let in-flight messages finish, close stations with 'going away'."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close(close_connections=False)
        connections = self.registry.connections()
        if connections:
            await asyncio.gather(
                *(c.drain(self.config.shutdown_grace) for c in connections),
                return_exceptions=True,
            )
            await asyncio.gather(
                *(c.close(CLOSE_GOING_AWAY, "evcms is shutting down") for c in connections),
                return_exceptions=True,
            )
        await self._server.wait_closed()
        self._server = None

    # -- handshake -------------------------------------------------------------------------

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        # The choice was made (or refused) in _process_request; repeat it for the response.
        return choose_subprotocol(offered)

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        try:
            if self._stopping:
                raise HandshakeRefused(503, "evcms is shutting down; reconnect shortly")
            station_id = station_id_from_path(request.path)
            subprotocol = choose_subprotocol(request.headers.get_all("Sec-WebSocket-Protocol"))
            password = password_for(station_id, request.headers.get("Authorization"))
            admission = await self._lifecycle.admit(station_id, password)
            if admission.verdict is not ConnectionVerdict.ALLOW:
                status, message = _VERDICT_STATUS[admission.verdict]
                headers = challenge_headers() if status == 401 else {}
                if status == 429:
                    headers = {"Retry-After": "60"}
                raise HandshakeRefused(status, message.format(id=station_id), headers)
        except HandshakeRefused as refused:
            self.stats.handshakes_refused[refused.status] += 1
            log.info(
                "handshake refused %s %s: %s", refused.status, request.path, refused.message
            )
            response = connection.respond(http.HTTPStatus(refused.status), refused.message + "\n")
            for name, value in refused.headers.items():
                response.headers[name] = value
            return response
        assert admission.station is not None
        self._admitted[connection] = (admission.station, subprotocol)
        return None

    # -- connections -----------------------------------------------------------------------

    async def _serve_connection(self, websocket: ServerConnection) -> None:
        admitted = self._admitted.pop(websocket, None)
        if admitted is None:  # cannot happen: the handshake admitted it
            await websocket.close(1011, "not admitted")
            return
        station, subprotocol = admitted
        version = websocket.subprotocol or subprotocol
        # The handshake's headers (~3.5 KiB) are not needed once the connection is open; at
        # 10,000 stations dropping them saves ~35 MiB. The objects stay: websockets checks them.
        if websocket.request is not None:
            websocket.request.headers = _NO_HEADERS
        if websocket.response is not None:
            websocket.response.headers = _NO_HEADERS
        connection = StationConnection(
            websocket,
            context=StationContext(station.id, version, self._services),
            routes=ROUTES_BY_VERSION[version],
            lifecycle=self._lifecycle,
            message_log=self._message_log,
            clock=self._clock,
            stats=self.stats,
            call_timeout=self.config.call_timeout,
        )
        previous = self.registry.register(connection)
        self.stats.connections_total += 1
        if previous is not None:
            log.info("station %s reconnected: closing its previous connection", station.id)
            asyncio.get_running_loop().create_task(
                _close_quietly(previous, CLOSE_REPLACED, "replaced by a new connection")
            )
        await self._lifecycle.connected(station, version)
        log.info("station %s connected over %s", station.id, version)
        reason = "closed"
        try:
            await connection.serve()
            reason = _close_reason(websocket)
        finally:
            if self.registry.unregister(connection):
                await self._lifecycle.disconnected(station.id, reason)
                log.info("station %s disconnected: %s", station.id, reason)

    # -- what the rest of evcms asks the gateway -----------------------------------------

    def connected_count(self) -> int:
        return self.registry.connected_count()

    def is_connected(self, station_id: StationId) -> bool:
        return self.registry.is_connected(station_id)

    def version_of(self, station_id: StationId) -> str | None:
        return self.registry.version_of(station_id)

    async def call(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> CommandReply:
        return await self.registry.call(station_id, action, payload, timeout)


async def _close_quietly(connection: StationConnection, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except (ConnectionClosed, OSError):
        pass


def _close_reason(websocket: ServerConnection) -> str:
    protocol = websocket.protocol
    rcvd, sent = protocol.close_rcvd, protocol.close_sent
    if rcvd is not None and (sent is None or protocol.close_rcvd_then_sent):
        return f"closed by the station ({rcvd.code} {rcvd.reason})".replace(" )", ")")
    if sent is not None:
        return f"closed by evcms ({sent.code} {sent.reason})".replace(" )", ")")
    return "connection lost"


__all__ = ["GatewayConfig", "StationGateway"]
