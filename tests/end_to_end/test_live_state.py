"""Live monitoring against a running evcms: meter samples of a real station reach the event
stream, and the station's current state shows each connector's running session with its energy
and power, and the station's last message time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from ocpp.v16 import call as c16

from tests.end_to_end.conftest import Harness
from tests.end_to_end.test_event_stream import next_event


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def sample(wh: int, kw: str) -> dict:
    return {
        "timestamp": now_text(),
        "sampled_value": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"},
        ],
    }


async def test_meter_samples_stream_live_and_show_on_the_connector(evcms_unsecured: Harness) -> None:
    h = evcms_unsecured
    await h.add_station("LIVE-16")
    await h.node.tokens.issue("LIVE-CARD", label="live test")
    params = {"station_id": "LIVE-16", "type": "meter.sample"}
    async with (
        httpx.AsyncClient(base_url=str(h.api.base_url), headers=h.api.headers, timeout=10) as client,
        client.stream("GET", "/api/v1/events", params=params) as response,
    ):
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == ": open"
        async with h.connect("LIVE-16") as cp:
            await cp.call(c16.BootNotification(charge_point_vendor="ACME", charge_point_model="L1"))
            await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            started = await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="LIVE-CARD", meter_start=1000, timestamp=now_text())
            )
            tx = started.transaction_id
            await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[sample(1500, "7.2")]))
            kind, data = await asyncio.wait_for(next_event(lines), 5)
            assert kind == "meter.sample"
            assert (data["station_id"], data["evse_id"], data["transaction_id"]) == ("LIVE-16", 1, str(tx))
            assert Decimal(data["power_w"]) == 7200
            assert Decimal(data["energy_wh"]) == 500

            await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[sample(2250, "11")]))
            kind, data = await asyncio.wait_for(next_event(lines), 5)
            assert (kind, Decimal(data["energy_wh"]), Decimal(data["power_w"])) == (
                "meter.sample", 1250, 11000,
            )

            station = await h.station("LIVE-16")
            assert station["presence"]["connected"] is True
            assert station["presence"]["last_message_at"] is not None
            connector = next(c for c in station["connectors"] if c["evse_id"] == 1)
            assert connector["status"] == "Charging"
            assert connector["error_code"] == "NoError"
            running = connector["session"]
            assert running["transaction_id"] == str(tx)
            assert (Decimal(running["energy_wh"]), Decimal(running["power_w"])) == (1250, 11000)

            listed = (await h.api.get("/api/v1/stations")).json()
            mine = next(s for s in listed if s["id"] == "LIVE-16")
            assert next(c for c in mine["connectors"] if c["evse_id"] == 1)["session"]["session_id"] == running["session_id"]

            await cp.call(c16.StopTransaction(transaction_id=tx, meter_stop=2300, timestamp=now_text()))
            await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            after = await h.station("LIVE-16")
            assert next(c for c in after["connectors"] if c["evse_id"] == 1)["session"] is None
