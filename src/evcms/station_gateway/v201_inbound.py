"""OCPP 2.0.1 and 2.1 station-initiated messages -> version-neutral services.

The messages routed here have the same shape in 2.0.1 and 2.1, so one table serves both.
"""

from __future__ import annotations

from evcms.domain.stations import ConnectorState, ConnectorStatus, StationInfo
from evcms.station_gateway import config_inbound, maintenance_inbound, v201_sessions
from evcms.station_gateway.routes import Payload, RouteTable, StationContext
from evcms.station_gateway.timestamps import format_time


async def boot_notification(ctx: StationContext, payload: Payload) -> Payload:
    station = payload["chargingStation"]
    modem = station.get("modem") or {}
    info = StationInfo(
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
    )
    decision = await ctx.services.lifecycle.boot(ctx.station_id, info, ctx.ocpp_version)
    rebooted = ctx.services.lifecycle.was_reboot(ctx.station_id)
    if rebooted and payload["reason"] != "Triggered" and decision.status.value == "Accepted":
        # Ask the station (GetTransactionStatus) about sessions still open before closing them.
        ctx.services.after_answer(
            ctx.services.charging.station_rebooted(
                ctx.station_id, booted_at=ctx.services.lifecycle.now(), ask_station=True
            ),
            f"checking the sessions of rebooted {ctx.station_id}",
        )
    return {
        "currentTime": format_time(ctx.services.lifecycle.now()),
        "interval": decision.interval,
        "status": decision.status.value,
    }


async def heartbeat(ctx: StationContext, payload: Payload) -> Payload:
    return {"currentTime": format_time(ctx.services.lifecycle.heartbeat(ctx.station_id))}


async def status_notification(ctx: StationContext, payload: Payload) -> Payload:
    state = ConnectorState(
        station_id=ctx.station_id,
        evse_id=payload["evseId"],
        connector_id=payload["connectorId"],
        status=ConnectorStatus(payload["connectorStatus"]),
        updated_at=ctx.services.lifecycle.now(),
    )
    await ctx.services.lifecycle.report_status(state)
    return {}


async def reservation_status_update(ctx: StationContext, payload: Payload) -> Payload:
    """The station ended a reservation itself: Expired, Removed (2.1 also NoTransaction)."""
    await ctx.services.charging.reservation_status_update(
        ctx.station_id, payload["reservationId"], payload["reservationUpdateStatus"]
    )
    return {}


ROUTES: RouteTable = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": v201_sessions.authorize,
    "TransactionEvent": v201_sessions.transaction_event,
    "MeterValues": v201_sessions.meter_values,
    "ReservationStatusUpdate": reservation_status_update,
    # -- remote operations and station configuration --
    **config_inbound.V201_ROUTES,
    # -- diagnostics and firmware --
    **maintenance_inbound.V201_ROUTES,
}
