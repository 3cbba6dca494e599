"""OCPP 1.6J station-initiated messages -> version-neutral services.

1.6 has no EVSE level: its connector N is EVSE N with connector 1; connector 0 is the station.
"""

from __future__ import annotations

from evcms.domain.stations import ConnectorState, ConnectorStatus, StationInfo
from evcms.station_gateway import config_inbound, maintenance_inbound, v16_sessions
from evcms.station_gateway.routes import Payload, RouteTable, StationContext
from evcms.station_gateway.timestamps import format_time


async def boot_notification(ctx: StationContext, payload: Payload) -> Payload:
    info = StationInfo(
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=payload.get("chargePointSerialNumber") or payload.get("chargeBoxSerialNumber"),
        firmware_version=payload.get("firmwareVersion"),
        iccid=payload.get("iccid"),
        imsi=payload.get("imsi"),
        meter_type=payload.get("meterType"),
        meter_serial_number=payload.get("meterSerialNumber"),
    )
    decision = await ctx.services.lifecycle.boot(ctx.station_id, info, ctx.ocpp_version)
    # 1.6 transactions do not survive a reboot: sessions still open are closed (a StopTransaction
    # the station delivers later still wins). 1.6 boots carry no reason: a boot evcms asked for
    # (TriggerMessage) is told apart by the lifecycle.
    if ctx.services.lifecycle.was_reboot(ctx.station_id) and decision.status.value == "Accepted":
        ctx.services.after_answer(
            ctx.services.charging.station_rebooted(
                ctx.station_id, booted_at=ctx.services.lifecycle.now(), ask_station=False
            ),
            f"closing the sessions of rebooted {ctx.station_id}",
        )
    return {
        "status": decision.status.value,
        "currentTime": format_time(ctx.services.lifecycle.now()),
        "interval": decision.interval,
    }


async def heartbeat(ctx: StationContext, payload: Payload) -> Payload:
    return {"currentTime": format_time(ctx.services.lifecycle.heartbeat(ctx.station_id))}


async def status_notification(ctx: StationContext, payload: Payload) -> Payload:
    connector_id = payload["connectorId"]
    state = ConnectorState(
        station_id=ctx.station_id,
        evse_id=connector_id,
        connector_id=0 if connector_id == 0 else 1,
        status=ConnectorStatus(payload["status"]),
        updated_at=ctx.services.lifecycle.now(),
        error_code=payload["errorCode"],
        info=payload.get("info"),
        vendor_id=payload.get("vendorId"),
        vendor_error_code=payload.get("vendorErrorCode"),
    )
    await ctx.services.lifecycle.report_status(state)
    return {}


ROUTES: RouteTable = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": v16_sessions.authorize,
    "StartTransaction": v16_sessions.start_transaction,
    "MeterValues": v16_sessions.meter_values,
    "StopTransaction": v16_sessions.stop_transaction,
    # -- remote operations and station configuration --
    **config_inbound.V16_ROUTES,
    # -- diagnostics and firmware --
    **maintenance_inbound.V16_ROUTES,
}
