"""The web app over the in-memory twins, a fake StationCommands, and one API key per role.

Imported by the tests as ``web_harness`` (tests/web is on sys.path: pytest's prepend import
mode for a test directory without __init__.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from evcms.domain.access import Role
from evcms.domain.ids import StationId
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.access import AccessControl
from evcms.services.clock import FixedClock
from evcms.services.network import NetworkAdmin
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.storage.memory import (
    MemoryApiKeyRepository,
    MemoryDatabase,
    MemoryMessageLog,
    MemorySiteRepository,
    MemoryStationRepository,
)
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

OCPP_URL = "ws://127.0.0.1:9000/ocpp/{station_id}"
METRICS_BODY = b"# HELP evcms_up 1 when up\n# TYPE evcms_up gauge\nevcms_up 1.0\n"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class FakeStationCommands:
    """Answers every call with ``reply`` and records what was sent."""

    connected: set[StationId] = field(default_factory=set)
    reply: CommandReply = field(
        default_factory=lambda: CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    )
    calls: list[tuple[StationId, str, dict[str, Any], float | None]] = field(default_factory=list)

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.connected

    def version_of(self, station_id: StationId) -> str | None:
        return "ocpp1.6" if station_id in self.connected else None

    async def call(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> CommandReply:
        self.calls.append((station_id, action, payload, timeout))
        return self.reply


@dataclass
class Health:
    report: dict[str, Any] = field(default_factory=lambda: {"status": "ok", "database": "ok"})
    error: Exception | None = None

    async def __call__(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return self.report


@dataclass
class Web:
    client: httpx.AsyncClient
    db: MemoryDatabase
    stations: MemoryStationRepository
    message_log: MemoryMessageLog
    lifecycle: StationLifecycle
    commands: FakeStationCommands
    access: AccessControl
    clock: FixedClock
    health: Health
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@dataclass
class Core:
    """The services every web test app has: station lifecycle, network admin, API keys."""

    lifecycle: StationLifecycle
    network: NetworkAdmin
    access: AccessControl
    keys: dict[Role, str]


async def core_services(
    db: MemoryDatabase,
    stations: MemoryStationRepository,
    clock: FixedClock,
    bus: Any,
    commands: Any,
    *,
    allow_unsecured: bool = False,
) -> Core:
    """Build the core services over in-memory state, with one API key per role."""
    hasher = station_hasher()
    lifecycle = StationLifecycle(
        stations=stations,
        hasher=hasher,
        events=bus,
        clock=clock,
        policy=LifecyclePolicy(
            auto_onboard="off",
            allow_unsecured=allow_unsecured,
            heartbeat_interval=300,
            pending_retry_interval=60,
        ),
    )
    network = NetworkAdmin(
        sites=MemorySiteRepository(db),
        stations=stations,
        hasher=hasher,
        commands=commands,
        lifecycle=lifecycle,
        clock=clock,
    )
    access = AccessControl(keys=MemoryApiKeyRepository(db), clock=clock)
    keys = {}
    for role in Role:
        _, secret = await access.create_key(f"{role.value} key", role)
        keys[role] = secret
    return Core(lifecycle, network, access, keys)


@asynccontextmanager
async def build_web() -> AsyncIterator[Web]:
    """An app with fresh in-memory state, served by an httpx client."""
    db = MemoryDatabase()
    MemorySiteRepository(db)
    stations = MemoryStationRepository(db)
    message_log = MemoryMessageLog(db)
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    bus = InProcessBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    lifecycle, network, access, keys = core.lifecycle, core.network, core.access, core.keys
    health = Health()
    app = create_app(
        WebDeps(
            network=network,
            access=access,
            operations=RemoteOperations(commands=commands),
            message_log=message_log,
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=health,
            ocpp_url=OCPP_URL,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield Web(
            client=client,
            db=db,
            stations=stations,
            message_log=message_log,
            lifecycle=lifecycle,
            commands=commands,
            access=access,
            clock=clock,
            health=health,
            keys=keys,
        )
    await bus.close()
