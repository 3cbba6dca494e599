"""Diagnostics end to end: a real station (the `ocpp` package) over a real socket gets
GetDiagnostics (1.6) / GetLog (2.0.1) with evcms's upload link, really uploads with httpx (PUT
with a file name for 1.6, multipart POST for 2.0.1), reports its status, and the operator
downloads the very same bytes through the API."""

from __future__ import annotations

import asyncio
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

LOG = b"2026-05-01 09:00:00 relay K1 welded\n" * 200 + bytes(range(256))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def evcms(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Harness]:
    """evcms on each database, its files in a temporary directory (EVCMS_FILES_DIR)."""
    async with database(request.param, tmp_path) as url, running_evcms(
        url, allow_unsecured_stations=True, files_dir=str(tmp_path / "evcms-files")
    ) as harness:
        yield harness


class Uploading16(ChargePoint16):
    tasks: set[asyncio.Task[Any]]

    @on("GetDiagnostics")
    def on_get_diagnostics(self, location, **_):
        self.location = location
        self.tasks = {asyncio.create_task(self.upload(location))}
        return r16.GetDiagnostics(file_name="cp16-diag.log")

    async def upload(self, location: str) -> None:
        await asyncio.sleep(0.05)
        await self.call(c16.DiagnosticsStatusNotification(status="Uploading"))
        async with httpx.AsyncClient() as http:  # a directory location: append the file name
            response = await http.put(f"{location}/cp16-diag.log", content=LOG)
        self.upload_status = response.status_code
        await self.call(c16.DiagnosticsStatusNotification(status="Uploaded"))


class Uploading201(ChargePoint201):
    tasks: set[asyncio.Task[Any]]

    @on("GetLog")
    def on_get_log(self, log, log_type, request_id, **_):
        self.log_type = log_type
        self.tasks = {asyncio.create_task(self.upload(log["remote_location"], request_id))}
        return r201.GetLog(status="Accepted", filename="cp201-security.log")

    async def upload(self, location: str, request_id: int) -> None:
        await asyncio.sleep(0.05)
        await self.call(c201.LogStatusNotification(status="Uploading", request_id=request_id))
        async with httpx.AsyncClient() as http:
            response = await http.post(location, files={"file": ("cp201-security.log", LOG, "text/plain")})
        self.upload_status = response.status_code
        await self.call(c201.LogStatusNotification(status="Uploaded", request_id=request_id))


async def boot(cp: Any, version: str) -> None:
    if version == "ocpp1.6":
        await cp.call(c16.BootNotification(charge_point_vendor="ACME", charge_point_model="AC-22"))
    else:
        await cp.call(c201.BootNotification(charging_station={"model": "AC-22", "vendor_name": "ACME"}, reason="PowerUp"))


@pytest.mark.parametrize(
    ("version", "station_class", "body", "file_name"),
    [
        ("ocpp1.6", Uploading16, {}, "cp16-diag.log"),
        ("ocpp2.0.1", Uploading201, {"log_type": "SecurityLog"}, "cp201-security.log"),
    ],
)
async def test_a_diagnostics_upload_lands_in_evcms_and_is_downloaded(evcms, version, station_class, body, file_name):
    station_id = f"DIAG-{version[4:].replace('.', '')}"
    await evcms.add_station(station_id)
    async with evcms.connect(station_id, version, handlers=station_class) as cp:
        await boot(cp, version)
        response = await evcms.api.post(f"/api/v1/stations/{station_id}/diagnostics", json=body)
        assert response.status_code == 201, response.text
        request_id = response.json()["id"]

        async def completed() -> bool:
            got = await evcms.api.get(f"/api/v1/diagnostics/{request_id}")
            return got.json()["progress"] == "completed"

        await evcms.wait_for(completed)
        assert cp.upload_status == 201
        if version == "ocpp2.0.1":
            assert cp.log_type == "SecurityLog"
    seen = (await evcms.api.get(f"/api/v1/stations/{station_id}/diagnostics")).json()["requests"][0]
    assert seen["id"] == request_id
    assert seen["station_status"] == "Uploaded"
    assert seen["file"]["name"] == file_name and seen["file"]["size"] == len(LOG)
    download = await evcms.api.get(f"/api/v1/diagnostics/{request_id}/file")
    assert download.status_code == 200
    assert download.content == LOG
