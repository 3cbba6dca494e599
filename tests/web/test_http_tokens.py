"""/api/v1/tokens (operators) and /api/v1/me/tokens (drivers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from charging_harness import ChargingWeb, build_charging_web

from evcms.domain.access import Role
from evcms.domain.tokens import TokenStatus

URL = "/api/v1/tokens"


@pytest.fixture
async def web() -> AsyncIterator[ChargingWeb]:
    async with build_charging_web() as harness:
        yield harness


async def test_issue_a_token_for_a_driver(web: ChargingWeb) -> None:
    driver_id, _ = await web.driver("ana@example.com")
    response = await web.client.post(
        URL,
        json={
            "id": "04A2B3C4",
            "driver_id": driver_id,
            "group_id": "FLEET-1",
            "expires_at": "2027-01-01T02:00:00+02:00",
            "max_concurrent": 2,
            "label": "Ana's card",
        },
        headers=web.auth(Role.OPERATOR),
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "id": "04A2B3C4",
        "type": "ISO14443",
        "status": "Accepted",
        "driver_id": driver_id,
        "group_id": "FLEET-1",
        "expires_at": "2027-01-01T00:00:00Z",
        "max_concurrent": 2,
        "label": "Ana's card",
        "pending_approval": False,
        "created_at": "2026-03-01T12:00:00Z",
    }
    again = await web.client.get(f"{URL}/04A2B3C4", headers=web.auth(Role.VIEWER))
    assert again.status_code == 200
    assert again.json() == response.json()


async def test_defaults_and_other_types(web: ChargingWeb) -> None:
    response = await web.client.post(
        URL, json={"id": "app-7f3a", "type": "Central", "max_concurrent": 0}, headers=web.auth()
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["type"], body["status"], body["max_concurrent"]) == ("Central", "Accepted", 0)
    assert (body["driver_id"], body["group_id"], body["expires_at"], body["label"]) == (
        None,
        None,
        None,
        "",
    )


async def test_duplicate_is_409(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    response = await web.client.post(URL, json={"id": "CARD-1"}, headers=web.auth())
    assert response.status_code == 409
    assert response.json() == {"detail": "token 'CARD-1' already exists"}


async def test_unknown_driver_is_422(web: ChargingWeb) -> None:
    response = await web.client.post(
        URL, json={"id": "CARD-1", "driver_id": "nobody"}, headers=web.auth()
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "driver 'nobody' does not exist"}
    assert "CARD-1" not in web.db.id_tokens


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"id": "CARD-1", "expires_at": "2027-01-01T00:00:00"}, "needs a time zone"),
        ({"id": "CARD-1", "max_concurrent": -1}, "max_concurrent"),
        ({"id": "CARD-1", "type": "Magic"}, "type"),
        ({"id": "CARD-1", "status": "Lost"}, "status"),
        ({"id": ""}, "id"),
        ({"id": " CARD-1"}, "printable without leading or trailing spaces"),
        ({"id": "C" * 256}, "at most 255 characters"),
        ({"id": "CARD-1", "color": "red"}, "color"),
        ({}, "id"),
    ],
)
async def test_invalid_token_is_422_saying_what_to_fix(
    web: ChargingWeb, body: dict[str, object], says: str
) -> None:
    response = await web.client.post(URL, json=body, headers=web.auth())
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert web.db.id_tokens == {}


async def test_list_pages_by_id_and_filters_by_driver(web: ChargingWeb) -> None:
    ana, _ = await web.driver("ana@example.com")
    for token_id in ("T5", "T1", "T4", "T2", "T3"):
        await web.token(token_id, ana if token_id in ("T2", "T4") else None)

    first = await web.client.get(URL, params={"limit": 2}, headers=web.auth(Role.VIEWER))
    assert first.status_code == 200
    assert [t["id"] for t in first.json()["tokens"]] == ["T1", "T2"]
    assert first.json()["next_after_id"] == "T2"
    second = await web.client.get(URL, params={"limit": 2, "after_id": "T2"}, headers=web.auth())
    assert [t["id"] for t in second.json()["tokens"]] == ["T3", "T4"]
    last = await web.client.get(URL, params={"limit": 2, "after_id": "T4"}, headers=web.auth())
    assert [t["id"] for t in last.json()["tokens"]] == ["T5"]
    assert last.json()["next_after_id"] is None

    ana_only = await web.client.get(URL, params={"driver_id": ana}, headers=web.auth())
    assert [t["id"] for t in ana_only.json()["tokens"]] == ["T2", "T4"]
    assert ana_only.json()["next_after_id"] is None

    too_many = await web.client.get(URL, params={"limit": 1001}, headers=web.auth())
    assert too_many.status_code == 422


async def test_patch_changes_only_what_is_given_and_null_clears(web: ChargingWeb) -> None:
    ana, _ = await web.driver("ana@example.com")
    await web.token(
        "CARD-1", ana, group_id="FLEET", expires_at="2027-01-01T00:00:00Z", label="blue"
    )
    blocked = await web.client.patch(
        f"{URL}/CARD-1", json={"status": "Blocked"}, headers=web.auth(Role.OPERATOR)
    )
    assert blocked.status_code == 200, blocked.text
    body = blocked.json()
    assert body["status"] == "Blocked"
    assert (body["driver_id"], body["group_id"], body["label"]) == (ana, "FLEET", "blue")
    assert body["expires_at"] == "2027-01-01T00:00:00Z"

    cleared = await web.client.patch(
        f"{URL}/CARD-1",
        json={"driver_id": None, "group_id": None, "expires_at": None, "max_concurrent": 3},
        headers=web.auth(),
    )
    assert cleared.status_code == 200
    body = cleared.json()
    assert (body["driver_id"], body["group_id"], body["expires_at"]) == (None, None, None)
    assert (body["status"], body["max_concurrent"], body["label"]) == ("Blocked", 3, "blue")
    assert web.db.id_tokens["CARD-1"].status is TokenStatus.BLOCKED
    assert web.db.id_tokens["CARD-1"].driver_id is None


async def test_patch_refusals(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    cases = [
        ({"driver_id": "nobody"}, 422, "driver 'nobody' does not exist"),
        ({"expires_at": "2027-01-01T00:00:00"}, 422, "needs a time zone"),
        ({"status": None}, 422, "status cannot be null"),
        ({"max_concurrent": -2}, 422, "max_concurrent"),
        ({"type": "Central"}, 422, "type"),  # the type of a token is fixed
        ({"group_id": ""}, 422, "token id is empty"),
    ]
    for body, code, says in cases:
        response = await web.client.patch(f"{URL}/CARD-1", json=body, headers=web.auth())
        assert response.status_code == code, (body, response.text)
        assert says in response.json()["detail"], body
    unknown = await web.client.patch(f"{URL}/NOPE", json={"label": "x"}, headers=web.auth())
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "token 'NOPE' does not exist"}


async def test_delete(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    deleted = await web.client.delete(f"{URL}/CARD-1", headers=web.auth(Role.OPERATOR))
    assert deleted.status_code == 204
    assert "CARD-1" not in web.db.id_tokens
    again = await web.client.delete(f"{URL}/CARD-1", headers=web.auth())
    assert again.status_code == 404
    gone = await web.client.get(f"{URL}/CARD-1", headers=web.auth())
    assert gone.status_code == 404
    assert gone.json() == {"detail": "token 'CARD-1' does not exist"}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TECHNICIAN])
async def test_only_network_managers_change_tokens(web: ChargingWeb, role: Role) -> None:
    await web.token("CARD-1")
    attempts = [
        web.client.post(URL, json={"id": "CARD-2"}, headers=web.auth(role)),
        web.client.patch(f"{URL}/CARD-1", json={"label": "x"}, headers=web.auth(role)),
        web.client.delete(f"{URL}/CARD-1", headers=web.auth(role)),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 403
        assert "manage_network" in response.json()["detail"]
    assert set(web.db.id_tokens) == {"CARD-1"}
    assert web.db.id_tokens["CARD-1"].label == ""
    readable = await web.client.get(URL, headers=web.auth(role))
    assert readable.status_code == 200


async def test_needs_an_api_key(web: ChargingWeb) -> None:
    assert (await web.client.get(URL)).status_code == 401
    _, driver = await web.driver("ana@example.com")
    assert (await web.client.get(URL, headers=driver)).status_code == 403  # driver token


# -- a driver's own tokens --------------------------------------------------------------------------


async def test_a_driver_sees_and_blocks_only_their_own_tokens(web: ChargingWeb) -> None:
    ana, ana_auth = await web.driver("ana@example.com")
    bob, bob_auth = await web.driver("bob@example.com")
    await web.token("ANA-1", ana)
    await web.token("ANA-2", ana)
    await web.token("BOB-1", bob)
    await web.token("FLEET", None)

    mine = await web.client.get("/api/v1/me/tokens", headers=ana_auth)
    assert mine.status_code == 200
    assert [t["id"] for t in mine.json()["tokens"]] == ["ANA-1", "ANA-2"]
    paged = await web.client.get("/api/v1/me/tokens", params={"limit": 1}, headers=ana_auth)
    assert [t["id"] for t in paged.json()["tokens"]] == ["ANA-1"]
    assert paged.json()["next_after_id"] == "ANA-1"

    blocked = await web.client.post("/api/v1/me/tokens/ANA-2/block", headers=ana_auth)
    assert blocked.status_code == 200
    assert blocked.json()["status"] == "Blocked"
    assert web.db.id_tokens["ANA-2"].status is TokenStatus.BLOCKED

    for other in ("BOB-1", "FLEET", "NOPE"):
        refused = await web.client.post(f"/api/v1/me/tokens/{other}/block", headers=ana_auth)
        assert refused.status_code == 404
        assert refused.json() == {"detail": f"token {other!r} does not exist"}
    assert web.db.id_tokens["BOB-1"].status is TokenStatus.ACCEPTED
    bobs = await web.client.get("/api/v1/me/tokens", headers=bob_auth)
    assert [t["id"] for t in bobs.json()["tokens"]] == ["BOB-1"]


async def test_a_driver_removes_only_their_own_cards(web: ChargingWeb) -> None:
    ana, ana_auth = await web.driver("ana@example.com")
    bob, _ = await web.driver("bob@example.com")
    await web.token("ANA-1", ana)
    await web.token("BOB-1", bob)
    for other in ("BOB-1", "NOPE"):
        refused = await web.client.delete(f"/api/v1/me/tokens/{other}", headers=ana_auth)
        assert refused.status_code == 404
        assert refused.json() == {"detail": f"token {other!r} does not exist"}
    assert "BOB-1" in web.db.id_tokens
    removed = await web.client.delete("/api/v1/me/tokens/ANA-1", headers=ana_auth)
    assert removed.status_code == 204
    assert "ANA-1" not in web.db.id_tokens
    assert (await web.client.get("/api/v1/me/tokens", headers=ana_auth)).json()["tokens"] == []
    again = await web.client.delete("/api/v1/me/tokens/ANA-1", headers=ana_auth)
    assert again.status_code == 404


async def test_driver_endpoints_need_a_driver_token(web: ChargingWeb) -> None:
    assert (await web.client.get("/api/v1/me/tokens")).status_code == 401
    with_key = await web.client.get("/api/v1/me/tokens", headers=web.auth())
    assert with_key.status_code == 403
    assert "driver token" in with_key.json()["detail"]


async def test_a_card_a_driver_adds_charges_only_once_approved(web: ChargingWeb) -> None:
    from evcms.domain.tokens import AuthorizationStatus
    from evcms.services.charging import TokenRef

    _, ana = await web.driver("ana@example.com")
    added = await web.client.post(
        "/api/v1/me/tokens", json={"id": "04FFEE", "label": "blue tag"}, headers=ana
    )
    assert added.status_code == 201, added.text
    assert added.json()["pending_approval"] is True
    assert (await web.charging.authorize(TokenRef("04FFEE"))).status is AuthorizationStatus.INVALID

    again = await web.client.post("/api/v1/me/tokens", json={"id": "04FFEE"}, headers=ana)
    assert again.status_code == 409
    # a viewer cannot approve; an operator can
    viewer = await web.client.post(f"{URL}/04FFEE/approve", headers=web.auth(Role.VIEWER))
    assert viewer.status_code == 403
    approved = await web.client.post(f"{URL}/04FFEE/approve", headers=web.auth())
    assert approved.status_code == 200 and approved.json()["pending_approval"] is False
    assert (await web.charging.authorize(TokenRef("04FFEE"))).status is AuthorizationStatus.ACCEPTED
    mine = await web.client.get("/api/v1/me/tokens", headers=ana)
    assert [t["id"] for t in mine.json()["tokens"]] == ["04FFEE"]
