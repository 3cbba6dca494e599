"""GET /api/v1/me/sites: where a driver can charge and which connectors are free now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from charging_harness import NoMailer, PlainHasher
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, RegistrationStatus, Site
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.network import NetworkAdmin
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_lifecycle import StationLifecycle
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.api.driver_sites import distance_km
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SOFIA = (42.6977, 23.3219)
PLOVDIV = (42.1354, 24.7453)


@dataclass
class SitesWeb:
    client: httpx.AsyncClient
    network: NetworkAdmin
    lifecycle: StationLifecycle
    driver: dict[str, str]
    keys: dict[Role, str]

    async def station(
        self,
        station_id: str,
        site_id: str | None,
        statuses: dict[int, ConnectorStatus],
        *,
        online: bool = True,
        registration: RegistrationStatus = RegistrationStatus.ACCEPTED,
    ) -> None:
        station = await self.network.add_station(
            StationId(station_id),
            site_id=None if site_id is None else SiteId(site_id),
            name=f"{station_id} name",
            registration=registration,
        )
        if online:
            await self.lifecycle.connected(station, "ocpp1.6")
        for evse_id, status in {0: ConnectorStatus.AVAILABLE, **statuses}.items():
            await self.lifecycle.report_status(
                ConnectorState(StationId(station_id), evse_id, max(evse_id, 1), status, NOW)
            )


@pytest.fixture
async def web() -> AsyncIterator[SitesWeb]:
    db = MemoryDatabase()
    clock = FixedClock(NOW)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands, allow_unsecured=True)
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
    await accounts.register("ana@example.com", "Charge-it-2026")
    login = await accounts.login("ana@example.com", "Charge-it-2026")
    app = create_app(
        WebDeps(
            network=core.network,
            access=core.access,
            operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            drivers=accounts,
            clock=clock,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://evcms.test"
    ) as client:
        harness = SitesWeb(
            client,
            core.network,
            core.lifecycle,
            {"Authorization": f"Bearer {login.token}"},
            core.keys,
        )
        await core.network.add_site(Site(SiteId("depot"), "Depot Sofia", "1 Vitosha Blvd", *SOFIA))
        await core.network.add_site(Site(SiteId("mall"), "Mall Plovdiv", "5 Main St", *PLOVDIV))
        await core.network.add_site(Site(SiteId("empty"), "An empty site"))
        await harness.station(
            "CP-1", "depot", {1: ConnectorStatus.AVAILABLE, 2: ConnectorStatus.CHARGING}
        )
        await harness.station("CP-2", "mall", {1: ConnectorStatus.AVAILABLE}, online=False)
        await harness.station(
            "CP-NEW",
            "mall",
            {1: ConnectorStatus.AVAILABLE},
            registration=RegistrationStatus.PENDING,
        )
        await harness.station(
            "CP-LONE", None, {1: ConnectorStatus.FAULTED, 2: ConnectorStatus.AVAILABLE}
        )
        yield harness
    await bus.close()


async def test_a_driver_sees_sites_stations_and_which_connectors_are_free(web: SitesWeb) -> None:
    answer = await web.client.get("/api/v1/me/sites", headers=web.driver)
    assert answer.status_code == 200, answer.text
    sites = answer.json()["sites"]
    assert [s["id"] for s in sites] == ["empty", "depot", "mall", None]  # by name, unsited last
    depot = sites[1]
    assert (depot["name"], depot["address"], depot["latitude"], depot["longitude"]) == (
        "Depot Sofia",
        "1 Vitosha Blvd",
        *SOFIA,
    )
    assert depot["distance_km"] is None and depot["free_connectors"] == 1
    [cp1] = depot["stations"]
    assert (cp1["id"], cp1["name"], cp1["online"]) == ("CP-1", "CP-1 name", True)
    assert [(c["evse_id"], c["status"], c["free"]) for c in cp1["connectors"]] == [
        (1, "Available", True),
        (2, "Charging", False),
    ]  # evse 0 (the station as a whole) is not a connector a driver can use
    mall = sites[2]
    # an offline station's Available connector is not free; a pending station is not listed
    assert [s["id"] for s in mall["stations"]] == ["CP-2"]
    assert mall["stations"][0]["online"] is False and mall["free_connectors"] == 0
    assert sites[0]["stations"] == [] and sites[0]["free_connectors"] == 0
    lone = sites[3]
    assert [s["id"] for s in lone["stations"]] == ["CP-LONE"] and lone["free_connectors"] == 1


async def test_nearest_first_and_only_free(web: SitesWeb) -> None:
    near_plovdiv = await web.client.get(
        "/api/v1/me/sites", params={"lat": 42.14, "lon": 24.75}, headers=web.driver
    )
    sites = near_plovdiv.json()["sites"]
    assert [s["id"] for s in sites] == ["mall", "depot", "empty", None]  # no coordinates: last
    assert sites[0]["distance_km"] == 0.6
    assert sites[1]["distance_km"] == pytest.approx(round(distance_km(42.14, 24.75, *SOFIA), 1))
    assert 120 < sites[1]["distance_km"] < 135  # Plovdiv to Sofia
    free = await web.client.get(
        "/api/v1/me/sites", params={"free_only": "true"}, headers=web.driver
    )
    assert [s["id"] for s in free.json()["sites"]] == ["depot", None]


async def test_a_position_needs_both_coordinates_in_range(web: SitesWeb) -> None:
    half = await web.client.get("/api/v1/me/sites", params={"lat": 42.1}, headers=web.driver)
    assert half.status_code == 422
    assert "give both lat and lon" in half.json()["detail"]
    wrong = await web.client.get(
        "/api/v1/me/sites", params={"lat": 91, "lon": 0}, headers=web.driver
    )
    assert wrong.status_code == 422 and "lat" in wrong.json()["detail"]


async def test_the_sites_need_a_driver_token(web: SitesWeb) -> None:
    none = await web.client.get("/api/v1/me/sites")
    assert none.status_code == 401
    assert "missing driver token" in none.json()["detail"]
    stale = await web.client.get(
        "/api/v1/me/sites", headers={"Authorization": "Bearer drv_not_a_session"}
    )
    assert stale.status_code == 401 and "log in again" in stale.json()["detail"]
    operator = await web.client.get(
        "/api/v1/me/sites", headers={"Authorization": f"Bearer {web.keys[Role.ADMIN]}"}
    )
    assert operator.status_code == 403
    assert "operator API key" in operator.json()["detail"]
