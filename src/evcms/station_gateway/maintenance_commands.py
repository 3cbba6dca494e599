"""Version-neutral maintenance commands -> the OCPP call of the station's version.

Implements ``services.diagnostics.MaintenanceCommands`` over the gateway's raw calls:

- 1.6: GetDiagnostics{location, startTime?, stopTime?, retries?, retryInterval?} (answer:
  fileName or nothing) and UpdateFirmware{location, retrieveDate, retries?, retryInterval?}
  (answer: empty);
- 2.0.1 / 2.1: GetLog{logType, requestId, log{remoteLocation, oldestTimestamp?,
  latestTimestamp?}, retries?, retryInterval?} and UpdateFirmware{requestId, firmware{location,
  retrieveDateTime, installDateTime?, signingCertificate?, signature?}, retries?,
  retryInterval?} (answers: a status).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from evcms.domain.diagnostics import LogType
from evcms.domain.ids import StationId
from evcms.services.ports import CommandOutcome, CommandReply, StationCommands
from evcms.station_gateway.session_commands import V16
from evcms.station_gateway.timestamps import format_time


def _optional(payload: dict[str, Any], **values: Any) -> dict[str, Any]:
    payload.update({k: v for k, v in values.items() if v is not None})
    return payload


class MaintenanceCommands:
    def __init__(self, commands: StationCommands) -> None:
        self._commands = commands

    def version_of(self, station_id: StationId) -> str | None:
        return self._commands.version_of(station_id)

    async def get_diagnostics(
        self,
        station_id: StationId,
        *,
        request_id: int,
        location: str,
        log_type: LogType,
        since: datetime | None,
        until: datetime | None,
        retries: int | None,
        retry_interval: int | None,
    ) -> CommandReply:
        version = self._commands.version_of(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        start = None if since is None else format_time(since)
        stop = None if until is None else format_time(until)
        if version == V16:
            payload = _optional(
                {"location": location},
                startTime=start,
                stopTime=stop,
                retries=retries,
                retryInterval=retry_interval,
            )
            return await self._commands.call(station_id, "GetDiagnostics", payload)
        log = _optional({"remoteLocation": location}, oldestTimestamp=start, latestTimestamp=stop)
        payload = _optional(
            {"logType": LogType(log_type).value, "requestId": request_id, "log": log},
            retries=retries,
            retryInterval=retry_interval,
        )
        return await self._commands.call(station_id, "GetLog", payload)

    async def update_firmware(
        self,
        station_id: StationId,
        *,
        request_id: int,
        location: str,
        retrieve_at: datetime,
        install_at: datetime | None,
        retries: int | None,
        retry_interval: int | None,
        signing_certificate: str | None,
        signature: str | None,
    ) -> CommandReply:
        version = self._commands.version_of(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if version == V16:
            payload = _optional(
                {"location": location, "retrieveDate": format_time(retrieve_at)},
                retries=retries,
                retryInterval=retry_interval,
            )
            return await self._commands.call(station_id, "UpdateFirmware", payload)
        firmware = _optional(
            {"location": location, "retrieveDateTime": format_time(retrieve_at)},
            installDateTime=None if install_at is None else format_time(install_at),
            signingCertificate=signing_certificate,
            signature=signature,
        )
        payload = _optional(
            {"requestId": request_id, "firmware": firmware},
            retries=retries,
            retryInterval=retry_interval,
        )
        return await self._commands.call(station_id, "UpdateFirmware", payload)
