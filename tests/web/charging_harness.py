"""The web app with tokens, charging sessions and driver accounts over the in-memory twins, a
real ``Charging`` service and a fake ``StationSessionCommands``.

Imported by the tests as ``charging_harness`` (tests/web is on sys.path). Sessions are built the
way stations build them: ``Charging.record(...)`` with ``SessionEvent``s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.charging_sessions import ChargingSession, EventKind, SessionEvent
from evcms.domain.ids import StationId
from evcms.domain.metering import MeterSample
from evcms.domain.tokens import IdToken
from evcms.messaging.bus import InProcessBus
from evcms.services.charging import Charging, TokenRef
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.ports import CommandOutcome, CommandReply
from evcms.services.remote_operations import RemoteOperations
from evcms.services.tokens import TokenAdmin
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
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DRIVER_PASSWORD = "Charge-it-2026"


@dataclass
class FakeSessionCommands:
    """Records the session commands sent to stations and answers each with ``reply``."""

    reply: CommandReply = field(
        default_factory=lambda: CommandReply(CommandOutcome.RESULT, {"status": "Accepted"})
    )
    starts: list[tuple[StationId, int, str]] = field(default_factory=list)
    stops: list[tuple[StationId, str]] = field(default_factory=list)

    async def remote_start(
        self, station_id: StationId, *, evse_id: int, token: IdToken, remote_start_id: int
    ) -> CommandReply:
        self.starts.append((station_id, evse_id, token.id))
        return self.reply

    async def remote_stop(self, station_id: StationId, transaction_id: str) -> CommandReply:
        self.stops.append((station_id, transaction_id))
        return self.reply

    async def transaction_status(self, station_id: StationId, transaction_id: str) -> None:
        return None  # the station cannot tell


class PlainHasher:
    """A password hasher without the cost of argon2 (driver passwords are not under test)."""

    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain:" + password


class NoMailer:
    async def send(self, to_address: str, subject: str, body: str) -> None:
        pass


@dataclass
class ChargingWeb:
    client: httpx.AsyncClient
    db: MemoryDatabase
    charging: Charging
    commands: FakeSessionCommands
    accounts: DriverAccounts
    clock: FixedClock
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str) -> tuple[str, dict[str, str]]:
        """A new driver, logged in: (driver id, headers with the driver's bearer token)."""
        driver = await self.accounts.register(email, DRIVER_PASSWORD)
        login = await self.accounts.login(email, DRIVER_PASSWORD)
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def token(self, token_id: str, driver_id: str | None = None, **fields: Any) -> None:
        body = {"id": token_id, "driver_id": driver_id, **fields}
        response = await self.client.post("/api/v1/tokens", json=body, headers=self.auth())
        assert response.status_code == 201, response.text

    async def station(self, station_id: str = "CP-1") -> None:
        response = await self.client.post(
            "/api/v1/stations", json={"id": station_id}, headers=self.auth()
        )
        assert response.status_code == 201, response.text

    async def start(
        self,
        token_id: str,
        *,
        station_id: str = "CP-1",
        transaction_id: str | None = None,
        at: datetime = START,
        meter_start_wh: Decimal | None = Decimal(1000),
        evse_id: int = 1,
        ocpp_version: str = "ocpp1.6",
    ) -> ChargingSession:
        """A session started the 1.6 way (StartTransaction with meterStart)."""
        recorded = await self.charging.record(
            station_id=StationId(station_id),
            ocpp_version=ocpp_version,
            transaction_id=transaction_id,
            event=SessionEvent(
                key="start",
                kind=EventKind.STARTED,
                seq_no=0,
                at=at,
                meter_wh=meter_start_wh,
                id_token=token_id,
                reason="Authorized",
            ),
            evse_id=evse_id,
            connector_id=1,
            start_key=f"{evse_id}:{token_id}:{at.isoformat()}",
            token=TokenRef(token_id),
        )
        return recorded.session

    async def meter(
        self, session: ChargingSession, at: datetime, *samples: MeterSample
    ) -> ChargingSession:
        recorded = await self.charging.record(
            station_id=session.station_id,
            ocpp_version=session.ocpp_version,
            transaction_id=session.transaction_id,
            event=SessionEvent(
                key=f"meter:{at.isoformat()}",
                kind=EventKind.UPDATED,
                seq_no=1,
                at=at,
                samples=samples,
                charging_state="Charging",
            ),
            evse_id=session.evse_id,
            connector_id=session.connector_id,
        )
        return recorded.session

    async def stop(
        self,
        session: ChargingSession,
        at: datetime,
        meter_stop_wh: Decimal,
        *,
        reason: str = "Local",
        offline: bool = False,
    ) -> ChargingSession:
        recorded = await self.charging.record(
            station_id=session.station_id,
            ocpp_version=session.ocpp_version,
            transaction_id=session.transaction_id,
            event=SessionEvent(
                key="stop",
                kind=EventKind.ENDED,
                seq_no=2**31 - 1,
                at=at,
                meter_wh=meter_stop_wh,
                id_token=session.state.id_token,
                reason=reason,
                offline=offline,
            ),
            evse_id=session.evse_id,
            connector_id=session.connector_id,
        )
        return recorded.session


def energy(at: datetime, wh: str, **fields: Any) -> MeterSample:
    return MeterSample(
        at=at, measurand="Energy.Active.Import.Register", value=Decimal(wh), unit="Wh", **fields
    )


def power(at: datetime, w: str, **fields: Any) -> MeterSample:
    return MeterSample(at=at, measurand="Power.Active.Import", value=Decimal(w), unit="W", **fields)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


@asynccontextmanager
async def build_charging_web() -> AsyncIterator[ChargingWeb]:
    db = MemoryDatabase()
    clock = FixedClock(START)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    station_commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, station_commands, allow_unsecured=True)
    _lifecycle, network, access, keys = core.lifecycle, core.network, core.access, core.keys
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
    token_repository = MemoryTokenRepository(db, drivers=store.drivers)
    commands = FakeSessionCommands()
    charging = Charging(
        sessions=MemoryChargingSessionRepository(db),
        tokens=token_repository,
        stations=stations,
        commands=commands,
        events=bus,
        clock=clock,
    )
    app = create_app(
        WebDeps(
            network=network,
            access=access,
            operations=RemoteOperations(commands=station_commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            drivers=accounts,
            charging=charging,
            tokens=TokenAdmin(tokens=token_repository, clock=clock),
            clock=clock,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield ChargingWeb(
            client=client,
            db=db,
            charging=charging,
            commands=commands,
            accounts=accounts,
            clock=clock,
            keys=keys,
        )
    await bus.close()
