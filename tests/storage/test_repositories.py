"""The repository contract, run against the memory twins, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from storage_fixtures import Backend

from evcms.domain.access import ApiKey, Role
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import (
    ConnectorState,
    ConnectorStatus,
    Presence,
    RegistrationStatus,
    Site,
    Station,
    StationInfo,
)
from evcms.services.ports import AlreadyExists, NotFound

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))

INFO = StationInfo(
    vendor="ACME",
    model="Wallbox 22",
    serial_number="SN-1",
    firmware_version="1.2.3",
    iccid="8935901990000000000",
    imsi="284010000000000",
    meter_type="MID",
    meter_serial_number="M-77",
)


def station(station_id: str, site: str | None = None, **changes: object) -> Station:
    base = Station(id=StationId(station_id), created_at=T0, site_id=SiteId(site) if site else None)
    return base.replace(**changes) if changes else base


def connector(
    station_id: str, evse: int, conn: int, status: ConnectorStatus, at: datetime = T0
) -> ConnectorState:
    return ConnectorState(StationId(station_id), evse, conn, status, at)


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


# -- sites ------------------------------------------------------------------------------------


async def test_sites_are_added_read_back_and_listed_by_id(backend: Backend) -> None:
    depot = Site(SiteId("depot"), "Depot", "Main St 1, Sofia", 42.6977, 23.3219)
    for site in (
        depot,
        Site(SiteId("b-2"), "B"),
        Site(SiteId("a_1"), "A"),
        Site(SiteId("a-1"), "A"),
    ):
        await backend.sites.add(site)

    assert await backend.sites.get(SiteId("depot")) == depot
    assert await backend.sites.get(SiteId("nowhere")) is None
    assert [s.id for s in await backend.sites.list()] == ["a-1", "a_1", "b-2", "depot"]


async def test_adding_a_site_twice_is_refused(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("depot"), "Depot"))
    with pytest.raises(AlreadyExists):
        await backend.sites.add(Site(SiteId("depot"), "Other"))
    assert (await backend.sites.get(SiteId("depot"))) == Site(SiteId("depot"), "Depot")


async def test_updating_a_site_replaces_it_and_a_missing_one_is_not_found(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("depot"), "Depot"))
    moved = Site(SiteId("depot"), "Depot North", "Ring Rd 5", -33.5, 151.25)
    await backend.sites.update(moved)
    assert await backend.sites.get(SiteId("depot")) == moved
    with pytest.raises(NotFound):
        await backend.sites.update(Site(SiteId("ghost"), "Ghost"))


async def test_deleting_a_site_detaches_its_stations(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("depot"), "Depot"))
    await backend.stations.add(station("CP-1", "depot"))

    assert await backend.sites.delete(SiteId("depot")) is True
    assert await backend.sites.delete(SiteId("depot")) is False
    assert await backend.sites.get(SiteId("depot")) is None
    kept = await backend.stations.get(StationId("CP-1"))
    assert kept is not None and kept.site_id is None


# -- stations ---------------------------------------------------------------------------------


async def test_a_station_round_trips_with_every_field(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("depot"), "Depot"))
    full = Station(
        id=StationId("ACME:1234"),
        created_at=datetime(2025, 3, 1, 14, 0, 0, 42, tzinfo=SOFIA),
        site_id=SiteId("depot"),
        name="Bay 1",
        registration=RegistrationStatus.PENDING,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$abc",
        info=INFO,
        ocpp_version="2.0.1",
        last_boot_at=T0,
    )
    await backend.stations.add(full)

    got = await backend.stations.get(StationId("ACME:1234"))
    assert got == full
    assert got is not None
    assert_utc(got.created_at)
    assert got.created_at == datetime(2025, 3, 1, 12, 0, 0, 42, tzinfo=UTC)
    assert_utc(got.last_boot_at)
    assert await backend.stations.get(StationId("CP-404")) is None


async def test_adding_a_station_twice_or_to_an_unknown_site_is_refused(backend: Backend) -> None:
    await backend.stations.add(station("CP-1"))
    with pytest.raises(AlreadyExists):
        await backend.stations.add(station("CP-1", name="again"))
    with pytest.raises(NotFound, match="nowhere"):
        await backend.stations.add(station("CP-2", "nowhere"))
    assert [s.id for s in await backend.stations.list()] == ["CP-1"]


async def test_stations_are_listed_by_id_in_code_point_order_and_by_site(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("north"), "North"))
    await backend.sites.add(Site(SiteId("south"), "South"))
    for sid, site in [("cp-a", "north"), ("CP_1", "south"), ("CP-b", "north"), ("CP-A", None)]:
        await backend.stations.add(station(sid, site))

    assert [s.id for s in await backend.stations.list()] == ["CP-A", "CP-b", "CP_1", "cp-a"]
    assert [s.id for s in await backend.stations.list(SiteId("north"))] == ["CP-b", "cp-a"]
    assert await backend.stations.list(SiteId("east")) == []


async def test_updating_a_station_keeps_its_creation_time(backend: Backend) -> None:
    await backend.sites.add(Site(SiteId("depot"), "Depot"))
    await backend.stations.add(station("CP-1", info=INFO, ocpp_version="1.6"))
    changed = station(
        "CP-1",
        "depot",
        created_at=T0 + timedelta(days=9),
        name="Renamed",
        registration=RegistrationStatus.REJECTED,
        password_hash="h",
        info=None,
        ocpp_version=None,
    )
    await backend.stations.update(changed)

    assert await backend.stations.get(StationId("CP-1")) == changed.replace(created_at=T0)
    with pytest.raises(NotFound):
        await backend.stations.update(station("CP-404"))
    with pytest.raises(NotFound, match="nowhere"):
        await backend.stations.update(station("CP-1", "nowhere"))


async def test_deleting_a_station_removes_its_connectors_and_presence(backend: Backend) -> None:
    await backend.stations.add(station("CP-1"))
    await backend.stations.add(station("CP-2"))
    for sid in ("CP-1", "CP-2"):
        await backend.stations.save_connector_state(connector(sid, 1, 1, ConnectorStatus.CHARGING))
    await backend.stations.save_presence(
        [Presence(StationId(s), True, T0, T0, "1.6") for s in ("CP-1", "CP-2")]
    )

    assert await backend.stations.delete(StationId("CP-1")) is True
    assert await backend.stations.delete(StationId("CP-1")) is False
    assert await backend.stations.get(StationId("CP-1")) is None
    assert await backend.stations.connector_states(StationId("CP-1")) == []
    assert await backend.stations.presence(StationId("CP-1")) is None
    assert len(await backend.stations.connector_states(StationId("CP-2"))) == 1
    assert await backend.stations.presence(StationId("CP-2")) is not None


async def test_record_boot_stores_what_the_station_said(backend: Backend) -> None:
    await backend.stations.add(station("CP-1", name="Bay 1", password_hash="h"))
    booted_at = datetime(2025, 3, 2, 9, 30, tzinfo=SOFIA)
    await backend.stations.record_boot(StationId("CP-1"), INFO, "2.0.1", booted_at)

    got = await backend.stations.get(StationId("CP-1"))
    assert got == station(
        "CP-1",
        name="Bay 1",
        password_hash="h",
        info=INFO,
        ocpp_version="2.0.1",
        last_boot_at=booted_at,
    )
    assert got is not None
    assert_utc(got.last_boot_at)

    minimal = StationInfo(vendor="V", model="M")
    await backend.stations.record_boot(StationId("CP-1"), minimal, "1.6", booted_at)
    again = await backend.stations.get(StationId("CP-1"))
    assert again is not None and again.info == minimal and again.ocpp_version == "1.6"

    with pytest.raises(NotFound):
        await backend.stations.record_boot(StationId("CP-404"), INFO, "1.6", T0)


# -- connectors -------------------------------------------------------------------------------


async def test_connector_states_are_upserted_and_listed_by_evse_and_connector(
    backend: Backend,
) -> None:
    await backend.stations.add(station("CP-1"))
    repo = backend.stations
    await repo.save_connector_state(connector("CP-1", 2, 1, ConnectorStatus.AVAILABLE))
    await repo.save_connector_state(connector("CP-1", 1, 2, ConnectorStatus.AVAILABLE))
    await repo.save_connector_state(connector("CP-1", 0, 0, ConnectorStatus.AVAILABLE))
    await repo.save_connector_state(connector("CP-1", 1, 1, ConnectorStatus.PREPARING))
    faulted = ConnectorState(
        StationId("CP-1"),
        1,
        1,
        ConnectorStatus.FAULTED,
        T0 + timedelta(minutes=5),
        error_code="GroundFailure",
        info="RCD tripped",
        vendor_id="ACME",
        vendor_error_code="E42",
    )
    await repo.save_connector_state(faulted)

    states = await repo.connector_states(StationId("CP-1"))
    assert [(s.evse_id, s.connector_id) for s in states] == [(0, 0), (1, 1), (1, 2), (2, 1)]
    assert states[1] == faulted
    assert_utc(states[1].updated_at)
    assert await repo.connector_states(StationId("CP-2")) == []


async def test_a_connector_state_of_an_unknown_station_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.stations.save_connector_state(
            connector("CP-404", 1, 1, ConnectorStatus.AVAILABLE)
        )


# -- presence ---------------------------------------------------------------------------------


async def test_presence_is_upserted_in_batches(backend: Backend) -> None:
    for sid in ("CP-1", "CP-2"):
        await backend.stations.add(station(sid))
    repo = backend.stations
    assert await repo.presence(StationId("CP-1")) is None

    await repo.save_presence(
        [
            Presence(StationId("CP-1"), True, T0, T0, "1.6"),
            Presence(StationId("CP-2"), False, None, None),
        ]
    )
    later = T0 + timedelta(seconds=30)
    await repo.save_presence([Presence(StationId("CP-1"), True, T0, later, "1.6")])
    await repo.save_presence([])

    one = await repo.presence(StationId("CP-1"))
    assert one == Presence(StationId("CP-1"), True, T0, later, "1.6")
    assert one is not None
    assert_utc(one.last_message_at)
    assert await repo.presence(StationId("CP-2")) == Presence(StationId("CP-2"), False, None, None)


async def test_presence_of_an_unknown_station_does_not_spoil_the_batch(backend: Backend) -> None:
    await backend.stations.add(station("CP-1"))
    await backend.stations.save_presence(
        [
            Presence(StationId("CP-404"), True, T0, T0),
            Presence(StationId("CP-1"), True, T0, T0),
        ]
    )
    assert await backend.stations.presence(StationId("CP-1")) is not None
    assert await backend.stations.presence(StationId("CP-404")) is None


async def test_mark_all_disconnected_takes_every_station_offline(backend: Backend) -> None:
    for sid in ("CP-1", "CP-2", "CP-3"):
        await backend.stations.add(station(sid))
    repo = backend.stations
    await repo.save_presence(
        [
            Presence(StationId("CP-1"), True, T0, T0 + timedelta(seconds=5), "2.0.1"),
            Presence(StationId("CP-2"), True, T0, T0, "1.6"),
            Presence(StationId("CP-3"), False, None, T0 - timedelta(days=1), "1.6"),
        ]
    )
    await repo.mark_all_disconnected(T0 + timedelta(hours=1))

    assert await repo.presence(StationId("CP-1")) == Presence(
        StationId("CP-1"), False, None, T0 + timedelta(seconds=5), "2.0.1"
    )
    p2 = await repo.presence(StationId("CP-2"))
    assert p2 is not None and not p2.connected
    assert await repo.presence(StationId("CP-3")) == Presence(
        StationId("CP-3"), False, None, T0 - timedelta(days=1), "1.6"
    )


# -- API keys ---------------------------------------------------------------------------------


def api_key(key_id: str, secret_hash: str, at: datetime = T0, role: Role = Role.VIEWER) -> ApiKey:
    return ApiKey(key_id, f"key {key_id}", role, secret_hash, at)


async def test_api_keys_are_found_by_hash_listed_and_revoked(backend: Backend) -> None:
    keys = backend.api_keys
    admin = api_key("k2", "hash-2", T0, Role.ADMIN)
    await keys.add(api_key("k3", "hash-3", T0 + timedelta(minutes=1)))
    await keys.add(admin)
    await keys.add(api_key("k1", "hash-1", T0, Role.TECHNICIAN))

    assert await keys.find_by_hash("hash-2") == admin
    assert await keys.find_by_hash("nope") is None
    assert [k.id for k in await keys.list()] == ["k1", "k2", "k3"]

    assert await keys.revoke("k2") is True
    assert await keys.revoke("k2") is True
    assert await keys.revoke("k404") is False
    revoked = await keys.find_by_hash("hash-2")
    assert revoked is not None and revoked.revoked
    assert [k.revoked for k in await keys.list()] == [False, True, False]


async def test_an_api_key_id_or_secret_is_unique(backend: Backend) -> None:
    await backend.api_keys.add(api_key("k1", "hash-1"))
    with pytest.raises(AlreadyExists):
        await backend.api_keys.add(api_key("k1", "hash-other"))
    with pytest.raises(AlreadyExists):
        await backend.api_keys.add(api_key("k2", "hash-1"))
    assert [k.id for k in await backend.api_keys.list()] == ["k1"]


# -- timestamps -------------------------------------------------------------------------------


async def test_naive_timestamps_are_refused(backend: Backend) -> None:
    naive = datetime(2025, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        await backend.stations.add(station("CP-1", created_at=naive))
    await backend.stations.add(station("CP-2"))
    with pytest.raises(ValueError, match="naive"):
        await backend.stations.save_connector_state(
            connector("CP-2", 1, 1, ConnectorStatus.AVAILABLE, naive)
        )
    assert await backend.stations.get(StationId("CP-1")) is None


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
        datetime(1999, 12, 31, 23, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
async def test_aware_timestamps_come_back_as_the_same_instant_in_utc(
    backend: Backend, moment: datetime
) -> None:
    await backend.stations.add(station("CP-1", created_at=moment))
    await backend.stations.save_connector_state(
        connector("CP-1", 1, 1, ConnectorStatus.AVAILABLE, moment)
    )
    got = await backend.stations.get(StationId("CP-1"))
    assert got is not None
    assert got.created_at == moment
    assert got.created_at.tzinfo == UTC
    [state] = await backend.stations.connector_states(StationId("CP-1"))
    assert state.updated_at == moment and state.updated_at.tzinfo == UTC
