from __future__ import annotations

import pytest
from web_harness import Web

from evcms.domain.ids import StationId
from evcms.passwords import station_hasher

CP1 = StationId("CP-1")


@pytest.fixture
async def station(web: Web) -> None:
    response = await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    assert response.status_code == 201


@pytest.mark.usefixtures("station")
async def test_set_a_password(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/stations/CP-1/credentials", json={"password": "x" * 20}, headers=web.auth()
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["station"]["password_set"] is True
    assert answer["credentials"]["password"] is None
    assert answer["credentials"]["security_profile"] == 1
    stored = web.db.stations[CP1].password_hash
    assert stored is not None and station_hasher().verify(stored, "x" * 20)


@pytest.mark.usefixtures("station")
async def test_generate_a_password(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/stations/CP-1/credentials", json={"generate": True}, headers=web.auth()
    )
    assert response.status_code == 200
    credentials = response.json()["credentials"]
    assert credentials["username"] == "CP-1"
    assert credentials["ocpp_url"] == "ws://127.0.0.1:9000/ocpp/CP-1"
    password = credentials["password"]
    stored = web.db.stations[CP1].password_hash
    assert stored is not None and station_hasher().verify(stored, password)
    shown = await web.client.get("/api/v1/stations/CP-1", headers=web.auth())
    assert password not in shown.text


@pytest.mark.usefixtures("station")
async def test_remove_the_password(web: Web) -> None:
    await web.client.post(
        "/api/v1/stations/CP-1/credentials", json={"generate": True}, headers=web.auth()
    )
    response = await web.client.post(
        "/api/v1/stations/CP-1/credentials", json={"password": None}, headers=web.auth()
    )
    assert response.status_code == 200
    assert response.json()["station"]["password_set"] is False
    assert response.json()["credentials"]["security_profile"] == 0
    assert web.db.stations[CP1].password_hash is None


@pytest.mark.usefixtures("station")
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, 'say what to do: {"password": "..."} sets one'),
        ({"password": "short"}, "at least 16 characters"),
        ({"password": "y" * 20, "generate": True}, "either password or generate"),
        ({"password": "tab\tinside-the-password"}, "printable ASCII"),
    ],
)
async def test_invalid_credentials_change_is_422(
    web: Web, body: dict[str, object], says: str
) -> None:
    response = await web.client.post(
        "/api/v1/stations/CP-1/credentials", json=body, headers=web.auth()
    )
    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert web.db.stations[CP1].password_hash is None
