"""The firmware repository (files, updates, rollouts): one contract on the memory twin, SQLite
and PostgreSQL (SQL databases built by the real migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evcms.domain.firmware import (
    FirmwareFile,
    FirmwareUpdate,
    MemberState,
    Rollout,
    RolloutStatus,
    UpdateState,
    plan_waves,
)
from evcms.domain.ids import StationId
from evcms.services.firmware import FirmwareRepository
from evcms.storage.database import create_engine
from evcms.storage.firmware import MemoryFirmwareRepository, SqlFirmwareRepository
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FirmwareRepository]:
    if request.param == "memory":
        yield MemoryFirmwareRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for r in _sql(url):
            yield r
    else:
        async with temporary_postgres_database() as url:
            await upgrade(url)
            async for r in _sql(url):
                yield r


async def _sql(url: str) -> AsyncIterator[FirmwareRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlFirmwareRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def firmware(version: str = "2.1.0") -> FirmwareFile:
    return FirmwareFile(
        id=0, version=version, file_name="fw.bin", size=1024, sha256="a" * 64, md5="b" * 32,
        created_at=T0.astimezone(SOFIA), models=("AC-22", "DC-50"),
        signing_certificate="-----BEGIN CERTIFICATE-----\n...", signature="c2ln",
        notes="fixes", created_by="ops", file_key="firmware/abc",
    )


def update(firmware_id: int, station: StationId = CP1, token: str = "t1", **changes) -> FirmwareUpdate:
    return FirmwareUpdate(
        id=0, station_id=station, firmware_id=firmware_id, ocpp_version="ocpp1.6", token=token,
        token_expires_at=T0 + timedelta(hours=3), retrieve_at=T0.astimezone(SOFIA),
        deadline=T0 + timedelta(hours=2), state=UpdateState.REQUESTED, created_at=T0,
        updated_at=T0, requested_by="ops", retries=2, retry_interval=30,
    ).replace(**changes)


async def test_firmware_files_are_stored_listed_and_deleted(repo: FirmwareRepository) -> None:
    first = await repo.add_file(firmware("1.0"))
    second = await repo.add_file(firmware("2.0"))
    assert first.id != second.id
    assert first.created_at == T0 and first.models == ("AC-22", "DC-50")
    assert first.signing_certificate and first.signature == "c2ln"
    assert await repo.get_file(first.id) == first
    assert [f.version for f in await repo.list_files()] == ["2.0", "1.0"]
    assert await repo.delete_file(first.id) is True
    assert await repo.delete_file(first.id) is False
    assert await repo.get_file(first.id) is None


async def test_an_update_is_stored_found_by_token_and_saved_until_it_is_final(repo: FirmwareRepository) -> None:
    fw = await repo.add_file(firmware())
    added = await repo.add_update(update(fw.id))
    assert added.id >= 1 and added.retrieve_at == T0 and added.downloads == 0
    assert await repo.update_by_token("t1") == added
    assert await repo.get_update(added.id) == added
    progressed = added.replace(state=UpdateState.IN_PROGRESS, station_status="Downloading", station_status_at=T0)
    assert await repo.save_update(progressed) is True
    assert (await repo.get_update(added.id)) == progressed
    installed = progressed.replace(state=UpdateState.INSTALLED, station_status="Installed")
    assert await repo.save_update(installed) is True
    # final: a late status or the timeout sweep changes nothing
    assert await repo.save_update(installed.replace(state=UpdateState.TIMED_OUT)) is False
    assert (await repo.get_update(added.id)).state is UpdateState.INSTALLED  # type: ignore[union-attr]


async def test_downloads_are_counted(repo: FirmwareRepository) -> None:
    fw = await repo.add_file(firmware())
    added = await repo.add_update(update(fw.id))
    await repo.count_download(added.id)
    await repo.count_download(added.id)
    await repo.save_update(added.replace(state=UpdateState.IN_PROGRESS))  # keeps the count
    assert (await repo.get_update(added.id)).downloads == 2  # type: ignore[union-attr]


async def test_open_updates_and_listing(repo: FirmwareRepository) -> None:
    fw = await repo.add_file(firmware())
    a = await repo.add_update(update(fw.id, CP1, "a"))
    b = await repo.add_update(update(fw.id, CP2, "b", rollout_id=7))
    c = await repo.add_update(update(fw.id, CP1, "c"))
    await repo.save_update(a.replace(state=UpdateState.FAILED))
    assert [u.id for u in await repo.open_updates()] == [c.id, b.id]
    assert [u.id for u in await repo.open_updates(CP1)] == [c.id]
    assert [u.id for u in await repo.list_updates()] == [c.id, b.id, a.id]
    assert [u.id for u in await repo.list_updates(station_id=CP1)] == [c.id, a.id]
    assert [u.id for u in await repo.list_updates(rollout_id=7)] == [b.id]
    assert [u.id for u in await repo.list_updates(limit=1, before_id=c.id)] == [b.id]


async def test_a_file_is_in_use_while_an_update_is_open_or_a_rollout_runs(repo: FirmwareRepository) -> None:
    fw = await repo.add_file(firmware())
    assert await repo.uses(fw.id) is False
    u = await repo.add_update(update(fw.id))
    assert await repo.uses(fw.id) is True
    await repo.save_update(u.replace(state=UpdateState.INSTALLED))
    assert await repo.uses(fw.id) is False
    r = await repo.add_rollout(rollout(fw.id), plan_waves(["CP-1"], 1))
    assert await repo.uses(fw.id) is True
    await repo.save_rollout(r.replace(status=RolloutStatus.COMPLETED))
    assert await repo.uses(fw.id) is False


def rollout(firmware_id: int) -> Rollout:
    return Rollout(
        id=0, firmware_id=firmware_id, status=RolloutStatus.RUNNING, wave_size=2,
        max_failure_rate=Decimal("0.25"), wave_timeout=600, created_at=T0.astimezone(SOFIA),
        updated_at=T0, created_by="ops", target="site depot", retries=1, retry_interval=10,
    )


async def test_a_rollout_and_its_stations_are_kept_in_wave_order(repo: FirmwareRepository) -> None:
    fw = await repo.add_file(firmware())
    added = await repo.add_rollout(rollout(fw.id), plan_waves(["CP-3", "CP-1", "CP-2"], 2))
    assert added.id >= 1 and added.max_failure_rate == Decimal("0.25") and added.created_at == T0
    assert await repo.get_rollout(added.id) == added
    members = await repo.members(added.id)
    assert [(m.station_id, m.wave, m.state) for m in members] == [
        ("CP-3", 1, MemberState.PENDING), ("CP-1", 1, MemberState.PENDING), ("CP-2", 2, MemberState.PENDING)
    ]
    started = T0 + timedelta(minutes=1)
    await repo.save_rollout(added.replace(current_wave=1, wave_started_at=started, updated_at=started))
    await repo.save_members(
        added.id,
        [members[0].replace(state=MemberState.UPDATING, update_id=5, station_status="Downloading"),
         members[1].replace(state=MemberState.FAILED, detail="not connected")],
    )
    again = await repo.get_rollout(added.id)
    assert again is not None and again.current_wave == 1 and again.wave_started_at == started
    members = await repo.members(added.id)
    assert [(m.state, m.update_id, m.station_status, m.detail) for m in members] == [
        (MemberState.UPDATING, 5, "Downloading", None),
        (MemberState.FAILED, None, None, "not connected"),
        (MemberState.PENDING, None, None, None),
    ]


async def test_rollouts_are_listed_newest_first_by_file_and_status(repo: FirmwareRepository) -> None:
    fw1 = await repo.add_file(firmware("1"))
    fw2 = await repo.add_file(firmware("2"))
    a = await repo.add_rollout(rollout(fw1.id), plan_waves(["CP-1"], 1))
    b = await repo.add_rollout(rollout(fw2.id), plan_waves(["CP-2"], 1))
    await repo.save_rollout(a.replace(status=RolloutStatus.HALTED, detail="too many failures"))
    assert [r.id for r in await repo.list_rollouts()] == [b.id, a.id]
    assert [r.id for r in await repo.list_rollouts(firmware_id=fw1.id)] == [a.id]
    assert [r.id for r in await repo.list_rollouts(status=RolloutStatus.RUNNING)] == [b.id]
    assert (await repo.get_rollout(a.id)).detail == "too many failures"  # type: ignore[union-attr]
