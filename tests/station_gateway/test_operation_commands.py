"""Neutral operations -> each version's call: every payload produced is valid against the
official schema, and what a version cannot do is refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
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
    ClearCache,
    ClearChargingProfile,
    DataTransfer,
    GetCompositeSchedule,
    NeutralOperation,
    RecurrencyKind,
    Reset,
    ResetType,
    SchedulePeriod,
    SetChargingProfile,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from evcms.domain.station_config import AttributeType, VariableSource
from evcms.ocpp import schemas
from evcms.ocpp.versions import OcppVersion
from evcms.services.remote_operations import NotForThisVersion
from evcms.station_gateway.operation_commands import OperationCommands, report_variables

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
commands = OperationCommands()


def profile(purpose: ChargingProfilePurpose = ChargingProfilePurpose.TX_DEFAULT, **extra: object) -> ChargingProfile:
    values: dict[str, object] = {
        "id": 7,
        "stack_level": 1,
        "purpose": purpose,
        "kind": ChargingProfileKind.ABSOLUTE,
        "schedule": ChargingSchedule(
            unit=ChargingRateUnit.AMPERES,
            periods=(
                SchedulePeriod(0, Decimal("16")),
                SchedulePeriod(1800, Decimal("7.5"), 1),
            ),
            start=T0,
            duration=3600,
            min_rate=Decimal("6.1"),
        ),
        "valid_from": T0,
        "valid_to": datetime(2026, 6, 1, tzinfo=UTC),
    }
    values.update(extra)
    return ChargingProfile(**values)  # type: ignore[arg-type]


EVERY_VERSION: list[NeutralOperation] = [
    Reset(ResetType.SOFT),
    Reset(ResetType.HARD),
    Reset(ResetType.IMMEDIATE),
    Reset(ResetType.ON_IDLE),
    ChangeAvailability(operative=False),
    ChangeAvailability(operative=True, evse_id=2),
    UnlockConnector(evse_id=1),
    *(TriggerMessage(m) for m in list(TriggerableMessage)[:7]),
    TriggerMessage(TriggerableMessage.STATUS_NOTIFICATION, evse_id=1),
    ClearCache(),
    DataTransfer("com.example"),
    DataTransfer("com.example", "hello", "text"),
    DataTransfer("com.example", "structured", {"a": [1, 2]}),
    SetChargingProfile(profile(), evse_id=0),
    SetChargingProfile(profile(ChargingProfilePurpose.TX, transaction_id="42"), evse_id=1),
    SetChargingProfile(profile(ChargingProfilePurpose.STATION_MAX), evse_id=0),
    SetChargingProfile(
        profile(kind=ChargingProfileKind.RECURRING, recurrency=RecurrencyKind.DAILY), evse_id=1
    ),
    ClearChargingProfile(),
    ClearChargingProfile(profile_id=7),
    ClearChargingProfile(evse_id=1, purpose=ChargingProfilePurpose.TX_DEFAULT, stack_level=1),
    GetCompositeSchedule(evse_id=1, duration=3600),
    GetCompositeSchedule(evse_id=0, duration=60, unit=ChargingRateUnit.WATTS),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("operation", EVERY_VERSION, ids=repr)
def test_every_payload_is_schema_valid(version: str, operation: NeutralOperation) -> None:
    request = commands.to_ocpp(version, operation)
    assert request.action == operation.action
    schemas.validate(OcppVersion(version), request.action, "request", request.payload)


@pytest.mark.parametrize(
    ("operation", "v16", "v201"),
    [
        (Reset(ResetType.HARD), {"type": "Hard"}, {"type": "Immediate"}),
        (Reset(ResetType.ON_IDLE), {"type": "Soft"}, {"type": "OnIdle"}),
        (
            ChangeAvailability(operative=False, evse_id=2),
            {"connectorId": 2, "type": "Inoperative"},
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
        ),
        (
            ChangeAvailability(operative=True),
            {"connectorId": 0, "type": "Operative"},
            {"operationalStatus": "Operative"},
        ),
        (UnlockConnector(2), {"connectorId": 2}, {"evseId": 2, "connectorId": 1}),
        (
            TriggerMessage(TriggerableMessage.LOG_STATUS_NOTIFICATION),
            {"requestedMessage": "DiagnosticsStatusNotification"},
            {"requestedMessage": "LogStatusNotification"},
        ),
        (
            TriggerMessage(TriggerableMessage.STATUS_NOTIFICATION, evse_id=1, connector_id=1),
            None,
            {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        ),
        (
            DataTransfer("v", "m", {"x": 1}),
            {"vendorId": "v", "messageId": "m", "data": '{"x": 1}'},
            {"vendorId": "v", "messageId": "m", "data": {"x": 1}},
        ),
        (
            ClearChargingProfile(profile_id=3, evse_id=1),
            {"id": 3, "connectorId": 1},
            {"chargingProfileId": 3, "chargingProfileCriteria": {"evseId": 1}},
        ),
        (
            GetCompositeSchedule(1, 600, ChargingRateUnit.WATTS),
            {"connectorId": 1, "duration": 600, "chargingRateUnit": "W"},
            {"evseId": 1, "duration": 600, "chargingRateUnit": "W"},
        ),
    ],
)
def test_translation_table(
    operation: NeutralOperation, v16: dict[str, object] | None, v201: dict[str, object]
) -> None:
    if v16 is not None:
        assert commands.to_ocpp("ocpp1.6", operation).payload == v16
    assert commands.to_ocpp("ocpp2.0.1", operation).payload == v201


def test_charging_profile_per_version() -> None:
    op = SetChargingProfile(profile(ChargingProfilePurpose.STATION_MAX), evse_id=0)
    v16 = commands.to_ocpp("ocpp1.6", op).payload
    assert v16 == {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Absolute",
            "validFrom": "2026-05-01T08:00:00.000Z",
            "validTo": "2026-06-01T00:00:00.000Z",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "duration": 3600,
                "startSchedule": "2026-05-01T08:00:00.000Z",
                "minChargingRate": 6.1,
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 16},
                    {"startPeriod": 1800, "limit": 7.5, "numberPhases": 1},  # 1.6's name
                ],
            },
        },
    }
    v201 = commands.to_ocpp("ocpp2.0.1", op).payload
    assert v201["evseId"] == 0
    assert v201["chargingProfile"]["id"] == 7
    assert v201["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    (schedule,) = v201["chargingProfile"]["chargingSchedule"]
    assert schedule["id"] == 7  # the profile's id unless given
    assert schedule["chargingSchedulePeriod"][1] == {
        "startPeriod": 1800,
        "limit": 7.5,
        "numberPhases": 1,
    }


@pytest.mark.parametrize(
    ("operation", "why"),
    [
        (Reset(ResetType.SOFT, evse_id=1), "reset of one EVSE"),
        (ChangeAvailability(operative=True, evse_id=1, connector_id=2), "connectors"),
        (UnlockConnector(1, 2), "connectors"),
        (TriggerMessage(TriggerableMessage.TRANSACTION_EVENT), "TransactionEvent"),
        (TriggerMessage(TriggerableMessage.SIGN_V2G_CERTIFICATE), "SignV2GCertificate"),
        (SetChargingProfile(profile(ChargingProfilePurpose.TX, transaction_id="abc"), 1), "abc"),
    ],
)
def test_what_16_cannot_do_is_refused_with_the_reason(operation: NeutralOperation, why: str) -> None:
    with pytest.raises(NotForThisVersion, match=why):
        commands.to_ocpp("ocpp1.6", operation)


@given(
    limits=st.lists(
        st.decimals(min_value=0, max_value=100_000, places=1, allow_nan=False), min_size=1, max_size=5
    ),
    version=st.sampled_from(VERSIONS),
)
def test_any_one_decimal_limit_is_schema_valid(limits: list[Decimal], version: str) -> None:
    periods = tuple(SchedulePeriod(i * 60, limit) for i, limit in enumerate(limits))
    op = SetChargingProfile(
        profile(schedule=ChargingSchedule(ChargingRateUnit.WATTS, periods)), evse_id=1
    )
    request = commands.to_ocpp(version, op)
    schemas.validate(OcppVersion(version), request.action, "request", request.payload)


# -- answers back: status and configuration -----------------------------------------------------


def test_status_is_normalised() -> None:
    assert commands.status_of("Reset", {"status": "Accepted"}) == "Accepted"
    assert commands.status_of(
        "GetVariables",
        {"getVariableResult": [{"attributeStatus": "Accepted"}, {"attributeStatus": "UnknownVariable"}]},
    ) == "PartiallyAccepted"
    assert commands.status_of("GetConfiguration", {"configurationKey": [], "unknownKey": ["X"]}) == "Rejected"
    assert commands.status_of("GetConfiguration", {"configurationKey": [{"key": "A", "readonly": True}]}) == "Accepted"


def test_get_configuration_answer_becomes_keys() -> None:
    harvest = commands.configuration_of(
        "ocpp1.6",
        "GetConfiguration",
        {},
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "Empty", "readonly": False},
            ]
        },
        T0,
    )
    assert [(k.key, k.value, k.readonly) for k in harvest.keys] == [
        ("HeartbeatInterval", "300", False),
        ("NumberOfConnectors", "2", True),
        ("Empty", None, False),
    ]


def test_change_configuration_counts_only_when_accepted() -> None:
    request = {"key": "HeartbeatInterval", "value": "60"}
    accepted = commands.configuration_of("ocpp1.6", "ChangeConfiguration", request, {"status": "Accepted"}, T0)
    assert [(k.key, k.value) for k in accepted.keys] == [("HeartbeatInterval", "60")]
    rejected = commands.configuration_of("ocpp1.6", "ChangeConfiguration", request, {"status": "Rejected"}, T0)
    assert not rejected


def test_set_variables_stores_the_accepted_values() -> None:
    request = {
        "setVariableData": [
            {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"attributeValue": "x", "component": {"name": "Foo"}, "variable": {"name": "Bar"}},
        ]
    }
    response = {
        "setVariableResult": [
            {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"attributeStatus": "UnknownComponent", "component": {"name": "Foo"}, "variable": {"name": "Bar"}},
        ]
    }
    harvest = commands.configuration_of("ocpp2.0.1", "SetVariables", request, response, T0)
    assert [(v.key.component, v.key.variable, v.value, v.source) for v in harvest.variables] == [
        ("OCPPCommCtrlr", "HeartbeatInterval", "60", VariableSource.SET)
    ]


def test_notify_report_data_becomes_variables() -> None:
    found = report_variables(
        [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "variableAttribute": [
                    {"type": "Actual", "value": "0", "mutability": "ReadOnly"},
                    {"type": "MaxSet", "value": "22000"},
                ],
                "variableCharacteristics": {"dataType": "decimal", "unit": "W", "maxLimit": 22000.0, "supportsMonitoring": True},
            }
        ],
        T0,
    )
    assert [(v.key.evse_id, v.key.attribute_type, v.value) for v in found] == [
        (1, AttributeType.ACTUAL, "0"),
        (1, AttributeType.MAX_SET, "22000"),
    ]
    assert found[0].characteristics is not None
    assert found[0].characteristics.unit == "W"
    assert found[0].characteristics.max_limit == "22000"
    assert found[0].mutability == "ReadOnly"
