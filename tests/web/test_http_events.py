"""GET /api/v1/events: the live event stream (Server-Sent Events) over an in-process bus.

httpx's ASGITransport collects a whole response before returning it, which an endless stream
never ends; ``StreamingASGITransport`` below hands the body over as the app sends it and tells
the app the client disconnected when the response is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.domain.access import Role
from evcms.domain.charging_sessions import ChargingSession, SessionState, SessionStatus
from evcms.domain.events import (
    ConnectorStatusChanged,
    Event,
    SessionUpdated,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import SiteId, StationId
from evcms.domain.metering import EnergyCounter
from evcms.domain.stations import (
    ConnectorState,
    ConnectorStatus,
    RegistrationStatus,
    Site,
    StationInfo,
)
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.network import NetworkAdmin
from evcms.services.remote_operations import RemoteOperations
from evcms.storage.memory import (
    MemoryDatabase,
    MemoryMessageLog,
    MemoryStationRepository,
)
from evcms.web import events_stream
from evcms.web.app import create_app
from evcms.web.deps import WebDeps
from evcms.web.event_schemas import EVENT_TYPES

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Message = MutableMapping[str, Any]


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, chunks: asyncio.Queue[bytes | None], gone: asyncio.Event, task: asyncio.Task[None]
    ) -> None:
        self._chunks = chunks
        self._gone = gone
        self._task = task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self._gone.set()  # the app's next receive() says http.disconnect
        await asyncio.wait_for(asyncio.gather(self._task, return_exceptions=True), 5)


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 1234),
            "root_path": "",
        }
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = (
            asyncio.get_running_loop().create_future()
        )
        gone = asyncio.Event()
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set_result((message["status"], list(message.get("headers", []))))
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(bytes(message["body"]))
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except BaseException as exc:
                if not started.done():
                    started.set_exception(exc)
                raise
            finally:
                chunks.put_nowait(None)

        task = asyncio.create_task(run())
        status, headers = await started
        return httpx.Response(status, headers=headers, stream=_Body(chunks, gone, task))


class CountingBus:
    """An InProcessBus that counts its live subscriptions."""

    def __init__(self) -> None:
        self.bus = InProcessBus()
        self.subscribers = 0

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    def subscribe(
        self, handler: Callable[[Event], Awaitable[None] | None], *, types: Any = None
    ) -> Callable[[], None]:
        unsubscribe = self.bus.subscribe(handler, types=types)
        self.subscribers += 1

        def once() -> None:
            self.subscribers -= 1
            unsubscribe()

        return once


@dataclass
class Live:
    client: httpx.AsyncClient
    bus: CountingBus
    network: NetworkAdmin
    keys: dict[Role, str]

    def auth(self, role: Role = Role.VIEWER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    @asynccontextmanager
    async def stream(self, params: dict[str, str] | None = None) -> AsyncIterator[SseReader]:
        async with self.client.stream(
            "GET", "/api/v1/events", params=params, headers=self.auth()
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield SseReader(response)


class SseReader:
    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def frame(self, timeout: float = 2.0) -> dict[str, str]:
        """The next frame ({"comment": ...} or {"id", "event", "data"}), skipping ': open'."""
        while True:
            frame: dict[str, str] = {}
            while True:
                line = await asyncio.wait_for(anext(self._lines), timeout)
                if line == "":
                    break
                name, _, value = line.partition(":")
                frame[name or "comment"] = value.removeprefix(" ")
            if frame and frame != {"comment": "open"}:
                return frame

    async def event(self, timeout: float = 2.0) -> tuple[int, str, dict[str, Any]]:
        frame = await self.frame(timeout)
        assert "comment" not in frame, frame
        return int(frame["id"]), frame["event"], json.loads(frame["data"])


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    clock = FixedClock(NOW)
    bus = CountingBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    network, access, keys = core.network, core.access, core.keys
    app = create_app(
        WebDeps(
            network=network,
            access=access,
            operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db),
            metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(),
            ocpp_url=OCPP_URL,
            events=bus,
        )
    )
    transport = StreamingASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield Live(client=client, bus=bus, network=network, keys=keys)
    await bus.bus.close()


def connector(station: str, status: ConnectorStatus = ConnectorStatus.CHARGING) -> Event:
    return ConnectorStatusChanged(
        ConnectorState(
            station_id=StationId(station),
            evse_id=1,
            connector_id=1,
            status=status,
            updated_at=NOW + timedelta(hours=2, seconds=1),  # given in UTC, shown in UTC
        )
    )


def session_update(station: str) -> Event:
    state = SessionState(
        status=SessionStatus.ACTIVE,
        started_at=NOW,
        id_token="04A1B2C3",
        energy=EnergyCounter(Decimal("1234.5")),
        power_w=Decimal("7400.0"),
        soc_percent=Decimal("56"),
        last_sample_at=NOW + timedelta(minutes=5),
    )
    return SessionUpdated(
        ChargingSession(
            id=7,
            station_id=StationId(station),
            transaction_id="42",
            state=state,
            evse_id=1,
            connector_id=2,
            created_at=NOW,
            updated_at=NOW + timedelta(minutes=5),
            ocpp_version="ocpp1.6",
        )
    )


async def test_events_arrive_as_sse_frames_with_json_in_utc_and_decimal_strings(
    live: Live,
) -> None:
    async with live.stream() as sse:
        live.bus.publish(connector("CP-1"))
        live.bus.publish(session_update("CP-1"))
        live.bus.publish(StationConnected(StationId("CP-2"), "ocpp2.0.1", NOW))
        live.bus.publish(StationDisconnected(StationId("CP-2"), NOW, "connection lost"))
        live.bus.publish(
            StationBooted(
                StationId("CP-2"),
                StationInfo("ACME", "Wallbox 22"),
                RegistrationStatus.ACCEPTED,
                NOW,
            )
        )

        assert await sse.event() == (
            1,
            "connector.status",
            {
                "type": "connector.status",
                "station_id": "CP-1",
                "at": "2026-03-01T14:00:01Z",
                "evse_id": 1,
                "connector_id": 1,
                "status": "Charging",
                "error_code": "NoError",
                "info": None,
                "vendor_id": None,
                "vendor_error_code": None,
            },
        )
        number, kind, data = await sse.event()
        assert (number, kind) == (2, "session.updated")
        assert data["session_id"] == 7
        assert data["transaction_id"] == "42"
        assert data["connector_id"] == 2
        assert data["status"] == "Active"
        assert (data["energy_wh"], data["power_w"], data["soc_percent"]) == (
            "1234.5",
            "7400.0",
            "56",
        )
        assert data["started_at"] == "2026-03-01T12:00:00Z"
        assert data["at"] == data["last_sample_at"] == "2026-03-01T12:05:00Z"
        assert data["ended_at"] is None

        number, kind, data = await sse.event()
        assert (number, kind, data["ocpp_version"]) == (3, "station.connected", "ocpp2.0.1")
        number, kind, data = await sse.event()
        assert (number, kind, data["reason"]) == (4, "station.disconnected", "connection lost")
        number, kind, data = await sse.event()
        assert (number, kind) == (5, "station.booted")
        assert (data["vendor"], data["model"], data["registration"]) == (
            "ACME",
            "Wallbox 22",
            "Accepted",
        )


async def test_type_filter_passes_only_the_named_types(live: Live) -> None:
    async with live.stream({"type": "session.updated, station.connected"}) as sse:
        live.bus.publish(connector("CP-1"))
        live.bus.publish(session_update("CP-1"))
        live.bus.publish(StationDisconnected(StationId("CP-1"), NOW, "closed"))
        live.bus.publish(StationConnected(StationId("CP-1"), "ocpp1.6", NOW))
        assert [(await sse.event())[1] for _ in range(2)] == [
            "session.updated",
            "station.connected",
        ]


async def test_station_filter_passes_only_those_stations(live: Live) -> None:
    async with live.stream({"station_id": "CP-2,CP-3"}) as sse:
        live.bus.publish(connector("CP-1"))
        live.bus.publish(connector("CP-2"))
        live.bus.publish(connector("CP-4"))
        live.bus.publish(connector("CP-3"))
        seen = [(await sse.event()) for _ in range(2)]
        assert [(n, data["station_id"]) for n, _, data in seen] == [(1, "CP-2"), (2, "CP-3")]


async def test_site_filter_looks_each_station_up_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.network.add_site(Site(SiteId("depot"), "Depot"))
    await live.network.add_station(StationId("CP-IN"), site_id=SiteId("depot"))
    await live.network.add_station(StationId("CP-OUT"))
    lookups: list[str] = []
    real_station = live.network.station

    async def counting_station(station_id: StationId) -> Any:
        lookups.append(station_id)
        return await real_station(station_id)

    monkeypatch.setattr(live.network, "station", counting_station)
    async with live.stream({"site_id": "depot"}) as sse:
        for status in (ConnectorStatus.PREPARING, ConnectorStatus.CHARGING):
            live.bus.publish(connector("CP-OUT", status))
            live.bus.publish(connector("CP-UNKNOWN", status))
            live.bus.publish(connector("CP-IN", status))
        seen = [(await sse.event()) for _ in range(2)]
        assert [(data["station_id"], data["status"]) for _, _, data in seen] == [
            ("CP-IN", "Preparing"),
            ("CP-IN", "Charging"),
        ]
    assert sorted(lookups) == ["CP-IN", "CP-OUT", "CP-UNKNOWN"]


async def test_unknown_type_is_422_listing_the_valid_types(live: Live) -> None:
    response = await live.client.get(
        "/api/v1/events", params={"type": "connector.status,meter.bogus"}, headers=live.auth()
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "meter.bogus" in detail
    assert all(name in detail for name in EVENT_TYPES)
    assert live.bus.subscribers == 0


async def test_bad_site_id_is_422(live: Live) -> None:
    response = await live.client.get(
        "/api/v1/events", params={"site_id": "Not A Slug!"}, headers=live.auth()
    )
    assert response.status_code == 422


async def test_without_a_key_401(live: Live) -> None:
    response = await live.client.get("/api/v1/events")
    assert response.status_code == 401
    bad = await live.client.get("/api/v1/events", headers={"Authorization": "Bearer evk_nope"})
    assert bad.status_code == 401
    assert live.bus.subscribers == 0


async def test_disconnecting_unsubscribes_from_the_bus(live: Live) -> None:
    async with live.stream() as first, live.stream({"type": "connector.status"}) as second:
        assert live.bus.subscribers == 2
        live.bus.publish(connector("CP-1"))
        assert (await first.event())[1] == "connector.status"
        assert (await second.event())[1] == "connector.status"
    assert live.bus.subscribers == 0
    assert live.bus.bus._subscribers == []  # nothing left on the real bus either


async def test_slow_client_loses_the_oldest_events_and_is_told_how_many(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_stream, "BUFFER_SIZE", 3)
    async with live.stream() as sse:
        for _ in range(10):  # published in one go: the stream has no chance to send any yet
            live.bus.publish(connector("CP-1"))
        assert await sse.frame() == {"event": "dropped", "data": '{"count": 7}'}
        assert [(await sse.event())[0] for _ in range(3)] == [8, 9, 10]


async def test_idle_stream_sends_keep_alive_comments(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_stream, "HEARTBEAT_SECONDS", 0.05)
    async with live.stream() as sse:
        assert await sse.frame() == {"comment": "keep-alive"}
        live.bus.publish(connector("CP-1"))
        frame = await sse.frame()
        while frame == {"comment": "keep-alive"}:
            frame = await sse.frame()
        assert frame["event"] == "connector.status"


def test_default_heartbeat_is_fifteen_seconds() -> None:
    assert events_stream.HEARTBEAT_SECONDS == 15.0
