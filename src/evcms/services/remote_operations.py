"""Operator-initiated OCPP operations.

For now: any CSMS-initiated action of the station's version with a raw JSON payload, which the
station gateway validates against the official schema before sending. Later issues add the
version-neutral operations (reset, availability, ...) and their audit trail here.
"""

from __future__ import annotations

import logging
from typing import Any

from evcms.domain.ids import StationId
from evcms.services.ports import CommandReply, StationCommands

log = logging.getLogger(__name__)


class RemoteOperations:
    def __init__(self, *, commands: StationCommands) -> None:
        self._commands = commands

    async def send_raw(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        *,
        requested_by: str,
        timeout: float | None = None,
    ) -> CommandReply:
        reply = await self._commands.call(station_id, action, payload, timeout)
        log.info(
            "operation %s to %s by %s: %s %s",
            action,
            station_id,
            requested_by,
            reply.outcome,
            reply.error_code or "",
        )
        return reply
