"""The live event stream against a running evcms: a real station's StatusNotification reaches an
SSE client (GET /api/v1/events) within one second (the monitoring requirement of the issue)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from ocpp.v16 import call as call16

from tests.end_to_end.conftest import Harness

LATENCY_LIMIT_S = 1.0


async def next_event(lines: Any) -> tuple[str, dict[str, Any]]:
    """The next ``event:``/``data:`` frame of an SSE line iterator (comments skipped)."""
    frame: dict[str, str] = {}
    while True:
        line = await anext(lines)
        if line == "":
            if "event" in frame:
                return frame["event"], json.loads(frame["data"])
            frame = {}
            continue
        name, _, value = line.partition(":")
        if name:
            frame[name] = value.removeprefix(" ")


async def test_status_notification_reaches_the_event_stream_within_a_second(
    evcms_unsecured: Harness,
) -> None:
    harness = evcms_unsecured
    await harness.add_station("CP-LIVE-1")
    await harness.add_station("CP-OTHER")
    params = {"station_id": "CP-LIVE-1", "type": "station.booted,connector.status"}
    async with (
        httpx.AsyncClient(
            base_url=str(harness.api.base_url), headers=harness.api.headers, timeout=10
        ) as client,
        client.stream("GET", "/api/v1/events", params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 5) == ": open"  # subscribed from here on

        async with harness.connect("CP-OTHER") as other:  # filtered out by station_id
            await other.call(
                call16.BootNotification(charge_point_vendor="X", charge_point_model="Y")
            )
            await other.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Faulted")
            )
        async with harness.connect("CP-LIVE-1") as cp:
            await cp.call(
                call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50")
            )
            kind, data = await asyncio.wait_for(next_event(lines), 5)
            assert (kind, data["station_id"], data["vendor"]) == (
                "station.booted",
                "CP-LIVE-1",
                "ACME",
            )

            sent = time.monotonic()
            answer = cp.call(
                call16.StatusNotification(connector_id=2, error_code="NoError", status="Charging")
            )
            reader = asyncio.create_task(asyncio.wait_for(next_event(lines), 5))
            await answer
            kind, data = await reader
            latency = time.monotonic() - sent

    assert kind == "connector.status"
    # 1.6 connector 2 is EVSE 2 (connector 1 of it) in the version-neutral model
    assert (data["station_id"], data["evse_id"], data["status"]) == ("CP-LIVE-1", 2, "Charging")
    assert data["at"].endswith("Z")
    assert latency < LATENCY_LIMIT_S, f"connector.status took {latency:.3f} s to reach the stream"
