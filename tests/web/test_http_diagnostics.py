"""/api/v1/stations/{id}/diagnostics, /api/v1/diagnostics and the public /uploads/{token}:
roles, the one-time link (used, expired, unknown), the size limit, and the download."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from maintenance_harness import UPLOAD_LIMIT, MaintenanceWeb, build_maintenance_web
from web_harness import build_web

from evcms.domain.access import Role


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[MaintenanceWeb]:
    async with build_maintenance_web(tmp_path) as harness:
        yield harness


async def ask(web: MaintenanceWeb, station: str = "CP-16", role: Role = Role.ADMIN, **body) -> dict:
    response = await web.client.post(f"/api/v1/stations/{station}/diagnostics", json=body, headers=web.auth(role))
    assert response.status_code == 201, response.text
    return dict(response.json())


def upload_path(web: MaintenanceWeb) -> str:
    """The path of the link the station was given."""
    _, _, payload = web.stations.calls[-1]
    location = payload.get("location") or payload["log"]["remoteLocation"]
    return str(location).removeprefix("http://evcms.test")


async def test_an_operator_asks_and_the_station_uploads_and_a_reader_downloads(web: MaintenanceWeb) -> None:
    created = await ask(web, **{"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T12:00:00Z", "retries": 2})
    assert created["progress"] == "requested" and created["file"] is None
    assert created["from"] == "2026-03-01T00:00:00Z"
    path = upload_path(web)
    assert path.startswith("/uploads/")
    response = await web.client.put(f"{path}/station-diag.tar.gz", content=b"\x1f\x8b log bytes")
    assert response.status_code == 201, response.text  # no API key: the token is the credential
    assert response.json()["size"] == 12
    got = await web.client.get(f"/api/v1/diagnostics/{created['id']}", headers=web.auth(Role.VIEWER))
    assert got.json()["progress"] == "file_received"
    assert got.json()["file"]["name"] == "station-diag.tar.gz"
    download = await web.client.get(got.json()["file"]["download"], headers=web.auth(Role.VIEWER))
    assert download.status_code == 200
    assert download.content == b"\x1f\x8b log bytes"
    assert "station-diag.tar.gz" in download.headers["content-disposition"]


async def test_a_multipart_post_with_one_file_part_is_accepted(web: MaintenanceWeb) -> None:
    created = await ask(web, station="CP-201", log_type="SecurityLog")
    path = upload_path(web)
    response = await web.client.post(
        path, data={"note": "ignored"}, files={"uploadFile": ("security.log", b"secure lines", "text/plain")}
    )
    assert response.status_code == 201, response.text
    got = (await web.client.get(f"/api/v1/diagnostics/{created['id']}", headers=web.auth())).json()
    assert got["file"]["name"] == "security.log" and got["file"]["size"] == 12
    download = await web.client.get(got["file"]["download"], headers=web.auth())
    assert download.content == b"secure lines"


async def test_a_multipart_body_without_a_file_part_is_refused(web: MaintenanceWeb) -> None:
    await ask(web)
    response = await web.client.post(
        upload_path(web),
        content=b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nvalue\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400
    assert "no file part" in response.json()["detail"]
    assert (await web.client.put(upload_path(web), content=b"then a file")).status_code == 201


async def test_a_link_takes_one_file(web: MaintenanceWeb) -> None:
    await ask(web)
    path = upload_path(web)
    assert (await web.client.put(path, content=b"first")).status_code == 201
    again = await web.client.post(path, content=b"second")
    assert again.status_code == 409
    assert "used" in again.json()["detail"]


async def test_an_expired_or_unknown_link_is_refused(web: MaintenanceWeb) -> None:
    await ask(web)
    path = upload_path(web)
    web.clock.advance(3600)
    expired = await web.client.put(path, content=b"late")
    assert expired.status_code == 410
    unknown = await web.client.put("/uploads/not-a-token", content=b"x")
    assert unknown.status_code == 404


async def test_an_upload_over_the_limit_gets_413_and_the_link_stays_usable(web: MaintenanceWeb) -> None:
    created = await ask(web)
    path = upload_path(web)
    too_big = await web.client.put(path, content=b"x" * (UPLOAD_LIMIT + 1))
    assert too_big.status_code == 413

    async def chunked():  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b"y" * 1000

    streamed = await web.client.put(path, content=chunked())
    assert streamed.status_code == 413
    got = (await web.client.get(f"/api/v1/diagnostics/{created['id']}", headers=web.auth())).json()
    assert got["file"] is None
    assert (await web.client.put(path, content=b"fits")).status_code == 201


async def test_status_and_listing_per_station(web: MaintenanceWeb) -> None:
    first = await ask(web)
    second = await ask(web, station="CP-201")
    await web.diagnostics.status_reported("CP-16", "Uploaded")  # type: ignore[arg-type]
    listed = (await web.client.get("/api/v1/diagnostics", headers=web.auth(Role.VIEWER))).json()
    assert [r["id"] for r in listed["requests"]] == [second["id"], first["id"]]
    per_station = (await web.client.get("/api/v1/stations/CP-16/diagnostics", headers=web.auth(Role.VIEWER))).json()
    assert [(r["id"], r["station_status"], r["progress"]) for r in per_station["requests"]] == [
        (first["id"], "Uploaded", "uploaded_without_file")
    ]
    filtered = (await web.client.get("/api/v1/diagnostics?station_id=CP-201", headers=web.auth())).json()
    assert [r["id"] for r in filtered["requests"]] == [second["id"]]


async def test_roles_and_errors(web: MaintenanceWeb) -> None:
    viewer = await web.client.post("/api/v1/stations/CP-16/diagnostics", json={}, headers=web.auth(Role.VIEWER))
    assert viewer.status_code == 403
    anonymous = await web.client.get("/api/v1/diagnostics")
    assert anonymous.status_code == 401
    offline = await web.client.post("/api/v1/stations/CP-OFF/diagnostics", json={}, headers=web.auth())
    assert offline.status_code == 409 and "not connected" in offline.json()["detail"]
    missing = await web.client.post("/api/v1/stations/CP-NONE/diagnostics", json={}, headers=web.auth())
    assert missing.status_code == 404
    backwards = await web.client.post(
        "/api/v1/stations/CP-16/diagnostics",
        json={"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T00:00:00Z"},
        headers=web.auth(),
    )
    assert backwards.status_code == 422 and "'from' must not be after 'to'" in backwards.json()["detail"]
    security_16 = await web.client.post(
        "/api/v1/stations/CP-16/diagnostics", json={"log_type": "SecurityLog"}, headers=web.auth()
    )
    assert security_16.status_code == 422
    no_file = await web.client.get("/api/v1/diagnostics/1/file", headers=web.auth())
    assert no_file.status_code == 404


async def test_without_the_service_the_endpoints_answer_503() -> None:
    async with build_web() as plain:
        response = await plain.client.get("/api/v1/diagnostics", headers=plain.auth())
        assert response.status_code == 503
        upload = await plain.client.put("/uploads/whatever", content=b"x")
        assert upload.status_code == 503
