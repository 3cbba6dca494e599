"""/api/v1/tariffs: OCPI import (versions), reading, assignment, quotes; permissions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from web_harness import METRICS_BODY, METRICS_TYPE, OCPP_URL, FakeStationCommands, Health

from evcms.domain.access import Role
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import Site, Station
from evcms.passwords import station_hasher
from evcms.services.access import AccessControl
from evcms.services.clock import FixedClock
from evcms.services.network import NetworkAdmin
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.services.tariffs import TariffAdmin
from evcms.storage.memory import (
    MemoryApiKeyRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemorySiteRepository,
    MemoryStationRepository,
)
from evcms.storage.tariffs import MemoryTariffRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

URL = "/api/v1/tariffs"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
OCPI = """{"id": "12", "currency": "EUR",
  "tariff_alt_text": [{"language": "en", "text": "Standard"}],
  "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
  "elements": [{"price_components": [
    {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
    {"type": "ENERGY", "price": 0.2500, "vat": 10.0, "step_size": 1},
    {"type": "PARKING_TIME", "price": 2.00, "vat": 20.0, "step_size": 900}]}]}"""


@dataclass
class TariffWeb:
    client: httpx.AsyncClient
    keys: dict[Role, str]
    admin: TariffAdmin

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def _build(with_tariffs: bool = True) -> AsyncIterator[TariffWeb]:
    db = MemoryDatabase()
    sites, stations = MemorySiteRepository(db), MemoryStationRepository(db)
    await sites.add(Site(SiteId("sofia-1"), "Sofia 1"))
    await stations.add(Station(StationId("CP-1"), T0, site_id=SiteId("sofia-1")))
    clock = FixedClock(T0)
    hasher = station_hasher()
    commands = FakeStationCommands()
    bus: object = None
    lifecycle = StationLifecycle(
        stations=stations,
        hasher=hasher,
        events=bus,  # type: ignore[arg-type]  # not used by these endpoints
        clock=clock,
        policy=LifecyclePolicy("off", False, 300, 60),
    )
    access = AccessControl(keys=MemoryApiKeyRepository(db), clock=clock)
    keys = {role: (await access.create_key(role.value, role))[1] for role in Role}
    admin = TariffAdmin(
        tariffs=MemoryTariffRepository(), stations=stations, sites=sites, clock=clock
    )
    app = create_app(
        WebDeps(
            network=NetworkAdmin(
                sites=sites, stations=stations, hasher=hasher, commands=commands,
                lifecycle=lifecycle, clock=clock,
            ),
            access=access,
            operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            tariffs=admin if with_tariffs else None,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield TariffWeb(client, keys, admin)


@pytest.fixture
async def web() -> AsyncIterator[TariffWeb]:
    async for harness in _build():
        yield harness


async def post(web: TariffWeb, text: str, role: Role = Role.OPERATOR, **params: str) -> httpx.Response:
    headers = {**web.auth(role), "Content-Type": "application/json"}
    return await web.client.post(URL, content=text, headers=headers, params=params)


async def test_import_read_and_version(web: TariffWeb) -> None:
    created = await post(web, OCPI)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "12", "version": 1, "name": "Standard", "currency": "EUR",
        "time_zone": "UTC", "created_at": "2026-03-01T12:00:00Z",
    }
    again = await post(web, OCPI.replace("0.2500", "0.30"), time_zone="Europe/Sofia")
    assert again.status_code == 201
    assert (again.json()["version"], again.json()["time_zone"]) == (2, "Europe/Sofia")
    latest = await web.client.get(f"{URL}/12", headers=web.auth(Role.VIEWER))
    assert latest.status_code == 200
    assert latest.json()["version"] == 2
    first = await web.client.get(f"{URL}/12", params={"version": 1}, headers=web.auth(Role.VIEWER))
    assert first.json()["version"] == 1
    assert '"price": 0.2500' in first.text  # the numbers exactly as imported
    assert first.json()["ocpi"] == json.loads(OCPI)
    listed = await web.client.get(URL, headers=web.auth(Role.VIEWER))
    assert [(t["id"], t["version"]) for t in listed.json()["tariffs"]] == [("12", 2)]
    missing = await web.client.get(f"{URL}/12", params={"version": 3}, headers=web.auth())
    assert missing.status_code == 404
    assert "version 3" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('{"id": "x", "currency": "EUR", "elements": [{"price_components": []}]}',
         "elements[0].price_components: required"),
        ('{"id": "x", "currency": "EUR", "elements": [{"price_components": '
         '[{"type": "ENERGY", "price": "0.25"}]}]}', "elements[0].price_components[0].price"),
        ("{nope", "not valid JSON"),
        ("[]", "dictionary"),
    ],
)
async def test_bad_tariffs_are_422(web: TariffWeb, text: str, detail: str) -> None:
    response = await post(web, text)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


async def test_bad_time_zone_is_422(web: TariffWeb) -> None:
    response = await post(web, OCPI, time_zone="Mars/Olympus")
    assert response.status_code == 422
    assert "time_zone" in response.json()["detail"]


async def test_permissions(web: TariffWeb) -> None:
    assert (await post(web, OCPI, role=Role.VIEWER)).status_code == 403
    assert (await web.client.get(URL)).status_code == 401
    await post(web, OCPI)
    put = await web.client.put(
        f"{URL}/12/assignment", json={"scope": "default"}, headers=web.auth(Role.VIEWER)
    )
    assert put.status_code == 403


async def test_assignment(web: TariffWeb) -> None:
    await post(web, OCPI)
    put = await web.client.put(
        f"{URL}/12/assignment", json={"scope": "site", "scope_id": "sofia-1"}, headers=web.auth()
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"tariff_id": "12", "scope": "site", "scope_id": "sofia-1"}
    found = await web.admin.tariff_for(StationId("CP-1"))
    assert found is not None and found[0].id == "12"
    bad = await web.client.put(
        f"{URL}/12/assignment", json={"scope": "station", "scope_id": "CP-9"}, headers=web.auth()
    )
    assert bad.status_code == 422
    assert "station 'CP-9' does not exist" in bad.json()["detail"]
    unknown = await web.client.put(
        f"{URL}/99/assignment", json={"scope": "default"}, headers=web.auth()
    )
    assert unknown.status_code == 404


async def test_quote(web: TariffWeb) -> None:
    await post(web, OCPI)
    response = await web.client.post(
        f"{URL}/12/quote",
        json={"start": "2026-03-01T14:00:00+02:00", "energy_kwh": "20", "charging_minutes": 90,
              "parking_minutes": 40},
        headers=web.auth(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["tariff_id"], body["version"], body["currency"]) == ("12", 1, "EUR")
    assert (body["total_excl_vat"], body["total_vat"], body["total_incl_vat"]) == ("7.00", "0.90", "7.90")
    lines = {c["type"]: c for c in body["components"]}
    assert lines["ENERGY"] == {
        "type": "ENERGY", "quantity": "20", "amount_excl_vat": "5.00",
        "vat_amount": "0.50", "amount_incl_vat": "5.50",
    }
    assert lines["PARKING_TIME"]["quantity"] == "0.75"
    assert body["limit_applied"] is None
    small = await web.client.post(
        f"{URL}/12/quote", json={"start": "2026-03-01T14:00:00Z", "energy_kwh": 0.1},
        headers=web.auth(),
    )
    assert (small.json()["total_excl_vat"], small.json()["total_incl_vat"]) == ("0.53", "0.63")
    naive = await web.client.post(
        f"{URL}/12/quote", json={"start": "2026-03-01T14:00:00"}, headers=web.auth()
    )
    assert naive.status_code == 422
    missing = await web.client.post(
        f"{URL}/99/quote", json={"start": "2026-03-01T14:00:00Z"}, headers=web.auth()
    )
    assert missing.status_code == 404


async def test_without_the_service_it_is_503() -> None:
    async for web in _build(with_tariffs=False):
        response = await web.client.get(URL, headers=web.auth())
        assert response.status_code == 503
