"""Real stations (the `ocpp` package) boot, heartbeat and report status over 1.6, 2.0.1 and 2.1
against a running evcms, with and without Basic auth, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

PASSWORD = "s3cret-station-password"


async def boot_and_report(cp: object, version: str) -> tuple[object, object]:
    now = datetime.now(UTC).isoformat()
    if version == "ocpp1.6":
        boot = await cp.call(  # type: ignore[attr-defined]
            call16.BootNotification(
                charge_point_vendor="ACME", charge_point_model="Fast-50", firmware_version="4.2"
            )
        )
        beat = await cp.call(call16.Heartbeat())  # type: ignore[attr-defined]
        await cp.call(  # type: ignore[attr-defined]
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        return boot, beat
    module = call201 if version == "ocpp2.0.1" else call21
    boot = await cp.call(  # type: ignore[attr-defined]
        module.BootNotification(
            charging_station={"model": "Fast-50", "vendor_name": "ACME", "firmware_version": "4.2"},
            reason="PowerUp",
        )
    )
    beat = await cp.call(module.Heartbeat())  # type: ignore[attr-defined]
    await cp.call(  # type: ignore[attr-defined]
        module.StatusNotification(
            timestamp=now, connector_status="Occupied", evse_id=1, connector_id=1
        )
    )
    return boot, beat


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize("with_password", [True, False], ids=["basic-auth", "no-auth"])
async def test_station_boots_heartbeats_and_reports_status(evcms, version, with_password):
    station_id = f"CP-{version[4:].replace('.', '')}-{'auth' if with_password else 'open'}"
    password = PASSWORD if with_password else None
    # The `evcms` fixture allows stations without a password (security profile 0).
    await evcms.add_station(station_id, password=password)

    async with evcms.connect(station_id, version, password) as cp:
        boot, beat = await boot_and_report(cp, version)
        assert boot.status == "Accepted"
        assert boot.interval == 300
        assert boot.current_time.endswith("Z")
        assert datetime.fromisoformat(beat.current_time.replace("Z", "+00:00")).tzinfo

        state = await evcms.station(station_id)
        assert state["presence"]["connected"] is True
        assert state["ocpp_version"] == version
        assert state["info"]["vendor"] == "ACME"
        assert state["info"]["model"] == "Fast-50"
        assert state["info"]["firmware_version"] == "4.2"
        (connector,) = state["connectors"]
        assert connector["evse_id"] == 1
        assert connector["status"] == ("Charging" if version == "ocpp1.6" else "Occupied")

    async def offline() -> bool:
        return (await evcms.station(station_id))["presence"]["connected"] is False

    await evcms.wait_for(offline)


async def test_short_url_without_ocpp_prefix(evcms_sqlite):
    await evcms_sqlite.add_station("SHORT-1", password=PASSWORD)
    async with evcms_sqlite.connect("SHORT-1", "ocpp1.6", PASSWORD, short=True) as cp:
        boot = await cp.call(call16.BootNotification(charge_point_vendor="A", charge_point_model="B"))
        assert boot.status == "Accepted"


async def test_percent_encoded_station_id_is_decoded(evcms_sqlite):
    await evcms_sqlite.add_station("CP.7", password=PASSWORD)
    async with evcms_sqlite.connect("CP.7", "ocpp1.6", PASSWORD, url_id="CP%2E7") as cp:
        boot = await cp.call(call16.BootNotification(charge_point_vendor="A", charge_point_model="B"))
        assert boot.status == "Accepted"
    assert (await evcms_sqlite.station("CP.7"))["info"]["vendor"] == "A"


async def test_message_log_keeps_frames_in_and_out(evcms_sqlite):
    h = evcms_sqlite
    await h.add_station("LOG-1", password=PASSWORD)
    async with h.connect("LOG-1", "ocpp1.6", PASSWORD) as cp:
        await cp.call(call16.Heartbeat())
    await h.node.gateway._message_log.flush()  # the log is written in batches
    response = await h.api.get("/api/v1/stations/LOG-1/messages", params={"limit": 10})
    assert response.status_code == 200
    entries = response.json()["messages"]
    directions = [e["direction"] for e in entries]
    assert directions[:2] == ["out", "in"]  # newest first: our answer, then the Heartbeat
    assert entries[1]["message"][2] == "Heartbeat"
    assert '"Heartbeat"' in entries[1]["raw"]
