"""Frame size limits, and what /metrics and /health tell an operator."""

from __future__ import annotations

import json

import websockets
from websockets.exceptions import ConnectionClosedError

from tests.end_to_end.conftest import running_evcms
from tests.support.databases import temporary_sqlite_url


async def test_oversized_frames_close_the_connection_with_1009(tmp_path):
    async with running_evcms(
        temporary_sqlite_url(tmp_path), allow_unsecured_stations=True, ws_max_message_size=4096
    ) as h:
        await h.add_station("BIG-1")
        await h.add_station("SMALL-1")
        async with websockets.connect(h.station_url("SMALL-1"), subprotocols=["ocpp1.6"]) as small:
            async with websockets.connect(h.station_url("BIG-1"), subprotocols=["ocpp1.6"]) as big:
                vendor = "x" * 5000
                await big.send(f'[2,"1","DataTransfer",{{"vendorId":"{vendor}"}}]')
                try:
                    await big.recv()
                    raise AssertionError("an oversized frame was accepted")
                except ConnectionClosedError:
                    pass
                assert big.close_code == 1009
            await small.send('[2,"s","Heartbeat",{}]')
            assert json.loads(await small.recv())[:2] == [3, "s"]


async def test_metrics_count_messages_by_action_and_outcome(evcms_unsecured):
    h = evcms_unsecured
    await h.add_station("MET-1")
    async with websockets.connect(h.station_url("MET-1"), subprotocols=["ocpp2.0.1"]) as ws:
        await ws.send('[2,"1","Heartbeat",{}]')
        await ws.recv()
        # a 2.0.1 message evcms has no route for (charging limits are not managed yet)
        await ws.send('[2,"2","ClearedChargingLimit",{"chargingLimitSource":"EMS"}]')
        await ws.recv()
        metrics = (await h.api.get("/metrics")).text
        health = (await h.api.get("/health")).json()
    assert 'evcms_ocpp_messages_total{action="Heartbeat",direction="in",outcome="ok"} 1.0' in metrics
    assert (
        'evcms_ocpp_messages_total{action="ClearedChargingLimit",direction="in",'
        'outcome="NotImplemented"} 1.0'
        in metrics
    )
    assert "evcms_stations_connected 1.0" in metrics
    assert "evcms_event_loop_lag_seconds_bucket" in metrics
    assert "evcms_db_commits_total" in metrics
    assert 'evcms_ocpp_inbound_handling_seconds_count{action="Heartbeat"} 1.0' in metrics
    assert health["status"] == "ok" and health["stations_connected"] == 1
