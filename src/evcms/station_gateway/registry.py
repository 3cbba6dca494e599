"""The stations connected to this node, and calls to them (``services.ports.StationCommands``).

Separate from the server so services that send commands can be built before the server that
serves the route tables calling those services.
"""

from __future__ import annotations

from typing import Any

from evcms.domain.ids import StationId
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.station_gateway.connection import StationConnection


class StationRegistry:
    def __init__(self) -> None:
        self._connections: dict[StationId, StationConnection] = {}

    def register(self, connection: StationConnection) -> StationConnection | None:
        """Make ``connection`` the station's one; returns the one it replaces, if any."""
        previous = self._connections.get(connection.station_id)
        self._connections[connection.station_id] = connection
        return previous

    def unregister(self, connection: StationConnection) -> bool:
        """Forget ``connection`` if it is still the station's one (not replaced meanwhile)."""
        if self._connections.get(connection.station_id) is connection:
            del self._connections[connection.station_id]
            return True
        return False

    def connections(self) -> list[StationConnection]:
        return list(self._connections.values())

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self._connections

    def version_of(self, station_id: StationId) -> str | None:
        connection = self._connections.get(station_id)
        return connection.version.value if connection is not None else None

    def connected_count(self) -> int:
        return len(self._connections)

    async def call(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> CommandReply:
        connection = self._connections.get(station_id)
        if connection is None:
            return CommandReply(
                CommandOutcome.DISCONNECTED,
                error_description=f"station {station_id} is not connected",
            )
        return await connection.call(action, payload, timeout)
