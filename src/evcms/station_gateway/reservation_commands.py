"""Version-neutral reservation commands -> the OCPP call of the station's version.

Implements ``services.reservations.StationReservationCommands`` over the gateway's raw calls:

- 1.6: ReserveNow{connectorId, expiryDate, idTag, parentIdTag?, reservationId} (connector 0:
  any connector, if the station's ReserveConnectorZeroSupported allows it) and
  CancelReservation{reservationId};
- 2.0.1 / 2.1: ReserveNow{id, expiryDateTime, idToken, evseId?, groupIdToken?} (no evseId: any
  EVSE) and CancelReservation{reservationId}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from evcms.domain.ids import StationId
from evcms.domain.tokens import IdToken, TokenType
from evcms.services.ports import CommandOutcome, CommandReply, StationCommands
from evcms.station_gateway.session_commands import V2_ID_TOKEN_MAX, V16, V16_ID_TAG_MAX
from evcms.station_gateway.timestamps import format_time

GROUP_TOKEN_TYPE = TokenType.CENTRAL  # how evcms names group tokens to 2.0.1 stations


def _refused(message: str) -> CommandReply:
    return CommandReply(CommandOutcome.REJECTED, error_code="Rejected", error_description=message)


class ReservationCommands:
    def __init__(self, commands: StationCommands) -> None:
        self._commands = commands

    def is_connected(self, station_id: StationId) -> bool:
        return self._commands.is_connected(station_id)

    async def reserve_now(
        self,
        station_id: StationId,
        *,
        reservation_id: int,
        evse_id: int,
        token: IdToken,
        expires_at: datetime,
        group_id: str | None,
    ) -> CommandReply:
        version = self._commands.version_of(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if version == V16:
            for name, value in (("token", token.id), ("group token", group_id)):
                if value is not None and len(value) > V16_ID_TAG_MAX:
                    return _refused(f"{name} {value!r} is too long for an OCPP 1.6 idTag (20)")
            payload: dict[str, Any] = {
                "connectorId": evse_id,
                "expiryDate": format_time(expires_at),
                "idTag": token.id,
                "reservationId": reservation_id,
            }
            if group_id is not None:
                payload["parentIdTag"] = group_id
            return await self._commands.call(station_id, "ReserveNow", payload)
        limit = V2_ID_TOKEN_MAX[version]
        for name, value in (("token", token.id), ("group token", group_id)):
            if value is not None and len(value) > limit:
                return _refused(f"{name} {value!r} is too long for OCPP {version[4:]} ({limit})")
        kind = token.type if token.type is not TokenType.NO_AUTHORIZATION else TokenType.CENTRAL
        payload = {
            "id": reservation_id,
            "expiryDateTime": format_time(expires_at),
            "idToken": {"idToken": token.id, "type": kind.value},
        }
        if evse_id:
            payload["evseId"] = evse_id
        if group_id is not None:
            payload["groupIdToken"] = {"idToken": group_id, "type": GROUP_TOKEN_TYPE.value}
        return await self._commands.call(station_id, "ReserveNow", payload)

    async def cancel_reservation(self, station_id: StationId, reservation_id: int) -> CommandReply:
        if self._commands.version_of(station_id) is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        return await self._commands.call(
            station_id, "CancelReservation", {"reservationId": reservation_id}
        )
