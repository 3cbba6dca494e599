"""RpcSession: our own CALLs (queueing, timeouts, answers) and OCPP 2.1 SEND / CALLRESULTERROR."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from evcms.ocpp import (
    CallCompleted,
    CallDisconnected,
    CallErrored,
    CallReceived,
    CallResultRejected,
    CallTimedOut,
    MessageReceived,
    OcppVersion,
    OutboundValidationError,
    ProtocolViolation,
    Role,
    RpcSession,
    SessionClosedError,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21

RESET = {V16: {"type": "Soft"}, V201: {"type": "Immediate"}, V21: {"type": "Immediate"}}
RESET_OK = {"status": "Accepted"}


def csms(version: OcppVersion = V16, **kwargs: Any) -> RpcSession:
    counter = itertools.count(1)
    kwargs.setdefault("id_factory", lambda: f"m{next(counter)}")
    return RpcSession(version, Role.CSMS, **kwargs)


def frames(session: RpcSession) -> list[list[Any]]:
    return [orjson.loads(f) for f in session.data_to_send()]


def result(uid: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([3, uid, payload]).decode()


@pytest.mark.parametrize("version", list(OcppVersion))
def test_call_and_result(version: OcppVersion) -> None:
    session = csms(version)
    handle = session.send_call("Reset", RESET[version], now=10.0)
    assert frames(session) == [[2, "m1", "Reset", RESET[version]]]
    assert session.in_flight == handle
    assert session.next_deadline() == 40.0
    [event] = session.receive(result("m1", RESET_OK), 11.0)
    assert event == CallCompleted(handle, "Reset", RESET_OK)
    assert session.in_flight is None and session.next_deadline() is None


def test_second_call_waits_until_the_first_completes() -> None:
    session = csms()
    first = session.send_call("Reset", RESET[V16], now=0.0)
    second = session.send_call("ClearCache", {}, now=1.0)
    assert first != second
    assert [f[2] for f in frames(session)] == ["Reset"]
    assert session.queued == 1
    [event] = session.receive(result("m1", RESET_OK), 5.0)
    assert isinstance(event, CallCompleted) and event.handle == first
    assert frames(session) == [[2, "m2", "ClearCache", {}]]
    # the queued call's timeout starts when it is written (t=5), not when queued (t=1)
    assert session.next_deadline() == 35.0
    [event] = session.receive(result("m2", {"status": "Accepted"}), 6.0)
    assert event == CallCompleted(second, "ClearCache", {"status": "Accepted"})


def test_call_error_resolves_the_call_and_releases_the_queue() -> None:
    session = csms()
    first = session.send_call("Reset", RESET[V16], now=0.0)
    session.send_call("ClearCache", {}, now=0.0)
    session.data_to_send()
    [event] = session.receive('[4,"m1","NotSupported","no resets here",{}]', 1.0)
    assert isinstance(event, CallErrored) and event.handle == first
    assert event.error.error_code == "NotSupported"
    assert event.error.error_description == "no resets here"
    assert [f[2] for f in frames(session)] == ["ClearCache"]


def test_timeout_via_tick_then_next_call_goes_out() -> None:
    session = csms(call_timeout=10.0)
    first = session.send_call("Reset", RESET[V16], now=0.0)
    second = session.send_call("ClearCache", {}, now=0.0, timeout=3.0)
    session.data_to_send()
    assert session.tick(9.9) == []
    assert session.data_to_send() == []
    assert session.tick(10.0) == [CallTimedOut(first, "Reset")]
    assert [f[2] for f in frames(session)] == ["ClearCache"]
    assert session.next_deadline() == 13.0
    assert session.tick(13.5) == [CallTimedOut(second, "ClearCache")]
    assert session.next_deadline() is None
    # a late answer to a timed-out call is only reported
    [event] = session.receive(result("m1", RESET_OK), 20.0)
    assert isinstance(event, ProtocolViolation)


def test_connection_lost_fails_everything_and_closes() -> None:
    session = csms()
    a = session.send_call("Reset", RESET[V16], now=0.0)
    b = session.send_call("ClearCache", {}, now=0.0)
    c = session.send_call("GetConfiguration", {}, now=0.0)
    events = session.connection_lost()
    assert events == [
        CallDisconnected(a, "Reset"),
        CallDisconnected(b, "ClearCache"),
        CallDisconnected(c, "GetConfiguration"),
    ]
    assert session.closed and session.data_to_send() == []
    assert session.next_deadline() is None
    with pytest.raises(SessionClosedError):
        session.send_call("ClearCache", {}, now=1.0)


@pytest.mark.parametrize(
    "text",
    [
        '[3,"other",{"status":"Accepted"}]',
        '[4,"other","GenericError","",{}]',
    ],
)
def test_mismatched_answers_are_ignored(text: str) -> None:
    session = csms()
    handle = session.send_call("Reset", RESET[V16], now=0.0)
    session.data_to_send()
    [event] = session.receive(text, 1.0)
    assert isinstance(event, ProtocolViolation) and event.unique_id == "other"
    assert session.data_to_send() == []
    assert session.in_flight == handle


def test_answer_with_nothing_in_flight_is_ignored() -> None:
    session = csms()
    [event] = session.receive(result("x", {}), 0.0)
    assert isinstance(event, ProtocolViolation)
    assert session.data_to_send() == []


@pytest.mark.parametrize(
    ("version", "code"),
    [(V16, "PropertyConstraintViolation"), (V201, "PropertyConstraintViolation")],
)
def test_invalid_result_payload_becomes_call_errored(version: OcppVersion, code: str) -> None:
    session = csms(version)
    handle = session.send_call("Reset", RESET[version], now=0.0)
    session.send_call("ClearCache", {}, now=0.0)
    session.data_to_send()
    [event] = session.receive(result("m1", {"status": "Perhaps"}), 1.0)
    assert isinstance(event, CallErrored) and event.handle == handle
    assert event.error.error_code == code
    assert "station's answer is invalid" in event.error.error_description
    assert "status" in event.error.error_description
    # no CALLRESULTERROR before 2.1; the queue moves on
    assert [f[2] for f in frames(session)] == ["ClearCache"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "OccurrenceConstraintViolation"),
        ({"status": 1}, "TypeConstraintViolation"),
        ({"status": "Accepted", "bogus": 1}, "FormatViolation"),
    ],
)
def test_invalid_result_in_2_1_is_answered_with_call_result_error(
    payload: dict[str, Any], code: str
) -> None:
    session = csms(V21)
    handle = session.send_call("Reset", RESET[V21], now=0.0)
    session.data_to_send()
    [event] = session.receive(result("m1", payload), 1.0)
    assert isinstance(event, CallErrored) and event.handle == handle
    assert event.error.error_code == code
    [frame] = frames(session)
    assert frame[:3] == [5, "m1", code]
    assert frame[3] and isinstance(frame[4], dict)


def test_malformed_result_for_the_call_in_flight_fails_it() -> None:
    session = csms(V21)
    handle = session.send_call("Reset", RESET[V21], now=0.0)
    session.data_to_send()
    events = session.receive('[3,"m1",["not","an","object"]]', 1.0)
    assert isinstance(events[0], ProtocolViolation)
    assert isinstance(events[1], CallErrored) and events[1].handle == handle
    assert events[1].error.error_code == "FormatViolation"
    assert frames(session)[0][:3] == [5, "m1", "FormatViolation"]


def test_malformed_call_error_for_the_call_in_flight_fails_it() -> None:
    session = csms(V16)
    handle = session.send_call("Reset", RESET[V16], now=0.0)
    session.data_to_send()
    events = session.receive('[4,"m1",42,"",{}]', 1.0)
    assert isinstance(events[0], ProtocolViolation)
    assert isinstance(events[1], CallErrored) and events[1].handle == handle
    assert events[1].error.error_code == "GenericError"
    assert session.data_to_send() == []  # a CALLERROR is never answered


def test_station_role_answers_csms_calls_while_its_own_call_is_in_flight() -> None:
    station = RpcSession(V201, Role.STATION, id_factory=lambda: "s1")
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    handle = station.send_call("BootNotification", boot, now=0.0)
    assert frames(station) == [[2, "s1", "BootNotification", boot]]
    # the CSMS calls us before answering our boot: both directions are independent
    get = {"getVariableData": [{"component": {"name": "X"}, "variable": {"name": "Y"}}]}
    [event] = station.receive(orjson.dumps([2, "c1", "GetVariables", get]).decode(), 0.5)
    assert isinstance(event, CallReceived)
    station.send_error("c1", "NotSupported", "not today")
    [answer] = frames(station)
    assert answer == [4, "c1", "NotSupported", "not today", {}]
    boot_ok = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60}
    [done] = station.receive(result("s1", boot_ok), 1.0)
    assert done == CallCompleted(handle, "BootNotification", boot_ok)


def test_getvariables_min_items_is_checked() -> None:
    station = RpcSession(V201, Role.STATION)
    events = station.receive('[2,"c1","GetVariables",{"getVariableData":[]}]', 0.0)
    # getVariableData has minItems 1 in the official schema
    assert isinstance(events[0], ProtocolViolation)
    assert frames(station)[0][:3] == [4, "c1", "OccurrenceConstraintViolation"]


# --------------------------------------------------------------------- our own bugs


def test_our_invalid_call_payload_raises() -> None:
    session = csms(V201)
    with pytest.raises(OutboundValidationError) as info:
        session.send_call("Reset", {"type": "Sometime"}, now=0.0)
    assert info.value.action == "Reset"
    assert info.value.error is not None
    assert "type must be one of" in str(info.value)
    assert session.data_to_send() == [] and session.in_flight is None


@pytest.mark.parametrize(
    ("role", "action"),
    [
        (Role.CSMS, "BootNotification"),  # a station's action
        (Role.STATION, "Reset"),  # a CSMS action
        (Role.CSMS, "RemoteStartTransaction"),  # not in 2.0.1
        (Role.CSMS, "Teleport"),
    ],
)
def test_sending_an_action_we_may_not_send_raises(role: Role, action: str) -> None:
    session = RpcSession(V201, role)
    with pytest.raises(OutboundValidationError):
        session.send_call(action, {}, now=0.0)


def test_non_json_payload_raises() -> None:
    session = csms(V16, validate=False)
    with pytest.raises(OutboundValidationError):
        session.send_call("DataTransfer", {"vendorId": object()}, now=0.0)
    assert session.in_flight is None


def test_bad_timeouts_are_rejected() -> None:
    with pytest.raises(ValueError):
        RpcSession(V16, Role.CSMS, call_timeout=0)
    with pytest.raises(ValueError):
        csms().send_call("ClearCache", {}, now=0.0, timeout=-1)


# --------------------------------------------------------------------- 2.1 SEND


STREAM = {"id": 1, "pending": 0, "basetime": "2024-01-01T00:00:00Z", "data": [{"t": 0, "v": "1"}]}


def test_station_sends_and_csms_receives_a_send_message() -> None:
    station = RpcSession(V21, Role.STATION, id_factory=lambda: "p1")
    station.send_call(
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
        now=0.0,
    )
    station.send_message("NotifyPeriodicEventStream", STREAM)  # not held back by the CALL
    sent = station.data_to_send()
    assert [orjson.loads(f)[0] for f in sent] == [2, 6]

    server = csms(V21)
    [event] = server.receive(sent[1], 0.0)
    assert isinstance(event, MessageReceived)
    assert event.message.action == "NotifyPeriodicEventStream"
    assert event.message.payload == STREAM
    assert server.data_to_send() == []  # a SEND is never answered


@pytest.mark.parametrize(
    "text",
    [
        '[6,"p1","NotifyPeriodicEventStream",{"id":"x"}]',  # schema-invalid
        '[6,"p1","Heartbeat",{}]',  # a CALL action
        '[6,"p1","Teleport",{}]',  # unknown
    ],
)
def test_invalid_send_messages_are_reported_not_answered(text: str) -> None:
    server = csms(V21)
    [event] = server.receive(text, 0.0)
    assert isinstance(event, ProtocolViolation) and event.error_code is None
    assert server.data_to_send() == []


def test_send_message_rules() -> None:
    with pytest.raises(OutboundValidationError):
        csms(V201).send_message("NotifyPeriodicEventStream", STREAM)  # no SEND before 2.1
    with pytest.raises(OutboundValidationError):
        csms(V21).send_message("NotifyPeriodicEventStream", STREAM)  # stations send it
    with pytest.raises(OutboundValidationError):
        RpcSession(V21, Role.STATION).send_message("NotifyPeriodicEventStream", {"id": 1})
    with pytest.raises(OutboundValidationError):
        RpcSession(V21, Role.STATION).send_message("Heartbeat", {})
    with pytest.raises(OutboundValidationError):
        RpcSession(V21, Role.STATION).send_call("NotifyPeriodicEventStream", STREAM, now=0.0)


def test_inbound_call_result_error_is_reported() -> None:
    server = csms(V21)
    server.receive('[2,"h1","Heartbeat",{}]', 0.0)
    server.send_result("h1", {"currentTime": "2024-01-01T00:00:00Z"})
    server.data_to_send()
    [event] = server.receive('[5,"h1","FormatViolation","bad time",{}]', 1.0)
    assert isinstance(event, CallResultRejected)
    assert event.error.unique_id == "h1" and event.error.error_code == "FormatViolation"
    assert server.data_to_send() == []
