"""Inbound messages about a station's configuration and device model, and DataTransfer.

2.0.1/2.1: NotifyReport (device model variables, by requestId, in parts), NotifyEvent (every
EventData kept and published), NotifyMonitoringReport (monitors), SecurityEventNotification.
1.6: SecurityEventNotification (security extension). Both: DataTransfer (kept; answered
UnknownVendorId, since evcms handles no vendor extension).
"""

from __future__ import annotations

from typing import Any

from evcms.domain.station_config import DeviceEvent, SecurityEvent
from evcms.services.station_config import UNKNOWN_VENDOR
from evcms.station_gateway.operation_commands import monitor_of, report_variables, variable_key
from evcms.station_gateway.routes import Payload, RouteTable, StationContext
from evcms.station_gateway.timestamps import parse_time


async def notify_report(ctx: StationContext, payload: Payload) -> Payload:
    config = ctx.services.configuration
    if config is not None:
        at = config.now()
        await config.report_part(
            ctx.station_id,
            request_id=payload["requestId"],
            seq_no=payload["seqNo"],
            tbc=bool(payload.get("tbc", False)),
            variables=report_variables(payload.get("reportData") or [], at),
            generated_at=parse_time(payload["generatedAt"]),
        )
    return {}


async def notify_event(ctx: StationContext, payload: Payload) -> Payload:
    config = ctx.services.configuration
    if config is None:
        return {}
    received = config.now()
    events = []
    for data in payload.get("eventData") or ():
        key = variable_key(data["component"], data["variable"], None)
        events.append(
            DeviceEvent(
                station_id=ctx.station_id,
                event_id=data["eventId"],
                at=parse_time(data["timestamp"]),
                trigger=data["trigger"],
                actual_value=data["actualValue"],
                component=key.component,
                variable=key.variable,
                received_at=received,
                component_instance=key.component_instance,
                evse_id=key.evse_id,
                connector_id=key.connector_id,
                variable_instance=key.variable_instance,
                cause=data.get("cause"),
                tech_code=data.get("techCode"),
                tech_info=data.get("techInfo"),
                cleared=bool(data.get("cleared", False)),
                transaction_id=data.get("transactionId"),
                variable_monitoring_id=data.get("variableMonitoringId"),
                event_notification_type=data.get("eventNotificationType"),
            )
        )
    await config.device_events(events)
    return {}


async def notify_monitoring_report(ctx: StationContext, payload: Payload) -> Payload:
    config = ctx.services.configuration
    if config is None:
        return {}
    at = config.now()
    monitors = []
    for item in payload.get("monitor") or ():
        for monitor in item.get("variableMonitoring") or ():
            monitors.append(
                monitor_of(
                    monitor["id"],
                    item["component"],
                    item["variable"],
                    monitor["type"],
                    monitor["value"],
                    monitor["severity"],
                    bool(monitor["transaction"]),
                    at,
                )
            )
    await config.monitors_reported(ctx.station_id, monitors)
    return {}


async def security_event(ctx: StationContext, payload: Payload) -> Payload:
    config = ctx.services.configuration
    if config is not None:
        await config.security_event(
            SecurityEvent(
                station_id=ctx.station_id,
                kind=payload["type"],
                at=parse_time(payload["timestamp"]),
                received_at=config.now(),
                tech_info=payload.get("techInfo"),
            )
        )
    return {}


async def data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    config = ctx.services.configuration
    status = UNKNOWN_VENDOR
    if config is not None:
        data: Any = payload.get("data")
        status = await config.data_transfer(
            ctx.station_id, payload["vendorId"], payload.get("messageId"), data
        )
    return {"status": status}


V16_ROUTES: RouteTable = {
    "SecurityEventNotification": security_event,
    "DataTransfer": data_transfer,
}

V201_ROUTES: RouteTable = {
    "NotifyReport": notify_report,
    "NotifyEvent": notify_event,
    "NotifyMonitoringReport": notify_monitoring_report,
    "SecurityEventNotification": security_event,
    "DataTransfer": data_transfer,
}
