"""Sans-I/O OCPP-J core: frames, error codes, schema validation and the RPC session.

Standalone: imports nothing else of evcms (only the standard library, ``orjson``,
``fastjsonschema`` and the JSON schema files bundled with the ``ocpp`` package). Used by the
CSMS (``Role.CSMS``) and by the station simulator (``Role.STATION``).

Typical use by a connection loop::

    session = RpcSession(OcppVersion.V201, Role.CSMS)
    for event in session.receive(text, time.monotonic()):
        match event:
            case CallReceived(call):
                ...  # later: session.send_result(call.unique_id, payload)
    for frame in session.data_to_send():
        await websocket.send(frame)
"""

from evcms.ocpp.errors import (
    ERROR_CODES,
    UNREADABLE_MESSAGE_ID,
    ErrorCode,
    FaultKind,
    OcppError,
    error_code,
    fault_kind_of,
    is_valid_error_code,
)
from evcms.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Frame,
    FrameError,
    MessageTypeId,
    Send,
    encode_frame,
    parse_frame,
)
from evcms.ocpp.rpc import (
    CallCompleted,
    CallDisconnected,
    CallErrored,
    CallReceived,
    CallResultRejected,
    CallTimedOut,
    MessageReceived,
    OutboundValidationError,
    ProtocolViolation,
    Role,
    RpcEvent,
    RpcSession,
    SessionClosedError,
    UnknownCallError,
)
from evcms.ocpp.schemas import (
    SchemaRegistry,
    VersionSchemas,
    actions,
    csms_actions,
    send_actions,
    station_actions,
    validate,
    validator,
    warm_up,
)
from evcms.ocpp.versions import SUPPORTED_SUBPROTOCOLS, OcppVersion

__all__ = [
    "ERROR_CODES",
    "SUPPORTED_SUBPROTOCOLS",
    "UNREADABLE_MESSAGE_ID",
    "Call",
    "CallCompleted",
    "CallDisconnected",
    "CallError",
    "CallErrored",
    "CallReceived",
    "CallResult",
    "CallResultError",
    "CallResultRejected",
    "CallTimedOut",
    "ErrorCode",
    "FaultKind",
    "Frame",
    "FrameError",
    "MessageReceived",
    "MessageTypeId",
    "OcppError",
    "OcppVersion",
    "OutboundValidationError",
    "ProtocolViolation",
    "Role",
    "RpcEvent",
    "RpcSession",
    "SchemaRegistry",
    "Send",
    "SessionClosedError",
    "UnknownCallError",
    "VersionSchemas",
    "actions",
    "csms_actions",
    "encode_frame",
    "error_code",
    "fault_kind_of",
    "is_valid_error_code",
    "parse_frame",
    "send_actions",
    "station_actions",
    "validate",
    "validator",
    "warm_up",
]
