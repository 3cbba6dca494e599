"""Every /api/v1 endpoint wants an API key, and a role that grants what it does."""

from __future__ import annotations

import pytest
from web_harness import Web

from evcms.domain.access import Role


async def test_no_key_is_401_with_a_bearer_challenge(web: Web) -> None:
    response = await web.client.get("/api/v1/stations")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer evk_nonsense_123", "Bearer not-even-a-key", "Basic YWRtaW46YWRtaW4=", "Bearer"],
)
async def test_bad_key_is_401(web: Web, header: str) -> None:
    response = await web.client.get("/api/v1/sites", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_key_is_401(web: Web) -> None:
    key, secret = await web.access.create_key("temp", Role.ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await web.client.get("/api/v1/sites", headers=headers)).status_code == 200
    await web.access.revoke(key.id)
    response = await web.client.get("/api/v1/sites", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or revoked API key"}


async def test_viewer_reads_but_may_not_write(web: Web) -> None:
    assert (await web.client.get("/api/v1/sites", headers=web.auth(Role.VIEWER))).status_code == 200
    response = await web.client.post(
        "/api/v1/sites", json={"id": "north", "name": "North"}, headers=web.auth(Role.VIEWER)
    )
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "manage_network" in detail and "viewer" in detail
    assert (await web.client.get("/api/v1/sites/north", headers=web.auth())).status_code == 404


async def test_admin_may_write(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/sites", json={"id": "north", "name": "North"}, headers=web.auth(Role.ADMIN)
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        (Role.TECHNICIAN, "POST", "/api/v1/stations/CP-1/ocpp/Reset", True),
        (Role.VIEWER, "POST", "/api/v1/stations/CP-1/ocpp/Reset", False),
        (Role.TECHNICIAN, "POST", "/api/v1/stations/CP-1/accept", False),
        (Role.OPERATOR, "POST", "/api/v1/stations/CP-1/accept", True),
        (Role.OPERATOR, "GET", "/api/v1/api-keys", False),
        (Role.ADMIN, "GET", "/api/v1/api-keys", True),
        (Role.VIEWER, "GET", "/api/v1/stations/CP-1/messages", True),
    ],
)
async def test_permissions_by_role(
    web: Web, role: Role, method: str, path: str, allowed: bool
) -> None:
    await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    web.commands.connected.add("CP-1")  # type: ignore[arg-type]
    body = {"type": "Soft"} if method == "POST" else None
    response = await web.client.request(method, path, json=body, headers=web.auth(role))
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert role.value in response.json()["detail"]


async def test_every_api_route_requires_a_key(web: Web) -> None:
    paths = (await web.client.get("/openapi.json")).json()["paths"]
    operations = [
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith("/api/v1")
        for method in item
    ]
    assert len(operations) >= 15
    for method, path in operations:
        operation = paths[path][method.lower()]
        if "driver accounts" in operation["tags"] or operation.get("security") == [
            {"DriverToken": []}
        ]:
            continue  # drivers' endpoints: no credentials, or a driver token (test_http_drivers)
        if operation["tags"] == ["provider webhooks"]:
            # the payment provider calls it; its signature is the credential (test_http_payments)
            assert path == "/api/v1/payments/stripe/webhook"
            continue
        if path in ("/api/v1/auth/login", "/api/v1/auth/logout"):
            continue  # how the console gets (and gives up) its credential
        # an API key, or the console's sign-in cookie
        assert paths[path][method.lower()]["security"] == [{"ApiKey": []}, {"ConsoleSession": []}], (
            method,
            path,
        )
        concrete = path.replace("{station_id}", "CP-1").replace("{site_id}", "north")
        concrete = concrete.replace("{key_id}", "x").replace("{action}", "Reset")
        response = await web.client.request(method, concrete, json={})
        assert response.status_code == 401, (method, path)
