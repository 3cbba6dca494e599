"""POST /stations/{id}/ocpp/{action}: the station's answer, mapped per CommandOutcome."""

from __future__ import annotations

import pytest
from web_harness import Web

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.services.ports import CommandOutcome, CommandReply

CP1 = StationId("CP-1")
URL = "/api/v1/stations/CP-1/ocpp/Reset"


@pytest.fixture(autouse=True)
async def station(web: Web) -> None:
    await web.client.post("/api/v1/stations", json={"id": "CP-1"}, headers=web.auth())
    web.commands.connected.add(CP1)


async def test_result(web: Web) -> None:
    web.commands.reply = CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    response = await web.client.post(URL, json={"type": "Soft"}, headers=web.auth(Role.TECHNICIAN))
    assert response.status_code == 200
    assert response.json() == {"outcome": "result", "payload": {"status": "Accepted"}}
    assert web.commands.calls == [(CP1, "Reset", {"type": "Soft"}, None)]


async def test_timeout_is_passed_on(web: Web) -> None:
    await web.client.post(URL + "?timeout=5", json={"type": "Soft"}, headers=web.auth())
    assert web.commands.calls[-1][3] == 5.0
    too_long = await web.client.post(URL + "?timeout=301", json={}, headers=web.auth())
    assert too_long.status_code == 422


async def test_station_callerror_is_200_with_the_error(web: Web) -> None:
    web.commands.reply = CommandReply(
        CommandOutcome.ERROR,
        error_code="NotSupported",
        error_description="Reset is not supported",
        error_details={"hint": "none"},
    )
    response = await web.client.post(URL, json={"type": "Soft"}, headers=web.auth())
    assert response.status_code == 200
    assert response.json() == {
        "outcome": "error",
        "error_code": "NotSupported",
        "error_description": "Reset is not supported",
        "error_details": {"hint": "none"},
    }


async def test_rejected_by_our_validation_is_422(web: Web) -> None:
    web.commands.reply = CommandReply(
        CommandOutcome.REJECTED,
        error_code="FormationViolation",
        error_description="data.type must be one of ['Hard', 'Soft']",
    )
    response = await web.client.post(URL, json={"type": "Sideways"}, headers=web.auth())
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Reset was not sent to CP-1: data.type must be one of ['Hard', 'Soft']"
    }


async def test_disconnected_is_409(web: Web) -> None:
    web.commands.reply = CommandReply(CommandOutcome.DISCONNECTED)
    response = await web.client.post(URL, json={"type": "Soft"}, headers=web.auth())
    assert response.status_code == 409
    assert response.json() == {"detail": "station CP-1 is not connected"}


async def test_timeout_is_504(web: Web) -> None:
    web.commands.reply = CommandReply(CommandOutcome.TIMEOUT)
    response = await web.client.post(URL, json={"type": "Soft"}, headers=web.auth())
    assert response.status_code == 504
    assert "did not answer Reset in time" in response.json()["detail"]


@pytest.mark.parametrize("body", [[1, 2], "text", 3, None])
async def test_payload_must_be_a_json_object(web: Web, body: object) -> None:
    response = await web.client.post(URL, json=body, headers=web.auth())
    assert response.status_code == 422
    assert "body" in response.json()["detail"]
    assert web.commands.calls == []


async def test_action_name_is_checked(web: Web) -> None:
    response = await web.client.post(
        "/api/v1/stations/CP-1/ocpp/Re set", json={}, headers=web.auth()
    )
    assert response.status_code == 422
    assert "path field 'action'" in response.json()["detail"]
    assert web.commands.calls == []


async def test_viewer_may_not_send(web: Web) -> None:
    response = await web.client.post(URL, json={"type": "Soft"}, headers=web.auth(Role.VIEWER))
    assert response.status_code == 403
    assert "operate_stations" in response.json()["detail"]
    assert web.commands.calls == []
