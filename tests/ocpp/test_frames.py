"""Frame parsing and encoding (no schemas involved)."""

from __future__ import annotations

import orjson
import pytest

from evcms.ocpp import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    FaultKind,
    FrameError,
    MessageTypeId,
    OcppVersion,
    Send,
    encode_frame,
    parse_frame,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
ALL = list(OcppVersion)


def test_message_type_ids() -> None:
    assert [int(m) for m in MessageTypeId] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("version", ALL)
def test_parse_each_frame_type(version: OcppVersion) -> None:
    assert parse_frame('[2,"a","Heartbeat",{}]', version) == Call("a", "Heartbeat", {})
    assert parse_frame(b'[3,"a",{"x":1}]', version) == CallResult("a", {"x": 1})
    assert parse_frame('[4,"a","GenericError","boom",{"k":1}]', version) == CallError(
        "a", "GenericError", "boom", {"k": 1}
    )


def test_2_1_only_frame_types() -> None:
    assert parse_frame('[5,"a","FormatViolation","",{}]', V21) == CallResultError(
        "a", "FormatViolation", "", {}
    )
    assert parse_frame('[6,"a","NotifyPeriodicEventStream",{}]', V21) == Send(
        "a", "NotifyPeriodicEventStream", {}
    )
    for version in (V16, V201):
        for text in ('[5,"a","FormatViolation","",{}]', '[6,"a","X",{}]'):
            with pytest.raises(FrameError) as info:
                parse_frame(text, version)
            assert info.value.kind is FaultKind.UNKNOWN_MESSAGE_TYPE
            assert info.value.unique_id == "a"


def test_null_payload_and_details_read_as_empty_object() -> None:
    assert parse_frame('[2,"a","Heartbeat",null]', V16) == Call("a", "Heartbeat", {})
    assert parse_frame('[3,"a",null]', V16) == CallResult("a", {})
    assert parse_frame('[4,"a","GenericError","",null]', V16) == CallError("a", "GenericError")


@pytest.mark.parametrize(
    ("text", "kind", "unique_id", "mtid"),
    [
        ("not json", FaultKind.MALFORMED_JSON, None, None),
        ('[2,"a","Heartbeat",{}', FaultKind.MALFORMED_JSON, None, None),
        ("", FaultKind.MALFORMED_JSON, None, None),
        ('{"a":1}', FaultKind.BAD_FRAME, None, None),
        ("[]", FaultKind.BAD_FRAME, None, None),
        ("42", FaultKind.BAD_FRAME, None, None),
        ('["2","a","Heartbeat",{}]', FaultKind.BAD_FRAME, "a", None),
        ('[true,"a","Heartbeat",{}]', FaultKind.BAD_FRAME, "a", None),
        ('[2,"a","Heartbeat"]', FaultKind.BAD_FRAME, "a", 2),
        ('[2,"a","Heartbeat",{},{}]', FaultKind.BAD_FRAME, "a", 2),
        ("[2]", FaultKind.BAD_FRAME, None, 2),
        ('[2,7,"Heartbeat",{}]', FaultKind.BAD_FRAME, None, 2),
        ('[2,"","Heartbeat",{}]', FaultKind.BAD_FRAME, None, 2),
        ('[2,"' + "x" * 37 + '","Heartbeat",{}]', FaultKind.BAD_FRAME, None, 2),
        ('[2,"a",5,{}]', FaultKind.BAD_FRAME, "a", 2),
        ('[2,"a","",{}]', FaultKind.BAD_FRAME, "a", 2),
        ('[2,"a","Heartbeat",[]]', FaultKind.FORMAT, "a", 2),
        ('[2,"a","Heartbeat","x"]', FaultKind.FORMAT, "a", 2),
        ('[3,"a",[]]', FaultKind.FORMAT, "a", 3),
        ('[3,"a"]', FaultKind.BAD_FRAME, "a", 3),
        ('[4,"a",1,"",{}]', FaultKind.BAD_FRAME, "a", 4),
        ('[4,"a","GenericError",null,{}]', FaultKind.BAD_FRAME, "a", 4),
        ('[4,"a","GenericError","",[]]', FaultKind.BAD_FRAME, "a", 4),
        ('[9,"a",{}]', FaultKind.UNKNOWN_MESSAGE_TYPE, "a", 9),
        ('[1,"a","Heartbeat",{}]', FaultKind.UNKNOWN_MESSAGE_TYPE, "a", 1),
    ],
)
@pytest.mark.parametrize("version", ALL)
def test_framing_errors(
    version: OcppVersion, text: str, kind: FaultKind, unique_id: str | None, mtid: int | None
) -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(text, version)
    assert info.value.kind is kind
    assert info.value.unique_id == unique_id
    assert info.value.message_type_id == mtid
    assert info.value.description


def test_36_character_id_is_accepted() -> None:
    uid = "x" * 36
    assert parse_frame(f'[2,"{uid}","Heartbeat",{{}}]', V16) == Call(uid, "Heartbeat", {})


@pytest.mark.parametrize(
    "frame",
    [
        Call("1", "BootNotification", {"a": [1, 2.5, None, True], "ü": "ß"}),
        CallResult("2", {}),
        CallError("3", "GenericError", "oops", {"x": 1}),
        CallResultError("4", "FormatViolation", "bad", {}),
        Send("5", "NotifyPeriodicEventStream", {"id": 1}),
    ],
)
def test_encode_round_trip(frame: Call | CallResult | CallError | CallResultError | Send) -> None:
    text = encode_frame(frame)
    assert " " not in text.replace("ü", "").replace("ß", "")  # compact
    assert parse_frame(text, V21) == frame
    assert orjson.loads(text)[0] == frame.message_type_id
