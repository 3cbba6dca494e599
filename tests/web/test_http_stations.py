from __future__ import annotations

from datetime import UTC, datetime

import pytest
from web_harness import Web

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, StationInfo

CP1 = StationId("CP-1")


async def _site(web: Web, site_id: str = "north") -> None:
    response = await web.client.post(
        "/api/v1/sites", json={"id": site_id, "name": site_id.title()}, headers=web.auth()
    )
    assert response.status_code == 201


async def test_register_a_station_with_its_password(web: Web) -> None:
    await _site(web)
    response = await web.client.post(
        "/api/v1/stations",
        json={"id": "CP-1", "site_id": "north", "name": "Bay 1", "password": "s" * 16},
        headers=web.auth(Role.OPERATOR),
    )
    assert response.status_code == 201
    answer = response.json()
    assert answer["station"] == {
        "id": "CP-1",
        "site_id": "north",
        "name": "Bay 1",
        "registration": "Accepted",
        "password_set": True,
        "created_at": "2026-03-01T12:00:00Z",
        "ocpp_version": None,
        "last_boot_at": None,
        "info": None,
    }
    assert answer["credentials"] == {
        "ocpp_url": "ws://127.0.0.1:9000/ocpp/CP-1",
        "username": "CP-1",
        "password": None,  # the operator chose it; it is not echoed back
        "security_profile": 1,
    }


async def test_register_without_password_is_profile_0_and_pending_is_kept(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/stations",
        json={"id": "ACME_0001.a~b", "registration": "Pending"},
        headers=web.auth(),
    )
    assert response.status_code == 201
    answer = response.json()
    assert answer["station"]["registration"] == "Pending"
    assert answer["station"]["password_set"] is False
    assert answer["credentials"]["security_profile"] == 0
    assert answer["credentials"]["ocpp_url"] == "ws://127.0.0.1:9000/ocpp/ACME_0001.a~b"


async def test_generated_password_is_shown_once_and_only_its_hash_is_kept(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/stations", json={"id": "CP-1", "generate_password": True}, headers=web.auth()
    )
    assert response.status_code == 201
    password = response.json()["credentials"]["password"]
    assert isinstance(password, str) and 16 <= len(password) <= 40

    stored = web.db.stations[CP1]
    assert stored.password_hash is not None and password not in stored.password_hash
    assert stored.password_hash.startswith("$argon2")
    from evcms.passwords import station_hasher

    assert station_hasher().verify(stored.password_hash, password)
    assert not station_hasher().verify(stored.password_hash, password + "x")

    for path in ("/api/v1/stations/CP-1", "/api/v1/stations"):
        again = await web.client.get(path, headers=web.auth())
        assert password not in again.text
        assert "argon2" not in again.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"id": "CP 1"}, "station id may only contain letters, digits"),
        ({"id": "CP/1"}, "station id may only contain"),
        ({"id": "ACME:1"}, "station id may only contain"),  # would break Basic auth
        ({"id": "CP-é"}, "station id may only contain"),
        ({"id": "C" * 49}, "station id is 49 characters long; at most 48 allowed"),
        ({"id": ""}, "station id is empty"),
        ({"id": "CP-1", "password": "short"}, "at least 16 characters"),
        ({"id": "CP-1", "password": "p" * 41}, "at most 40 characters"),
        ({"id": "CP-1", "password": "pässwörd-pässwörd"}, "printable ASCII"),
        (
            {"id": "CP-1", "password": "p" * 16, "generate_password": True},
            "either password or generate_password",
        ),
        ({"id": "CP-1", "site_id": "nowhere"}, "site 'nowhere' does not exist; create it first"),
        ({"id": "CP-1", "site_id": "Not A Slug"}, "site id must be"),
        ({"id": "CP-1", "registration": "Maybe"}, "registration"),
    ],
)
async def test_invalid_station_is_422_saying_what_to_fix(
    web: Web, body: dict[str, object], says: str
) -> None:
    response = await web.client.post("/api/v1/stations", json=body, headers=web.auth())
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert "CP-1" not in web.db.stations


async def test_duplicate_station_is_409(web: Web) -> None:
    await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    response = await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    assert response.status_code == 409
    assert response.json() == {"detail": "station 'CP-1' already exists"}


async def test_percent_encoded_id_is_decoded(web: Web) -> None:
    response = await web.client.post("/api/v1/stations", json={"id": "CP%2D7"}, headers=web.auth())
    assert response.status_code == 201
    assert response.json()["station"]["id"] == "CP-7"


async def test_list_filters_by_site(web: Web) -> None:
    await _site(web, "north")
    await _site(web, "south")
    for station_id, site in [("B", "north"), ("A", "north"), ("C", "south"), ("D", None)]:
        await web.client.post(
            "/api/v1/stations", json={"id": station_id, "site_id": site}, headers=web.auth()
        )
    everything = await web.client.get("/api/v1/stations", headers=web.auth(Role.VIEWER))
    assert [s["id"] for s in everything.json()] == ["A", "B", "C", "D"]
    north = await web.client.get("/api/v1/stations?site_id=north", headers=web.auth())
    assert [s["id"] for s in north.json()] == ["A", "B"]
    nowhere = await web.client.get("/api/v1/stations?site_id=nowhere", headers=web.auth())
    assert nowhere.json() == []


async def test_live_station_state(web: Web) -> None:
    await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    offline = (await web.client.get("/api/v1/stations/CP-1", headers=web.auth())).json()
    assert offline["presence"] == {
        "connected": False,
        "connected_since": None,
        "last_message_at": None,
        "ocpp_version": None,
    }
    assert offline["connectors"] == []

    station = web.db.stations[CP1]
    await web.lifecycle.connected(station, "ocpp1.6")
    info = StationInfo("ACME", "Volt 22", serial_number="SN1", firmware_version="1.2.3")
    await web.lifecycle.boot(CP1, info, "ocpp1.6")
    at = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    for evse, status in [(1, ConnectorStatus.CHARGING), (0, ConnectorStatus.AVAILABLE)]:
        await web.lifecycle.report_status(ConnectorState(CP1, evse, 1 if evse else 0, status, at))
    web.lifecycle.touch(CP1, datetime(2026, 3, 1, 12, 0, 9, tzinfo=UTC))

    live = (await web.client.get("/api/v1/stations/CP-1", headers=web.auth())).json()
    assert live["info"]["vendor"] == "ACME"
    assert live["info"]["model"] == "Volt 22"
    assert live["info"]["firmware_version"] == "1.2.3"
    assert live["ocpp_version"] == "ocpp1.6"
    assert live["last_boot_at"] == "2026-03-01T12:00:00Z"
    assert live["presence"] == {
        "connected": True,
        "connected_since": "2026-03-01T12:00:00Z",
        "last_message_at": "2026-03-01T12:00:09Z",
        "ocpp_version": "ocpp1.6",
    }
    assert [(c["evse_id"], c["connector_id"], c["status"]) for c in live["connectors"]] == [
        (0, 0, "Available"),
        (1, 1, "Charging"),
    ]
    assert live["connectors"][1]["error_code"] == "NoError"
    listed = (await web.client.get("/api/v1/stations", headers=web.auth())).json()
    assert listed == [live]

    await web.lifecycle.disconnected(CP1, "closed")
    gone = (await web.client.get("/api/v1/stations/CP-1", headers=web.auth())).json()
    assert gone["presence"]["connected"] is False
    assert gone["presence"]["last_message_at"] == "2026-03-01T12:00:09Z"


async def test_patch_station(web: Web) -> None:
    await _site(web)
    await web.client.post(
        "/api/v1/stations", json={"id": "CP-1", "name": "Old"}, headers=web.auth()
    )
    response = await web.client.patch(
        "/api/v1/stations/CP-1",
        json={"name": "Bay 1", "site_id": "north", "registration": "Rejected"},
        headers=web.auth(),
    )
    assert response.status_code == 200
    answer = response.json()
    assert (answer["name"], answer["site_id"], answer["registration"]) == (
        "Bay 1",
        "north",
        "Rejected",
    )
    # Only the given fields change; an explicit null site_id removes it from its site.
    answer = (
        await web.client.patch("/api/v1/stations/CP-1", json={"site_id": None}, headers=web.auth())
    ).json()
    assert (answer["name"], answer["site_id"], answer["registration"]) == (
        "Bay 1",
        None,
        "Rejected",
    )
    bad_site = await web.client.patch(
        "/api/v1/stations/CP-1", json={"site_id": "nowhere"}, headers=web.auth()
    )
    assert bad_site.status_code == 422
    assert "site 'nowhere' does not exist" in bad_site.json()["detail"]


async def test_accept_a_pending_station(web: Web) -> None:
    await web.client.post(
        "/api/v1/stations", json={"id": "CP-1", "registration": "Pending"}, headers=web.auth()
    )
    response = await web.client.post("/api/v1/stations/CP-1/accept", headers=web.auth())
    assert response.status_code == 200
    assert response.json()["registration"] == "Accepted"
    assert web.db.stations[CP1].registration == "Accepted"


async def test_accepting_a_connected_station_asks_it_to_boot_again(web: Web) -> None:
    await web.client.post(
        "/api/v1/stations", json={"id": "CP-1", "registration": "Pending"}, headers=web.auth()
    )
    web.commands.connected.add(CP1)
    await web.client.post("/api/v1/stations/CP-1/accept", headers=web.auth())
    import asyncio

    for _ in range(10):
        if web.commands.calls:
            break
        await asyncio.sleep(0)
    assert web.commands.calls[0][:3] == (
        CP1,
        "TriggerMessage",
        {"requestedMessage": "BootNotification"},
    )


async def test_delete_station(web: Web) -> None:
    await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    response = await web.client.delete("/api/v1/stations/CP-1", headers=web.auth())
    assert response.status_code == 204
    assert CP1 not in web.db.stations
    again = await web.client.delete("/api/v1/stations/CP-1", headers=web.auth())
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/stations/CP-404", None),
        ("PATCH", "/api/v1/stations/CP-404", {"name": "x"}),
        ("DELETE", "/api/v1/stations/CP-404", None),
        ("POST", "/api/v1/stations/CP-404/credentials", {"generate": True}),
        ("POST", "/api/v1/stations/CP-404/accept", None),
        ("GET", "/api/v1/stations/CP-404/messages", None),
        ("POST", "/api/v1/stations/CP-404/ocpp/Reset", {"type": "Soft"}),
    ],
)
async def test_unknown_station_is_404(
    web: Web, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = await web.client.request(method, path, json=body, headers=web.auth())
    assert response.status_code == 404
    assert response.json() == {"detail": "station 'CP-404' does not exist"}
    assert web.commands.calls == []
