"""TariffAdmin: import (versions), assignment, the tariff of a station, quotes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import Site, Station
from evcms.domain.tariffs import ChargingPeriod, DimensionType
from evcms.services.clock import FixedClock
from evcms.services.network import InvalidRequest
from evcms.services.ports import NotFound
from evcms.services.tariffs import AssignmentScope, TariffAdmin
from evcms.storage.memory import MemoryDatabase, MemorySiteRepository, MemoryStationRepository
from evcms.storage.tariffs import MemoryTariffRepository

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CP1, CP2 = StationId("CP-1"), StationId("CP-2")
SITE = SiteId("sofia-1")
ENERGY = (
    '{"id": "%s", "currency": "EUR", "tariff_alt_text": [{"language": "bg", "text": "Енергия"}],'
    ' "elements": [{"price_components": [{"type": "ENERGY", "price": %s, "vat": 20, "step_size": 1}]}]}'
)


@pytest.fixture
async def admin() -> TariffAdmin:
    db = MemoryDatabase()
    sites, stations = MemorySiteRepository(db), MemoryStationRepository(db)
    await sites.add(Site(SITE, "Sofia 1"))
    await stations.add(Station(CP1, T0, site_id=SITE))
    await stations.add(Station(CP2, T0))
    return TariffAdmin(
        tariffs=MemoryTariffRepository(),
        stations=stations,
        sites=sites,
        clock=FixedClock(T0),
        default_time_zone="Europe/Sofia",
    )


async def test_import_keeps_versions_and_the_text(admin: TariffAdmin) -> None:
    first = await admin.import_ocpi(ENERGY % ("E", "0.25"))
    assert (first.id, first.version, first.name, first.currency) == ("E", 1, "Енергия", "EUR")
    assert (first.time_zone, first.created_at) == ("Europe/Sofia", T0)
    second = await admin.import_ocpi((ENERGY % ("E", "0.30")).encode(), time_zone="UTC")
    assert (second.version, second.time_zone) == (2, "UTC")
    assert (await admin.get("E")).ocpi == ENERGY % ("E", "0.30")
    assert (await admin.get("E", 1)).ocpi == ENERGY % ("E", "0.25")
    assert [(t.id, t.version) for t in await admin.list()] == [("E", 2)]
    with pytest.raises(NotFound, match="tariff 'E' version 3 does not exist"):
        await admin.get("E", 3)
    with pytest.raises(NotFound, match="tariff 'nope' does not exist"):
        await admin.get("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "not valid JSON"),
        ('{"id": "x", "currency": "EUR", "elements": []}', "elements: required"),
        (b"\xff", "UTF-8"),
    ],
)
async def test_bad_tariffs_are_invalid_requests(admin: TariffAdmin, text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        await admin.import_ocpi(text)
    assert await admin.list() == []


async def test_tariff_for_a_station(admin: TariffAdmin) -> None:
    assert await admin.tariff_for(CP1) is None
    for tariff_id, price in (("D", "0.20"), ("S", "0.30"), ("X", "0.40")):
        await admin.import_ocpi(ENERGY % (tariff_id, price))
    await admin.assign("D", AssignmentScope.DEFAULT)
    await admin.assign("S", AssignmentScope.SITE, SITE)
    found = await admin.tariff_for(CP1)
    assert found is not None
    tariff, version = found
    assert (tariff.id, version, tariff.time_zone) == ("S", 1, "Europe/Sofia")
    other = await admin.tariff_for(CP2)  # no site
    assert other is not None and other[0].id == "D"
    unknown = await admin.tariff_for(StationId("CP-9"))  # not registered: the default
    assert unknown is not None and unknown[0].id == "D"
    await admin.assign("X", AssignmentScope.STATION, CP1)
    await admin.import_ocpi(ENERGY % ("X", "0.45"))
    found = await admin.tariff_for(CP1)
    assert found is not None
    assert (found[0].id, found[1]) == ("X", 2)
    assert found[0].elements[0].price_components[0].price == Decimal("0.45")


@pytest.mark.parametrize(
    ("tariff_id", "scope", "scope_id", "error", "message"),
    [
        ("nope", AssignmentScope.DEFAULT, None, NotFound, "tariff 'nope'"),
        ("E", AssignmentScope.DEFAULT, "x", InvalidRequest, "must be empty"),
        ("E", AssignmentScope.SITE, None, InvalidRequest, "scope_id: required"),
        ("E", AssignmentScope.SITE, "nowhere", InvalidRequest, "site 'nowhere' does not exist"),
        ("E", AssignmentScope.STATION, "CP-9", InvalidRequest, "station 'CP-9' does not exist"),
    ],
)
async def test_bad_assignments(
    admin: TariffAdmin,
    tariff_id: str,
    scope: AssignmentScope,
    scope_id: str | None,
    error: type[Exception],
    message: str,
) -> None:
    await admin.import_ocpi(ENERGY % ("E", "0.25"))
    with pytest.raises(error, match=message):
        await admin.assign(tariff_id, scope, scope_id)


async def test_quote(admin: TariffAdmin) -> None:
    await admin.import_ocpi(ENERGY % ("E", "0.25"))
    await admin.import_ocpi(ENERGY % ("E", "0.50"))
    period = ChargingPeriod(T0, energy_wh=Decimal(20_000), charging_seconds=Decimal(7200))
    latest = await admin.quote("E", [period])
    assert (latest.total_excl_vat, latest.total_incl_vat) == (Decimal("10.00"), Decimal("12.00"))
    old = await admin.quote("E", [period], version=1)
    assert (old.total_excl_vat, old.total_incl_vat) == (Decimal("5.00"), Decimal("6.00"))
    assert old.components[DimensionType.ENERGY].quantity == Decimal(20)
    with pytest.raises(NotFound):
        await admin.quote("nope", [period])
