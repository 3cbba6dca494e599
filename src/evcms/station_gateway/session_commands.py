"""Version-neutral session commands -> the OCPP call of the station's version.

Implements ``services.charging.StationSessionCommands`` over the gateway's raw calls.
"""

from __future__ import annotations

from evcms.domain.ids import StationId
from evcms.domain.tokens import IdToken, TokenType
from evcms.services.charging import TransactionStatus
from evcms.services.ports import CommandOutcome, CommandReply, StationCommands

V16 = "ocpp1.6"
V16_ID_TAG_MAX = 20
V2_ID_TOKEN_MAX = {"ocpp2.0.1": 36, "ocpp2.1": 255}


def _refused(message: str) -> CommandReply:
    return CommandReply(CommandOutcome.REJECTED, error_code="Rejected", error_description=message)


class SessionCommands:
    def __init__(self, commands: StationCommands) -> None:
        self._commands = commands

    def _version(self, station_id: StationId) -> str | None:
        return self._commands.version_of(station_id)

    async def remote_start(
        self, station_id: StationId, *, evse_id: int, token: IdToken, remote_start_id: int
    ) -> CommandReply:
        version = self._version(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if version == V16:
            if len(token.id) > V16_ID_TAG_MAX:
                return _refused(f"token {token.id!r} is too long for an OCPP 1.6 idTag (20)")
            return await self._commands.call(
                station_id, "RemoteStartTransaction", {"connectorId": evse_id, "idTag": token.id}
            )
        if len(token.id) > V2_ID_TOKEN_MAX[version]:
            return _refused(f"token {token.id!r} is too long for OCPP {version[4:]}")
        kind = token.type if token.type is not TokenType.NO_AUTHORIZATION else TokenType.CENTRAL
        return await self._commands.call(
            station_id,
            "RequestStartTransaction",
            {
                "idToken": {"idToken": token.id, "type": kind.value},
                "remoteStartId": remote_start_id,
                "evseId": evse_id,
            },
        )

    async def remote_stop(self, station_id: StationId, transaction_id: str) -> CommandReply:
        version = self._version(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if version == V16:
            if not transaction_id.isdigit():
                return _refused(f"transaction {transaction_id!r} is not known to the station")
            return await self._commands.call(
                station_id, "RemoteStopTransaction", {"transactionId": int(transaction_id)}
            )
        return await self._commands.call(
            station_id, "RequestStopTransaction", {"transactionId": transaction_id}
        )

    async def transaction_status(
        self, station_id: StationId, transaction_id: str
    ) -> TransactionStatus | None:
        version = self._version(station_id)
        if version is None or version == V16:  # 1.6 has no GetTransactionStatus
            return None
        reply = await self._commands.call(
            station_id, "GetTransactionStatus", {"transactionId": transaction_id}
        )
        if reply.outcome is not CommandOutcome.RESULT or reply.payload is None:
            return None
        ongoing = reply.payload.get("ongoingIndicator")
        return TransactionStatus(
            ongoing=bool(ongoing) if ongoing is not None else None,
            messages_queued=bool(reply.payload["messagesInQueue"]),
        )
