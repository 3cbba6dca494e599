"""Firmware over the in-memory twins, the gateway's MaintenanceCommands and fake stations:
files, UpdateFirmware per version, status tracking, timeouts, and rollouts in waves."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evcms.domain.events import FirmwareStatusChanged, StationBooted
from evcms.domain.firmware import MemberState, RolloutStatus, UpdateState
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import RegistrationStatus, Site, Station, StationInfo
from evcms.services.clock import FixedClock
from evcms.services.firmware import Firmware, FirmwarePolicy, RolloutTarget
from evcms.services.ports import CommandOutcome, CommandReply, NotFound, ServiceError
from evcms.station_gateway.maintenance_commands import MaintenanceCommands
from evcms.storage.files import MemoryFileStore
from evcms.storage.firmware import MemoryFirmwareRepository
from evcms.storage.memory import MemoryDatabase, MemorySiteRepository, MemoryStationRepository
from tests.services.test_diagnostics import Events, FakeStations

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
IMAGE = b"\x7fELF firmware image" * 100


@dataclass
class World:
    service: Firmware
    repo: MemoryFirmwareRepository
    stations: FakeStations
    events: Events
    clock: FixedClock
    station_repo: MemoryStationRepository
    files: MemoryFileStore

    def fresh_service(self) -> Firmware:
        """Another evcms process over the same database (a restart)."""
        return Firmware(
            repository=self.repo, stations=self.station_repo, files=self.files,
            commands=MaintenanceCommands(self.stations), events=self.events, clock=self.clock,
            base_url=lambda: "http://evcms.example:8000",
        )


@pytest.fixture
async def world() -> World:
    db = MemoryDatabase()
    await MemorySiteRepository(db).add(Site(SiteId("depot"), "Depot"))
    station_repo = MemoryStationRepository(db)
    versions = {}
    for n, (version, model) in enumerate(
        [("ocpp1.6", "AC-22"), ("ocpp2.0.1", "AC-22"), ("ocpp1.6", "AC-22"), ("ocpp2.0.1", "DC-50")], 1
    ):
        station_id = StationId(f"CP-{n}")
        await station_repo.add(Station(station_id, created_at=T0, site_id=SiteId("depot"),
                                       registration=RegistrationStatus.ACCEPTED))
        await station_repo.record_boot(station_id, StationInfo("acme", model, firmware_version="1.0"), version, T0)
        versions[station_id] = version
    stations = FakeStations(versions=versions)
    stations.replies["UpdateFirmware"] = CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    repo, events, clock, files = MemoryFirmwareRepository(), Events(), FixedClock(T0), MemoryFileStore()
    service = Firmware(
        repository=repo, stations=station_repo, files=files, commands=MaintenanceCommands(stations),
        events=events, clock=clock, base_url=lambda: "http://evcms.example:8000",
        policy=FirmwarePolicy(max_file_bytes=10_000, update_timeout=timedelta(hours=1)),
    )
    return World(service, repo, stations, events, clock, station_repo, files)


async def body(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 500):
        yield data[start : start + 500]


async def upload(world: World, models: tuple[str, ...] = ("AC-22",), **extra) -> int:
    added = await world.service.add_file(version="2.0", file_name="fw.bin", chunks=body(IMAGE), models=models, **extra)
    return added.id


async def test_an_uploaded_file_gets_its_size_and_checksums(world: World) -> None:
    added = await world.service.add_file(version=" 2.0 ", file_name="fw.bin", chunks=body(IMAGE), models=["AC-22", " ac-22"])
    assert (added.version, added.size, added.models) == ("2.0", len(IMAGE), ("AC-22",))
    assert added.sha256 == hashlib.sha256(IMAGE).hexdigest()
    assert added.md5 == hashlib.md5(IMAGE).hexdigest()
    assert world.files.files[added.file_key] == IMAGE


async def test_empty_and_too_large_files_are_refused(world: World) -> None:
    with pytest.raises(ServiceError) as empty:
        await world.service.add_file(version="2.0", file_name="fw.bin", chunks=body(b""))
    assert empty.value.status == 422
    with pytest.raises(ServiceError) as large:
        await world.service.add_file(version="2.0", file_name="fw.bin", chunks=body(b"x" * 10_001))
    assert large.value.status == 413
    assert world.files.files == {} and await world.service.files() == []


async def test_update_firmware_for_16_carries_the_download_link_and_retrieve_date(world: World) -> None:
    firmware_id = await upload(world)
    update = await world.service.update_station(StationId("CP-1"), firmware_id, retries=3, retry_interval=60)
    (_, action, payload), = world.stations.calls
    assert action == "UpdateFirmware"
    assert payload == {
        "location": f"http://evcms.example:8000/firmware-files/{update.token}/fw.bin",
        "retrieveDate": "2026-05-01T09:00:00.000Z",
        "retries": 3,
        "retryInterval": 60,
    }
    assert update.state is UpdateState.REQUESTED
    assert update.deadline == T0 + timedelta(hours=1)


async def test_update_firmware_for_201_is_signed_when_the_file_is(world: World) -> None:
    firmware_id = await upload(world, signing_certificate="PEM", signature="c2ln")
    install = T0 + timedelta(hours=2)
    update = await world.service.update_station(StationId("CP-2"), firmware_id, install_at=install)
    (_, _, payload), = world.stations.calls
    assert payload == {
        "requestId": update.id,
        "firmware": {
            "location": f"http://evcms.example:8000/firmware-files/{update.token}/fw.bin",
            "retrieveDateTime": "2026-05-01T09:00:00.000Z",
            "installDateTime": "2026-05-01T11:00:00.000Z",
            "signingCertificate": "PEM",
            "signature": "c2ln",
        },
    }


async def test_a_file_for_another_model_is_refused_unless_forced(world: World) -> None:
    firmware_id = await upload(world, models=("AC-22",))
    with pytest.raises(ServiceError) as refused:
        await world.service.update_station(StationId("CP-4"), firmware_id)
    assert refused.value.status == 422 and "force" in str(refused.value)
    assert world.stations.calls == []
    forced = await world.service.update_station(StationId("CP-4"), firmware_id, force=True)
    assert forced.state is UpdateState.REQUESTED


async def test_updates_that_cannot_be_sent(world: World) -> None:
    firmware_id = await upload(world)
    with pytest.raises(NotFound):
        await world.service.update_station(StationId("CP-9"), firmware_id)
    with pytest.raises(NotFound):
        await world.service.update_station(StationId("CP-1"), 999)
    del world.stations.versions["CP-3"]
    with pytest.raises(ServiceError) as offline:
        await world.service.update_station(StationId("CP-3"), firmware_id)
    assert offline.value.status == 409
    world.stations.replies["UpdateFirmware"] = CommandReply(CommandOutcome.TIMEOUT)
    with pytest.raises(ServiceError) as late:
        await world.service.update_station(StationId("CP-1"), firmware_id)
    assert late.value.status == 504
    (kept,) = await world.service.updates(station_id=StationId("CP-1"))
    assert kept.state is UpdateState.FAILED


async def test_a_201_refusal_fails_the_update(world: World) -> None:
    firmware_id = await upload(world)
    world.stations.replies["UpdateFirmware"] = CommandReply(CommandOutcome.RESULT, {"status": "InvalidCertificate"})
    update = await world.service.update_station(StationId("CP-2"), firmware_id)
    assert update.state is UpdateState.FAILED
    assert update.detail == "the station answered InvalidCertificate"


async def test_status_notifications_are_tracked_to_installed_and_published(world: World) -> None:
    firmware_id = await upload(world)
    u16 = await world.service.update_station(StationId("CP-1"), firmware_id)
    u201 = await world.service.update_station(StationId("CP-2"), firmware_id)
    for status in ("Downloading", "Downloaded", "Installing", "Installed"):
        await world.service.status_reported(StationId("CP-1"), status)  # 1.6: its open update
    await world.service.status_reported(StationId("CP-2"), "Downloading", u201.id)
    await world.service.status_reported(StationId("CP-2"), "InvalidSignature", u201.id)
    assert (await world.service.update(u16.id)).state is UpdateState.INSTALLED
    failed = await world.service.update(u201.id)
    assert (failed.state, failed.station_status) == (UpdateState.FAILED, "InvalidSignature")
    events = [e for e in world.events.published if isinstance(e, FirmwareStatusChanged)]
    assert [(e.station_id, e.status, e.update_id, e.finished, e.failed) for e in events] == [
        ("CP-1", "Downloading", u16.id, False, False),
        ("CP-1", "Downloaded", u16.id, False, False),
        ("CP-1", "Installing", u16.id, False, False),
        ("CP-1", "Installed", u16.id, True, False),
        ("CP-2", "Downloading", u201.id, False, False),
        ("CP-2", "InvalidSignature", u201.id, True, True),
    ]
    assert events[-1].request_id == u201.id


async def test_the_download_link_serves_the_file_until_it_expires(world: World) -> None:
    firmware_id = await upload(world)
    update = await world.service.update_station(StationId("CP-1"), firmware_id)
    _, firmware = await world.service.download(update.token)
    assert firmware.id == firmware_id
    assert b"".join([c async for c in world.service.read(firmware.file_key)]) == IMAGE
    await world.service.download(update.token)
    assert (await world.service.update(update.id)).downloads == 2
    with pytest.raises(NotFound):
        await world.service.download("nope")
    world.clock.advance(3600 + 30 * 60)
    with pytest.raises(ServiceError) as expired:
        await world.service.download(update.token)
    assert expired.value.status == 410


async def test_an_update_without_a_final_status_times_out(world: World) -> None:
    firmware_id = await upload(world)
    update = await world.service.update_station(StationId("CP-1"), firmware_id)
    await world.service.status_reported(StationId("CP-1"), "Downloading")
    world.clock.advance(3599)
    assert await world.service.expire_due() == 0
    world.clock.advance(1)
    assert await world.service.expire_due() == 1
    assert (await world.service.update(update.id)).state is UpdateState.TIMED_OUT
    last = world.events.published[-1]
    assert isinstance(last, FirmwareStatusChanged)
    assert (last.status, last.failed, last.finished) == ("TimedOut", True, True)
    # a late Installed does not change the outcome
    assert await world.service.status_reported(StationId("CP-1"), "Installed") is None


async def test_a_boot_with_the_new_version_after_installing_counts_as_installed(world: World) -> None:
    firmware_id = await upload(world)
    update = await world.service.update_station(StationId("CP-1"), firmware_id)
    await world.service.status_reported(StationId("CP-1"), "Installing")
    old = StationBooted(StationId("CP-1"), StationInfo("acme", "AC-22", firmware_version="1.0"), RegistrationStatus.ACCEPTED, T0)
    await world.service.on_event(old)
    assert (await world.service.update(update.id)).state is UpdateState.IN_PROGRESS
    await world.service.on_event(old.__class__(old.station_id, StationInfo("acme", "AC-22", firmware_version="2.0"), old.registration, T0))
    assert (await world.service.update(update.id)).state is UpdateState.INSTALLED


async def test_a_file_in_use_cannot_be_deleted(world: World) -> None:
    firmware_id = await upload(world)
    update = await world.service.update_station(StationId("CP-1"), firmware_id)
    with pytest.raises(ServiceError) as busy:
        await world.service.delete_file(firmware_id)
    assert busy.value.status == 409
    await world.service.status_reported(StationId("CP-1"), "Installed")
    await world.service.delete_file(firmware_id)
    assert world.files.files == {}
    with pytest.raises(ServiceError) as gone:
        await world.service.download(update.token)
    assert gone.value.status == 410


# -- rollouts ---------------------------------------------------------------------------------


def states(view) -> dict[str, MemberState]:
    return {m.station_id: m.state for m in view.members}


async def test_a_rollout_goes_wave_by_wave_and_completes(world: World) -> None:
    firmware_id = await upload(world)
    view = await world.service.start_rollout(
        firmware_id, RolloutTarget(station_ids=("CP-1", "CP-2", "CP-3")),
        wave_size=2, max_failure_rate=Decimal("0.5"), wave_timeout=600,
    )
    assert view.rollout.current_wave == 1
    assert states(view) == {"CP-1": MemberState.UPDATING, "CP-2": MemberState.UPDATING, "CP-3": MemberState.PENDING}
    assert [c[0] for c in world.stations.calls] == ["CP-1", "CP-2"]
    update2 = view.members[1].update_id
    await world.service.status_reported(StationId("CP-1"), "Installed")
    await world.service.idle()
    assert states(await world.service.rollout(view.rollout.id))["CP-3"] is MemberState.PENDING  # waits for CP-2
    await world.service.status_reported(StationId("CP-2"), "DownloadFailed", update2)
    await world.service.idle()
    view = await world.service.rollout(view.rollout.id)
    assert view.rollout.current_wave == 2
    assert states(view) == {"CP-1": MemberState.INSTALLED, "CP-2": MemberState.FAILED, "CP-3": MemberState.UPDATING}
    await world.service.status_reported(StationId("CP-3"), "Installed")
    await world.service.idle()
    view = await world.service.rollout(view.rollout.id)
    assert view.rollout.status is RolloutStatus.COMPLETED
    assert view.members[1].station_status == "DownloadFailed"


async def test_a_rollout_halts_above_the_failure_rate_and_skips_the_rest(world: World) -> None:
    firmware_id = await upload(world)
    view = await world.service.start_rollout(
        firmware_id, RolloutTarget(site_id="depot"), wave_size=1,
        max_failure_rate=Decimal("0.2"), wave_timeout=600, force=True,
    )
    assert view.rollout.target == "site depot" and len(view.members) == 4
    await world.service.status_reported(StationId("CP-1"), "InstallationFailed")
    await world.service.idle()
    view = await world.service.rollout(view.rollout.id)
    assert view.rollout.status is RolloutStatus.HALTED
    assert "100.0 %" in (view.rollout.detail or "")
    assert states(view) == {
        "CP-1": MemberState.FAILED, "CP-2": MemberState.SKIPPED,
        "CP-3": MemberState.SKIPPED, "CP-4": MemberState.SKIPPED,
    }
    assert len(world.stations.calls) == 1


async def test_a_disconnected_station_fails_at_once_and_the_wave_moves_on(world: World) -> None:
    firmware_id = await upload(world)
    del world.stations.versions["CP-1"]
    view = await world.service.start_rollout(
        firmware_id, RolloutTarget(station_ids=("CP-1", "CP-3")), wave_size=1,
        max_failure_rate=Decimal("1"), wave_timeout=600,
    )
    assert states(view) == {"CP-1": MemberState.FAILED, "CP-3": MemberState.UPDATING}
    assert view.members[0].detail == "the station is not connected"


async def test_the_wave_timeout_fails_silent_stations_and_a_restarted_evcms_resumes(world: World) -> None:
    firmware_id = await upload(world)
    view = await world.service.start_rollout(
        firmware_id, RolloutTarget(model="AC-22"), wave_size=2,
        max_failure_rate=Decimal("0.5"), wave_timeout=600,
    )
    assert [m.station_id for m in view.members] == ["CP-1", "CP-2", "CP-3"]
    await world.service.status_reported(StationId("CP-1"), "Installed")
    await world.service.idle()
    restarted = world.fresh_service()
    world.clock.advance(599)
    await restarted.advance_all()
    assert states(await restarted.rollout(view.rollout.id))["CP-2"] is MemberState.UPDATING
    world.clock.advance(1)
    await restarted.advance_all()
    view = await restarted.rollout(view.rollout.id)
    assert states(view) == {"CP-1": MemberState.INSTALLED, "CP-2": MemberState.TIMED_OUT, "CP-3": MemberState.UPDATING}
    assert (await restarted.update(view.members[1].update_id)).state is UpdateState.TIMED_OUT  # type: ignore[arg-type]


async def test_a_cancelled_rollout_skips_the_stations_not_started(world: World) -> None:
    firmware_id = await upload(world)
    view = await world.service.start_rollout(
        firmware_id, RolloutTarget(station_ids=("CP-1", "CP-3")), wave_size=1,
        max_failure_rate=Decimal("0.5"), wave_timeout=600,
    )
    view = await world.service.cancel_rollout(view.rollout.id, by="ops")
    assert view.rollout.status is RolloutStatus.CANCELLED
    assert states(view) == {"CP-1": MemberState.UPDATING, "CP-3": MemberState.SKIPPED}
    with pytest.raises(ServiceError) as again:
        await world.service.cancel_rollout(view.rollout.id)
    assert again.value.status == 409
    await world.service.status_reported(StationId("CP-1"), "Installed")  # still tracked
    await world.service.idle()
    view = await world.service.rollout(view.rollout.id)
    assert states(view)["CP-1"] is MemberState.INSTALLED and view.rollout.status is RolloutStatus.CANCELLED


async def test_rollouts_that_cannot_start(world: World) -> None:
    firmware_id = await upload(world, models=("AC-22",))
    with pytest.raises(ServiceError) as misfit:
        await world.service.start_rollout(firmware_id, RolloutTarget(site_id="depot"), wave_size=1, max_failure_rate=Decimal("0.2"), wave_timeout=60)
    assert misfit.value.status == 422 and "CP-4" in str(misfit.value)
    with pytest.raises(ServiceError) as nobody:
        await world.service.start_rollout(firmware_id, RolloutTarget(model="XYZ"), wave_size=1, max_failure_rate=Decimal("0.2"), wave_timeout=60)
    assert nobody.value.status == 422
    with pytest.raises(ServiceError) as bad:
        await world.service.start_rollout(firmware_id, RolloutTarget(station_ids=("CP-1",)), wave_size=1, max_failure_rate=Decimal("2"), wave_timeout=60)
    assert bad.value.status == 422
    with pytest.raises(NotFound):
        await world.service.start_rollout(firmware_id, RolloutTarget(station_ids=("CP-9",)), wave_size=1, max_failure_rate=Decimal("0.2"), wave_timeout=60)
    assert world.stations.calls == []
