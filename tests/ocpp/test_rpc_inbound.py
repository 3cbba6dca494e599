"""RpcSession: inbound frames (pure text in, frames and events out)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcms.ocpp import (
    CallReceived,
    FaultKind,
    OcppError,
    OcppVersion,
    OutboundValidationError,
    ProtocolViolation,
    Role,
    RpcSession,
    UnknownCallError,
    actions,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
ALL = list(OcppVersion)

BOOT: dict[OcppVersion, dict[str, Any]] = {
    V16: {"chargePointVendor": "Vendor", "chargePointModel": "Model"},
    V201: {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "Vendor"}},
    V21: {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "Vendor"}},
}
BOOT_RESPONSE = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}
BOOT_RESPONSE_16 = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}


def csms(version: OcppVersion, **kwargs: Any) -> RpcSession:
    return RpcSession(version, Role.CSMS, **kwargs)


def call(uid: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([2, uid, action, payload]).decode()


def only_frame(session: RpcSession) -> list[Any]:
    frames = session.data_to_send()
    assert len(frames) == 1, frames
    decoded: list[Any] = orjson.loads(frames[0])
    return decoded


def assert_call_error(session: RpcSession, uid: str, code: str) -> list[Any]:
    frame = only_frame(session)
    assert frame[0] == 4
    assert frame[1] == uid
    assert frame[2] == code
    assert isinstance(frame[3], str) and frame[3]
    assert len(frame[3]) <= 255
    assert isinstance(frame[4], dict)
    return frame


# --------------------------------------------------------------------- framing errors

FRAMING = [
    # text, uid in answer, code 1.6, code 2.0.1/2.1
    ("not json at all", "-1", "FormationViolation", "RpcFrameworkError"),
    ('[2,"abc","Heartbeat",{}', "-1", "FormationViolation", "RpcFrameworkError"),
    ('{"hello":"world"}', "-1", "ProtocolError", "RpcFrameworkError"),
    ("[]", "-1", "ProtocolError", "RpcFrameworkError"),
    ('[2,"abc","Heartbeat"]', "abc", "ProtocolError", "RpcFrameworkError"),
    ('[2,"abc","Heartbeat",{},1]', "abc", "ProtocolError", "RpcFrameworkError"),
    ('[2,12,"Heartbeat",{}]', "-1", "ProtocolError", "RpcFrameworkError"),
    ('[2,"' + "x" * 37 + '","Heartbeat",{}]', "-1", "ProtocolError", "RpcFrameworkError"),
    ('[2,"abc",7,{}]', "abc", "ProtocolError", "RpcFrameworkError"),
    ('["2","abc","Heartbeat",{}]', "abc", "ProtocolError", "RpcFrameworkError"),
    ('[2,"abc","Heartbeat",[1]]', "abc", "FormationViolation", "FormatViolation"),
    ('[9,"abc","Heartbeat",{}]', "abc", "ProtocolError", "MessageTypeNotSupported"),
]


@pytest.mark.parametrize(("text", "uid", "code16", "code2x"), FRAMING)
@pytest.mark.parametrize("version", ALL)
def test_framing_errors_get_a_call_error(
    version: OcppVersion, text: str, uid: str, code16: str, code2x: str
) -> None:
    session = csms(version)
    events = session.receive(text, 0.0)
    assert_call_error(session, uid, code16 if version is V16 else code2x)
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)
    assert events[0].error_code == (code16 if version is V16 else code2x)


@pytest.mark.parametrize("version", [V16, V201])
@pytest.mark.parametrize("text", ['[5,"abc","GenericError","",{}]', '[6,"abc","X",{}]'])
def test_2_1_message_types_are_unknown_before_2_1(version: OcppVersion, text: str) -> None:
    session = csms(version)
    session.receive(text, 0.0)
    code = "ProtocolError" if version is V16 else "MessageTypeNotSupported"
    assert_call_error(session, "abc", code)


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    "text",
    ['[3,"abc"]', '[3,"abc",[]]', '[4,"abc",1,"",{}]', '[4,"abc","GenericError"]'],
)
def test_broken_answers_are_never_answered(version: OcppVersion, text: str) -> None:
    session = csms(version)
    events = session.receive(text, 0.0)
    assert session.data_to_send() == []
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)


def test_broken_send_is_not_answered_in_2_1() -> None:
    session = csms(V21)
    events = session.receive('[6,"abc","NotifyPeriodicEventStream",[]]', 0.0)
    assert session.data_to_send() == []
    assert isinstance(events[0], ProtocolViolation)


# --------------------------------------------------------------------- actions


@pytest.mark.parametrize("version", ALL)
def test_valid_call_is_received_and_answered(version: OcppVersion) -> None:
    session = csms(version)
    [event] = session.receive(call("b1", "BootNotification", BOOT[version]), 0.0)
    assert isinstance(event, CallReceived)
    assert event.call.action == "BootNotification"
    assert event.call.payload == BOOT[version]
    assert session.data_to_send() == []
    assert session.unanswered == 1
    session.send_result("b1", BOOT_RESPONSE)
    assert only_frame(session) == [3, "b1", BOOT_RESPONSE]
    assert session.unanswered == 0


@pytest.mark.parametrize("version", ALL)
def test_unknown_action_is_not_implemented(version: OcppVersion) -> None:
    session = csms(version)
    events = session.receive(call("u1", "MakeCoffee", {}), 0.0)
    frame = assert_call_error(session, "u1", "NotImplemented")
    assert "MakeCoffee" in frame[3]
    assert isinstance(events[0], ProtocolViolation)


@pytest.mark.parametrize(
    ("version", "action"),
    [(V16, "TransactionEvent"), (V201, "StartTransaction"), (V21, "RemoteStartTransaction")],
)
def test_action_of_another_version_is_not_implemented(version: OcppVersion, action: str) -> None:
    session = csms(version)
    assert action not in actions(version)
    session.receive(call("u1", action, {}), 0.0)
    assert_call_error(session, "u1", "NotImplemented")


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (V16, "Reset", {"type": "Hard"}),
        (V201, "Reset", {"type": "Immediate"}),
        (V21, "RequestStartTransaction", {"idToken": {"idToken": "x", "type": "Central"}}),
    ],
)
def test_station_sending_a_csms_action_is_not_supported(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    session = csms(version)
    events = session.receive(call("r1", action, payload), 0.0)
    assert_call_error(session, "r1", "NotSupported")
    assert isinstance(events[0], ProtocolViolation) and events[0].action == action


@pytest.mark.parametrize("version", ALL)
def test_csms_sending_a_station_action_is_not_supported(version: OcppVersion) -> None:
    station = RpcSession(version, Role.STATION)
    station.receive(call("s1", "BootNotification", BOOT[version]), 0.0)
    assert_call_error(station, "s1", "NotSupported")


@pytest.mark.parametrize("version", ALL)
def test_data_transfer_goes_both_ways(version: OcppVersion) -> None:
    for role in Role:
        session = RpcSession(version, role)
        [event] = session.receive(call("d1", "DataTransfer", {"vendorId": "acme"}), 0.0)
        assert isinstance(event, CallReceived)


def test_strict_direction_can_be_relaxed() -> None:
    session = csms(V201, strict_direction=False)
    [event] = session.receive(call("r1", "Reset", {"type": "Immediate"}), 0.0)
    assert isinstance(event, CallReceived)


def test_send_action_as_a_call_is_not_supported() -> None:
    session = csms(V21)
    session.receive(call("p1", "NotifyPeriodicEventStream", {}), 0.0)
    assert_call_error(session, "p1", "NotSupported")


# --------------------------------------------------------------------- schema violations

SCHEMA_CASES: list[tuple[OcppVersion, str, dict[str, Any], str]] = []
for _v in ALL:
    _two = _v is not V16
    _boot = BOOT[_v]
    _vendor_key = "chargingStation" if _two else "chargePointVendor"
    SCHEMA_CASES += [
        (
            _v,
            "BootNotification",
            {k: v for k, v in _boot.items() if k != _vendor_key},
            "OccurrenceConstraintViolation" if _two else "OccurenceConstraintViolation",
        ),
        (_v, "BootNotification", {**_boot, _vendor_key: 12}, "TypeConstraintViolation"),
        (
            _v,
            "BootNotification",
            {**_boot, "extra": 1},
            "FormatViolation" if _two else "FormationViolation",
        ),
        (
            _v,
            "BootNotification",
            {**_boot, "reason": "Bogus"} if _two else {**_boot, "chargePointModel": "m" * 21},
            "PropertyConstraintViolation",
        ),
        (
            _v,
            "Heartbeat",
            {"unexpected": True},
            "FormatViolation" if _two else "FormationViolation",
        ),
        (
            _v,
            "StatusNotification",
            {"timestamp": "soon", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
            if _two
            else {
                "connectorId": 1,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": "soon",
            },
            "PropertyConstraintViolation",
        ),
        (
            _v,
            "StatusNotification",
            {
                "timestamp": "2024-01-01T00:00:00Z",
                "connectorStatus": "Sleepy",
                "evseId": 1,
                "connectorId": 1,
            }
            if _two
            else {"connectorId": 1, "errorCode": "NoError", "status": "Sleepy"},
            "PropertyConstraintViolation",
        ),
    ]


@pytest.mark.parametrize(("version", "action", "payload", "code"), SCHEMA_CASES)
def test_schema_violations_get_the_mapped_code(
    version: OcppVersion, action: str, payload: dict[str, Any], code: str
) -> None:
    session = csms(version)
    events = session.receive(call("v1", action, payload), 0.0)
    frame = assert_call_error(session, "v1", code)
    assert frame[3].startswith(f"{action} request: ")
    assert "property" in frame[4]
    assert isinstance(events[0], ProtocolViolation)
    assert session.unanswered == 0


def test_validation_can_be_switched_off() -> None:
    session = csms(V16, validate=False)
    [event] = session.receive(call("v1", "BootNotification", {"anything": 1}), 0.0)
    assert isinstance(event, CallReceived)
    session.send_result("v1", {"whatever": True})
    assert only_frame(session)[0] == 3


# --------------------------------------------------------------------- ids and answers


def test_duplicate_unanswered_id_is_an_error() -> None:
    session = csms(V201)
    session.receive(call("same", "Heartbeat", {}), 0.0)
    events = session.receive(call("same", "Heartbeat", {}), 0.0)
    assert_call_error(session, "same", "RpcFrameworkError")
    assert isinstance(events[0], ProtocolViolation)
    session.send_result("same", {"currentTime": "2024-01-01T00:00:00Z"})
    # once answered, the id may be used again
    [event] = session.receive(call("same", "Heartbeat", {}), 1.0)
    assert isinstance(event, CallReceived)


def test_duplicate_id_code_in_1_6() -> None:
    session = csms(V16)
    session.receive(call("same", "Heartbeat", {}), 0.0)
    session.receive(call("same", "Heartbeat", {}), 0.0)
    assert_call_error(session, "same", "ProtocolError")


def test_several_inbound_calls_may_be_pending_and_answered_in_any_order() -> None:
    session = csms(V16)
    session.receive(call("a", "Heartbeat", {}), 0.0)
    session.receive(call("b", "Heartbeat", {}), 0.0)
    session.send_result("b", {"currentTime": "2024-01-01T00:00:00Z"})
    session.send_result("a", {"currentTime": "2024-01-01T00:00:00Z"})
    assert [orjson.loads(f)[1] for f in session.data_to_send()] == ["b", "a"]


def test_our_invalid_result_raises_and_the_call_stays_open() -> None:
    session = csms(V16)
    session.receive(call("b1", "BootNotification", BOOT[V16]), 0.0)
    with pytest.raises(OutboundValidationError) as info:
        session.send_result("b1", {"status": "Maybe", "currentTime": "x", "interval": 1})
    assert info.value.action == "BootNotification"
    assert info.value.error is not None
    assert session.data_to_send() == []
    session.send_error("b1", FaultKind.INTERNAL, "could not build the answer")
    assert_call_error(session, "b1", "InternalError")


def test_answering_an_unknown_call_raises() -> None:
    session = csms(V16)
    with pytest.raises(UnknownCallError):
        session.send_result("nope", {})
    with pytest.raises(UnknownCallError):
        session.send_error("nope", FaultKind.GENERIC)
    session.receive(call("a", "Heartbeat", {}), 0.0)
    session.send_result("a", {"currentTime": "2024-01-01T00:00:00Z"})
    with pytest.raises(UnknownCallError):
        session.send_result("a", {"currentTime": "2024-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("version", "kind", "code"),
    [
        (V16, FaultKind.NOT_IMPLEMENTED, "NotImplemented"),
        (V201, FaultKind.NOT_IMPLEMENTED, "NotImplemented"),
        (V16, FaultKind.SECURITY, "SecurityError"),
        (V21, FaultKind.MISSING_PROPERTY, "OccurrenceConstraintViolation"),
    ],
)
def test_send_error_with_a_kind(version: OcppVersion, kind: FaultKind, code: str) -> None:
    session = csms(version)
    session.receive(call("a", "Heartbeat", {}), 0.0)
    session.send_error("a", kind, "no handler", {"x": 1})
    assert only_frame(session) == [4, "a", code, "no handler", {"x": 1}]


def test_send_error_with_an_ocpp_error_or_a_code() -> None:
    session = csms(V201)
    session.receive(call("a", "Heartbeat", {}), 0.0)
    session.receive(call("b", "Heartbeat", {}), 0.0)
    session.send_error("a", OcppError(FaultKind.SECURITY, "not booted", {"why": "pending"}))
    session.send_error("b", "GenericError", "x" * 400)
    first, second = (orjson.loads(f) for f in session.data_to_send())
    assert first == [4, "a", "SecurityError", "not booted", {"why": "pending"}]
    assert second[2] == "GenericError" and len(second[3]) == 255
    session.receive(call("c", "Heartbeat", {}), 0.0)
    with pytest.raises(ValueError):
        session.send_error("c", "FormationViolation")  # a 1.6 code, not 2.0.1


def test_answers_after_connection_lost_are_dropped() -> None:
    session = csms(V16)
    session.receive(call("a", "Heartbeat", {}), 0.0)
    session.connection_lost()
    session.send_result("a", {"currentTime": "2024-01-01T00:00:00Z"})
    session.send_error("a", FaultKind.INTERNAL)
    assert session.data_to_send() == []
    assert session.receive(call("b", "Heartbeat", {}), 1.0) == []


# --------------------------------------------------------------------- property test

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(st.text(max_size=40), st.integers(), st.none())
action_names = st.one_of(
    st.sampled_from(["Heartbeat", "BootNotification", "Reset", "MakeCoffee", "DataTransfer"]),
    st.text(max_size=10),
    st.integers(),
)
payloads = st.one_of(
    st.just({}),
    st.just({"vendorId": "acme"}),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    json_values,
)
call_shaped = st.builds(
    lambda uid, action, payload, extra: [2, uid, action, payload, *extra],
    ids,
    action_names,
    payloads,
    st.lists(json_values, max_size=1),
)
any_frame = st.builds(
    lambda mtid, rest: [mtid, *rest],
    st.one_of(st.integers(min_value=0, max_value=8), json_values),
    st.lists(json_values, max_size=5),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from(ALL),
    role=st.sampled_from(list(Role)),
    message=st.one_of(
        st.text(),
        st.binary(),
        json_values.map(lambda v: json.dumps(v)),
        any_frame.map(lambda v: json.dumps(v)),
        call_shaped.map(lambda v: json.dumps(v)),
    ),
)
def test_garbage_never_raises_and_calls_get_exactly_one_answer(
    version: OcppVersion, role: Role, message: str | bytes
) -> None:
    session = RpcSession(version, role)
    events = session.receive(message, 0.0)
    frames = session.data_to_send()
    for frame in frames:
        orjson.loads(frame)  # everything we write is valid JSON
    received = [e for e in events if isinstance(e, CallReceived)]
    try:
        decoded = orjson.loads(message)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, list) and decoded and type(decoded[0]) is int and decoded[0] == 2:
        assert len(frames) + len(received) == 1
        if frames:
            answer = orjson.loads(frames[0])
            assert answer[0] == 4 and isinstance(answer[1], str) and answer[2]
    elif (
        isinstance(decoded, list)
        and decoded
        and type(decoded[0]) is int
        and decoded[0]
        in (
            3,
            4,
            5,
            6,
        )
    ):
        assert received == []
        if decoded[0] != 6 and not (decoded[0] == 5 and version is not V21):
            assert frames == []  # answers are never answered
    else:
        assert len(frames) <= 1
        assert received == []
