"""What a simulated station says, in the shape of each OCPP version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Payload = dict[str, Any]


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def boot(version: str, vendor: str, model: str, serial: str, firmware: str) -> Payload:
    if version == "ocpp1.6":
        return {
            "chargePointVendor": vendor,
            "chargePointModel": model,
            "chargePointSerialNumber": serial,
            "firmwareVersion": firmware,
        }
    return {
        "reason": "PowerUp",
        "chargingStation": {
            "vendorName": vendor,
            "model": model,
            "serialNumber": serial,
            "firmwareVersion": firmware,
        },
    }


# 1.6 statuses -> 2.0.1 connector statuses
_V2_STATUS = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}


def status(version: str, connector: int, status_16: str, error_code: str = "NoError") -> Payload:
    if version == "ocpp1.6":
        return {
            "connectorId": connector,
            "errorCode": error_code,
            "status": status_16,
            "timestamp": now_text(),
        }
    return {
        "timestamp": now_text(),
        "connectorStatus": _V2_STATUS[status_16],
        "evseId": connector,
        "connectorId": 1,
    }


def meter_values(
    version: str, connector: int, energy_wh: float, power_w: float, soc: int
) -> Payload:
    amps = power_w / 3 / 230
    samples_16 = [
        {"value": f"{energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
        *(
            {"value": f"{amps:.1f}", "measurand": "Current.Import", "phase": p, "unit": "A"}
            for p in ("L1", "L2", "L3")
        ),
        {"value": "230.0", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
        {"value": str(soc), "measurand": "SoC", "location": "EV", "unit": "Percent"},
    ]
    if version == "ocpp1.6":
        for s in samples_16:
            s["context"] = "Sample.Periodic"
        return {
            "connectorId": connector,
            "meterValue": [{"timestamp": now_text(), "sampledValue": samples_16}],
        }
    units = {"Wh": "Wh", "W": "W", "A": "A", "V": "V", "Percent": "Percent"}
    sampled = []
    for s in samples_16:
        value: Payload = {
            "value": float(s["value"]),
            "context": "Sample.Periodic",
            "measurand": s["measurand"],
            "unitOfMeasure": {"unit": units[s["unit"]]},
        }
        if "phase" in s:
            value["phase"] = s["phase"]
        if "location" in s:
            value["location"] = s["location"]
        sampled.append(value)
    return {"evseId": connector, "meterValue": [{"timestamp": now_text(), "sampledValue": sampled}]}


def answer(version: str, action: str, payload: Payload) -> Payload | None:
    """A plausible answer to a CSMS-initiated call, or None when the station does not support it."""
    accepted = {"status": "Accepted"}
    if action in {
        "Reset",
        "ChangeAvailability",
        "ClearCache",
        "TriggerMessage",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "SetChargingProfile",
        "ClearChargingProfile",
        "ChangeConfiguration",
    }:
        return accepted
    if action == "UnlockConnector":
        return {"status": "Unlocked"}
    if action == "DataTransfer":
        return {"status": "UnknownVendorId"}
    if action == "GetConfiguration" and version == "ocpp1.6":
        return {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ]
        }
    if action == "GetLocalListVersion":
        return {"listVersion": 0} if version == "ocpp1.6" else {"versionNumber": 0}
    return None


def authorize(version: str, card: str) -> Payload:
    if version == "ocpp1.6":
        return {"idTag": card}
    return {"idToken": {"idToken": card, "type": "ISO14443"}}


def authorization_status(version: str, answer: Payload) -> str:
    info = answer.get("idTagInfo" if version == "ocpp1.6" else "idTokenInfo") or {}
    return str(info.get("status", ""))


class Transaction:
    """One charging session as a station reports it, in its version's messages."""

    def __init__(self, version: str, connector: int, card: str | None, register_wh: float) -> None:
        self.version = version
        self.connector = connector
        self.card = card or "FREE"
        self.start_wh = register_wh
        self.transaction_id: int | str = f"{connector}-{datetime.now(UTC).timestamp():.0f}"
        self.seq = 0
        v16 = version == "ocpp1.6"
        self.start_action = "StartTransaction" if v16 else "TransactionEvent"
        self.meter_action = "MeterValues" if v16 else "TransactionEvent"
        self.stop_action = "StopTransaction" if v16 else "TransactionEvent"

    def _event(self, kind: str, trigger: str, register_wh: float, context: str, **info: Any) -> Payload:
        event: Payload = {
            "eventType": kind,
            "timestamp": now_text(),
            "triggerReason": trigger,
            "seqNo": self.seq,
            "transactionInfo": {"transactionId": str(self.transaction_id), **info},
            "meterValue": [{
                "timestamp": now_text(),
                "sampledValue": [{
                    "value": round(register_wh, 1),
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                }],
            }],
        }
        self.seq += 1
        return event

    def start(self) -> Payload:
        if self.version == "ocpp1.6":
            return {
                "connectorId": self.connector,
                "idTag": self.card,
                "meterStart": int(self.start_wh),
                "timestamp": now_text(),
            }
        event = self._event("Started", "Authorized", self.start_wh, "Transaction.Begin",
                            chargingState="Charging")
        event["idToken"] = {"idToken": self.card, "type": "ISO14443"}
        event["evse"] = {"id": self.connector, "connectorId": 1}
        return event

    def meter(self, register_wh: float, power_w: float, soc: int) -> Payload:
        if self.version == "ocpp1.6":
            payload = meter_values(self.version, self.connector, register_wh, power_w, soc)
            payload["transactionId"] = self.transaction_id
            return payload
        event = self._event("Updated", "MeterValuePeriodic", register_wh, "Sample.Periodic",
                            chargingState="Charging")
        event["meterValue"] = meter_values(self.version, self.connector, register_wh, power_w, soc)[
            "meterValue"
        ]
        return event

    def stop(self, register_wh: float) -> Payload:
        if self.version == "ocpp1.6":
            return {
                "transactionId": self.transaction_id,
                "idTag": self.card,
                "meterStop": int(register_wh),
                "timestamp": now_text(),
                "reason": "EVDisconnected",
            }
        return self._event("Ended", "EVDeparted", register_wh, "Transaction.End",
                           stoppedReason="EVDisconnected")
