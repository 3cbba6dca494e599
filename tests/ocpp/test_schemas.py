"""Schema validation against the official OCA schemas bundled in the ``ocpp`` package."""

from __future__ import annotations

from typing import Any

import pytest

from evcms.ocpp import (
    FaultKind,
    OcppError,
    OcppVersion,
    SchemaRegistry,
    actions,
    csms_actions,
    send_actions,
    station_actions,
    validate,
    validator,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21


def test_action_counts_match_the_bundled_schemas() -> None:
    assert len(actions(V16)) == 39  # 1.6 core + security extension
    assert len(actions(V201)) == 64
    assert len(actions(V21)) == 90
    assert send_actions(V16) == send_actions(V201) == frozenset()
    assert send_actions(V21) == {"NotifyPeriodicEventStream"}


@pytest.mark.parametrize("version", list(OcppVersion))
def test_directions_cover_every_action_exactly(version: OcppVersion) -> None:
    every = actions(version) | send_actions(version)
    assert station_actions(version) | csms_actions(version) == every
    assert station_actions(version) & csms_actions(version) == {"DataTransfer"}


def test_some_directions() -> None:
    assert "BootNotification" in station_actions(V16)
    assert "Reset" in csms_actions(V16) and "Reset" not in station_actions(V16)
    assert "TransactionEvent" in station_actions(V201)
    assert "RequestStartTransaction" in csms_actions(V21)
    assert "NotifyPeriodicEventStream" in station_actions(V21)


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_schema_of_every_version_compiles(version: OcppVersion) -> None:
    registry = SchemaRegistry()  # fresh: really compiles everything here
    compiled = registry.warm_up([version])
    expected = 2 * len(registry.actions(version)) + len(registry.send_actions(version))
    assert compiled == expected
    schemas = registry.for_version(version)
    for action in schemas.actions:
        assert callable(schemas.validator(action, "request"))
        assert callable(schemas.validator(action, "response"))


def test_validators_are_cached() -> None:
    assert validator(V16, "Heartbeat", "request") is validator(V16, "Heartbeat", "request")
    assert validator(V16, "Heartbeat", "request") is not validator(V16, "Heartbeat", "response")


def test_unknown_action_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        validator(V16, "TransactionEvent", "request")
    with pytest.raises(KeyError):
        validator(V21, "NotifyPeriodicEventStream", "response")


def test_validation_does_not_fill_in_defaults() -> None:
    payload: dict[str, Any] = {
        "evseId": 1,
        "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": 1.5}]}],
    }
    validate(V201, "MeterValues", "request", payload)
    assert payload["meterValue"][0]["sampledValue"][0] == {"value": 1.5}


BOOT_16 = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}
BOOT_2X = {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "Vendor"}}


def _status_16(timestamp: str) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": timestamp,
    }


def _status_2x(timestamp: str) -> dict[str, Any]:
    return {"timestamp": timestamp, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}


def _boot_2x(**changes: Any) -> dict[str, Any]:
    station: dict[str, Any] = {"model": "Model", "vendorName": "Vendor"}
    station.update(changes.pop("station", {}))
    payload = {"reason": "PowerUp", "chargingStation": station}
    payload.update(changes)
    return payload


# (version, action, payload, kind, code, words the description must contain)
VIOLATIONS: list[tuple[OcppVersion, str, dict[str, Any], FaultKind, str, str]] = [
    # --- 1.6
    (
        V16,
        "BootNotification",
        {"chargePointVendor": "V"},
        FaultKind.MISSING_PROPERTY,
        "OccurenceConstraintViolation",
        "chargePointModel is required",
    ),
    (
        V16,
        "BootNotification",
        {**BOOT_16, "chargePointVendor": 12},
        FaultKind.WRONG_TYPE,
        "TypeConstraintViolation",
        "chargePointVendor must be string",
    ),
    (
        V16,
        "StatusNotification",
        {**_status_16("2024-01-01T00:00:00Z"), "status": "Bogus"},
        FaultKind.BAD_VALUE,
        "PropertyConstraintViolation",
        "status must be one of",
    ),
    (
        V16,
        "BootNotification",
        {**BOOT_16, "chargePointVendor": "x" * 21},
        FaultKind.BAD_VALUE,
        "PropertyConstraintViolation",
        "chargePointVendor must be at most 20 characters",
    ),
    (
        V16,
        "BootNotification",
        {**BOOT_16, "colour": "red"},
        FaultKind.UNEXPECTED_PROPERTY,
        "FormationViolation",
        "unexpected property colour",
    ),
    (
        V16,
        "StatusNotification",
        _status_16("yesterday"),
        FaultKind.BAD_VALUE,
        "PropertyConstraintViolation",
        "timestamp must be a date-time",
    ),
    (
        V16,
        "MeterValues",
        {"connectorId": 1, "meterValue": []},
        FaultKind.OCCURRENCE,
        "OccurenceConstraintViolation",
        "meterValue",
    ),
    # --- 2.0.1 and 2.1
    *[
        row
        for version in (V201, V21)
        for row in [
            (
                version,
                "BootNotification",
                {"reason": "PowerUp", "chargingStation": {"vendorName": "V"}},
                FaultKind.MISSING_PROPERTY,
                "OccurrenceConstraintViolation",
                "chargingStation.model is required",
            ),
            (
                version,
                "BootNotification",
                _boot_2x(station={"model": 5}),
                FaultKind.WRONG_TYPE,
                "TypeConstraintViolation",
                "chargingStation.model must be string",
            ),
            (
                version,
                "BootNotification",
                _boot_2x(reason="Bogus"),
                FaultKind.BAD_VALUE,
                "PropertyConstraintViolation",
                "reason must be one of",
            ),
            (
                version,
                "BootNotification",
                _boot_2x(station={"model": "m" * 21}),
                FaultKind.BAD_VALUE,
                "PropertyConstraintViolation",
                "chargingStation.model must be at most 20 characters",
            ),
            (
                version,
                "BootNotification",
                _boot_2x(colour="red"),
                FaultKind.UNEXPECTED_PROPERTY,
                "FormatViolation",
                "unexpected property colour",
            ),
            (
                version,
                "StatusNotification",
                _status_2x("2024-01-01 10:00:00"),
                FaultKind.BAD_VALUE,
                "PropertyConstraintViolation",
                "timestamp must be a date-time",
            ),
        ]
    ],
]


@pytest.mark.parametrize(
    ("version", "action", "payload", "kind", "code", "words"),
    VIOLATIONS,
    ids=[f"{r[0].value}-{r[1]}-{r[3].value}" for r in VIOLATIONS],
)
def test_violation_classes(
    version: OcppVersion,
    action: str,
    payload: dict[str, Any],
    kind: FaultKind,
    code: str,
    words: str,
) -> None:
    with pytest.raises(OcppError) as info:
        validate(version, action, "request", payload)
    assert info.value.kind is kind
    assert info.value.code(version) == code
    assert words in info.value.description
    assert info.value.description.startswith(f"{action} request: ")
    assert info.value.details["property"]


def test_valid_payloads_pass() -> None:
    validate(V16, "BootNotification", "request", BOOT_16)
    validate(V201, "BootNotification", "request", BOOT_2X)
    validate(V21, "BootNotification", "request", BOOT_2X)
    validate(V16, "Heartbeat", "request", {})
    validate(
        V16,
        "BootNotification",
        "response",
        {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300},
    )


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-01-01T12:00:00Z",
        "2024-01-01T12:00:00.123Z",
        "2024-01-01T12:00:00.123456789Z",
        "2024-01-01T12:00:00+02:00",
        "2024-01-01T12:00:00-05:30",
        "2024-01-01T12:00:00.5+0200",
        "2024-01-01t12:00:00z",
        "2016-12-31T23:59:60Z",
    ],
)
@pytest.mark.parametrize("version", list(OcppVersion))
def test_date_time_forms_stations_send_are_accepted(version: OcppVersion, timestamp: str) -> None:
    payload = _status_16(timestamp) if version is V16 else _status_2x(timestamp)
    validate(version, "StatusNotification", "request", payload)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-01-01T12:00:00",  # no offset: local time is ambiguous
        "2024-01-01 12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-01-32T12:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T12:00:00Z\n",
        "2024-01-01",
        "",
    ],
)
@pytest.mark.parametrize("version", list(OcppVersion))
def test_bad_date_times_are_rejected(version: OcppVersion, timestamp: str) -> None:
    payload = _status_16(timestamp) if version is V16 else _status_2x(timestamp)
    with pytest.raises(OcppError) as info:
        validate(version, "StatusNotification", "request", payload)
    assert info.value.kind is FaultKind.BAD_VALUE
    assert info.value.code(version) == "PropertyConstraintViolation"


def test_nested_paths_are_named() -> None:
    payload = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "2024-01-01T00:00:00Z",
                "sampledValue": [{"value": 1}, {"value": 2, "measurand": "Bogus"}],
            }
        ],
    }
    with pytest.raises(OcppError) as info:
        validate(V201, "MeterValues", "request", payload)
    assert "meterValue[0].sampledValue[1].measurand must be one of" in info.value.description
    assert info.value.details == {
        "property": "meterValue[0].sampledValue[1].measurand",
        "constraint": "enum",
    }


def test_boolean_is_not_an_integer() -> None:
    with pytest.raises(OcppError) as info:
        validate(
            V16,
            "StatusNotification",
            "request",
            {**_status_16("2024-01-01T00:00:00Z"), "connectorId": True},
        )
    assert info.value.kind is FaultKind.WRONG_TYPE
