"""/api/v1/sessions, /api/v1/stations/{id}/start and /api/v1/me/sessions.

Sessions are made the way stations make them: ``Charging.record`` with ``SessionEvent``s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from charging_harness import START, ChargingWeb, build_charging_web, energy, minutes, power
from web_harness import build_web

from evcms.domain.access import Role
from evcms.domain.charging_sessions import SessionStatus
from evcms.domain.ids import StationId
from evcms.domain.metering import MeterSample
from evcms.domain.stations import ConnectorState, ConnectorStatus
from evcms.services.ports import CommandOutcome, CommandReply

URL = "/api/v1/sessions"
SIGNED = 'OCMF|{"FV":"1.0","RD":[{"RV":13.345678,"RU":"kWh"}]}|{"SA":"ECDSA"}'


@pytest.fixture
async def web() -> AsyncIterator[ChargingWeb]:
    async with build_charging_web() as harness:
        await harness.station("CP-1")
        await harness.station("CP-2")
        yield harness


async def test_an_ended_session_with_exact_decimals(web: ChargingWeb) -> None:
    ana, _ = await web.driver("ana@example.com")
    await web.token("CARD-1", ana)
    session = await web.start("CARD-1", meter_start_wh=Decimal(1000))
    session = await web.meter(
        session, minutes(10), energy(minutes(10), "5000.5"), power(minutes(10), "7400.25")
    )
    await web.stop(session, minutes(60), Decimal("13345.678"), reason="EVDisconnected")

    response = await web.client.get(f"{URL}/{session.id}", headers=web.auth(Role.VIEWER))
    assert response.status_code == 200, response.text
    body = response.json()
    events = body.pop("events")
    assert body == {
        "id": session.id,
        "station_id": "CP-1",
        "evse_id": 1,
        "connector_id": 1,
        "transaction_id": str(session.id),
        "ocpp_version": "ocpp1.6",
        "driver_id": ana,
        "status": "Ended",
        "started_at": "2026-03-01T12:00:00Z",
        "ended_at": "2026-03-01T13:00:00Z",
        "id_token": "CARD-1",
        "stop_id_token": "CARD-1",
        "stop_reason": "EVDisconnected",
        "meter_start_wh": "1000",
        "meter_stop_wh": "13345.678",
        "energy_wh": "12345.678",
        "energy_kwh": "12.345678",
        "offline": False,
        "charging_state": "Charging",
        "number_of_phases": None,
        "power_w": "0",
        "soc_percent": None,
        "last_sample_at": "2026-03-01T12:10:00Z",
        "closed_by": None,
        "close_note": None,
        "duration_seconds": 3600,
    }
    assert events == [
        {
            "kind": "Started",
            "seq_no": 0,
            "at": "2026-03-01T12:00:00Z",
            "reason": "Authorized",
            "offline": False,
            "id_token": "CARD-1",
        },
        {
            "kind": "Updated",
            "seq_no": 1,
            "at": "2026-03-01T12:10:00Z",
            "reason": None,
            "offline": False,
            "id_token": None,
        },
        {
            "kind": "Ended",
            "seq_no": 2**31 - 1,
            "at": "2026-03-01T13:00:00Z",
            "reason": "EVDisconnected",
            "offline": False,
            "id_token": "CARD-1",
        },
    ]
    # the raw JSON holds strings, never floats that would round
    assert '"energy_wh":"12345.678"' in response.text
    listed = await web.client.get(URL, headers=web.auth(Role.VIEWER))
    assert listed.json()["sessions"] == [body]


async def test_large_and_scaled_values_keep_plain_notation(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1", meter_start_wh=Decimal("1E+3"))
    session = await web.meter(
        session, minutes(1), MeterSample(minutes(1), "SoC", Decimal("42.50"), "Percent")
    )
    await web.stop(session, minutes(2), Decimal("123456789012.345"))
    body = (await web.client.get(f"{URL}/{session.id}", headers=web.auth())).json()
    assert body["meter_start_wh"] == "1000"
    assert body["meter_stop_wh"] == "123456789012.345"
    assert body["energy_wh"] == "123456788012.345"
    assert body["energy_kwh"] == "123456788.012345"
    assert body["soc_percent"] == "42.50"


async def test_an_active_session_lasts_until_now(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1", at=START)
    web.clock.advance(25 * 60 + 30)
    body = (await web.client.get(f"{URL}/{session.id}", headers=web.auth())).json()
    assert body["status"] == "Active"
    assert body["ended_at"] is None
    assert body["duration_seconds"] == 1530
    assert body["energy_wh"] == "0"
    assert body["energy_kwh"] == "0.000"


async def test_unknown_session_is_404(web: ChargingWeb) -> None:
    for path in (f"{URL}/99", f"{URL}/99/samples"):
        response = await web.client.get(path, headers=web.auth())
        assert response.status_code == 404
        assert response.json() == {"detail": "session 99 does not exist"}
    not_a_number = await web.client.get(f"{URL}/abc", headers=web.auth())
    assert not_a_number.status_code == 422


async def test_pages_newest_first(web: ChargingWeb) -> None:
    for n in range(5):
        await web.token(f"CARD-{n}")
        await web.start(f"CARD-{n}", at=minutes(n))
    first = await web.client.get(URL, params={"limit": 2}, headers=web.auth())
    page = first.json()
    ids = [s["id"] for s in page["sessions"]]
    assert ids == [5, 4]
    assert page["next_before_id"] == 4
    second = await web.client.get(URL, params={"limit": 2, "before_id": 4}, headers=web.auth())
    assert [s["id"] for s in second.json()["sessions"]] == [3, 2]
    last = await web.client.get(URL, params={"limit": 2, "before_id": 2}, headers=web.auth())
    assert [s["id"] for s in last.json()["sessions"]] == [1]
    assert last.json()["next_before_id"] is None
    for bad in ({"limit": 0}, {"limit": 1001}, {"before_id": 0}):
        assert (await web.client.get(URL, params=bad, headers=web.auth())).status_code == 422


async def test_filters(web: ChargingWeb) -> None:
    ana, _ = await web.driver("ana@example.com")
    await web.token("ANA", ana, max_concurrent=0)
    await web.token("FLEET", max_concurrent=0)
    s1 = await web.start("ANA", station_id="CP-1", at=minutes(0))
    s2 = await web.start("FLEET", station_id="CP-1", at=minutes(30), evse_id=2)
    s3 = await web.start("ANA", station_id="CP-2", at=minutes(60))
    await web.stop(s1, minutes(20), Decimal(2000))

    async def ids(**params: str) -> list[int]:
        response = await web.client.get(URL, params=params, headers=web.auth())
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["sessions"]]

    assert await ids(station_id="CP-1") == [s2.id, s1.id]
    assert await ids(driver_id=ana) == [s3.id, s1.id]
    assert await ids(id_token="FLEET") == [s2.id]
    assert await ids(status="Active") == [s3.id, s2.id]
    assert await ids(status="Ended") == [s1.id]
    assert await ids(started_from="2026-03-01T12:30:00Z") == [s3.id, s2.id]
    assert await ids(started_until="2026-03-01T13:00:00Z") == [s2.id, s1.id]
    assert await ids(
        started_from="2026-03-01T14:30:00+02:00", started_until="2026-03-01T12:31:00Z"
    ) == [s2.id]
    assert await ids(station_id="CP-1", driver_id=ana, status="Active") == []

    naive = await web.client.get(
        URL, params={"started_from": "2026-03-01T12:00:00"}, headers=web.auth()
    )
    assert naive.status_code == 422
    assert naive.json()["detail"] == "started_from needs a time zone, e.g. 2027-01-01T00:00:00Z"
    bad_status = await web.client.get(URL, params={"status": "Paused"}, headers=web.auth())
    assert bad_status.status_code == 422
    assert "status" in bad_status.json()["detail"]


async def test_samples_are_one_time_series(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1", meter_start_wh=Decimal(1000))
    # delivered out of order, several values per message, phases and signed data
    session = await web.meter(
        session,
        minutes(10),
        power(minutes(10), "7000", phase="L1"),
        energy(minutes(10), "3000.125", signed=SIGNED, context="Sample.Periodic"),
    )
    session = await web.meter(
        session, minutes(5), energy(minutes(5), "2000"), power(minutes(5), "11000.5")
    )
    await web.stop(session, minutes(15), Decimal("4000"))

    response = await web.client.get(f"{URL}/{session.id}/samples", headers=web.auth(Role.VIEWER))
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == session.id
    assert [(s["at"], s["measurand"], s["value"]) for s in body["samples"]] == [
        ("2026-03-01T12:05:00Z", "Energy.Active.Import.Register", "2000"),
        ("2026-03-01T12:05:00Z", "Power.Active.Import", "11000.5"),
        ("2026-03-01T12:10:00Z", "Power.Active.Import", "7000"),
        ("2026-03-01T12:10:00Z", "Energy.Active.Import.Register", "3000.125"),
    ]
    assert body["samples"][3] == {
        "at": "2026-03-01T12:10:00Z",
        "measurand": "Energy.Active.Import.Register",
        "value": "3000.125",
        "unit": "Wh",
        "phase": None,
        "location": None,
        "context": "Sample.Periodic",
        "signed": SIGNED,
    }
    assert body["samples"][2]["phase"] == "L1"
    assert body["samples"][2]["signed"] is None

    only_power = await web.client.get(
        f"{URL}/{session.id}/samples",
        params={"measurand": "Power.Active.Import"},
        headers=web.auth(),
    )
    assert [s["value"] for s in only_power.json()["samples"]] == ["11000.5", "7000"]
    nothing = await web.client.get(
        f"{URL}/{session.id}/samples", params={"measurand": "SoC"}, headers=web.auth()
    )
    assert nothing.json()["samples"] == []
    total = await web.client.get(f"{URL}/{session.id}", headers=web.auth())
    assert total.json()["energy_wh"] == "3000.000"  # 1000 -> 2000 -> 3000.125 -> 4000, exact


# -- remote stop ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "answer"),
    [
        (
            CommandReply(CommandOutcome.RESULT, {"status": "Accepted"}),
            200,
            {"outcome": "result", "payload": {"status": "Accepted"}},
        ),
        (
            CommandReply(CommandOutcome.RESULT, {"status": "Rejected"}),
            200,
            {"outcome": "result", "payload": {"status": "Rejected"}},
        ),
        (
            CommandReply(
                CommandOutcome.ERROR, error_code="InternalError", error_description="busy"
            ),
            200,
            {
                "outcome": "error",
                "error_code": "InternalError",
                "error_description": "busy",
                "error_details": None,
            },
        ),
        (
            CommandReply(CommandOutcome.DISCONNECTED),
            409,
            {"detail": "station CP-1 is not connected"},
        ),
        (
            CommandReply(CommandOutcome.TIMEOUT),
            504,
            {"detail": "station CP-1 did not answer the remote stop in time"},
        ),
        (
            CommandReply(
                CommandOutcome.REJECTED,
                error_code="Rejected",
                error_description="transaction 'abc' is not known to the station",
            ),
            422,
            {
                "detail": "the remote stop was not sent to CP-1:"
                " transaction 'abc' is not known to the station"
            },
        ),
    ],
)
async def test_remote_stop_answers(
    web: ChargingWeb, reply: CommandReply, code: int, answer: dict[str, object]
) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1")
    web.commands.reply = reply
    response = await web.client.post(f"{URL}/{session.id}/stop", headers=web.auth(Role.TECHNICIAN))
    assert response.status_code == code, response.text
    assert response.json() == answer
    assert web.commands.stops == [(StationId("CP-1"), session.transaction_id)]


async def test_remote_stop_refusals(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1")
    viewer = await web.client.post(f"{URL}/{session.id}/stop", headers=web.auth(Role.VIEWER))
    assert viewer.status_code == 403
    assert "operate_stations" in viewer.json()["detail"]
    unknown = await web.client.post(f"{URL}/77/stop", headers=web.auth())
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "session 77 does not exist"}
    await web.stop(session, minutes(5), Decimal(1500))
    ended = await web.client.post(f"{URL}/{session.id}/stop", headers=web.auth())
    assert ended.status_code == 409
    assert ended.json() == {"detail": f"session {session.id} has already ended"}
    assert web.commands.stops == []


# -- force-close ---------------------------------------------------------------------------------


async def test_force_close_records_who_and_why(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1")
    web.clock.advance(3 * 3600)
    response = await web.client.post(
        f"{URL}/{session.id}/force-close",
        json={"reason": "station lost power, session stuck"},
        headers=web.auth(Role.OPERATOR),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "Ended"
    assert body["ended_at"] == "2026-03-01T15:00:00Z"
    assert body["stop_reason"] == "ForceClosed"
    assert body["closed_by"] == "operator key"
    assert body["close_note"] == "station lost power, session stuck"
    assert body["duration_seconds"] == 3 * 3600
    assert "events" not in body
    stored = web.db.charging_sessions[session.id]
    assert stored.state.status is SessionStatus.ENDED
    assert (stored.closed_by, stored.close_note) == (
        "operator key",
        "station lost power, session stuck",
    )
    assert web.commands.stops == []  # the station is not asked

    again = await web.client.post(
        f"{URL}/{session.id}/force-close", json={"reason": "again"}, headers=web.auth()
    )
    assert again.status_code == 409
    assert again.json() == {"detail": f"session {session.id} has already ended"}


async def test_force_close_refusals(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    session = await web.start("CARD-1")
    path = f"{URL}/{session.id}/force-close"
    blank = await web.client.post(path, json={"reason": "   "}, headers=web.auth())
    assert blank.status_code == 422
    assert blank.json() == {"detail": "give a reason for closing the session"}
    for body in ({}, {"reason": ""}, {"reason": "x", "by": "me"}):
        response = await web.client.post(path, json=body, headers=web.auth())
        assert response.status_code == 422, body
    viewer = await web.client.post(path, json={"reason": "stuck"}, headers=web.auth(Role.VIEWER))
    assert viewer.status_code == 403
    unknown = await web.client.post(
        f"{URL}/55/force-close", json={"reason": "x"}, headers=web.auth()
    )
    assert unknown.status_code == 404
    assert web.db.charging_sessions[session.id].state.status is SessionStatus.ACTIVE


# -- remote start --------------------------------------------------------------------------------


async def test_remote_start(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    response = await web.client.post(
        "/api/v1/stations/CP-1/start",
        json={"evse_id": 2, "token_id": "CARD-1"},
        headers=web.auth(Role.TECHNICIAN),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "result", "payload": {"status": "Accepted"}}
    assert web.commands.starts == [(StationId("CP-1"), 2, "CARD-1")]

    web.commands.reply = CommandReply(CommandOutcome.DISCONNECTED)
    offline = await web.client.post(
        "/api/v1/stations/CP-2/start", json={"evse_id": 1, "token_id": "CARD-1"}, headers=web.auth()
    )
    assert offline.status_code == 409
    assert offline.json() == {"detail": "station CP-2 is not connected"}


async def test_remote_start_refusals(web: ChargingWeb) -> None:
    await web.token("CARD-1")
    await web.token("BLOCKED", status="Blocked")
    await web.token("BUSY")
    await web.start("BUSY", evse_id=1)
    await _connector(web, "CP-2", 1, ConnectorStatus.FAULTED)
    start = "/api/v1/stations/{}/start"
    cases = [
        ("CP-9", {"evse_id": 1, "token_id": "CARD-1"}, 404, "station 'CP-9' does not exist"),
        ("CP-1", {"evse_id": 1, "token_id": "NOPE"}, 404, "token 'NOPE' does not exist"),
        (
            "CP-1",
            {"evse_id": 2, "token_id": "BLOCKED"},
            409,
            "token 'BLOCKED' may not charge now: Blocked",
        ),
        ("CP-1", {"evse_id": 1, "token_id": "CARD-1"}, 409, "EVSE 1 of CP-1 is already charging"),
        (
            "CP-2",
            {"evse_id": 1, "token_id": "CARD-1"},
            409,
            "EVSE 1 of CP-2 is Faulted, not available",
        ),
        ("CP-1", {"evse_id": 0, "token_id": "CARD-1"}, 422, "evse_id"),
        ("CP-1", {"token_id": "CARD-1"}, 422, "evse_id"),
        ("CP-1", {"evse_id": 1}, 422, "token_id"),
    ]
    for station_id, body, code, says in cases:
        response = await web.client.post(start.format(station_id), json=body, headers=web.auth())
        assert response.status_code == code, (body, response.text)
        assert says in response.json()["detail"], body
    viewer = await web.client.post(
        start.format("CP-1"),
        json={"evse_id": 2, "token_id": "CARD-1"},
        headers=web.auth(Role.VIEWER),
    )
    assert viewer.status_code == 403
    assert web.commands.starts == []


async def _connector(
    web: ChargingWeb, station_id: str, evse_id: int, status: ConnectorStatus
) -> None:
    from evcms.storage.memory import MemoryStationRepository

    await MemoryStationRepository(web.db).save_connector_state(
        ConnectorState(
            station_id=StationId(station_id),
            evse_id=evse_id,
            connector_id=1,
            status=status,
            updated_at=START,
        )
    )


async def test_without_the_charging_service_the_endpoints_answer_503() -> None:
    async with build_web() as plain:
        response = await plain.client.get(URL, headers=plain.auth())
        assert response.status_code == 503
        assert response.json() == {"detail": "charging sessions are not enabled on this server"}
        tokens = await plain.client.get("/api/v1/tokens", headers=plain.auth())
        assert tokens.status_code == 503


# -- a driver's own sessions ---------------------------------------------------------------------


async def test_a_driver_sees_only_their_own_sessions(web: ChargingWeb) -> None:
    ana, ana_auth = await web.driver("ana@example.com")
    bob, bob_auth = await web.driver("bob@example.com")
    await web.token("ANA", ana, max_concurrent=0)
    await web.token("BOB", bob)
    a1 = await web.start("ANA", station_id="CP-1", at=minutes(0))
    b1 = await web.start("BOB", station_id="CP-1", at=minutes(1), evse_id=2)
    a2 = await web.start("ANA", station_id="CP-2", at=minutes(2))
    a1 = await web.meter(a1, minutes(3), energy(minutes(3), "1500"))
    await web.stop(a1, minutes(4), Decimal(1800))

    mine = await web.client.get("/api/v1/me/sessions", headers=ana_auth)
    assert mine.status_code == 200
    assert [s["id"] for s in mine.json()["sessions"]] == [a2.id, a1.id]
    assert all(s["driver_id"] == ana for s in mine.json()["sessions"])
    ended = await web.client.get(
        "/api/v1/me/sessions", params={"status": "Ended"}, headers=ana_auth
    )
    assert [s["id"] for s in ended.json()["sessions"]] == [a1.id]
    on_cp2 = await web.client.get(
        "/api/v1/me/sessions", params={"station_id": "CP-2", "limit": 1}, headers=ana_auth
    )
    assert [s["id"] for s in on_cp2.json()["sessions"]] == [a2.id]
    assert on_cp2.json()["next_before_id"] == a2.id
    # driver_id is not a filter of theirs: they cannot widen the list to someone else
    sneaky = await web.client.get(
        "/api/v1/me/sessions", params={"driver_id": bob}, headers=ana_auth
    )
    assert [s["id"] for s in sneaky.json()["sessions"]] == [a2.id, a1.id]

    detail = await web.client.get(f"/api/v1/me/sessions/{a1.id}", headers=ana_auth)
    assert detail.status_code == 200
    assert detail.json()["energy_wh"] == "800"
    assert [e["kind"] for e in detail.json()["events"]] == ["Started", "Updated", "Ended"]
    samples = await web.client.get(f"/api/v1/me/sessions/{a1.id}/samples", headers=ana_auth)
    assert [s["value"] for s in samples.json()["samples"]] == ["1500"]

    for path in (f"/api/v1/me/sessions/{b1.id}", f"/api/v1/me/sessions/{b1.id}/samples"):
        hidden = await web.client.get(path, headers=ana_auth)
        assert hidden.status_code == 404
        assert hidden.json() == {"detail": f"session {b1.id} does not exist"}
    bobs = await web.client.get("/api/v1/me/sessions", headers=bob_auth)
    assert [s["id"] for s in bobs.json()["sessions"]] == [b1.id]


async def test_a_driver_starts_and_stops_with_their_own_token_only(web: ChargingWeb) -> None:
    ana, ana_auth = await web.driver("ana@example.com")
    bob, _ = await web.driver("bob@example.com")
    await web.token("ANA", ana)
    await web.token("BOB", bob)
    await web.token("FLEET")

    started = await web.client.post(
        "/api/v1/me/sessions/start",
        json={"station_id": "CP-1", "evse_id": 1, "token_id": "ANA"},
        headers=ana_auth,
    )
    assert started.status_code == 200, started.text
    assert started.json() == {"outcome": "result", "payload": {"status": "Accepted"}}
    assert web.commands.starts == [(StationId("CP-1"), 1, "ANA")]

    for token_id in ("BOB", "FLEET", "NOPE"):
        refused = await web.client.post(
            "/api/v1/me/sessions/start",
            json={"station_id": "CP-1", "evse_id": 2, "token_id": token_id},
            headers=ana_auth,
        )
        assert refused.status_code == 404, refused.text
        assert refused.json() == {"detail": f"token {token_id!r} does not exist"}
    no_station = await web.client.post(
        "/api/v1/me/sessions/start",
        json={"station_id": "CP-9", "evse_id": 1, "token_id": "ANA"},
        headers=ana_auth,
    )
    assert no_station.status_code == 404
    assert len(web.commands.starts) == 1

    own = await web.start("ANA", evse_id=1)
    bobs = await web.start("BOB", evse_id=2)
    stopped = await web.client.post(f"/api/v1/me/sessions/{own.id}/stop", headers=ana_auth)
    assert stopped.status_code == 200
    other = await web.client.post(f"/api/v1/me/sessions/{bobs.id}/stop", headers=ana_auth)
    assert other.status_code == 404
    assert other.json() == {"detail": f"session {bobs.id} does not exist"}
    assert web.commands.stops == [(StationId("CP-1"), own.transaction_id)]


async def test_driver_session_endpoints_need_a_driver_token(web: ChargingWeb) -> None:
    assert (await web.client.get("/api/v1/me/sessions")).status_code == 401
    with_key = await web.client.get("/api/v1/me/sessions", headers=web.auth())
    assert with_key.status_code == 403
    _, ana_auth = await web.driver("ana@example.com")
    operator_only = await web.client.get(URL, headers=ana_auth)
    assert operator_only.status_code == 403  # a driver token on an operator endpoint
    assert "operator API key" in operator_only.json()["detail"]
