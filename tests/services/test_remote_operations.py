"""RemoteOperations over the in-memory twins, a scripted StationCommands and a fixed clock."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from evcms.domain.events import DeviceEventReported, OperationFinished, SecurityEventReported
from evcms.domain.ids import SiteId, StationId
from evcms.domain.operations import (
    BulkTarget,
    ClearCache,
    OperationFilter,
    OperationOutcome,
    Reset,
    ResetType,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from evcms.domain.station_config import DeviceEvent, SecurityEvent, VariableSource
from evcms.domain.stations import Site, Station, StationInfo
from evcms.services.clock import FixedClock
from evcms.services.ports import CommandOutcome, CommandReply, ServiceError
from evcms.services.remote_operations import RemoteOperations
from evcms.services.station_config import StationConfiguration
from evcms.station_gateway.operation_commands import OperationCommands, report_variables
from evcms.storage.memory import MemoryDatabase, MemoryStationRepository
from evcms.storage.operations import MemoryOperationRepository
from evcms.storage.station_config import MemoryStationConfigRepository

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class ScriptedStations:
    """Connected stations with their versions; answers come from ``answers`` per action (or
    Accepted); a station in ``held`` waits until ``release`` is set."""

    versions: dict[str, str] = field(default_factory=dict)
    answers: dict[str, CommandReply] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    most_in_flight: int = 0

    def is_connected(self, station_id: StationId) -> bool:
        return station_id in self.versions

    def version_of(self, station_id: StationId) -> str | None:
        return self.versions.get(station_id)

    async def call(
        self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> CommandReply:
        self.calls.append((station_id, action, payload))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            if station_id in self.held:
                await self.release.wait()
        finally:
            self.in_flight -= 1
        return self.answers.get(action, CommandReply(CommandOutcome.RESULT, {"status": "Accepted"}))


@dataclass
class Bus:
    published: list[Any] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.published.append(event)

    def subscribe(self, handler: Any) -> Any:
        return lambda: None


@dataclass
class World:
    ops: RemoteOperations
    stations: ScriptedStations
    bus: Bus
    config: StationConfiguration
    registered: MemoryStationRepository


@pytest.fixture
async def world() -> World:
    clock = FixedClock(T0)
    bus = Bus()
    stations = ScriptedStations(versions={"CP-16": "ocpp1.6", "CP-201": "ocpp2.0.1"})
    registered = MemoryStationRepository(MemoryDatabase())
    config = StationConfiguration(store=MemoryStationConfigRepository(), events=bus, clock=clock)
    ops = RemoteOperations(
        commands=stations,
        operations=MemoryOperationRepository(),
        translator=OperationCommands(),
        events=bus,
        clock=clock,
        configuration=config,
        stations=registered,
        bulk_concurrency=2,
    )
    return World(ops, stations, bus, config, registered)


async def test_a_neutral_operation_is_translated_sent_and_recorded(world: World) -> None:
    sent = await world.ops.send(StationId("CP-201"), Reset(ResetType.HARD, evse_id=1), requested_by="alice")
    assert world.stations.calls == [("CP-201", "Reset", {"type": "Immediate", "evseId": 1})]
    record = sent.record
    assert (record.action, record.operation, record.outcome, record.status) == (
        "Reset", "reset", OperationOutcome.RESULT, "Accepted",
    )
    assert record.requested_by == "alice" and record.request == {"type": "Immediate", "evseId": 1}
    assert await world.ops.get(record.id) == record
    (finished,) = [e for e in world.bus.published if isinstance(e, OperationFinished)]
    assert (finished.operation_id, finished.outcome, finished.status) == (record.id, "result", "Accepted")


async def test_recorded_as_pending_before_the_answer(world: World) -> None:
    world.stations.held.add("CP-16")
    task = asyncio.create_task(world.ops.send(StationId("CP-16"), ClearCache(), requested_by="bob"))
    await asyncio.sleep(0.05)
    (pending,) = await world.ops.list(OperationFilter(station_id="CP-16"))
    assert pending.outcome is OperationOutcome.PENDING and pending.finished_at is None
    world.stations.release.set()
    sent = await task
    assert sent.record.id == pending.id and sent.record.outcome is OperationOutcome.RESULT


async def test_not_connected_timeout_and_callerror_are_recorded(world: World) -> None:
    offline = await world.ops.send(StationId("CP-OFF"), ClearCache(), requested_by="x")
    assert offline.record.outcome is OperationOutcome.DISCONNECTED
    assert world.stations.calls == []
    world.stations.answers["UnlockConnector"] = CommandReply(CommandOutcome.TIMEOUT)
    late = await world.ops.send(StationId("CP-16"), UnlockConnector(1), requested_by="x")
    assert late.record.outcome is OperationOutcome.TIMEOUT
    world.stations.answers["ClearCache"] = CommandReply(CommandOutcome.ERROR, error_code="NotImplemented")
    refused = await world.ops.send(StationId("CP-16"), ClearCache(), requested_by="x")
    assert (refused.record.outcome, refused.record.error_code) == (OperationOutcome.ERROR, "NotImplemented")
    outcomes = [r.outcome.value for r in await world.ops.list(OperationFilter())]
    assert outcomes == ["error", "timeout", "disconnected"]


async def test_what_the_version_cannot_do_is_recorded_as_rejected_and_not_sent(world: World) -> None:
    sent = await world.ops.send(
        StationId("CP-16"), TriggerMessage(TriggerableMessage.TRANSACTION_EVENT), requested_by="x"
    )
    assert sent.record.outcome is OperationOutcome.REJECTED
    assert "OCPP 1.6 has no TriggerMessage for TransactionEvent" in (sent.record.error_description or "")
    assert world.stations.calls == []


async def test_invalid_neutral_parameters_are_refused_before_recording(world: World) -> None:
    with pytest.raises(ServiceError, match="evse_id") as caught:
        await world.ops.send(StationId("CP-16"), UnlockConnector(0), requested_by="x")
    assert caught.value.status == 422
    assert await world.ops.list(OperationFilter()) == []


async def test_version_specific_operations_check_the_version(world: World) -> None:
    with pytest.raises(ServiceError, match=re.escape("GetVariables is an OCPP 2.0.1 or OCPP 2.1 operation; station CP-16 speaks OCPP 1.6")):
        await world.ops.send_version_specific(StationId("CP-16"), "GetVariables", {}, requested_by="x")
    with pytest.raises(ServiceError, match=re.escape("GetConfiguration is an OCPP 1.6 operation; station CP-201 speaks OCPP 2.0.1")):
        await world.ops.send_version_specific(StationId("CP-201"), "GetConfiguration", {}, requested_by="x")
    sent = await world.ops.send_version_specific(
        StationId("CP-201"), "GetBaseReport", {"reportBase": "FullInventory"}, requested_by="x"
    )
    assert isinstance(sent.record.request["requestId"], int)
    assert world.stations.calls[-1][2]["requestId"] == sent.record.request["requestId"]


async def test_get_configuration_and_change_configuration_are_stored(world: World) -> None:
    world.stations.answers["GetConfiguration"] = CommandReply(
        CommandOutcome.RESULT,
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    )
    await world.ops.send_version_specific(StationId("CP-16"), "GetConfiguration", {}, requested_by="x")
    await world.ops.send_version_specific(
        StationId("CP-16"), "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, requested_by="x"
    )
    view = await world.config.configuration("CP-16")
    assert [(k.key, k.value) for k in view.keys] == [("HeartbeatInterval", "60")]
    assert view.reported_at == T0
    # the raw pass-through stores it too
    await world.ops.send_raw(StationId("CP-16"), "GetConfiguration", {}, requested_by="x")
    assert [(k.key, k.value) for k in (await world.config.configuration("CP-16")).keys] == [("HeartbeatInterval", "300")]
    assert len(await world.ops.list(OperationFilter(action="GetConfiguration"))) == 2


async def test_report_parts_fold_and_get_variables_keep_characteristics(world: World) -> None:
    data = [
        {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
            "variableAttribute": [{"value": "300", "mutability": "ReadWrite"}],
            "variableCharacteristics": {"dataType": "integer", "unit": "s", "supportsMonitoring": False},
        }
    ]
    first = await world.config.report_part("CP-201", request_id=5, seq_no=0, tbc=True, variables=report_variables(data, T0))
    assert not first.complete
    again = await world.config.report_part("CP-201", request_id=5, seq_no=0, tbc=True, variables=[])
    assert again.parts == 1  # the same part sent again
    done = await world.config.report_part("CP-201", request_id=5, seq_no=1, tbc=False, variables=[])
    assert done.complete and done.parts == 2
    world.stations.answers["GetVariables"] = CommandReply(
        CommandOutcome.RESULT,
        {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "120", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
    )
    sent = await world.ops.send_version_specific(
        StationId("CP-201"),
        "GetVariables",
        {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
        requested_by="x",
    )
    assert sent.record.status == "Accepted"
    (variable,) = (await world.config.configuration("CP-201")).variables
    assert variable.value == "120" and variable.source is VariableSource.GET
    assert variable.mutability == "ReadWrite"
    assert variable.characteristics is not None and variable.characteristics.unit == "s"


async def test_device_and_security_events_are_kept_and_published(world: World) -> None:
    await world.config.device_events([
        DeviceEvent("CP-201", 9, T0, "Alerting", "true", "ChargingStation", "Problem", T0, evse_id=1)
    ])
    await world.config.security_event(SecurityEvent("CP-201", "FirmwareUpdated", T0, T0, "v2"))
    assert [e.event_id for e in await world.config.events("CP-201")] == [9]
    kinds = [type(e) for e in world.bus.published]
    assert kinds == [DeviceEventReported, SecurityEventReported]
    assert world.bus.published[0].evse_id == 1 and world.bus.published[0].connector_id is None


async def _register(world: World, station_id: str, site: str | None, model: str) -> None:
    if site is not None and site not in world.registered.db.sites:
        world.registered.db.sites[SiteId(site)] = Site(SiteId(site), site)
    await world.registered.add(
        Station(
            id=StationId(station_id),
            created_at=T0,
            site_id=SiteId(site) if site else None,
            info=StationInfo(vendor="V", model=model),
        )
    )


async def test_bulk_runs_bounded_with_progress_and_a_result_per_station(world: World) -> None:
    for n in range(5):
        await _register(world, f"S-{n}", "north", "M1" if n < 4 else "M2")
        if n != 3:  # S-3 is offline
            world.stations.versions[f"S-{n}"] = "ocpp1.6" if n % 2 else "ocpp2.0.1"
    world.stations.held.update({"S-0", "S-1", "S-2", "S-4"})
    bulk = await world.ops.start_bulk(
        Reset(ResetType.SOFT), {"type": "Soft"}, BulkTarget(site_id="north", model="M1"), requested_by="ops"
    )
    assert bulk.station_ids == ("S-0", "S-1", "S-2", "S-3")
    await asyncio.sleep(0.05)
    _, progress = await world.ops.bulk(bulk.id)
    assert progress.total == 4 and progress.done < 4
    world.stations.release.set()
    await world.ops.wait_for_bulks()
    stored, progress = await world.ops.bulk(bulk.id)
    assert stored.finished_at == T0
    assert progress.done == 4
    assert progress.by_outcome == {"disconnected": 1, "result": 3}
    assert progress.results["S-3"] is not None and progress.results["S-3"].outcome is OperationOutcome.DISCONNECTED
    assert all(len(ids) == 1 for ids in progress.operations.values())
    assert world.stations.most_in_flight <= 2  # the configured concurrency
    sent = {(s, p["type"]) for s, _, p in world.stations.calls}
    assert sent == {("S-0", "OnIdle"), ("S-1", "Soft"), ("S-2", "OnIdle")}
    assert [b.id for b in await world.ops.bulks()] == [bulk.id]


async def test_bulk_target_must_match_something(world: World) -> None:
    with pytest.raises(ServiceError, match="unknown stations: NOPE"):
        await world.ops.start_bulk(ClearCache(), {}, BulkTarget(station_ids=("NOPE",)), requested_by="x")
    with pytest.raises(ServiceError, match="no station matches"):
        await world.ops.start_bulk(ClearCache(), {}, BulkTarget(model="Nothing"), requested_by="x")
