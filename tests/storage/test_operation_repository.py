"""The audit trail, bulk operations and stored station configuration: one contract on the memory
twins, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from evcms.domain.operations import (
    BulkOperation,
    NewOperation,
    OperationFilter,
    OperationOutcome,
    OperationResult,
)
from evcms.domain.station_config import (
    AttributeType,
    ConfigKey,
    DeviceEvent,
    DeviceReport,
    DeviceVariable,
    InboundDataTransfer,
    SecurityEvent,
    VariableCharacteristics,
    VariableKey,
    VariableMonitor,
    VariableSource,
)
from evcms.services.ports import NotFound
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.operations import MemoryOperationRepository, SqlOperationRepository
from evcms.storage.station_config import (
    MemoryStationConfigRepository,
    SqlStationConfigRepository,
)
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))


@dataclass
class Repos:
    operations: Any
    config: Any


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repos(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repos]:
    if request.param == "memory":
        yield Repos(MemoryOperationRepository(), MemoryStationConfigRepository())
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for found in _sql(url):
            yield found
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for found in _sql(url):
            yield found


async def _sql(url: str) -> AsyncIterator[Repos]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield Repos(SqlOperationRepository(engine, writer), SqlStationConfigRepository(engine, writer))
    finally:
        await writer.close()
        await engine.dispose()


def new(station: str = "CP-1", action: str = "Reset", by: str = "ops", **extra: Any) -> NewOperation:
    return NewOperation(
        station_id=station,
        action=action,
        request=extra.pop("request", {"type": "Soft"}),
        requested_by=by,
        requested_at=extra.pop("at", T0),
        **extra,
    )


# -- operations ------------------------------------------------------------------------------------


async def test_an_operation_is_pending_until_finished(repos: Repos) -> None:
    ops = repos.operations
    started = await ops.start(new(at=T0.astimezone(SOFIA), operation="reset", ocpp_version="ocpp1.6"))
    assert started.outcome is OperationOutcome.PENDING
    stored = await ops.get(started.id)
    assert stored == started
    assert stored.requested_at == T0 and stored.requested_at.tzinfo is not None
    assert stored.request == {"type": "Soft"}
    assert stored.finished_at is None

    done = await ops.finish(
        started.id,
        OperationResult(
            OperationOutcome.RESULT,
            T0 + timedelta(seconds=2),
            status="Accepted",
            response={"status": "Accepted", "statusInfo": {"reasonCode": "ok"}},
        ),
    )
    assert done.outcome is OperationOutcome.RESULT
    assert done.status == "Accepted"
    assert done.response == {"status": "Accepted", "statusInfo": {"reasonCode": "ok"}}
    assert done.finished_at == T0 + timedelta(seconds=2)
    assert await ops.get(started.id) == done
    # it ended once: a late second result changes nothing
    again = await ops.finish(started.id, OperationResult(OperationOutcome.TIMEOUT, T0 + timedelta(seconds=9)))
    assert again == done


async def test_errors_and_timeouts_are_kept(repos: Repos) -> None:
    ops = repos.operations
    a = await ops.start(new())
    b = await ops.start(new())
    await ops.finish(
        a.id,
        OperationResult(OperationOutcome.ERROR, T0, error_code="NotImplemented", error_description="no"),
    )
    await ops.finish(b.id, OperationResult(OperationOutcome.TIMEOUT, T0))
    assert (await ops.get(a.id)).error_code == "NotImplemented"
    assert (await ops.get(b.id)).outcome is OperationOutcome.TIMEOUT
    with pytest.raises(NotFound):
        await ops.finish(9999, OperationResult(OperationOutcome.RESULT, T0))
    assert await ops.get(9999) is None


async def test_list_filters_newest_first_with_paging(repos: Repos) -> None:
    ops = repos.operations
    ids = []
    for n in range(6):
        record = await ops.start(
            new(
                station=f"CP-{n % 2}",
                action="Reset" if n < 3 else "ClearCache",
                by="alice" if n % 3 else "bob",
                bulk_id=1 if n == 5 else None,
            )
        )
        ids.append(record.id)
    await ops.finish(ids[1], OperationResult(OperationOutcome.RESULT, T0))
    everything = await ops.list(OperationFilter())
    assert [r.id for r in everything] == sorted(ids, reverse=True)
    assert [r.id for r in await ops.list(OperationFilter(station_id="CP-1"))] == [ids[5], ids[3], ids[1]]
    assert [r.id for r in await ops.list(OperationFilter(action="ClearCache"))] == ids[5:2:-1]
    assert [r.id for r in await ops.list(OperationFilter(requested_by="bob"))] == [ids[3], ids[0]]
    assert [r.id for r in await ops.list(OperationFilter(outcome=OperationOutcome.RESULT))] == [ids[1]]
    assert [r.id for r in await ops.list(OperationFilter(bulk_id=1))] == [ids[5]]
    page = await ops.list(OperationFilter(), limit=2)
    assert [r.id for r in page] == [ids[5], ids[4]]
    rest = await ops.list(OperationFilter(), limit=10, before_id=page[-1].id)
    assert [r.id for r in rest] == [ids[3], ids[2], ids[1], ids[0]]


async def test_bulk_operations(repos: Repos) -> None:
    ops = repos.operations
    bulk = await ops.add_bulk(
        BulkOperation(
            id=0,
            operation="reset",
            params={"type": "Hard"},
            target={"site_id": "s1"},
            station_ids=("CP-1", "CP-2"),
            requested_by="ops",
            requested_at=T0,
        )
    )
    assert bulk.id > 0
    second = await ops.add_bulk(
        BulkOperation(0, "clear_cache", {}, {"model": "M"}, ("CP-3",), "ops", T0)
    )
    assert await ops.get_bulk(bulk.id) == bulk
    assert await ops.get_bulk(4242) is None
    await ops.finish_bulk(bulk.id, T0 + timedelta(minutes=1))
    finished = await ops.get_bulk(bulk.id)
    assert finished.finished_at == T0 + timedelta(minutes=1)
    assert finished.station_ids == ("CP-1", "CP-2") and finished.params == {"type": "Hard"}
    assert [b.id for b in await ops.list_bulk()] == [second.id, bulk.id]
    assert [b.id for b in await ops.list_bulk(before_id=second.id)] == [bulk.id]


async def test_interrupting_ends_what_is_pending_and_nothing_else(repos: Repos) -> None:
    ops = repos.operations
    answered = await ops.start(new())
    await ops.finish(answered.id, OperationResult(OperationOutcome.RESULT, T0, status="Accepted"))
    pending = [await ops.start(new(station=f"CP-{n}")) for n in range(3)]
    running = await ops.add_bulk(BulkOperation(0, "reset", {}, {}, ("CP-1",), "ops", T0))
    later = T0 + timedelta(hours=1)
    result = OperationResult(
        OperationOutcome.DISCONNECTED, later, error_description="evcms stopped before the answer"
    )
    assert await ops.interrupt(result) == 3
    for record in pending:
        stored = await ops.get(record.id)
        assert stored.outcome is OperationOutcome.DISCONNECTED
        assert stored.finished_at == later
        assert stored.error_description == "evcms stopped before the answer"
    assert (await ops.get(answered.id)).outcome is OperationOutcome.RESULT
    assert (await ops.get_bulk(running.id)).finished_at == later
    assert await ops.interrupt(result) == 0


# -- configuration -------------------------------------------------------------------------------


async def test_config_keys_are_upserted(repos: Repos) -> None:
    config = repos.config
    await config.save_keys("CP-1", [ConfigKey("B", "1", False, T0), ConfigKey("A", None, True, T0)])
    await config.save_keys("CP-1", [ConfigKey("B", "2", False, T0 + timedelta(seconds=5))])
    await config.save_keys("CP-2", [ConfigKey("B", "9", False, T0)])
    assert await config.keys("CP-1") == [
        ConfigKey("A", None, True, T0),
        ConfigKey("B", "2", False, T0 + timedelta(seconds=5)),
    ]


def var(component: str, variable: str, value: str | None, **extra: Any) -> DeviceVariable:
    key = VariableKey(component, variable, **extra.pop("key", {}))
    return DeviceVariable(key, value, extra.pop("at", T0), extra.pop("source", VariableSource.REPORT), **extra)


async def test_device_variables_and_reports(repos: Repos) -> None:
    config = repos.config
    chars = VariableCharacteristics(data_type="integer", unit="s", min_limit="1", max_limit="3600", supports_monitoring=True)
    report = DeviceReport("CP-1", 77, 1, 0, False, 2, T0, T0, generated_at=T0)
    first = [
        var("OCPPCommCtrlr", "HeartbeatInterval", "300", mutability="ReadWrite", characteristics=chars),
        var("EVSE", "Power", "0", key={"evse_id": 1, "attribute_type": AttributeType.MAX_SET}),
    ]
    await config.save_report(report, first)
    assert await config.report("CP-1", 77) == report
    assert await config.report("CP-1", 78) is None
    done = DeviceReport("CP-1", 77, 2, 1, True, 3, T0, T0 + timedelta(seconds=1), generated_at=T0)
    await config.save_report(done, [var("EVSE", "Power", "11000", key={"evse_id": 1, "attribute_type": AttributeType.MAX_SET})])
    assert await config.reports("CP-1") == [done]
    found = await config.variables("CP-1")
    assert [(v.key.component, v.key.evse_id, v.value) for v in found] == [
        ("EVSE", 1, "11000"),
        ("OCPPCommCtrlr", 0, "300"),
    ]
    assert found[1].characteristics == chars
    assert found[1].mutability == "ReadWrite"
    assert found[0].characteristics is None
    await config.save_variables("CP-1", [var("OCPPCommCtrlr", "HeartbeatInterval", "60", source=VariableSource.SET, mutability="ReadWrite", characteristics=chars)])
    changed = {v.key.variable: v for v in await config.variables("CP-1")}["HeartbeatInterval"]
    assert changed.value == "60" and changed.source is VariableSource.SET
    assert await config.variables("CP-2") == []


async def test_monitors(repos: Repos) -> None:
    config = repos.config
    monitor = VariableMonitor(3, "EVSE", "Power", "UpperThreshold", "22000", 4, False, T0, evse_id=1)
    other = VariableMonitor(5, "ChargingStation", "Problem", "Delta", "1", 1, True, T0)
    await config.save_monitors("CP-1", [monitor, other])
    assert await config.monitors("CP-1") == [monitor, other]
    await config.delete_monitors("CP-1", [3, 99])
    assert await config.monitors("CP-1") == [other]


async def test_events_security_events_and_data_transfers(repos: Repos) -> None:
    config = repos.config
    event = DeviceEvent(
        station_id="CP-1", event_id=1, at=T0, trigger="Alerting", actual_value="true",
        component="ChargingStation", variable="Problem", received_at=T0, tech_code="E1",
        variable_monitoring_id=5, event_notification_type="CustomMonitor",
    )
    stored = await config.add_events([event, DeviceEvent(**{**_fields(event), "event_id": 2, "cleared": True})])
    assert [e.event_id for e in stored] == [1, 2] and all(e.id for e in stored)
    listed = await config.events("CP-1")
    assert [e.event_id for e in listed] == [2, 1]
    assert listed[1].tech_code == "E1" and listed[0].cleared
    assert [e.event_id for e in await config.events("CP-1", limit=1, before_id=listed[0].id)] == [1]

    security = await config.add_security_event(SecurityEvent("CP-1", "FirmwareUpdated", T0, T0, "v2"))
    assert security.id
    assert await config.security_events("CP-1") == [security]
    assert await config.security_events("CP-2") == []

    transfer = await config.add_data_transfer(
        InboundDataTransfer("CP-1", "com.example", T0, "UnknownVendorId", "hello", {"a": [1]})
    )
    assert (await config.data_transfers("CP-1")) == [transfer]
    assert transfer.data == {"a": [1]}


def _fields(event: DeviceEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in DeviceEvent.__dataclass_fields__}
