"""Version-neutral operations -> the OCPP call of the station's version, and back.

Implements ``services.remote_operations.OperationTranslator``: pure translation (no I/O);
``RemoteOperations`` sends the call, records it and stores what the answer tells about the
station's configuration (through :meth:`OperationTranslator.configuration_of`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from evcms.domain.operations import (
    ChangeAvailability,
    ChargingProfile,
    ChargingProfilePurpose,
    ClearCache,
    ClearChargingProfile,
    DataTransfer,
    GetCompositeSchedule,
    NeutralOperation,
    Reset,
    ResetType,
    SetChargingProfile,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
    normalised_status,
)
from evcms.domain.station_config import (
    AttributeType,
    ConfigKey,
    DeviceVariable,
    VariableCharacteristics,
    VariableKey,
    VariableMonitor,
    VariableSource,
)
from evcms.services.remote_operations import NotForThisVersion, OcppRequest
from evcms.services.station_config import ConfigHarvest

V16 = "ocpp1.6"

_V16_RESET = {
    ResetType.SOFT: "Soft",
    ResetType.HARD: "Hard",
    ResetType.IMMEDIATE: "Hard",
    ResetType.ON_IDLE: "Soft",
}
_V2_RESET = {
    ResetType.SOFT: "OnIdle",
    ResetType.HARD: "Immediate",
    ResetType.IMMEDIATE: "Immediate",
    ResetType.ON_IDLE: "OnIdle",
}
_V16_TRIGGERS = {
    TriggerableMessage.BOOT_NOTIFICATION: "BootNotification",
    TriggerableMessage.HEARTBEAT: "Heartbeat",
    TriggerableMessage.STATUS_NOTIFICATION: "StatusNotification",
    TriggerableMessage.METER_VALUES: "MeterValues",
    TriggerableMessage.FIRMWARE_STATUS_NOTIFICATION: "FirmwareStatusNotification",
    TriggerableMessage.DIAGNOSTICS_STATUS_NOTIFICATION: "DiagnosticsStatusNotification",
    TriggerableMessage.LOG_STATUS_NOTIFICATION: "DiagnosticsStatusNotification",
}
_V2_TRIGGERS = {
    m: m.value
    for m in TriggerableMessage
    if m is not TriggerableMessage.DIAGNOSTICS_STATUS_NOTIFICATION
} | {TriggerableMessage.DIAGNOSTICS_STATUS_NOTIFICATION: "LogStatusNotification"}
_V16_PURPOSE = {
    ChargingProfilePurpose.STATION_MAX: "ChargePointMaxProfile",
    ChargingProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ChargingProfilePurpose.TX: "TxProfile",
}


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Decimal) -> int | float:
    """A JSON number for a limit: an integer when it is one (rates are not money)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _not(version: str, what: str) -> NotForThisVersion:
    return NotForThisVersion(f"OCPP {version.removeprefix('ocpp')} has no {what}")


class OperationCommands:
    """``OperationTranslator`` for OCPP 1.6, 2.0.1 and 2.1 (2.1 as 2.0.1)."""

    def to_ocpp(self, version: str, operation: NeutralOperation) -> OcppRequest:
        if version == V16:
            return OcppRequest(operation.action, _v16(operation))
        return OcppRequest(operation.action, _v2(version, operation))

    def status_of(self, action: str, response: dict[str, Any] | None) -> str | None:
        return normalised_status(action, response)

    def configuration_of(
        self,
        version: str,
        action: str,
        request: dict[str, Any],
        response: dict[str, Any],
        at: datetime,
    ) -> ConfigHarvest:
        now = at
        if action == "GetConfiguration":
            return ConfigHarvest(
                keys=tuple(
                    ConfigKey(
                        key=item["key"],
                        value=item.get("value"),
                        readonly=bool(item["readonly"]),
                        reported_at=now,
                    )
                    for item in response.get("configurationKey") or ()
                )
            )
        if action == "ChangeConfiguration" and response.get("status") == "Accepted":
            return ConfigHarvest(
                keys=(ConfigKey(request["key"], request["value"], False, now),)
            )
        if action == "GetVariables":
            found = []
            for item in response.get("getVariableResult") or ():
                if item.get("attributeStatus") != "Accepted":
                    continue
                key = variable_key(item["component"], item["variable"], item.get("attributeType"))
                found.append(
                    DeviceVariable(key, item.get("attributeValue"), now, VariableSource.GET)
                )
            return ConfigHarvest(variables=tuple(found))
        if action == "SetVariables":
            asked = {
                variable_key(d["component"], d["variable"], d.get("attributeType")): d[
                    "attributeValue"
                ]
                for d in request.get("setVariableData") or ()
            }
            found = []
            for item in response.get("setVariableResult") or ():
                if item.get("attributeStatus") != "Accepted":
                    continue
                key = variable_key(item["component"], item["variable"], item.get("attributeType"))
                if key in asked:
                    found.append(DeviceVariable(key, asked[key], now, VariableSource.SET))
            return ConfigHarvest(variables=tuple(found))
        if action == "SetVariableMonitoring":
            asked_monitors = request.get("setMonitoringData") or []
            results = response.get("setMonitoringResult") or []
            monitors = []
            for index, item in enumerate(results):
                if item.get("status") != "Accepted" or item.get("id") is None:
                    continue
                data = asked_monitors[index] if index < len(asked_monitors) else {}
                monitors.append(
                    monitor_of(
                        item["id"],
                        item["component"],
                        item["variable"],
                        item["type"],
                        data.get("value", ""),
                        item["severity"],
                        bool(data.get("transaction", False)),
                        now,
                    )
                )
            return ConfigHarvest(monitors=tuple(monitors))
        if action == "ClearVariableMonitoring":
            removed = tuple(
                int(item["id"])
                for item in response.get("clearMonitoringResult") or ()
                if item.get("status") in ("Accepted", "NotFound")
            )
            return ConfigHarvest(removed_monitors=removed)
        return ConfigHarvest()


# -- 1.6 --------------------------------------------------------------------------------------


def _v16(operation: NeutralOperation) -> dict[str, Any]:
    match operation:
        case Reset(type=kind, evse_id=evse_id):
            if evse_id is not None:
                raise _not(V16, "reset of one EVSE (reset the whole station)")
            return {"type": _V16_RESET[kind]}
        case ChangeAvailability(operative=operative, evse_id=evse_id, connector_id=connector):
            if connector is not None and connector != 1:
                raise _not(V16, "connectors within an EVSE (use evse_id alone)")
            return {
                "connectorId": evse_id or 0,
                "type": "Operative" if operative else "Inoperative",
            }
        case UnlockConnector(evse_id=evse_id, connector_id=connector):
            if connector != 1:
                raise _not(V16, "connectors within an EVSE (use evse_id alone)")
            return {"connectorId": evse_id}
        case TriggerMessage(message=message, evse_id=evse_id):
            requested = _V16_TRIGGERS.get(message)
            if requested is None:
                raise _not(V16, f"TriggerMessage for {message.value}")
            payload: dict[str, Any] = {"requestedMessage": requested}
            if evse_id is not None:
                payload["connectorId"] = evse_id
            return payload
        case ClearCache():
            return {}
        case DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data):
            payload = {"vendorId": vendor_id}
            if message_id is not None:
                payload["messageId"] = message_id
            if data is not None:
                payload["data"] = data if isinstance(data, str) else json.dumps(data)
            return payload
        case SetChargingProfile(profile=profile, evse_id=evse_id):
            return {"connectorId": evse_id, "csChargingProfiles": _v16_profile(profile)}
        case ClearChargingProfile(
            profile_id=profile_id, evse_id=evse_id, purpose=purpose, stack_level=level
        ):
            payload = {}
            if profile_id is not None:
                payload["id"] = profile_id
            if evse_id is not None:
                payload["connectorId"] = evse_id
            if purpose is not None:
                if purpose not in _V16_PURPOSE:
                    raise _not(V16, f"{purpose.value} profiles")
                payload["chargingProfilePurpose"] = _V16_PURPOSE[purpose]
            if level is not None:
                payload["stackLevel"] = level
            return payload
        case GetCompositeSchedule(evse_id=evse_id, duration=duration, unit=unit):
            payload = {"connectorId": evse_id, "duration": duration}
            if unit is not None:
                payload["chargingRateUnit"] = unit.value
            return payload
    raise AssertionError(f"unknown operation {operation!r}")  # pragma: no cover


def _v16_profile(profile: ChargingProfile) -> dict[str, Any]:
    if profile.purpose not in _V16_PURPOSE:
        raise _not(V16, f"{profile.purpose.value} profiles")
    schedule = profile.schedule
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_offset, "limit": _number(period.limit)}
        if period.number_of_phases is not None:
            item["numberPhases"] = period.number_of_phases
        periods.append(item)
    out_schedule: dict[str, Any] = {
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.duration is not None:
        out_schedule["duration"] = schedule.duration
    if schedule.start is not None:
        out_schedule["startSchedule"] = _time(schedule.start)
    if schedule.min_rate is not None:
        out_schedule["minChargingRate"] = _number(schedule.min_rate)
    out: dict[str, Any] = {
        "chargingProfileId": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _V16_PURPOSE[profile.purpose],
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": out_schedule,
    }
    if profile.transaction_id is not None:
        if not profile.transaction_id.isdigit():
            raise NotForThisVersion(
                f"transaction {profile.transaction_id!r} is not an OCPP 1.6 transaction id"
            )
        out["transactionId"] = int(profile.transaction_id)
    if profile.recurrency is not None:
        out["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        out["validFrom"] = _time(profile.valid_from)
    if profile.valid_to is not None:
        out["validTo"] = _time(profile.valid_to)
    return out


# -- 2.0.1 / 2.1 --------------------------------------------------------------------------------


def _evse(evse_id: int, connector_id: int | None) -> dict[str, Any]:
    evse: dict[str, Any] = {"id": evse_id}
    if connector_id is not None:
        evse["connectorId"] = connector_id
    return evse


def _v2(version: str, operation: NeutralOperation) -> dict[str, Any]:
    match operation:
        case Reset(type=kind, evse_id=evse_id):
            payload: dict[str, Any] = {"type": _V2_RESET[kind]}
            if evse_id is not None:
                payload["evseId"] = evse_id
            return payload
        case ChangeAvailability(operative=operative, evse_id=evse_id, connector_id=connector):
            payload = {"operationalStatus": "Operative" if operative else "Inoperative"}
            if evse_id:
                payload["evse"] = _evse(evse_id, connector)
            return payload
        case UnlockConnector(evse_id=evse_id, connector_id=connector):
            return {"evseId": evse_id, "connectorId": connector}
        case TriggerMessage(message=message, evse_id=evse_id, connector_id=connector):
            requested = _V2_TRIGGERS.get(message)
            if requested is None:  # pragma: no cover - every neutral message exists in 2.0.1
                raise _not(version, f"TriggerMessage for {message.value}")
            payload = {"requestedMessage": requested}
            if evse_id is not None:
                payload["evse"] = _evse(evse_id, connector)
            return payload
        case ClearCache():
            return {}
        case DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data):
            payload = {"vendorId": vendor_id}
            if message_id is not None:
                payload["messageId"] = message_id
            if data is not None:
                payload["data"] = data
            return payload
        case SetChargingProfile(profile=profile, evse_id=evse_id):
            return {"evseId": evse_id, "chargingProfile": _v2_profile(profile)}
        case ClearChargingProfile(
            profile_id=profile_id, evse_id=evse_id, purpose=purpose, stack_level=level
        ):
            payload = {}
            if profile_id is not None:
                payload["chargingProfileId"] = profile_id
            criteria: dict[str, Any] = {}
            if evse_id is not None:
                criteria["evseId"] = evse_id
            if purpose is not None:
                criteria["chargingProfilePurpose"] = purpose.value
            if level is not None:
                criteria["stackLevel"] = level
            if criteria:
                payload["chargingProfileCriteria"] = criteria
            return payload
        case GetCompositeSchedule(evse_id=evse_id, duration=duration, unit=unit):
            payload = {"evseId": evse_id, "duration": duration}
            if unit is not None:
                payload["chargingRateUnit"] = unit.value
            return payload
    raise AssertionError(f"unknown operation {operation!r}")  # pragma: no cover


def _v2_profile(profile: ChargingProfile) -> dict[str, Any]:
    schedule = profile.schedule
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_offset, "limit": _number(period.limit)}
        if period.number_of_phases is not None:
            item["numberPhases"] = period.number_of_phases
        periods.append(item)
    out_schedule: dict[str, Any] = {
        "id": schedule.id if schedule.id is not None else profile.id,
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.duration is not None:
        out_schedule["duration"] = schedule.duration
    if schedule.start is not None:
        out_schedule["startSchedule"] = _time(schedule.start)
    if schedule.min_rate is not None:
        out_schedule["minChargingRate"] = _number(schedule.min_rate)
    out: dict[str, Any] = {
        "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose.value,
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": [out_schedule],
    }
    if profile.transaction_id is not None:
        out["transactionId"] = profile.transaction_id
    if profile.recurrency is not None:
        out["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        out["validFrom"] = _time(profile.valid_from)
    if profile.valid_to is not None:
        out["validTo"] = _time(profile.valid_to)
    return out


# -- the 2.0.1 device model, shared with config_inbound ---------------------------------------


def variable_key(
    component: Mapping[str, Any], variable: Mapping[str, Any], attribute_type: str | None
) -> VariableKey:
    evse = component.get("evse") or {}
    return VariableKey(
        component=component["name"],
        variable=variable["name"],
        attribute_type=AttributeType(attribute_type or "Actual"),
        component_instance=component.get("instance") or "",
        evse_id=int(evse.get("id") or 0),
        connector_id=int(evse.get("connectorId") or 0),
        variable_instance=variable.get("instance") or "",
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def characteristics_of(raw: Mapping[str, Any] | None) -> VariableCharacteristics | None:
    if raw is None:
        return None
    monitoring = raw.get("supportsMonitoring")
    return VariableCharacteristics(
        data_type=raw.get("dataType"),
        unit=raw.get("unit"),
        values_list=raw.get("valuesList"),
        min_limit=_text(raw.get("minLimit")),
        max_limit=_text(raw.get("maxLimit")),
        supports_monitoring=None if monitoring is None else bool(monitoring),
    )


def report_variables(report_data: list[Mapping[str, Any]], at: datetime) -> list[DeviceVariable]:
    """The variable attributes of NotifyReport's reportData."""
    found = []
    for item in report_data:
        characteristics = characteristics_of(item.get("variableCharacteristics"))
        for attribute in item.get("variableAttribute") or ():
            key = variable_key(item["component"], item["variable"], attribute.get("type"))
            found.append(
                DeviceVariable(
                    key=key,
                    value=attribute.get("value"),
                    reported_at=at,
                    source=VariableSource.REPORT,
                    mutability=attribute.get("mutability"),
                    characteristics=characteristics,
                )
            )
    return found


def monitor_of(
    monitor_id: int,
    component: Mapping[str, Any],
    variable: Mapping[str, Any],
    kind: str,
    value: Any,
    severity: int,
    transaction: bool,
    at: datetime,
) -> VariableMonitor:
    key = variable_key(component, variable, None)
    return VariableMonitor(
        id=int(monitor_id),
        component=key.component,
        variable=key.variable,
        type=kind,
        value=_text(value) or "",
        severity=int(severity),
        transaction=transaction,
        reported_at=at,
        component_instance=key.component_instance,
        evse_id=key.evse_id,
        connector_id=key.connector_id,
        variable_instance=key.variable_instance,
    )
