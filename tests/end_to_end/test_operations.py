"""Operators at work against real stations: onboarding, raw OCPP commands, reconnects."""

from __future__ import annotations

import asyncio
import json

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

PASSWORD = "s3cret-station-password"


class Station16(ChargePoint16):
    """A 1.6 station that answers a few CSMS commands."""

    triggered: asyncio.Event

    @on("GetConfiguration")
    def on_get_configuration(self, key=None, **_):
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )

    @on("Reset")
    def on_reset(self, type, **_):
        return result16.Reset(status="Rejected")

    @on("TriggerMessage")
    def on_trigger(self, requested_message, **_):
        self.triggered.set()
        return result16.TriggerMessage(status="Accepted")


class Station201(ChargePoint201):
    @on("GetVariables")
    def on_get_variables(self, get_variable_data, **_):
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": d["component"],
                    "variable": d["variable"],
                    "attribute_value": "300",
                }
                for d in get_variable_data
            ]
        )


async def test_pending_station_is_accepted_by_an_operator(evcms_onboarding):
    h = evcms_onboarding

    class Triggered(Station16):
        pass

    Triggered.triggered = asyncio.Event()
    async with h.connect("NEW-1", "ocpp1.6", PASSWORD, handlers=Triggered) as cp:
        boot = await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        assert boot.status == "Pending"
        state = await h.station("NEW-1")
        assert state["registration"] == "Pending"
        # While pending, only BootNotification is allowed
        async with websockets.connect(
            h.station_url("NEW-2"), subprotocols=["ocpp2.0.1"]
        ) as raw:
            await raw.send('[2,"b","BootNotification",{"reason":"PowerUp","chargingStation":'
                           '{"model":"M","vendorName":"V"}}]')
            assert json.loads(await raw.recv())[2]["status"] == "Pending"
            await raw.send('[2,"h","Heartbeat",{}]')
            assert json.loads(await raw.recv())[:3] == [4, "h", "SecurityError"]

        response = await h.api.post("/api/v1/stations/NEW-1/accept")
        assert response.status_code == 200, response.text
        await asyncio.wait_for(Triggered.triggered.wait(), 10)  # asked to boot again
        boot = await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        assert boot.status == "Accepted"
        assert (await cp.call(call16.Heartbeat())).current_time
    # the presented password was kept (trust on first use): a wrong one is now refused
    try:
        async with h.connect("NEW-1", "ocpp1.6", "another-password-1234"):
            raise AssertionError("connected with a wrong password")
    except websockets.exceptions.InvalidStatus as exc:
        assert exc.response.status_code == 401


async def test_raw_ocpp_command_reaches_the_station_and_returns_its_answer(evcms):
    await evcms.add_station("OPS-16", password=PASSWORD)
    await evcms.add_station("OPS-201", password=PASSWORD)
    async with evcms.connect("OPS-16", "ocpp1.6", PASSWORD, handlers=Station16):
        response = await evcms.api.post(
            "/api/v1/stations/OPS-16/ocpp/GetConfiguration", json={"key": ["HeartbeatInterval"]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["outcome"] == "result"
        assert body["payload"]["configurationKey"][0]["value"] == "300"

        response = await evcms.api.post("/api/v1/stations/OPS-16/ocpp/Reset", json={"type": "Soft"})
        assert response.json()["payload"] == {"status": "Rejected"}

        # invalid payload: refused before sending, with the schema's message
        response = await evcms.api.post("/api/v1/stations/OPS-16/ocpp/Reset", json={"type": "Warm"})
        assert response.status_code == 422
        assert "type" in response.text

        # an action the station's library does not handle: its CALLERROR comes back
        response = await evcms.api.post(
            "/api/v1/stations/OPS-16/ocpp/ClearCache", json={}
        )
        assert response.status_code == 200
        assert response.json()["outcome"] == "error"
        assert response.json()["error_code"] == "NotImplemented"

        # a 2.0.1 action on a 1.6 station
        response = await evcms.api.post(
            "/api/v1/stations/OPS-16/ocpp/GetVariables", json={"getVariableData": []}
        )
        assert response.status_code == 422

    async with evcms.connect("OPS-201", "ocpp2.0.1", PASSWORD, handlers=Station201):
        response = await evcms.api.post(
            "/api/v1/stations/OPS-201/ocpp/GetVariables",
            json={
                "getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
                ]
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["payload"]["getVariableResult"][0]["attributeValue"] == "300"

    response = await evcms.api.post("/api/v1/stations/OPS-201/ocpp/Reset", json={"type": "Immediate"})
    assert response.status_code == 409
    assert "not connected" in response.json()["detail"]


async def test_silent_station_times_out_and_disconnect_resolves_the_wait(tmp_path):
    from tests.end_to_end.conftest import running_evcms
    from tests.support.databases import temporary_sqlite_url

    async with running_evcms(
        temporary_sqlite_url(tmp_path), allow_unsecured_stations=True, call_timeout=0.5
    ) as h:
        await h.add_station("MUTE-1")
        async with websockets.connect(h.station_url("MUTE-1"), subprotocols=["ocpp1.6"]) as ws:
            response = await h.api.post("/api/v1/stations/MUTE-1/ocpp/ClearCache", json={})
            assert response.status_code == 504
            sent = json.loads(await ws.recv())
            assert sent[0] == 2 and sent[2] == "ClearCache"

            pending = asyncio.create_task(
                h.api.post("/api/v1/stations/MUTE-1/ocpp/ClearCache", json={})
            )
            await asyncio.sleep(0.1)
            await ws.close()
        response = await pending
        assert response.status_code in (409, 504)


async def test_a_new_connection_replaces_the_old_one(evcms_unsecured):
    h = evcms_unsecured
    await h.add_station("TWICE-1")
    async with websockets.connect(h.station_url("TWICE-1"), subprotocols=["ocpp1.6"]) as first:
        async with websockets.connect(
            h.station_url("TWICE-1"), subprotocols=["ocpp1.6"]
        ) as second:
            await first.wait_closed()
            assert first.close_code == 1000
            await second.send('[2,"x","Heartbeat",{}]')
            assert json.loads(await second.recv())[:2] == [3, "x"]
            assert (await h.station("TWICE-1"))["presence"]["connected"] is True
