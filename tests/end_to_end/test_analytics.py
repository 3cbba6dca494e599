"""Analytics end to end: a real 1.6 station charges, then the analytics API shows its session,
its energy, its charging time and its model's fault."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call as c16

from tests.end_to_end.conftest import running_evcms
from tests.support.databases import temporary_sqlite_url

PASSWORD = "s3cret-station-password"


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def evcms_fast(tmp_path: Any) -> Any:
    async with running_evcms(
        temporary_sqlite_url(tmp_path), allow_unsecured_stations=True, analytics_flush_seconds=0.1
    ) as harness:
        yield harness


async def test_a_charged_session_shows_in_the_analytics(evcms_fast: Any) -> None:
    h = evcms_fast
    await h.add_station("AN-1", password=PASSWORD)
    await h.node.tokens.issue("CARD-AN")
    async with h.connect("AN-1", "ocpp1.6", PASSWORD) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="Wallbox-X"))

        async def status(value: str, error: str = "NoError") -> None:
            await cp.call(c16.StatusNotification(connector_id=1, error_code=error, status=value, timestamp=now()))

        await status("Available")
        await status("Preparing")
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-AN", meter_start=5000, timestamp=now()))
        await status("Charging")
        await asyncio.sleep(0.5)
        await status("Finishing")
        await cp.call(
            c16.StopTransaction(meter_stop=7500, timestamp=now(), transaction_id=start.transaction_id, reason="Local")
        )
        await status("Available")
        await status("Faulted", "GroundFailure")
        await status("Available")

    today = datetime.now(UTC).date()
    period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2)), "tz": "UTC"}

    async def summary() -> dict[str, Any]:
        answer = await h.api.get("/api/v1/analytics/summary", params={**period, "station": "AN-1"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def counted() -> bool:  # the session and the fault come in different flushes
        faults = (await h.api.get("/api/v1/analytics/faults", params=period)).json()
        return (await summary())["sessions"] == 1 and bool(faults["by_code_and_model"])

    await h.wait_for(counted, timeout=10)
    found = await summary()
    assert (found["successful"], found["energy_kwh"]) == (1, "2.500")
    assert Decimal(found["average_charging_minutes"]) > 0
    tokens = (await h.api.get("/api/v1/analytics/top-tokens", params=period)).json()["tokens"]
    assert tokens == [{"id_token": "CARD-AN", "sessions": 1, "energy_kwh": "2.500"}]
    faults = (await h.api.get("/api/v1/analytics/faults", params=period)).json()
    assert faults["by_code_and_model"] == [
        {"error_code": "GroundFailure", "vendor_error_code": "", "model": "Wallbox-X", "faults": 1}
    ]
    use = (await h.api.get("/api/v1/analytics/utilisation", params={**period, "station": "AN-1"})).json()
    assert Decimal(use["seconds_by_class"]["charging"]) > 0
    assert Decimal(use["seconds_by_class"]["offline"]) > 0  # the station left at the end
