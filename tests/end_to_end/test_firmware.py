"""Firmware end to end: an operator uploads a file, rolls it out to three real stations (the
`ocpp` package over real sockets, 1.6 and 2.0.1 mixed) in waves; the stations fetch the file over
their token links with httpx (the bytes' SHA-256 matches) and report their status. Two end
Installed, one fails (DownloadFailed); the progress is visible through the API while it runs."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201

from tests.end_to_end.conftest import Harness, database, running_evcms

IMAGE = hashlib.sha512(b"evcms").digest() * 3000  # ~190 KiB
SHA256 = hashlib.sha256(IMAGE).hexdigest()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def evcms(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Harness]:
    """evcms on each database, its files in a temporary directory (EVCMS_FILES_DIR)."""
    async with database(request.param, tmp_path) as url, running_evcms(
        url, allow_unsecured_stations=True, files_dir=str(tmp_path / "evcms-files")
    ) as harness:
        yield harness


class Station16(ChargePoint16):
    """Downloads, then waits for ``proceed`` before installing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proceed = asyncio.Event()
        self.fetched: bytes | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    @on("UpdateFirmware")
    def on_update_firmware(self, location, retrieve_date, **_):
        self.tasks.add(asyncio.create_task(self.update(location)))
        return r16.UpdateFirmware()

    async def update(self, location: str) -> None:
        await asyncio.sleep(0.05)
        await self.call(c16.FirmwareStatusNotification(status="Downloading"))
        async with httpx.AsyncClient() as http:
            self.fetched = (await http.get(location)).content
        await self.proceed.wait()
        for status in ("Downloaded", "Installing", "Installed"):
            await self.call(c16.FirmwareStatusNotification(status=status))


class Station201(ChargePoint201):
    fail_download = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetched: bytes | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    @on("UpdateFirmware")
    def on_update_firmware(self, request_id, firmware, **_):
        self.tasks.add(asyncio.create_task(self.update(request_id, firmware["location"])))
        return r201.UpdateFirmware(status="Accepted")

    async def update(self, request_id: int, location: str) -> None:
        await asyncio.sleep(0.05)
        await self.call(c201.FirmwareStatusNotification(status="Downloading", request_id=request_id))
        if self.fail_download:
            await self.call(c201.FirmwareStatusNotification(status="DownloadFailed", request_id=request_id))
            return
        async with httpx.AsyncClient() as http:
            self.fetched = (await http.get(location)).content
        for status in ("Downloaded", "Installing", "Installed"):
            await self.call(c201.FirmwareStatusNotification(status=status, request_id=request_id))


class Failing201(Station201):
    fail_download = True


async def boot(cp: Any, version: str) -> None:
    if version == "ocpp1.6":
        await cp.call(c16.BootNotification(charge_point_vendor="ACME", charge_point_model="AC-22", firmware_version="1.0"))
    else:
        await cp.call(c201.BootNotification(
            charging_station={"model": "AC-22", "vendor_name": "ACME", "firmware_version": "1.0"}, reason="PowerUp"
        ))


async def test_a_rollout_to_three_stations_ends_installed_on_two_and_failed_on_one(evcms):
    for station_id in ("FW-A", "FW-B", "FW-C"):
        await evcms.add_station(station_id)
    uploaded = await evcms.api.post(
        "/api/v1/firmware",
        data={"version": "2.0", "models": "AC-22"},
        files={"file": ("acme-2.0.bin", IMAGE, "application/octet-stream")},
    )
    assert uploaded.status_code == 201, uploaded.text
    firmware = uploaded.json()
    assert firmware["sha256"] == SHA256
    async with (
        evcms.connect("FW-A", "ocpp1.6", handlers=Station16) as a,
        evcms.connect("FW-B", "ocpp2.0.1", handlers=Station201) as b,
        evcms.connect("FW-C", "ocpp2.0.1", handlers=Failing201) as c,
    ):
        for cp, version in ((a, "ocpp1.6"), (b, "ocpp2.0.1"), (c, "ocpp2.0.1")):
            await boot(cp, version)
        started = await evcms.api.post(
            f"/api/v1/firmware/{firmware['id']}/rollouts",
            json={"station_ids": ["FW-A", "FW-C", "FW-B"], "wave_size": 2, "max_failure_rate": "0.5", "wave_timeout": 120},
        )
        assert started.status_code == 201, started.text
        rollout_id = started.json()["id"]
        url = f"/api/v1/firmware/rollouts/{rollout_id}"

        def by_station(view: dict) -> dict[str, tuple[str, str | None]]:
            return {s["station_id"]: (s["state"], s["station_status"]) for s in view["stations"]}

        # while it runs: FW-A downloaded and waits, FW-C failed, FW-B waits for the next wave
        async def intermediate() -> bool:
            view = (await evcms.api.get(url)).json()
            return a.fetched is not None and by_station(view) == {
                "FW-A": ("updating", "Downloading"),
                "FW-C": ("failed", "DownloadFailed"),
                "FW-B": ("pending", None),
            }

        await evcms.wait_for(intermediate)
        view = (await evcms.api.get(url)).json()
        assert view["status"] == "running" and view["current_wave"] == 1
        assert view["counts"]["failed"] == 1 and view["counts"]["pending"] == 1

        a.proceed.set()

        async def finished() -> bool:
            return (await evcms.api.get(url)).json()["status"] != "running"

        await evcms.wait_for(finished, timeout=20)
    view = (await evcms.api.get(url)).json()
    assert view["status"] == "completed"
    assert view["current_wave"] == 2
    assert by_station(view) == {
        "FW-A": ("installed", "Installed"),
        "FW-C": ("failed", "DownloadFailed"),
        "FW-B": ("installed", "Installed"),
    }
    assert view["counts"]["installed"] == 2 and view["counts"]["failed"] == 1
    # the stations fetched the very file over their token links
    assert hashlib.sha256(a.fetched).hexdigest() == SHA256
    assert hashlib.sha256(b.fetched).hexdigest() == SHA256
    updates = (await evcms.api.get(f"/api/v1/firmware/updates?rollout_id={rollout_id}")).json()["updates"]
    assert {u["station_id"]: u["state"] for u in updates} == {"FW-A": "installed", "FW-B": "installed", "FW-C": "failed"}
    assert {u["station_id"]: u["downloads"] for u in updates} == {"FW-A": 1, "FW-B": 1, "FW-C": 0}
    # a file a finished rollout used may go
    assert (await evcms.api.delete(f"/api/v1/firmware/{firmware['id']}")).status_code == 204


async def test_an_update_to_one_station_is_tracked_to_installed(evcms):
    await evcms.add_station("FW-ONE")
    uploaded = await evcms.api.post(
        "/api/v1/firmware", data={"version": "2.0"}, files={"file": ("fw.bin", IMAGE, "application/octet-stream")}
    )
    firmware_id = uploaded.json()["id"]
    async with evcms.connect("FW-ONE", "ocpp2.0.1", handlers=Station201) as cp:
        await boot(cp, "ocpp2.0.1")
        response = await evcms.api.post(
            "/api/v1/stations/FW-ONE/firmware-update", json={"firmware_id": firmware_id, "retries": 1}
        )
        assert response.status_code == 201, response.text
        update_id = response.json()["id"]

        async def installed() -> bool:
            got = await evcms.api.get(f"/api/v1/firmware/updates/{update_id}")
            return got.json()["state"] == "installed"

        await evcms.wait_for(installed)
    assert hashlib.sha256(cp.fetched).hexdigest() == SHA256
