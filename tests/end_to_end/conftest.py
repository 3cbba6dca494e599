"""A running evcms (the same start-up as `evcms serve`) on SQLite or PostgreSQL, and stations.

Stations here are the `ocpp` package's ChargePoint classes over real sockets — an OCPP
implementation independent of ours — or raw WebSocket clients for malformed traffic.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v201 import ChargePoint as ChargePoint201

from evcms import bootstrap
from evcms.domain.access import Role
from evcms.settings import Settings
from tests.support.databases import temporary_postgres_database, temporary_sqlite_url

CHARGE_POINTS = {"ocpp1.6": ChargePoint16, "ocpp2.0.1": ChargePoint201, "ocpp2.1": ChargePoint21}


class Harness:
    def __init__(self, node: bootstrap.Evcms, admin_key: str) -> None:
        self.node = node
        self.admin_key = admin_key
        self.api = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{node.http_port}",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )

    def station_url(self, station_id: str, *, short: bool = False) -> str:
        path = station_id if short else f"ocpp/{station_id}"
        return f"ws://127.0.0.1:{self.node.ocpp_port}/{path}"

    async def add_station(self, station_id: str, password: str | None = None, **extra: Any) -> None:
        body: dict[str, Any] = {"id": station_id, **extra}
        if password is not None:
            body["password"] = password
        response = await self.api.post("/api/v1/stations", json=body)
        assert response.status_code == 201, response.text

    async def station(self, station_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/api/v1/stations/{station_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    @contextlib.asynccontextmanager
    async def connect(
        self,
        station_id: str,
        version: str = "ocpp1.6",
        password: str | None = None,
        *,
        short: bool = False,
        handlers: type | None = None,
        url_id: str | None = None,
    ) -> AsyncIterator[Any]:
        """A ChargePoint of the `ocpp` package, connected and running its read loop."""
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        async with websockets.connect(
            self.station_url(url_id or station_id, short=short),
            subprotocols=[version],  # type: ignore[list-item]
            additional_headers=headers,
        ) as ws:
            cls = handlers or CHARGE_POINTS[version]
            cp = cls(station_id, ws, response_timeout=10)
            task = asyncio.create_task(cp.start())
            try:
                yield cp
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_evcms(database_url: str, **settings: Any) -> AsyncIterator[Harness]:
    config = Settings(
        database_url=database_url,
        host="127.0.0.1",
        http_port=0,
        ocpp_port=0,
        **settings,
    )
    node = await bootstrap.start(config)
    async with bootstrap.admin(config) as ctx:
        _, key = await ctx.access.create_key("tests", Role.ADMIN)
    harness = Harness(node, key)
    try:
        yield harness
    finally:
        await harness.api.aclose()
        await node.stop()


@contextlib.asynccontextmanager
async def database(kind: str, tmp_path: Any) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield temporary_sqlite_url(tmp_path)
    else:
        async with temporary_postgres_database() as url:
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def evcms(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Harness]:
    """evcms on each database, letting stations without a password connect (profile 0)."""
    async with database(request.param, tmp_path) as url, running_evcms(
        url, allow_unsecured_stations=True
    ) as harness:
        yield harness


@pytest.fixture
async def evcms_sqlite(tmp_path: Any) -> AsyncIterator[Harness]:
    async with running_evcms(temporary_sqlite_url(tmp_path)) as harness:
        yield harness


@pytest.fixture
async def evcms_onboarding(tmp_path: Any) -> AsyncIterator[Harness]:
    """Unknown stations are created and answered Pending until an operator accepts them."""
    async with running_evcms(temporary_sqlite_url(tmp_path), auto_onboard="pending") as harness:
        yield harness


@pytest.fixture
async def evcms_unsecured(tmp_path: Any) -> AsyncIterator[Harness]:
    async with running_evcms(
        temporary_sqlite_url(tmp_path), allow_unsecured_stations=True
    ) as harness:
        yield harness
