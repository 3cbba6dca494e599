"""OCPP-J RPC frames: parse text into typed frames and encode them back (the hot path).

A frame is a JSON array whose first element is the message type id::

    CALL            [2, "<id>", "<Action>", {payload}]
    CALLRESULT      [3, "<id>", {payload}]
    CALLERROR       [4, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]
    CALLRESULTERROR [5, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}]  (2.1)
    SEND            [6, "<id>", "<Action>", {payload}]                                  (2.1)

:func:`parse_frame` checks only the RPC envelope (schema validation of the payload is
:mod:`evcms.ocpp.schemas`' job) and raises :class:`FrameError` with a version-neutral
:class:`~evcms.ocpp.errors.FaultKind`, the message id when it could be read, and the message
type id when it could be read (so the caller knows whether an answer is due). A ``null``
payload or ``errorDetails`` is read as ``{}`` (OCPP-J allows both notations for "empty").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from evcms.ocpp.errors import FaultKind
from evcms.ocpp.versions import OcppVersion

__all__ = [
    "MAX_UNIQUE_ID_LENGTH",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Frame",
    "FrameError",
    "MessageTypeId",
    "Send",
    "encode_call",
    "encode_call_error",
    "encode_call_result",
    "encode_call_result_error",
    "encode_frame",
    "encode_send",
    "parse_frame",
]

#: Longest message id OCPP-J allows (string[36], room for a UUID).
MAX_UNIQUE_ID_LENGTH = 36

JsonObject = dict[str, Any]


class MessageTypeId(enum.IntEnum):
    """The first element of every OCPP-J frame."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # OCPP 2.1 only
    SEND = 6  # OCPP 2.1 only


@dataclass(frozen=True, slots=True)
class Call:
    """A request: ``[2, unique_id, action, payload]``."""

    unique_id: str
    action: str
    payload: JsonObject
    message_type_id: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful answer to a CALL: ``[3, unique_id, payload]``."""

    unique_id: str
    payload: JsonObject
    message_type_id: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class CallError:
    """An error answer to a CALL: ``[4, unique_id, error_code, error_description, details]``."""

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: JsonObject = field(default_factory=dict)
    message_type_id: ClassVar[int] = 4


@dataclass(frozen=True, slots=True)
class CallResultError:
    """(2.1) The receiver of a CALLRESULT could not process it: same shape as CALLERROR."""

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: JsonObject = field(default_factory=dict)
    message_type_id: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class Send:
    """(2.1) An unconfirmed message, never answered: ``[6, unique_id, action, payload]``."""

    unique_id: str
    action: str
    payload: JsonObject
    message_type_id: ClassVar[int] = 6


Frame = Call | CallResult | CallError | CallResultError | Send


class FrameError(Exception):
    """Text that is not a valid OCPP-J frame of the connection's version.

    ``unique_id`` is the message id when it could be read and is a valid id (else None);
    ``message_type_id`` is the message type id when it is an integer (else None).
    """

    __slots__ = ("description", "kind", "message_type_id", "unique_id")

    def __init__(
        self,
        kind: FaultKind,
        description: str,
        unique_id: str | None = None,
        message_type_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description
        self.unique_id = unique_id
        self.message_type_id = message_type_id

    def __repr__(self) -> str:
        return (
            f"FrameError(kind={self.kind!r}, description={self.description!r}, "
            f"unique_id={self.unique_id!r}, message_type_id={self.message_type_id!r})"
        )


_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError
_EXPECTED_LENGTH = {2: 4, 3: 3, 4: 5, 5: 5, 6: 4}
_NAMES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR", 5: "CALLRESULTERROR", 6: "SEND"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_frame(data: str | bytes, version: OcppVersion) -> Frame:
    """Parse one WebSocket text message; raises :class:`FrameError` if it is not a frame."""
    try:
        msg = _loads(data)
    except _JSONDecodeError as exc:
        raise FrameError(FaultKind.MALFORMED_JSON, f"message is not valid JSON: {exc}") from None
    if type(msg) is not list or not msg:
        raise FrameError(
            FaultKind.BAD_FRAME, f"message must be a non-empty JSON array, got {_json_type(msg)}"
        )
    n = len(msg)
    uid = msg[1] if n > 1 else None
    if type(uid) is not str or not 0 < len(uid) <= MAX_UNIQUE_ID_LENGTH:
        uid = None
    mtid = msg[0]
    if type(mtid) is not int:
        raise FrameError(
            FaultKind.BAD_FRAME,
            f"message type id must be an integer, got {_json_type(mtid)}",
            uid,
        )
    expected = _EXPECTED_LENGTH.get(mtid)
    if expected is None or (mtid >= 5 and version is not OcppVersion.V21):
        raise FrameError(
            FaultKind.UNKNOWN_MESSAGE_TYPE,
            f"message type id {mtid} is not supported in {version.value}",
            uid,
            mtid,
        )
    if n != expected:
        raise FrameError(
            FaultKind.BAD_FRAME,
            f"a {_NAMES[mtid]} must have {expected} elements, got {n}",
            uid,
            mtid,
        )
    if uid is None:
        raw = msg[1]
        if type(raw) is str:
            why = "empty" if not raw else f"longer than {MAX_UNIQUE_ID_LENGTH} characters"
            description = f"message id is {why}"
        else:
            description = f"message id must be a string, got {_json_type(raw)}"
        raise FrameError(FaultKind.BAD_FRAME, description, None, mtid)

    if mtid == 2 or mtid == 6:
        action = msg[2]
        if type(action) is not str or not action:
            raise FrameError(
                FaultKind.BAD_FRAME,
                f"action must be a non-empty string, got {_json_type(action)}",
                uid,
                mtid,
            )
        payload = msg[3]
        if type(payload) is not dict:
            if payload is not None:
                raise FrameError(
                    FaultKind.FORMAT,
                    f"payload must be a JSON object, got {_json_type(payload)}",
                    uid,
                    mtid,
                )
            payload = {}
        if mtid == 2:
            return Call(uid, action, payload)
        return Send(uid, action, payload)

    if mtid == 3:
        payload = msg[2]
        if type(payload) is not dict:
            if payload is not None:
                raise FrameError(
                    FaultKind.FORMAT,
                    f"payload must be a JSON object, got {_json_type(payload)}",
                    uid,
                    mtid,
                )
            payload = {}
        return CallResult(uid, payload)

    # CALLERROR / CALLRESULTERROR
    code, description, details = msg[2], msg[3], msg[4]
    if type(code) is not str:
        raise FrameError(
            FaultKind.BAD_FRAME,
            f"errorCode must be a string, got {_json_type(code)}",
            uid,
            mtid,
        )
    if type(description) is not str:
        raise FrameError(
            FaultKind.BAD_FRAME,
            f"errorDescription must be a string, got {_json_type(description)}",
            uid,
            mtid,
        )
    if type(details) is not dict:
        if details is not None:
            raise FrameError(
                FaultKind.BAD_FRAME,
                f"errorDetails must be a JSON object, got {_json_type(details)}",
                uid,
                mtid,
            )
        details = {}
    if mtid == 4:
        return CallError(uid, code, description, details)
    return CallResultError(uid, code, description, details)


def encode_frame(frame: Frame) -> str:
    """The compact JSON text of ``frame``; raises ``TypeError`` for a non-JSON payload."""
    body: list[Any]
    if isinstance(frame, Call | Send):
        body = [frame.message_type_id, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [3, frame.unique_id, frame.payload]
    else:
        body = [
            frame.message_type_id,
            frame.unique_id,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        ]
    return _dumps(body).decode()


def encode_call(unique_id: str, action: str, payload: JsonObject) -> str:
    """Encode a CALL without building a :class:`Call` first."""
    return _dumps([2, unique_id, action, payload]).decode()


def encode_call_result(unique_id: str, payload: JsonObject) -> str:
    """Encode a CALLRESULT without building a :class:`CallResult` first."""
    return _dumps([3, unique_id, payload]).decode()


def encode_call_error(
    unique_id: str,
    error_code: str,
    error_description: str,
    error_details: JsonObject,
    message_type_id: int = 4,
) -> str:
    """Encode a CALLERROR (or, with ``message_type_id=5``, a CALLRESULTERROR)."""
    return _dumps(
        [message_type_id, unique_id, error_code, error_description, error_details]
    ).decode()


def encode_call_result_error(
    unique_id: str,
    error_code: str,
    error_description: str,
    error_details: JsonObject | None = None,
) -> str:
    """Encode a (2.1) CALLRESULTERROR."""
    return _dumps([5, unique_id, error_code, error_description, error_details or {}]).decode()


def encode_send(unique_id: str, action: str, payload: JsonObject) -> str:
    """Encode a (2.1) SEND without building a :class:`Send` first."""
    return _dumps([6, unique_id, action, payload]).decode()
