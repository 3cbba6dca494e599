"""Operation records, normalised statuses, neutral operation rules and bulk progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.operations import (
    ChangeAvailability,
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    GetCompositeSchedule,
    InvalidOperation,
    OperationOutcome,
    OperationRecord,
    OperationResult,
    RecurrencyKind,
    SchedulePeriod,
    SetChargingProfile,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
    bulk_progress,
    check_operation,
    finish,
    normalised_status,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(id: int, station: str, outcome: OperationOutcome = OperationOutcome.PENDING, status: str | None = None) -> OperationRecord:
    return OperationRecord(id, station, "Reset", {}, "ops", T0, outcome=outcome, status=status)


@pytest.mark.parametrize(
    ("action", "response", "expected"),
    [
        ("Reset", {"status": "Rejected"}, "Rejected"),
        ("Reset", None, None),
        ("GetVariables", {"getVariableResult": [{"attributeStatus": "Accepted"}] * 2}, "Accepted"),
        ("GetVariables", {"getVariableResult": [{"attributeStatus": "UnknownVariable"}] * 2}, "UnknownVariable"),
        ("SetVariables", {"setVariableResult": [{"attributeStatus": "Accepted"}, {"attributeStatus": "Rejected"}]}, "PartiallyAccepted"),
        ("SetVariables", {"setVariableResult": [{"attributeStatus": "UnknownComponent"}, {"attributeStatus": "Rejected"}]}, "Rejected"),
        ("SetVariableMonitoring", {"setMonitoringResult": [{"status": "Accepted"}]}, "Accepted"),
        ("GetConfiguration", {"configurationKey": [{"key": "A"}], "unknownKey": ["B"]}, "Accepted"),
        ("GetConfiguration", {"unknownKey": ["B"]}, "Rejected"),
        ("GetConfiguration", {}, "Accepted"),
        ("GetTransactionStatus", {"messagesInQueue": False}, "Accepted"),
        ("GetLocalListVersion", {"listVersion": 3}, None),
    ],
)
def test_normalised_status(action: str, response: dict | None, expected: str | None) -> None:
    assert normalised_status(action, response) == expected


def test_a_record_finishes_once() -> None:
    pending = record(1, "CP")
    done = finish(pending, OperationResult(OperationOutcome.TIMEOUT, T0 + timedelta(seconds=30)))
    assert done.outcome is OperationOutcome.TIMEOUT and done.finished
    assert finish(done, OperationResult(OperationOutcome.RESULT, T0, status="Accepted")) == done


def schedule(*periods: tuple[int, str], start: datetime | None = None) -> ChargingSchedule:
    return ChargingSchedule(ChargingRateUnit.WATTS, tuple(SchedulePeriod(o, Decimal(lim)) for o, lim in periods), start=start)


def profile(**changes: object) -> ChargingProfile:
    values: dict[str, object] = {
        "id": 1,
        "stack_level": 0,
        "purpose": ChargingProfilePurpose.TX_DEFAULT,
        "kind": ChargingProfileKind.ABSOLUTE,
        "schedule": schedule((0, "11000")),
    }
    values.update(changes)
    return ChargingProfile(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (ChangeAvailability(True, None, 1), "connector_id needs the evse_id"),
        (TriggerMessage(TriggerableMessage.STATUS_NOTIFICATION, None, 1), "connector_id needs the evse_id"),
        (UnlockConnector(0), "1 or more"),
        (GetCompositeSchedule(1, 0), "at least one second"),
        (SetChargingProfile(profile(schedule=schedule((10, "1")))), "start at offset 0"),
        (SetChargingProfile(profile(schedule=schedule((0, "1"), (0, "2")))), "increasing"),
        (SetChargingProfile(profile(schedule=schedule((0, "-1")))), "negative"),
        (SetChargingProfile(profile(kind=ChargingProfileKind.RECURRING)), "recurrency"),
        (SetChargingProfile(profile(recurrency=RecurrencyKind.DAILY)), "recurrency"),
        (SetChargingProfile(profile(kind=ChargingProfileKind.RECURRING, recurrency=RecurrencyKind.DAILY)), "start"),
        (SetChargingProfile(profile(transaction_id="1")), "only a TxProfile"),
        (SetChargingProfile(profile(purpose=ChargingProfilePurpose.EXTERNAL_CONSTRAINTS)), "set by the station"),
        (SetChargingProfile(profile(valid_from=T0, valid_to=T0)), "valid_to"),
        (SetChargingProfile(profile(purpose=ChargingProfilePurpose.TX), evse_id=0), "TxProfile is set on an EVSE"),
        (SetChargingProfile(profile(purpose=ChargingProfilePurpose.STATION_MAX), evse_id=1), "evse_id 0"),
    ],
)
def test_operations_that_make_no_sense_are_refused(operation: object, message: str) -> None:
    with pytest.raises(InvalidOperation, match=message):
        check_operation(operation)  # type: ignore[arg-type]


def test_sensible_operations_pass() -> None:
    ok = SetChargingProfile(
        profile(kind=ChargingProfileKind.RECURRING, recurrency=RecurrencyKind.WEEKLY, schedule=schedule((0, "1"), (60, "2"), start=T0)),
        evse_id=1,
    )
    assert check_operation(ok) is ok


def test_bulk_progress_counts_the_latest_record_per_station() -> None:
    records = [
        record(1, "A", OperationOutcome.RESULT, "Accepted"),
        record(2, "B", OperationOutcome.DISCONNECTED),
        record(3, "C"),  # still waiting
        record(4, "B", OperationOutcome.RESULT, "Rejected"),  # tried again
    ]
    progress = bulk_progress(["A", "B", "C", "D"], records)
    assert (progress.total, progress.done, progress.complete) == (4, 2, False)
    assert progress.by_outcome == {"result": 2}
    assert progress.by_status == {"Accepted": 1, "Rejected": 1}
    assert progress.operations == {"A": [1], "B": [2, 4], "C": [3], "D": []}
    assert progress.results["D"] is None and progress.results["B"] is not None


@given(st.lists(st.sampled_from(list(OperationOutcome)), max_size=30))
def test_bulk_progress_done_never_exceeds_total(outcomes: list[OperationOutcome]) -> None:
    stations = [f"S{i}" for i in range(len(outcomes))]
    progress = bulk_progress(stations, [record(i + 1, s, o) for i, (s, o) in enumerate(zip(stations, outcomes, strict=True))])
    assert progress.done == sum(1 for o in outcomes if o is not OperationOutcome.PENDING)
    assert sum(progress.by_outcome.values()) == progress.done <= progress.total
    assert progress.complete == (OperationOutcome.PENDING not in outcomes)
