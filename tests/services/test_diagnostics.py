"""Diagnostics uploads over the in-memory twins, the gateway's MaintenanceCommands and a fake
station: what is sent per version, the one-time upload link, status tracking and events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evcms.domain.diagnostics import LogType, Progress, progress
from evcms.domain.events import DiagnosticsStatusChanged
from evcms.domain.ids import StationId
from evcms.domain.stations import Station
from evcms.services.clock import FixedClock
from evcms.services.diagnostics import Diagnostics, DiagnosticsPolicy
from evcms.services.files import FileTooLarge
from evcms.services.ports import CommandOutcome, CommandReply, NotFound, ServiceError
from evcms.station_gateway.maintenance_commands import MaintenanceCommands
from evcms.storage.diagnostics import MemoryDiagnosticsRepository
from evcms.storage.files import MemoryFileStore
from evcms.storage.memory import MemoryDatabase, MemoryStationRepository

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CP16, CP201 = StationId("CP-16"), StationId("CP-201")


@dataclass
class FakeStations:
    """StationCommands: versions of connected stations, replies per action, calls sent."""

    versions: dict[str, str] = field(default_factory=dict)
    replies: dict[str, CommandReply] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.versions

    def version_of(self, station_id: StationId) -> str | None:
        return self.versions.get(station_id)

    async def call(self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None) -> CommandReply:
        self.calls.append((station_id, action, payload))
        return self.replies.get(action, CommandReply(CommandOutcome.RESULT, {"status": "Accepted"}))


@dataclass
class Events:
    published: list[Any] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.published.append(event)

    def subscribe(self, handler: Any, *, types: Any = None) -> Any:
        return lambda: None


@dataclass
class World:
    service: Diagnostics
    stations: FakeStations
    events: Events
    files: MemoryFileStore
    clock: FixedClock


@pytest.fixture
async def world() -> World:
    repo = MemoryStationRepository(MemoryDatabase())
    for station_id in (CP16, CP201, StationId("CP-OFF")):
        await repo.add(Station(station_id, created_at=T0))
    stations = FakeStations(versions={CP16: "ocpp1.6", CP201: "ocpp2.0.1"})
    stations.replies["GetDiagnostics"] = CommandReply(CommandOutcome.RESULT, {"fileName": "diag-16.zip"})
    events, files, clock = Events(), MemoryFileStore(), FixedClock(T0)
    service = Diagnostics(
        requests=MemoryDiagnosticsRepository(),
        stations=repo,
        files=files,
        commands=MaintenanceCommands(stations),
        events=events,
        clock=clock,
        base_url=lambda: "http://evcms.example:8000/",
        policy=DiagnosticsPolicy(token_ttl=timedelta(minutes=30), max_upload_bytes=1000),
    )
    return World(service, stations, events, files, clock)


async def body(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_16_station_gets_get_diagnostics_with_evcms_upload_link(world: World) -> None:
    since = T0 - timedelta(hours=6)
    request = await world.service.request(CP16, since=since, until=T0, retries=2, retry_interval=30, requested_by="ops")
    (station, action, payload), = world.stations.calls
    assert (station, action) == (CP16, "GetDiagnostics")
    assert payload == {
        "location": f"http://evcms.example:8000/uploads/{request.token}",
        "startTime": "2026-05-01T03:00:00.000Z",
        "stopTime": "2026-05-01T09:00:00.000Z",
        "retries": 2,
        "retryInterval": 30,
    }
    assert len(request.token) >= 32
    assert request.answer_file_name == "diag-16.zip"
    assert request.command_outcome == "result"
    assert request.token_expires_at == T0 + timedelta(minutes=30)
    assert progress(request) is Progress.REQUESTED


async def test_a_201_station_gets_get_log_with_the_log_type_and_request_id(world: World) -> None:
    request = await world.service.request(CP201, log_type=LogType.SECURITY)
    (_, action, payload), = world.stations.calls
    assert action == "GetLog"
    assert payload == {
        "logType": "SecurityLog",
        "requestId": request.id,
        "log": {"remoteLocation": f"http://evcms.example:8000/uploads/{request.token}"},
    }
    assert request.answer_status == "Accepted"


async def test_requests_that_cannot_be_sent(world: World) -> None:
    with pytest.raises(NotFound):
        await world.service.request(StationId("CP-NONE"))
    with pytest.raises(ServiceError) as offline:
        await world.service.request(StationId("CP-OFF"))
    assert offline.value.status == 409
    with pytest.raises(ServiceError) as security:
        await world.service.request(CP16, log_type=LogType.SECURITY)
    assert security.value.status == 422
    with pytest.raises(ServiceError) as backwards:
        await world.service.request(CP16, since=T0, until=T0 - timedelta(hours=1))
    assert backwards.value.status == 422
    assert world.stations.calls == []


async def test_a_station_that_does_not_answer_leaves_a_request_marked_not_sent(world: World) -> None:
    world.stations.replies["GetLog"] = CommandReply(CommandOutcome.TIMEOUT)
    request = await world.service.request(CP201)
    assert request.command_outcome == "timeout"
    assert progress(request) is Progress.NOT_SENT


async def test_the_upload_is_kept_once_and_then_the_link_is_used(world: World) -> None:
    request = await world.service.request(CP16)
    received = await world.service.receive_upload(request.token, body(b"log ", b"lines"), "my diag.zip")
    assert received.file is not None
    assert (received.file.name, received.file.size) == ("my diag.zip", 9)
    _, _, key = await world.service.file(request.id)
    assert world.files.files[key] == b"log lines"
    with pytest.raises(ServiceError) as again:
        await world.service.receive_upload(request.token, body(b"other"), None)
    assert again.value.status == 409
    assert world.files.files[key] == b"log lines"


async def test_the_station_announced_file_name_is_used_when_the_upload_has_none(world: World) -> None:
    request = await world.service.request(CP16)
    received = await world.service.receive_upload(request.token, body(b"x"), None)
    assert received.file is not None and received.file.name == "diag-16.zip"


async def test_expired_unknown_and_too_large_uploads(world: World) -> None:
    request = await world.service.request(CP16)
    with pytest.raises(FileTooLarge):
        await world.service.receive_upload(request.token, body(b"x" * 600, b"x" * 600), None)
    assert world.files.files == {}
    # a too large upload does not use the link up: the station may retry
    await world.service.check_token(request.token)
    world.clock.advance(30 * 60)
    with pytest.raises(ServiceError) as expired:
        await world.service.receive_upload(request.token, body(b"x"), None)
    assert expired.value.status == 410
    with pytest.raises(NotFound):
        await world.service.receive_upload("no-such-token", body(b"x"), None)


async def test_16_status_notifications_follow_the_stations_latest_request(world: World) -> None:
    request = await world.service.request(CP16)
    await world.service.status_reported(CP16, "Uploading")
    reported = await world.service.status_reported(CP16, "Uploaded")
    assert reported is not None and reported.id == request.id
    assert progress(reported) is Progress.UPLOADED_WITHOUT_FILE  # the file never came
    events = [e for e in world.events.published if isinstance(e, DiagnosticsStatusChanged)]
    assert [(e.status, e.upload_id, e.finished, e.failed) for e in events] == [
        ("Uploading", request.id, False, False),
        ("Uploaded", request.id, True, False),
    ]


async def test_201_log_status_notifications_are_matched_by_request_id(world: World) -> None:
    first = await world.service.request(CP201)
    await world.service.request(CP201)
    reported = await world.service.status_reported(CP201, "UploadFailure", first.id)
    assert reported is not None and reported.id == first.id
    assert progress(reported) is Progress.FAILED
    assert world.events.published[-1] == DiagnosticsStatusChanged(
        station_id=CP201, status="UploadFailure", at=T0, request_id=first.id, upload_id=first.id,
        failed=True, finished=True,
    )
    # another station's request id is not this station's
    assert await world.service.status_reported(CP16, "Uploaded", first.id) is None
    # a triggered report without a request id changes no request, but is published
    assert await world.service.status_reported(CP201, "Idle") is None
    assert world.events.published[-1].upload_id is None
