from __future__ import annotations

import pytest
from web_harness import Web

from evcms.domain.access import Role
from evcms.services.access import hash_key


async def test_create_use_list_revoke(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/api-keys", json={"name": "grafana", "role": "viewer"}, headers=web.auth()
    )
    assert response.status_code == 201
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("evk_")
    assert created["name"] == "grafana" and created["role"] == "viewer"
    assert created["revoked"] is False
    assert created["created_at"] == "2026-03-01T12:00:00Z"
    stored = web.db.api_keys[created["id"]]
    assert stored.secret_hash == hash_key(secret) and secret not in stored.secret_hash

    own = {"Authorization": f"Bearer {secret}"}
    assert (await web.client.get("/api/v1/stations", headers=own)).status_code == 200

    listed = await web.client.get("/api/v1/api-keys", headers=web.auth())
    assert listed.status_code == 200
    assert secret not in listed.text
    assert "secret" not in listed.text
    assert "grafana" in [k["name"] for k in listed.json()]

    revoked = await web.client.delete(f"/api/v1/api-keys/{created['id']}", headers=web.auth())
    assert revoked.status_code == 204
    assert (await web.client.get("/api/v1/stations", headers=own)).status_code == 401
    listed = (await web.client.get("/api/v1/api-keys", headers=web.auth())).json()
    assert next(k for k in listed if k["id"] == created["id"])["revoked"] is True


async def test_revoking_an_unknown_key_is_404(web: Web) -> None:
    response = await web.client.delete("/api/v1/api-keys/nope", headers=web.auth())
    assert response.status_code == 404
    assert response.json() == {"detail": "API key 'nope' does not exist"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "x", "role": "superuser"}, "body field 'role'"),
        ({"name": "", "role": "viewer"}, "body field 'name'"),
        ({"role": "viewer"}, "body field 'name': Field required"),
    ],
)
async def test_invalid_key_request_is_422(web: Web, body: dict[str, object], says: str) -> None:
    response = await web.client.post("/api/v1/api-keys", json=body, headers=web.auth())
    assert response.status_code == 422
    assert says in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.TECHNICIAN, Role.VIEWER])
async def test_only_admins_manage_keys(web: Web, role: Role) -> None:
    response = await web.client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=web.auth(role)
    )
    assert response.status_code == 403
    assert "manage_access" in response.json()["detail"]
