from __future__ import annotations

import pytest
from web_harness import Web

from evcms.domain.access import Role

NORTH = {
    "id": "depot-north",
    "name": "Depot North",
    "address": "1 Harbour Road",
    "latitude": 42.69,
    "longitude": 23.32,
}


async def test_create_get_list_update_delete(web: Web) -> None:
    created = await web.client.post("/api/v1/sites", json=NORTH, headers=web.auth())
    assert created.status_code == 201
    assert created.json() == NORTH

    got = await web.client.get("/api/v1/sites/depot-north", headers=web.auth(Role.VIEWER))
    assert got.json() == NORTH
    await web.client.post("/api/v1/sites", json={"id": "a-site", "name": "A"}, headers=web.auth())
    listed = await web.client.get("/api/v1/sites", headers=web.auth())
    assert [s["id"] for s in listed.json()] == ["a-site", "depot-north"]

    patched = await web.client.patch(
        "/api/v1/sites/depot-north", json={"name": "North depot"}, headers=web.auth()
    )
    assert patched.status_code == 200
    assert patched.json() == {**NORTH, "name": "North depot"}

    replaced = await web.client.put(
        "/api/v1/sites/depot-north", json={"name": "Only a name"}, headers=web.auth()
    )
    assert replaced.json() == {
        "id": "depot-north",
        "name": "Only a name",
        "address": "",
        "latitude": None,
        "longitude": None,
    }

    deleted = await web.client.delete("/api/v1/sites/depot-north", headers=web.auth())
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await web.client.get("/api/v1/sites/depot-north", headers=web.auth())
    assert gone.status_code == 404
    assert gone.json() == {"detail": "site 'depot-north' does not exist"}


async def test_duplicate_site_is_409(web: Web) -> None:
    await web.client.post("/api/v1/sites", json=NORTH, headers=web.auth())
    again = await web.client.post("/api/v1/sites", json=NORTH, headers=web.auth())
    assert again.status_code == 409
    assert again.json() == {"detail": "site 'depot-north' already exists"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"id": "Depot North", "name": "x"}, "site id must be 1-63 lower-case"),
        ({"id": "-north", "name": "x"}, "starting with a letter or digit"),
        ({"id": "n" * 64, "name": "x"}, "site id must be 1-63"),
        ({"id": "north", "name": ""}, "body field 'name'"),
        ({"id": "north", "name": "x", "latitude": 91, "longitude": 0}, "latitude"),
        ({"id": "north", "name": "x", "latitude": 0, "longitude": -181}, "longitude"),
        ({"id": "north", "name": "x", "latitude": 10}, "both latitude and longitude"),
        ({"id": "north", "name": "x", "colour": "red"}, "colour"),
        ({"name": "x"}, "body field 'id': Field required"),
    ],
)
async def test_invalid_site_is_422_saying_what_to_fix(
    web: Web, body: dict[str, object], says: str
) -> None:
    response = await web.client.post("/api/v1/sites", json=body, headers=web.auth())
    assert response.status_code == 422
    answer = response.json()
    assert says in answer["detail"]
    assert answer["errors"] and {"loc", "msg", "type"} <= set(answer["errors"][0])
    assert "input" not in answer["errors"][0]


async def test_malformed_json_is_422_with_a_readable_detail(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/sites",
        content=b"{not json",
        headers={**web.auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("request body is not valid JSON")
    assert "at character 1" in response.json()["detail"]


async def test_missing_body_is_422(web: Web) -> None:
    response = await web.client.post("/api/v1/sites", headers=web.auth())
    assert response.status_code == 422
    assert response.json()["detail"] == "a JSON request body is required"


async def test_patch_checks_coordinates_together(web: Web) -> None:
    await web.client.post("/api/v1/sites", json=NORTH, headers=web.auth())
    response = await web.client.patch(
        "/api/v1/sites/depot-north", json={"latitude": None}, headers=web.auth()
    )
    assert response.status_code == 422
    assert "latitude and longitude" in response.json()["detail"]
    cleared = await web.client.patch(
        "/api/v1/sites/depot-north",
        json={"latitude": None, "longitude": None},
        headers=web.auth(),
    )
    assert cleared.json()["latitude"] is None


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_unknown_site_is_404(web: Web, method: str) -> None:
    body = {"name": "x"} if method in ("PATCH", "PUT") else None
    response = await web.client.request(
        method, "/api/v1/sites/nowhere", json=body, headers=web.auth()
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "site 'nowhere' does not exist"}


async def test_deleting_a_site_detaches_its_stations(web: Web) -> None:
    await web.client.post("/api/v1/sites", json=NORTH, headers=web.auth())
    await web.client.post(
        "/api/v1/stations", json={"id": "CP-1", "site_id": "depot-north"}, headers=web.auth()
    )
    await web.client.delete("/api/v1/sites/depot-north", headers=web.auth())
    station = await web.client.get("/api/v1/stations/CP-1", headers=web.auth())
    assert station.json()["site_id"] is None
