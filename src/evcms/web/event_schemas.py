"""Domain events as the JSON of the live event stream (GET /api/v1/events).

Every event is an object with ``type``, ``station_id`` and ``at`` (ISO-8601, UTC) plus fields of
its type. Meter figures are Decimal strings in plain notation ("12345.678"), as elsewhere in the
API. Session events carry the session's live figures: ``energy_wh``, ``power_w``, ``soc_percent``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from evcms.domain.charging_sessions import ChargingSession
from evcms.domain.events import (
    AlertChanged,
    ConnectorStatusChanged,
    DeviceEventReported,
    DiagnosticsStatusChanged,
    Event,
    FirmwareStatusChanged,
    MeterSampled,
    OperationFinished,
    SecurityEventReported,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import StationId
from evcms.web.session_schemas import decimal_text

STATION_CONNECTED = "station.connected"
STATION_DISCONNECTED = "station.disconnected"
STATION_BOOTED = "station.booted"
CONNECTOR_STATUS = "connector.status"
SESSION_STARTED = "session.started"
SESSION_UPDATED = "session.updated"
SESSION_ENDED = "session.ended"
METER_SAMPLE = "meter.sample"
OPERATION_FINISHED = "operation.finished"
ALERT = "alert"
SECURITY_EVENT = "station.security_event"
DEVICE_EVENT = "station.device_event"
FIRMWARE_STATUS = "firmware.status"
DIAGNOSTICS_STATUS = "diagnostics.status"

EVENT_TYPES: tuple[str, ...] = (
    STATION_CONNECTED,
    STATION_DISCONNECTED,
    STATION_BOOTED,
    CONNECTOR_STATUS,
    SESSION_STARTED,
    SESSION_UPDATED,
    SESSION_ENDED,
    METER_SAMPLE,
    OPERATION_FINISHED,
    ALERT,
    SECURITY_EVENT,
    DEVICE_EVENT,
    FIRMWARE_STATUS,
    DIAGNOSTICS_STATUS,
)

_TYPE_OF: dict[type[Any], str] = {
    StationConnected: STATION_CONNECTED,
    StationDisconnected: STATION_DISCONNECTED,
    StationBooted: STATION_BOOTED,
    ConnectorStatusChanged: CONNECTOR_STATUS,
    SessionStarted: SESSION_STARTED,
    SessionUpdated: SESSION_UPDATED,
    SessionEnded: SESSION_ENDED,
    MeterSampled: METER_SAMPLE,
    OperationFinished: OPERATION_FINISHED,
    AlertChanged: ALERT,
    SecurityEventReported: SECURITY_EVENT,
    DeviceEventReported: DEVICE_EVENT,
    FirmwareStatusChanged: FIRMWARE_STATUS,
    DiagnosticsStatusChanged: DIAGNOSTICS_STATUS,
}


def event_type(event: Event) -> str | None:
    """The stream's name for ``event``; None for an event the stream does not publish."""
    return _TYPE_OF.get(type(event))


def event_classes(types: Iterable[str]) -> list[type[Any]]:
    """The event classes published under these stream type names."""
    wanted = set(types)
    return [cls for cls, name in _TYPE_OF.items() if name in wanted]


def station_of(event: Event) -> StationId:
    """The station an event is about."""
    if isinstance(event, ConnectorStatusChanged):
        return event.state.station_id
    if isinstance(event, SessionStarted | SessionUpdated | SessionEnded):
        return event.session.station_id
    return event.station_id


def utc_text(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a 'Z': 2026-03-01T12:00:00Z (naive times are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _session(session: ChargingSession) -> dict[str, Any]:
    state = session.state
    return {
        "at": utc_text(session.updated_at),
        "session_id": session.id,
        "transaction_id": session.transaction_id,
        "evse_id": session.evse_id,
        "connector_id": session.connector_id,
        "ocpp_version": session.ocpp_version,
        "status": state.status.value,
        "started_at": utc_text(state.started_at),
        "ended_at": utc_text(state.ended_at),
        "id_token": state.id_token,
        "stop_reason": state.stop_reason,
        "offline": state.offline,
        "charging_state": state.charging_state,
        "energy_wh": decimal_text(state.energy_wh),
        "power_w": decimal_text(state.power_w),
        "soc_percent": decimal_text(state.soc_percent),
        "last_sample_at": utc_text(state.last_sample_at),
    }


def _plain(
    event: OperationFinished
    | AlertChanged
    | SecurityEventReported
    | DeviceEventReported
    | FirmwareStatusChanged
    | DiagnosticsStatusChanged,
) -> dict[str, Any]:
    """Events of plain fields: each field as is, times in UTC text, without the station id."""
    fields: dict[str, Any] = {}
    for name in type(event).__slots__:
        if name == "station_id":
            continue
        value = getattr(event, name)
        fields[name] = utc_text(value) if isinstance(value, datetime) else value
    return fields


def event_json(event: Event) -> dict[str, Any]:
    """The JSON object of ``event`` (see the module docstring)."""
    fields: dict[str, Any]
    if isinstance(event, StationConnected):
        fields = {"at": utc_text(event.at), "ocpp_version": event.ocpp_version}
    elif isinstance(event, StationDisconnected):
        fields = {"at": utc_text(event.at), "reason": event.reason}
    elif isinstance(event, StationBooted):
        info = event.info
        fields = {
            "at": utc_text(event.at),
            "registration": event.registration.value,
            "vendor": info.vendor,
            "model": info.model,
            "serial_number": info.serial_number,
            "firmware_version": info.firmware_version,
        }
    elif isinstance(event, ConnectorStatusChanged):
        state = event.state
        fields = {
            "at": utc_text(state.updated_at),
            "evse_id": state.evse_id,
            "connector_id": state.connector_id,
            "status": state.status.value,
            "error_code": state.error_code,
            "info": state.info,
            "vendor_id": state.vendor_id,
            "vendor_error_code": state.vendor_error_code,
        }
    elif isinstance(event, SessionStarted | SessionUpdated | SessionEnded):
        fields = _session(event.session)
    elif isinstance(event, MeterSampled):
        fields = {
            "at": utc_text(event.at),
            "session_id": event.session_id,
            "transaction_id": event.transaction_id,
            "evse_id": event.evse_id,
            "connector_id": event.connector_id,
            "power_w": decimal_text(event.power_w),
            "energy_wh": decimal_text(event.energy_wh),
            "soc_percent": decimal_text(event.soc_percent),
        }
    else:
        fields = _plain(event)
    return {"type": event_type(event), "station_id": station_of(event), **fields}
