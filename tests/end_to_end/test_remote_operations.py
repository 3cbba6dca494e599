"""Remote operations against real stations over real sockets (the `ocpp` package's ChargePoints):
each neutral operation reaches the station and its answer is in the audit trail; configuration
(1.6 GetConfiguration, 2.0.1 GetBaseReport -> NotifyReport) is stored and shown; a timeout is
recorded as such; a bulk operation over three stations (one offline) shows a result per station.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

NOW = "2026-03-01T12:00:00Z"


class Station16(ChargePoint16):
    """A 1.6 station that answers every remote operation and remembers what it got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    def _got(self, action: str, **fields: Any) -> None:
        self.received.append((action, fields))

    @on("Reset")
    def on_reset(self, **fields: Any) -> Any:
        self._got("Reset", **fields)
        return result16.Reset(status="Accepted")

    @on("ChangeAvailability")
    def on_change_availability(self, **fields: Any) -> Any:
        self._got("ChangeAvailability", **fields)
        return result16.ChangeAvailability(status="Scheduled")

    @on("UnlockConnector")
    def on_unlock(self, **fields: Any) -> Any:
        self._got("UnlockConnector", **fields)
        return result16.UnlockConnector(status="Unlocked")

    @on("TriggerMessage")
    def on_trigger(self, **fields: Any) -> Any:
        self._got("TriggerMessage", **fields)
        return result16.TriggerMessage(status="Accepted")

    @on("ClearCache")
    def on_clear_cache(self, **fields: Any) -> Any:
        self._got("ClearCache", **fields)
        return result16.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, **fields: Any) -> Any:
        self._got("DataTransfer", **fields)
        return result16.DataTransfer(status="Accepted", data="pong")

    @on("SetChargingProfile")
    def on_set_profile(self, **fields: Any) -> Any:
        self._got("SetChargingProfile", **fields)
        return result16.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(self, **fields: Any) -> Any:
        self._got("ClearChargingProfile", **fields)
        return result16.ClearChargingProfile(status="Unknown")

    @on("GetCompositeSchedule")
    def on_composite(self, **fields: Any) -> Any:
        self._got("GetCompositeSchedule", **fields)
        return result16.GetCompositeSchedule(status="Rejected")

    @on("GetConfiguration")
    def on_get_configuration(self, **fields: Any) -> Any:
        self._got("GetConfiguration", **fields)
        return result16.GetConfiguration(
            configuration_key=[
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ]
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, **fields: Any) -> Any:
        self._got("ChangeConfiguration", **fields)
        return result16.ChangeConfiguration(status="Accepted")


class Station201(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def _got(self, action: str, **fields: Any) -> None:
        self.received.append((action, fields))

    @on("Reset")
    def on_reset(self, **fields: Any) -> Any:
        self._got("Reset", **fields)
        return result201.Reset(status="Scheduled")

    @on("ChangeAvailability")
    def on_change_availability(self, **fields: Any) -> Any:
        self._got("ChangeAvailability", **fields)
        return result201.ChangeAvailability(status="Accepted")

    @on("UnlockConnector")
    async def on_unlock(self, **fields: Any) -> Any:
        self._got("UnlockConnector", **fields)
        if fields.get("evse_id") == 2:  # a station that takes too long
            await asyncio.sleep(3)
        return result201.UnlockConnector(status="Unlocked")

    @on("TriggerMessage")
    def on_trigger(self, **fields: Any) -> Any:
        self._got("TriggerMessage", **fields)
        return result201.TriggerMessage(status="Accepted")

    @on("ClearCache")
    def on_clear_cache(self, **fields: Any) -> Any:
        self._got("ClearCache", **fields)
        return result201.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, **fields: Any) -> Any:
        self._got("DataTransfer", **fields)
        return result201.DataTransfer(status="UnknownMessageId")

    @on("SetChargingProfile")
    def on_set_profile(self, **fields: Any) -> Any:
        self._got("SetChargingProfile", **fields)
        return result201.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(self, **fields: Any) -> Any:
        self._got("ClearChargingProfile", **fields)
        return result201.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    def on_composite(self, **fields: Any) -> Any:
        self._got("GetCompositeSchedule", **fields)
        return result201.GetCompositeSchedule(status="Rejected")

    @on("GetBaseReport")
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        self._got("GetBaseReport", request_id=request_id, report_base=report_base)
        task = asyncio.get_running_loop().create_task(self._report(request_id))
        self._tasks.add(task)
        return result201.GetBaseReport(status="Accepted")

    async def _report(self, request_id: int) -> None:
        await asyncio.sleep(0.1)
        parts = [
            [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
                    "variableCharacteristics": {"dataType": "integer", "unit": "s", "supportsMonitoring": False},
                }
            ],
            [
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power"},
                    "variableAttribute": [{"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}],
                    "variableCharacteristics": {"dataType": "decimal", "unit": "W", "maxLimit": 22000, "supportsMonitoring": True},
                }
            ],
        ]
        for seq_no, data in enumerate(parts):
            await self.call(
                call201.NotifyReport(
                    request_id=request_id,
                    generated_at=NOW,
                    seq_no=seq_no,
                    tbc=seq_no < len(parts) - 1,
                    report_data=data,
                )
            )


async def _boot16(cp: Any) -> None:
    boot = await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M16"))
    assert boot.status == "Accepted"


async def _boot201(cp: Any) -> None:
    boot = await cp.call(
        call201.BootNotification(
            charging_station={"model": "M201", "vendor_name": "V"}, reason="PowerUp"
        )
    )
    assert boot.status == "Accepted"


PROFILE = {
    "evse_id": 1,
    "profile": {
        "id": 11,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "kind": "Absolute",
        "schedule": {
            "unit": "A",
            "start": "2026-03-01T12:00:00Z",
            "periods": [
                {"start_offset": 0, "limit": 16},
                {"start_offset": 3600, "limit": 7.5, "number_of_phases": 1},
            ],
        },
    },
}

NEUTRAL: list[tuple[str, dict[str, Any]]] = [
    ("reset", {"type": "Hard"}),
    ("change-availability", {"status": "Inoperative", "evse_id": 1}),
    ("unlock-connector", {"evse_id": 1}),
    ("trigger-message", {"message": "StatusNotification", "evse_id": 1}),
    ("clear-cache", {}),
    ("data-transfer", {"vendor_id": "com.example", "message_id": "ping", "data": {"n": 1}}),
    ("set-charging-profile", PROFILE),
    ("clear-charging-profile", {"profile_id": 11}),
    ("composite-schedule", {"evse_id": 1, "duration": 3600, "unit": "W"}),
]


async def _operations(evcms: Any, station_id: str) -> list[dict[str, Any]]:
    response = await evcms.api.get(f"/api/v1/stations/{station_id}/operations")
    assert response.status_code == 200, response.text
    return list(response.json()["operations"])


async def test_every_neutral_operation_reaches_a_16_station_and_is_recorded(evcms):
    await evcms.add_station("RO-16")
    async with evcms.connect("RO-16", "ocpp1.6", handlers=Station16) as cp:
        await _boot16(cp)
        for name, body in NEUTRAL:
            response = await evcms.api.post(f"/api/v1/stations/RO-16/operations/{name}", json=body)
            assert response.status_code == 200, (name, response.text)
            assert response.json()["outcome"] == "result"
        actions = [action for action, _ in cp.received]
        assert actions == [
            "Reset", "ChangeAvailability", "UnlockConnector", "TriggerMessage", "ClearCache",
            "DataTransfer", "SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule",
        ]
        got = dict(cp.received)
        assert got["Reset"] == {"type": "Hard"}
        assert got["ChangeAvailability"] == {"connector_id": 1, "type": "Inoperative"}
        assert got["DataTransfer"]["data"] == '{"n": 1}'
        assert got["SetChargingProfile"]["cs_charging_profiles"]["charging_profile_purpose"] == "TxDefaultProfile"

        recorded = await _operations(evcms, "RO-16")
        assert [(o["action"], o["status"]) for o in reversed(recorded)] == [
            ("Reset", "Accepted"), ("ChangeAvailability", "Scheduled"),
            ("UnlockConnector", "Unlocked"), ("TriggerMessage", "Accepted"),
            ("ClearCache", "Accepted"), ("DataTransfer", "Accepted"),
            ("SetChargingProfile", "Accepted"), ("ClearChargingProfile", "Unknown"),
            ("GetCompositeSchedule", "Rejected"),
        ]
        assert recorded[0]["requested_by"] == "tests"
        assert recorded[-1]["response"] == {"status": "Accepted"}

        # a 2.0.1-only message cannot be triggered on 1.6: 422, recorded, nothing sent
        refused = await evcms.api.post(
            "/api/v1/stations/RO-16/operations/trigger-message", json={"message": "TransactionEvent"}
        )
        assert refused.status_code == 422
        assert "OCPP 1.6 has no TriggerMessage for TransactionEvent" in refused.json()["detail"]
        assert len(cp.received) == len(NEUTRAL)

        # GetConfiguration is stored, ChangeConfiguration Accepted updates it
        response = await evcms.api.post("/api/v1/stations/RO-16/operations/GetConfiguration", json={})
        assert response.status_code == 200, response.text
        response = await evcms.api.post(
            "/api/v1/stations/RO-16/operations/ChangeConfiguration",
            json={"key": "HeartbeatInterval", "value": "60"},
        )
        assert response.json()["status"] == "Accepted"
        config = (await evcms.api.get("/api/v1/stations/RO-16/configuration")).json()
        assert [(k["key"], k["value"], k["readonly"]) for k in config["keys"]] == [
            ("HeartbeatInterval", "60", False),
            ("NumberOfConnectors", "2", True),
        ]
        assert config["reported_at"] is not None
        wrong = await evcms.api.post("/api/v1/stations/RO-16/operations/GetBaseReport", json={})
        assert wrong.status_code == 422
        assert "station RO-16 speaks OCPP 1.6" in wrong.json()["detail"]


async def test_every_neutral_operation_reaches_a_201_station_and_the_report_is_stored(evcms):
    await evcms.add_station("RO-201")
    async with evcms.connect("RO-201", "ocpp2.0.1", handlers=Station201) as cp:
        await _boot201(cp)
        for name, body in NEUTRAL:
            response = await evcms.api.post(f"/api/v1/stations/RO-201/operations/{name}", json=body)
            assert response.status_code == 200, (name, response.text)
        got = dict(cp.received)
        assert got["Reset"] == {"type": "Immediate"}
        assert got["ChangeAvailability"] == {"operational_status": "Inoperative", "evse": {"id": 1}}
        assert got["UnlockConnector"] == {"evse_id": 1, "connector_id": 1}
        assert got["DataTransfer"]["data"] == {"n": 1}
        schedule = got["SetChargingProfile"]["charging_profile"]["charging_schedule"][0]
        assert schedule["id"] == 11 and schedule["charging_rate_unit"] == "A"
        recorded = await _operations(evcms, "RO-201")
        assert [o["status"] for o in reversed(recorded)] == [
            "Scheduled", "Accepted", "Unlocked", "Accepted", "Accepted",
            "UnknownMessageId", "Accepted", "Accepted", "Rejected",
        ]

        # the report comes in two NotifyReport parts after the answer
        response = await evcms.api.post(
            "/api/v1/stations/RO-201/operations/GetBaseReport", json={"reportBase": "FullInventory"}
        )
        assert response.status_code == 200, response.text
        request_id = response.json()["request"]["requestId"]

        async def complete() -> bool:
            config = (await evcms.api.get("/api/v1/stations/RO-201/configuration")).json()
            return bool(config["reports"]) and config["reports"][0]["complete"]

        await evcms.wait_for(complete)
        config = (await evcms.api.get("/api/v1/stations/RO-201/configuration")).json()
        assert config["reports"][0]["request_id"] == request_id
        assert config["reports"][0]["parts"] == 2
        variables = {(v["component"], v["variable"], v["attribute_type"]): v for v in config["variables"]}
        heartbeat = variables["OCPPCommCtrlr", "HeartbeatInterval", "Actual"]
        assert (heartbeat["value"], heartbeat["mutability"], heartbeat["unit"]) == ("300", "ReadWrite", "s")
        power = variables["EVSE", "Power", "MaxSet"]
        assert (power["evse_id"], power["value"], power["max_limit"]) == (1, "22000", "22000")

        wrong = await evcms.api.post("/api/v1/stations/RO-201/operations/GetConfiguration", json={})
        assert wrong.status_code == 422
        assert wrong.json()["detail"].endswith("station RO-201 speaks OCPP 2.0.1")


async def test_a_timeout_is_recorded_as_such(evcms_unsecured):
    evcms = evcms_unsecured
    await evcms.add_station("RO-SLOW")
    async with evcms.connect("RO-SLOW", "ocpp2.0.1", handlers=Station201) as cp:
        await _boot201(cp)
        response = await evcms.api.post(
            "/api/v1/stations/RO-SLOW/operations/unlock-connector?timeout=0.5", json={"evse_id": 2}
        )
        assert response.status_code == 504
        operation_id = response.json()["operation"]["id"]
        stored = (await evcms.api.get(f"/api/v1/operations/{operation_id}")).json()
        assert stored["outcome"] == "timeout" and stored["finished_at"] is not None
        listed = (await evcms.api.get("/api/v1/operations?outcome=timeout")).json()["operations"]
        assert [o["id"] for o in listed] == [operation_id]


async def test_a_bulk_operation_over_three_stations_one_offline(evcms_unsecured):
    evcms = evcms_unsecured
    for station_id in ("BULK-1", "BULK-2", "BULK-3"):
        await evcms.add_station(station_id)
    async with (
        evcms.connect("BULK-1", "ocpp1.6", handlers=Station16) as one,
        evcms.connect("BULK-2", "ocpp2.0.1", handlers=Station201) as two,
    ):
        await _boot16(one)
        await _boot201(two)
        response = await evcms.api.post(
            "/api/v1/operations/bulk",
            json={
                "operation": "clear_cache",
                "target": {"station_ids": ["BULK-1", "BULK-2", "BULK-3"]},
            },
        )
        assert response.status_code == 202, response.text
        bulk_id = response.json()["id"]
        assert response.json()["total"] == 3

        async def done() -> bool:
            body = (await evcms.api.get(f"/api/v1/operations/bulk/{bulk_id}")).json()
            return body["done"] == 3 and body["finished_at"] is not None

        await evcms.wait_for(done)
        body = (await evcms.api.get(f"/api/v1/operations/bulk/{bulk_id}")).json()
        assert body["by_outcome"] == {"disconnected": 1, "result": 2}
        assert body["by_status"] == {"Accepted": 2}
        results = {s["station_id"]: s["outcome"] for s in body["stations"]}
        assert results == {"BULK-1": "result", "BULK-2": "result", "BULK-3": "disconnected"}
        for station in body["stations"]:
            (operation_id,) = station["operation_ids"]
            record = (await evcms.api.get(f"/api/v1/operations/{operation_id}")).json()
            assert record["bulk_id"] == bulk_id and record["station_id"] == station["station_id"]
        assert [a for a, _ in one.received] == ["ClearCache"]
        assert [a for a, _ in two.received] == ["ClearCache"]


async def test_inbound_security_events_and_data_transfers_are_kept(evcms_unsecured):
    evcms = evcms_unsecured
    await evcms.add_station("RO-IN")
    async with evcms.connect("RO-IN", "ocpp2.0.1", handlers=Station201) as cp:
        await _boot201(cp)
        answer = await cp.call(call201.DataTransfer(vendor_id="com.example", message_id="hi", data={"a": 1}))
        assert answer.status == "UnknownVendorId"
        await cp.call(
            call201.SecurityEventNotification(type="FirmwareUpdated", timestamp=NOW, tech_info="v2")
        )
        await cp.call(
            call201.NotifyEvent(
                generated_at=NOW,
                seq_no=0,
                event_data=[
                    {
                        "eventId": 5,
                        "timestamp": datetime(2026, 3, 1, 12, 0, tzinfo=UTC).isoformat(),
                        "trigger": "Alerting",
                        "actualValue": "true",
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Problem"},
                        "eventNotificationType": "HardWiredNotification",
                    }
                ],
            )
        )
        transfers = (await evcms.api.get("/api/v1/stations/RO-IN/data-transfers")).json()
        assert [(t["vendor_id"], t["data"], t["answer_status"]) for t in transfers] == [
            ("com.example", {"a": 1}, "UnknownVendorId")
        ]
        security = (await evcms.api.get("/api/v1/stations/RO-IN/security-events")).json()
        assert [(e["kind"], e["tech_info"]) for e in security] == [("FirmwareUpdated", "v2")]
        events = (await evcms.api.get("/api/v1/stations/RO-IN/device-events")).json()
        assert [(e["event_id"], e["variable"], e["actual_value"]) for e in events] == [(5, "Problem", "true")]


class Station16Remote(Station16):
    @on("RemoteStartTransaction")
    def on_remote_start(self, **fields: Any) -> Any:
        self._got("RemoteStartTransaction", **fields)
        return result16.RemoteStartTransaction(status="Accepted")


async def test_calls_other_services_send_are_in_the_audit_trail_with_who_asked(evcms):
    """Remote start (charging), clear cache (local lists) and the accept's TriggerMessage go
    through the same audit trail as operators' operations, naming the API key that asked."""
    await evcms.add_station("RO-AUDIT")
    await evcms.node.tokens.issue("AUDIT-CARD", label="audit")
    async with evcms.connect("RO-AUDIT", "ocpp1.6", handlers=Station16Remote) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="A1"))
        started = await evcms.api.post(
            "/api/v1/stations/RO-AUDIT/start", json={"evse_id": 1, "token_id": "AUDIT-CARD"}
        )
        assert started.status_code == 200, started.text
        cleared = await evcms.api.post("/api/v1/stations/RO-AUDIT/clear-cache")
        assert cleared.status_code == 200, cleared.text
        recorded = {op["action"]: op for op in await _operations(evcms, "RO-AUDIT")}
    assert [a for a, _ in cp.received] == ["RemoteStartTransaction", "ClearCache"]
    for action in ("RemoteStartTransaction", "ClearCache"):
        assert recorded[action]["requested_by"] == "tests", recorded[action]
        assert recorded[action]["outcome"] == "result"
        assert recorded[action]["status"] == "Accepted"
