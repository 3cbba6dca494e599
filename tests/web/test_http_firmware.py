"""/api/v1/firmware, /api/v1/stations/{id}/firmware-update, rollouts, and the public
/firmware-files/{token}/{name} links: roles, checksums, model fit, HEAD and Range."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from maintenance_harness import MaintenanceWeb, build_maintenance_web

from evcms.domain.access import Role

IMAGE = bytes(range(256)) * 40


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[MaintenanceWeb]:
    async with build_maintenance_web(tmp_path) as harness:
        yield harness


async def add_firmware(web: MaintenanceWeb, models: list[str] | None = None, role: Role = Role.ADMIN, **fields) -> dict:
    data = {"version": "2.0.1", "models": models or ["AC-22"], "notes": "fixes", **fields}
    response = await web.client.post(
        "/api/v1/firmware", data=data, files={"file": ("fw-2.0.1.bin", IMAGE, "application/octet-stream")},
        headers=web.auth(role),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_uploaded_firmware_shows_its_checksums_and_models(web: MaintenanceWeb) -> None:
    added = await add_firmware(web, models=["AC-22, DC-50", "ac-22"])
    assert added["size"] == len(IMAGE)
    assert added["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert added["md5"] == hashlib.md5(IMAGE).hexdigest()
    assert added["models"] == ["AC-22", "DC-50"]
    assert added["file_name"] == "fw-2.0.1.bin" and added["signed"] is False
    listed = (await web.client.get("/api/v1/firmware", headers=web.auth(Role.VIEWER))).json()
    assert [f["id"] for f in listed["firmware"]] == [added["id"]]
    one = await web.client.get(f"/api/v1/firmware/{added['id']}", headers=web.auth(Role.VIEWER))
    assert one.json() == added


async def test_signed_firmware_needs_both_certificate_and_signature(web: MaintenanceWeb) -> None:
    signed = await add_firmware(web, signing_certificate="-----BEGIN CERTIFICATE-----", signature="c2ln")
    assert signed["signed"] is True
    half = await web.client.post(
        "/api/v1/firmware", data={"version": "3", "signature": "c2ln"},
        files={"file": ("fw.bin", b"x", "application/octet-stream")}, headers=web.auth(),
    )
    assert half.status_code == 422


async def test_uploading_needs_operate_stations_and_a_version(web: MaintenanceWeb) -> None:
    viewer = await web.client.post(
        "/api/v1/firmware", data={"version": "1"}, files={"file": ("fw.bin", b"x", "application/octet-stream")},
        headers=web.auth(Role.VIEWER),
    )
    assert viewer.status_code == 403
    no_version = await web.client.post(
        "/api/v1/firmware", files={"file": ("fw.bin", b"x", "application/octet-stream")}, headers=web.auth()
    )
    assert no_version.status_code == 422 and "version" in no_version.json()["detail"]
    empty = await web.client.post(
        "/api/v1/firmware", data={"version": "1"}, files={"file": ("fw.bin", b"", "application/octet-stream")},
        headers=web.auth(),
    )
    assert empty.status_code == 422


async def test_a_station_downloads_its_update_over_the_token_link(web: MaintenanceWeb) -> None:
    added = await add_firmware(web)
    response = await web.client.post(
        "/api/v1/stations/CP-16/firmware-update", json={"firmware_id": added["id"], "retries": 2}, headers=web.auth()
    )
    assert response.status_code == 201, response.text
    update = response.json()
    assert update["state"] == "requested" and update["retries"] == 2
    _, action, payload = web.stations.calls[-1]
    assert action == "UpdateFirmware"
    link = payload["location"].removeprefix("http://evcms.test")
    assert link.endswith("/fw-2.0.1.bin")
    got = await web.client.get(link)  # no API key
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == added["sha256"]
    assert got.headers["x-checksum-sha256"] == added["sha256"]
    head = await web.client.head(link)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(IMAGE)
    part = await web.client.get(link, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == IMAGE[100:200]
    seen = (await web.client.get(f"/api/v1/firmware/updates/{update['id']}", headers=web.auth(Role.VIEWER))).json()
    assert seen["downloads"] == 2  # the GETs, not the HEAD
    web.clock.advance(3600 + 30 * 60)
    assert (await web.client.get(link)).status_code == 410
    assert (await web.client.get("/firmware-files/nope/fw.bin")).status_code == 404


async def test_an_update_for_another_model_needs_force(web: MaintenanceWeb) -> None:
    added = await add_firmware(web, models=["DC-50"])
    refused = await web.client.post(
        "/api/v1/stations/CP-16/firmware-update", json={"firmware_id": added["id"]}, headers=web.auth()
    )
    assert refused.status_code == 422 and "force" in refused.json()["detail"]
    forced = await web.client.post(
        "/api/v1/stations/CP-16/firmware-update", json={"firmware_id": added["id"], "force": True}, headers=web.auth()
    )
    assert forced.status_code == 201
    offline = await web.client.post(
        "/api/v1/stations/CP-OFF/firmware-update", json={"firmware_id": added["id"], "force": True}, headers=web.auth()
    )
    assert offline.status_code == 409
    viewer = await web.client.post(
        "/api/v1/stations/CP-16/firmware-update", json={"firmware_id": added["id"]}, headers=web.auth(Role.VIEWER)
    )
    assert viewer.status_code == 403


async def test_a_firmware_in_use_cannot_be_deleted(web: MaintenanceWeb) -> None:
    added = await add_firmware(web)
    await web.client.post("/api/v1/stations/CP-16/firmware-update", json={"firmware_id": added["id"]}, headers=web.auth())
    busy = await web.client.delete(f"/api/v1/firmware/{added['id']}", headers=web.auth())
    assert busy.status_code == 409
    await web.firmware.status_reported("CP-16", "Installed")  # type: ignore[arg-type]
    assert (await web.client.delete(f"/api/v1/firmware/{added['id']}", headers=web.auth(Role.VIEWER))).status_code == 403
    assert (await web.client.delete(f"/api/v1/firmware/{added['id']}", headers=web.auth())).status_code == 204
    assert (await web.client.get(f"/api/v1/firmware/{added['id']}", headers=web.auth())).status_code == 404


async def test_a_rollout_shows_its_progress_and_can_be_cancelled(web: MaintenanceWeb) -> None:
    added = await add_firmware(web)
    response = await web.client.post(
        f"/api/v1/firmware/{added['id']}/rollouts",
        json={"station_ids": ["CP-16", "CP-201"], "wave_size": 1, "max_failure_rate": "0.5", "wave_timeout": 600},
        headers=web.auth(),
    )
    assert response.status_code == 201, response.text
    rollout = response.json()
    assert (rollout["status"], rollout["current_wave"], rollout["waves"], rollout["total"]) == ("running", 1, 2, 2)
    assert rollout["counts"]["updating"] == 1 and rollout["counts"]["pending"] == 1
    assert [(s["station_id"], s["wave"], s["state"]) for s in rollout["stations"]] == [
        ("CP-16", 1, "updating"), ("CP-201", 2, "pending")
    ]
    seen = await web.client.get(f"/api/v1/firmware/rollouts/{rollout['id']}", headers=web.auth(Role.VIEWER))
    assert seen.json()["id"] == rollout["id"]
    listed = (await web.client.get("/api/v1/firmware/rollouts?status=running", headers=web.auth())).json()
    assert [r["id"] for r in listed["rollouts"]] == [rollout["id"]]
    cancelled = await web.client.post(f"/api/v1/firmware/rollouts/{rollout['id']}/cancel", headers=web.auth())
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["counts"]["skipped"] == 1
    again = await web.client.post(f"/api/v1/firmware/rollouts/{rollout['id']}/cancel", headers=web.auth())
    assert again.status_code == 409


async def test_a_rollout_needs_exactly_one_target(web: MaintenanceWeb) -> None:
    added = await add_firmware(web)
    two = await web.client.post(
        f"/api/v1/firmware/{added['id']}/rollouts", json={"station_ids": ["CP-16"], "model": "AC-22"}, headers=web.auth()
    )
    assert two.status_code == 422 and "exactly one target" in two.json()["detail"]
    none = await web.client.post(f"/api/v1/firmware/{added['id']}/rollouts", json={}, headers=web.auth())
    assert none.status_code == 422
    nobody = await web.client.post(
        f"/api/v1/firmware/{added['id']}/rollouts", json={"model": "XYZ"}, headers=web.auth()
    )
    assert nobody.status_code == 422 and "no station" in nobody.json()["detail"]
    viewer = await web.client.post(
        f"/api/v1/firmware/{added['id']}/rollouts", json={"model": "AC-22"}, headers=web.auth(Role.VIEWER)
    )
    assert viewer.status_code == 403
