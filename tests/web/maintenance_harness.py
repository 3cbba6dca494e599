"""The web app with the diagnostics and firmware services over in-memory twins, files in a
temporary directory, and fake stations (imported by the maintenance web tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tests.services.test_diagnostics import FakeStations
from web_harness import METRICS_BODY, METRICS_TYPE, OCPP_URL, Health, core_services

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.domain.stations import Station, StationInfo
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.diagnostics import Diagnostics, DiagnosticsPolicy
from evcms.services.firmware import Firmware, FirmwarePolicy
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.station_gateway.maintenance_commands import MaintenanceCommands
from evcms.storage.diagnostics import MemoryDiagnosticsRepository
from evcms.storage.files import LocalFileStore
from evcms.storage.firmware import MemoryFirmwareRepository
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UPLOAD_LIMIT = 4096


@dataclass
class MaintenanceWeb:
    client: httpx.AsyncClient
    stations: FakeStations
    clock: FixedClock
    diagnostics: Diagnostics
    firmware: Firmware
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@asynccontextmanager
async def build_maintenance_web(tmp_path: Path) -> AsyncIterator[MaintenanceWeb]:
    db = MemoryDatabase()
    station_repo = MemoryStationRepository(db)
    clock = FixedClock(START)
    bus = InProcessBus()
    stations = FakeStations(versions={"CP-16": "ocpp1.6", "CP-201": "ocpp2.0.1"})
    stations.replies["GetDiagnostics"] = CommandReply(CommandOutcome.RESULT, {})
    for station_id, model in (("CP-16", "AC-22"), ("CP-201", "AC-22"), ("CP-OFF", "AC-22")):
        await station_repo.add(Station(StationId(station_id), created_at=START))
        await station_repo.record_boot(StationId(station_id), StationInfo("acme", model), "ocpp1.6", START)
    core = await core_services(db, station_repo, clock, bus, stations)
    files = LocalFileStore(tmp_path / "files")
    commands = MaintenanceCommands(stations)
    diagnostics = Diagnostics(
        requests=MemoryDiagnosticsRepository(), stations=station_repo, files=files,
        commands=commands, events=bus, clock=clock, base_url=lambda: "http://evcms.test",
        policy=DiagnosticsPolicy(token_ttl=timedelta(hours=1), max_upload_bytes=UPLOAD_LIMIT),
    )
    firmware = Firmware(
        repository=MemoryFirmwareRepository(), stations=station_repo, files=files,
        commands=commands, events=bus, clock=clock, base_url=lambda: "http://evcms.test",
        policy=FirmwarePolicy(max_file_bytes=1 << 20, update_timeout=timedelta(hours=1)),
    )
    app = create_app(
        WebDeps(
            network=core.network, access=core.access, operations=RemoteOperations(commands=stations),
            message_log=MemoryMessageLog(db), metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(), ocpp_url=OCPP_URL, diagnostics=diagnostics, firmware=firmware,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield MaintenanceWeb(client, stations, clock, diagnostics, firmware, core.keys)
    await firmware.close()
    await bus.close()
