"""Station messages about maintenance -> the diagnostics and firmware services.

1.6: DiagnosticsStatusNotification{status}, FirmwareStatusNotification{status} (matched to
the station's latest request / open update). 2.0.1 / 2.1: LogStatusNotification{status,
requestId?}, FirmwareStatusNotification{status, requestId?}. Each is answered with an empty
payload once its change is stored; without the services (a bare gateway) it is just answered.
"""

from __future__ import annotations

from evcms.station_gateway.routes import Payload, RouteTable, StationContext


async def diagnostics_status(ctx: StationContext, payload: Payload) -> Payload:
    if ctx.services.diagnostics is not None:
        await ctx.services.diagnostics.status_reported(
            ctx.station_id, payload["status"], payload.get("requestId")
        )
    return {}


async def firmware_status(ctx: StationContext, payload: Payload) -> Payload:
    if ctx.services.firmware is not None:
        await ctx.services.firmware.status_reported(
            ctx.station_id, payload["status"], payload.get("requestId")
        )
    return {}


V16_ROUTES: RouteTable = {
    "DiagnosticsStatusNotification": diagnostics_status,
    "FirmwareStatusNotification": firmware_status,
}

V201_ROUTES: RouteTable = {
    "LogStatusNotification": diagnostics_status,
    "FirmwareStatusNotification": firmware_status,
}
