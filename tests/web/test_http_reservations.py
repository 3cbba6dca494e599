"""/api/v1/reservations and /api/v1/me/reservations over the in-memory twins, a real
``Reservations`` service and the gateway's ``ReservationCommands`` over a fake station (1.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from charging_harness import DRIVER_PASSWORD, NoMailer, PlainHasher
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    build_web,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.domain.stations import Station
from evcms.domain.tokens import IdToken, TokenType
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.services.reservations import Reservations
from evcms.station_gateway.reservation_commands import ReservationCommands
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.memory import (
    MemoryChargingSessionRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemoryStationRepository,
    MemoryTokenRepository,
)
from evcms.storage.reservations import MemoryReservationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

URL = "/api/v1/reservations"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")


@dataclass
class ReservationWeb:
    client: httpx.AsyncClient
    station: FakeStationCommands
    accounts: DriverAccounts
    tokens: MemoryTokenRepository
    clock: FixedClock
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str) -> tuple[str, dict[str, str]]:
        driver = await self.accounts.register(email, DRIVER_PASSWORD)
        login = await self.accounts.login(email, DRIVER_PASSWORD)
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def token(self, token_id: str, driver_id: str | None = None, group_id: str | None = None) -> None:
        await self.tokens.add(
            IdToken(token_id, TokenType.ISO14443, START, driver_id=driver_id, group_id=group_id)
        )


@pytest.fixture
async def web() -> AsyncIterator[ReservationWeb]:
    db = MemoryDatabase()
    clock = FixedClock(START)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    await stations.add(Station(CP, START))
    station = FakeStationCommands(connected={CP})
    core = await core_services(db, stations, clock, bus, station, allow_unsecured=True)
    access, keys = core.access, core.keys
    store = MemoryDriverStore()
    accounts = DriverAccounts(
        drivers=MemoryDriverRepository(store),
        tokens=MemoryDriverAuthTokenRepository(store),
        mailer=NoMailer(),
        outbox=MemoryOutbox(store),
        hasher=PlainHasher(),
        clock=clock,
        policy=DriverPolicy(require_verified_email=False),
    )
    tokens = MemoryTokenRepository(db, drivers=store.drivers)
    reservations = Reservations(
        reservations=MemoryReservationRepository(),
        tokens=tokens,
        stations=stations,
        sessions=MemoryChargingSessionRepository(db),
        commands=ReservationCommands(station),
        clock=clock,
    )
    app = create_app(
        WebDeps(
            network=core.network,
            access=access,
            operations=RemoteOperations(commands=station),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            drivers=accounts,
            clock=clock,
            reservations=reservations,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield ReservationWeb(client, station, accounts, tokens, clock, keys)
    await bus.close()


async def test_an_operator_reserves_and_cancels(web: ReservationWeb) -> None:
    await web.token("CARD-1", group_id="FLEET")
    body = {"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1",
            "expires_at": "2026-03-01T14:30:00+02:00"}
    response = await web.client.post(URL, json=body, headers=web.auth(Role.OPERATOR))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {
        "id": created["id"],
        "station_id": "CP-1",
        "evse_id": 1,
        "id_token": "CARD-1",
        "group_id": "FLEET",
        "driver_id": None,
        "status": "Accepted",
        "expires_at": "2026-03-01T12:30:00Z",
        "session_id": None,
        "created_by": "operator key",
        "created_at": "2026-03-01T12:00:00Z",
        "updated_at": "2026-03-01T12:00:00Z",
    }
    assert web.station.calls[-1][1:3] == (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2026-03-01T12:30:00.000Z", "idTag": "CARD-1",
         "reservationId": created["id"], "parentIdTag": "FLEET"},
    )
    listed = await web.client.get(URL, params={"station_id": "CP-1"}, headers=web.auth(Role.VIEWER))
    assert [r["id"] for r in listed.json()["reservations"]] == [created["id"]]
    # viewers may read, not reserve or cancel
    assert (await web.client.post(URL, json=body, headers=web.auth(Role.VIEWER))).status_code == 403
    cancel = f"{URL}/{created['id']}/cancel"
    assert (await web.client.post(cancel, headers=web.auth(Role.VIEWER))).status_code == 403
    response = await web.client.post(cancel, headers=web.auth(Role.OPERATOR))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "Cancelled"
    assert web.station.calls[-1][1:3] == ("CancelReservation", {"reservationId": created["id"]})
    again = await web.client.post(cancel, headers=web.auth(Role.OPERATOR))
    assert again.status_code == 409 and "Cancelled, not Accepted" in again.json()["detail"]


async def test_the_stations_refusal_is_the_status(web: ReservationWeb) -> None:
    await web.token("CARD-1")
    web.station.reply = CommandReply(CommandOutcome.RESULT, {"status": "Occupied"})
    response = await web.client.post(
        URL, json={"station_id": "CP-1", "evse_id": 2, "token_id": "CARD-1"}, headers=web.auth()
    )
    assert response.status_code == 201 and response.json()["status"] == "Occupied"
    assert response.json()["expires_at"] == "2026-03-01T12:15:00Z"  # the default: 15 minutes


@pytest.mark.parametrize(
    ("reply", "code", "words"),
    [
        (CommandReply(CommandOutcome.TIMEOUT), 504, "did not answer ReserveNow in time"),
        (CommandReply(CommandOutcome.ERROR, error_code="NotSupported", error_description="no"),
         502, "NotSupported"),
    ],
)
async def test_no_answer_is_an_error_and_reserves_nothing(
    web: ReservationWeb, reply: CommandReply, code: int, words: str
) -> None:
    await web.token("CARD-1")
    web.station.reply = reply
    response = await web.client.post(
        URL, json={"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1"}, headers=web.auth()
    )
    assert response.status_code == code and words in response.json()["detail"]
    assert "is Failed" in response.json()["detail"]
    listed = (await web.client.get(URL, params={"status": "Failed"}, headers=web.auth())).json()
    assert len(listed["reservations"]) == 1


async def test_bad_requests_say_what_to_fix(web: ReservationWeb) -> None:
    await web.token("CARD-1")
    await web.token("A-CARD-FAR-TOO-LONG-FOR-16")
    post = web.client.post
    cases = [
        ({"station_id": "CP-9", "evse_id": 1, "token_id": "CARD-1"}, 404, "station 'CP-9' does not exist"),
        ({"station_id": "CP-1", "evse_id": 1, "token_id": "NOPE"}, 404, "token 'NOPE' does not exist"),
        ({"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1",
          "expires_at": "2026-03-02T12:00:01Z"}, 422, "at most 1440 minutes"),
        ({"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1",
          "expires_at": "2026-03-01T13:00:00"}, 422, "time zone"),
        ({"station_id": "CP-1", "evse_id": -1, "token_id": "CARD-1"}, 422, "evse_id"),
        ({"station_id": "CP-1", "evse_id": 1, "token_id": "A-CARD-FAR-TOO-LONG-FOR-16"}, 422,
         "too long for an OCPP 1.6 idTag"),
    ]
    for body, code, words in cases:
        response = await post(URL, json=body, headers=web.auth())
        assert response.status_code == code, (body, response.text)
        assert words in response.text, (body, response.text)
    web.station.connected.clear()
    response = await post(URL, json={"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1"},
                          headers=web.auth())
    assert response.status_code == 409 and "not connected" in response.json()["detail"]
    assert (await web.client.get(f"{URL}/999", headers=web.auth())).status_code == 404


async def test_reservations_expire_when_read(web: ReservationWeb) -> None:
    await web.token("CARD-1")
    created = (await web.client.post(
        URL, json={"station_id": "CP-1", "evse_id": 1, "token_id": "CARD-1"}, headers=web.auth()
    )).json()
    web.clock.advance(15 * 60)
    got = (await web.client.get(f"{URL}/{created['id']}", headers=web.auth())).json()
    assert got["status"] == "Expired"
    accepted = await web.client.get(URL, params={"status": "Accepted"}, headers=web.auth())
    assert accepted.json()["reservations"] == []


async def test_drivers_reserve_with_their_own_tokens_only(web: ReservationWeb) -> None:
    ana, ana_auth = await web.driver("ana@example.com")
    bob, bob_auth = await web.driver("bob@example.com")
    await web.token("ANA-CARD", ana)
    await web.token("BOB-CARD", bob)
    me = "/api/v1/me/reservations"
    mine = {"station_id": "CP-1", "evse_id": 1, "token_id": "ANA-CARD"}
    response = await web.client.post(me, json={**mine, "token_id": "BOB-CARD"}, headers=ana_auth)
    assert response.status_code == 404  # another driver's token is as good as none
    response = await web.client.post(me, json=mine, headers=ana_auth)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["driver_id"] == ana and created["created_by"] == f"driver:{ana}"
    assert [r["id"] for r in (await web.client.get(me, headers=ana_auth)).json()["reservations"]] == [created["id"]]
    assert (await web.client.get(me, headers=bob_auth)).json()["reservations"] == []
    assert (await web.client.get(f"{me}/{created['id']}", headers=bob_auth)).status_code == 404
    assert (await web.client.post(f"{me}/{created['id']}/cancel", headers=bob_auth)).status_code == 404
    # operator keys and driver tokens stay apart
    assert (await web.client.get(me, headers=web.auth())).status_code == 403
    assert (await web.client.get(URL, headers=ana_auth)).status_code == 403
    response = await web.client.post(f"{me}/{created['id']}/cancel", headers=ana_auth)
    assert response.status_code == 200 and response.json()["status"] == "Cancelled"


async def test_without_the_service_the_endpoints_answer_503() -> None:
    async with build_web() as plain:
        response = await plain.client.get(URL, headers=plain.auth())
        assert response.status_code == 503
        assert "reservations are not enabled" in response.json()["detail"]
        paths = (await plain.client.get("/openapi.json")).json()["paths"]
        assert {URL, f"{URL}/{{reservation_id}}/cancel", "/api/v1/me/reservations"} <= set(paths)
