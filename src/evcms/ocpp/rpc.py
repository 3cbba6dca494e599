"""The sans-I/O OCPP-J RPC session: correlation, one CALL in flight, timeouts, validation.

:class:`RpcSession` does no I/O and reads no clock. Its owner (the CSMS connection loop, or the
station simulator) feeds it every received text message with :meth:`RpcSession.receive`, writes
whatever :meth:`RpcSession.data_to_send` returns to the WebSocket, calls
:meth:`RpcSession.tick` at :meth:`RpcSession.next_deadline`, and calls
:meth:`RpcSession.connection_lost` when the socket closes. Time is a float in monotonic seconds
passed in by the owner.

What the session does by itself (no owner action needed):

* A frame that is not valid OCPP-J is answered with a CALLERROR of the right code (message id
  ``"-1"`` when it cannot be read) and reported as :class:`ProtocolViolation`. Broken
  CALLRESULT / CALLERROR / SEND frames are never answered with a CALLERROR (only reported).
* An inbound CALL is checked for a duplicate message id (still unanswered), an action unknown
  to the version (NotImplemented), an action the peer may not send in our role (NotSupported,
  e.g. a station sending ``Reset``), and the request schema (the mapped constraint code).
  Only a CALL that passes all of these becomes a :class:`CallReceived` event, which the owner
  must answer with :meth:`RpcSession.send_result` or :meth:`RpcSession.send_error`.
  Deciding "a known action we have no handler for" is the owner's job
  (``send_error(uid, FaultKind.NOT_IMPLEMENTED)``).
* Outbound CALLs go one at a time (OCPP-J allows one CALL in flight per direction): a second
  :meth:`RpcSession.send_call` is queued and written when the first completes, errors, or
  times out; its timeout starts when it is written. Inbound CALLs are independent of this.
* A CALLRESULT / CALLERROR that does not match the call in flight is reported as a
  :class:`ProtocolViolation` and otherwise ignored. A CALLRESULT that fails the response
  schema resolves the call as :class:`CallErrored` with a synthetic :class:`CallError`; in
  OCPP 2.1 the session also answers it with a CALLRESULTERROR.

Our own mistakes (an invalid outbound payload, an action we may not send, answering a call
that is not pending) raise exceptions instead: :class:`OutboundValidationError`,
:class:`UnknownCallError`, :class:`SessionClosedError`.
"""

from __future__ import annotations

import enum
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from evcms.ocpp.errors import (
    ERROR_CODES,
    UNREADABLE_MESSAGE_ID,
    FaultKind,
    OcppError,
    error_code,
    truncate_description,
)
from evcms.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    Send,
    encode_call,
    encode_call_error,
    encode_call_result,
    encode_call_result_error,
    encode_send,
    parse_frame,
)
from evcms.ocpp.schemas import VersionSchemas, registry
from evcms.ocpp.versions import OcppVersion

__all__ = [
    "CallCompleted",
    "CallDisconnected",
    "CallErrored",
    "CallReceived",
    "CallResultRejected",
    "CallTimedOut",
    "MessageReceived",
    "OutboundValidationError",
    "ProtocolViolation",
    "Role",
    "RpcEvent",
    "RpcSession",
    "SessionClosedError",
    "UnknownCallError",
]

JsonObject = dict[str, Any]


class Role(enum.Enum):
    """Which end of the connection this session is."""

    CSMS = "csms"
    STATION = "station"


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CallReceived:
    """A valid inbound CALL; answer it with ``send_result`` or ``send_error``."""

    call: Call


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """Our CALL ``handle`` got a schema-valid CALLRESULT."""

    handle: int
    action: str
    payload: JsonObject


@dataclass(frozen=True, slots=True)
class CallErrored:
    """Our CALL ``handle`` got a CALLERROR, or a CALLRESULT that was invalid (synthetic error)."""

    handle: int
    action: str
    error: CallError


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """Our CALL ``handle`` got no answer within its timeout."""

    handle: int
    action: str


@dataclass(frozen=True, slots=True)
class CallDisconnected:
    """Our CALL ``handle`` was in flight or queued when the connection was lost."""

    handle: int
    action: str


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """(2.1) A valid inbound SEND; it must not be answered."""

    message: Send


@dataclass(frozen=True, slots=True)
class CallResultRejected:
    """(2.1) The peer could not process a CALLRESULT we sent (it sent a CALLRESULTERROR)."""

    error: CallResultError


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """Something the peer sent was wrong; worth a log line.

    ``error_code`` is the code of the CALLERROR / CALLRESULTERROR the session wrote in answer,
    or None when nothing was written.
    """

    description: str
    unique_id: str | None = None
    action: str | None = None
    error_code: str | None = None


RpcEvent = (
    CallReceived
    | CallCompleted
    | CallErrored
    | CallTimedOut
    | CallDisconnected
    | MessageReceived
    | CallResultRejected
    | ProtocolViolation
)

# ----------------------------------------------------------------------------- errors


class OutboundValidationError(ValueError):
    """We tried to send something invalid (our bug): unknown action, wrong direction, or a
    payload that fails the schema. ``error`` holds the schema fault when there is one."""

    def __init__(self, action: str, message: str, error: OcppError | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.error = error


class UnknownCallError(LookupError):
    """``send_result`` / ``send_error`` for a message id that is not an unanswered inbound CALL."""


class SessionClosedError(RuntimeError):
    """``send_call`` / ``send_message`` after ``connection_lost``."""


# ----------------------------------------------------------------------------- session


@dataclass(slots=True)
class _Outbound:
    handle: int
    unique_id: str
    action: str
    text: str
    timeout: float
    deadline: float = 0.0


def _uuid4() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class _Tables:
    known: frozenset[str]
    peer: str
    inbound_calls: frozenset[str]
    inbound_sends: frozenset[str]
    outbound_calls: frozenset[str]
    outbound_sends: frozenset[str]
    codes: Mapping[FaultKind, str]
    is_v21: bool
    unanswerable: frozenset[int]


_TABLES: dict[tuple[int, Role, bool], tuple[VersionSchemas, _Tables]] = {}


def _tables(s: VersionSchemas, role: Role, strict_direction: bool) -> _Tables:
    key = (id(s), role, strict_direction)
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is s:
        return cached[1]
    known = s.actions | s.send_actions
    if role is Role.CSMS:
        peer_actions, own_actions, peer = s.station_actions, s.csms_actions, "station"
    else:
        peer_actions, own_actions, peer = s.csms_actions, s.station_actions, "CSMS"
    if not strict_direction:
        peer_actions = own_actions = known
    is_v21 = s.version is OcppVersion.V21
    tables = _Tables(
        known=known,
        peer=peer,
        inbound_calls=peer_actions & s.actions,
        inbound_sends=peer_actions & s.send_actions,
        outbound_calls=own_actions & s.actions,
        outbound_sends=own_actions & s.send_actions,
        codes={k: error_code(s.version, k) for k in FaultKind},
        is_v21=is_v21,
        unanswerable=frozenset((3, 4, 5, 6) if is_v21 else (3, 4)),
    )
    _TABLES[key] = (s, tables)
    return tables


class RpcSession:
    """One OCPP-J connection's RPC state, in either role. Not thread-safe."""

    __slots__ = (
        "_closed",
        "_codes",
        "_handles",
        "_id_factory",
        "_in_flight",
        "_inbound",
        "_inbound_calls",
        "_inbound_sends",
        "_is_v21",
        "_known",
        "_out",
        "_outbound_calls",
        "_outbound_sends",
        "_peer",
        "_queue",
        "_schemas",
        "_unanswerable",
        "call_timeout",
        "role",
        "validate",
        "version",
    )

    def __init__(
        self,
        version: OcppVersion,
        role: Role,
        *,
        call_timeout: float = 30.0,
        validate: bool = True,
        id_factory: Callable[[], str] = _uuid4,
        strict_direction: bool = True,
        schemas: VersionSchemas | None = None,
    ) -> None:
        if call_timeout <= 0:
            raise ValueError("call_timeout must be positive")
        self.version = version
        self.role = role
        self.call_timeout = call_timeout
        self.validate = validate
        self._id_factory = id_factory
        self._schemas = schemas if schemas is not None else registry.for_version(version)
        # The action sets and codes depend only on (schemas, role, strictness): shared by every
        # session of that kind, so ten thousand connections do not each hold their own copies.
        t = _tables(self._schemas, role, strict_direction)
        self._known = t.known
        self._peer = t.peer
        self._inbound_calls = t.inbound_calls
        self._inbound_sends = t.inbound_sends
        self._outbound_calls = t.outbound_calls
        self._outbound_sends = t.outbound_sends
        self._codes = t.codes
        self._is_v21 = t.is_v21
        # message types that are never answered with a CALLERROR, even when broken
        self._unanswerable = t.unanswerable

        self._out: list[str] = []
        self._inbound: dict[str, str] = {}  # unanswered inbound CALL id -> action
        self._in_flight: _Outbound | None = None
        self._queue: deque[_Outbound] | None = None  # created when a second call waits
        self._handles = count(1)
        self._closed = False

    # -- introspection -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True after :meth:`connection_lost`."""
        return self._closed

    @property
    def in_flight(self) -> int | None:
        """Handle of our CALL awaiting an answer, if any."""
        return self._in_flight.handle if self._in_flight is not None else None

    @property
    def queued(self) -> int:
        """How many of our CALLs wait behind the one in flight."""
        return len(self._queue) if self._queue is not None else 0

    @property
    def unanswered(self) -> int:
        """How many inbound CALLs the owner has not answered yet."""
        return len(self._inbound)

    # -- output --------------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        """Frames to write to the WebSocket, in order; clears the buffer."""
        out = self._out
        if not out:
            return []
        self._out = []
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must be called next (None: nothing is waiting)."""
        inflight = self._in_flight
        return inflight.deadline if inflight is not None else None

    # -- input ---------------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[RpcEvent]:
        """Process one received text message; never raises for anything the peer sends."""
        if self._closed:
            return []
        try:
            frame = parse_frame(data, self.version)
        except FrameError as exc:
            return self._on_bad_frame(exc, now)
        if isinstance(frame, Call):
            return self._on_call(frame)
        if isinstance(frame, CallResult):
            return self._on_call_result(frame, now)
        if isinstance(frame, CallError):
            return self._on_call_error(frame, now)
        if isinstance(frame, Send):
            return self._on_send(frame)
        return [CallResultRejected(frame)]

    def tick(self, now: float) -> list[RpcEvent]:
        """Expire the call in flight if its deadline has passed, then send the next one."""
        inflight = self._in_flight
        if inflight is None or now < inflight.deadline:
            return []
        self._in_flight = None
        self._send_next(now)
        return [CallTimedOut(inflight.handle, inflight.action)]

    def connection_lost(self) -> list[RpcEvent]:
        """The socket is gone: every call in flight or queued fails; the session closes."""
        events: list[RpcEvent] = []
        if self._in_flight is not None:
            events.append(CallDisconnected(self._in_flight.handle, self._in_flight.action))
            self._in_flight = None
        for queued in self._queue or ():
            events.append(CallDisconnected(queued.handle, queued.action))
        self._queue = None
        self._inbound.clear()
        self._out = []
        self._closed = True
        return events

    # -- answering inbound calls ---------------------------------------------------------

    def send_result(self, unique_id: str, payload: JsonObject) -> None:
        """Answer the inbound CALL ``unique_id`` with a CALLRESULT.

        Raises :class:`OutboundValidationError` if ``payload`` fails the response schema (the
        call stays unanswered, so the owner can still ``send_error`` it) and
        :class:`UnknownCallError` if there is no such unanswered call. Does nothing once the
        session is closed.
        """
        if self._closed:
            return
        action = self._inbound.get(unique_id)
        if action is None:
            raise UnknownCallError(f"no unanswered inbound CALL with id {unique_id!r}")
        if self.validate:
            try:
                self._schemas.validate_response(action, payload)
            except OcppError as exc:
                raise OutboundValidationError(
                    action, f"our {action} response is invalid: {exc.description}", exc
                ) from None
        try:
            text = encode_call_result(unique_id, payload)
        except TypeError as exc:
            raise OutboundValidationError(action, f"{action} response is not JSON: {exc}") from None
        del self._inbound[unique_id]
        self._out.append(text)

    def send_error(
        self,
        unique_id: str,
        kind_or_code: FaultKind | OcppError | str,
        description: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the inbound CALL ``unique_id`` with a CALLERROR.

        ``kind_or_code`` is a :class:`FaultKind` (mapped to this version's code), an
        :class:`OcppError` (its kind, description and details are used unless given here),
        or an exact error code string valid in this version (else ``ValueError``).
        """
        if self._closed:
            return
        if unique_id not in self._inbound:
            raise UnknownCallError(f"no unanswered inbound CALL with id {unique_id!r}")
        if isinstance(kind_or_code, OcppError):
            code = self._codes[kind_or_code.kind]
            description = description or kind_or_code.description
            if details is None:
                details = kind_or_code.details
        elif isinstance(kind_or_code, FaultKind):
            code = self._codes[kind_or_code]
        else:
            code = kind_or_code
            if code not in ERROR_CODES[self.version]:
                raise ValueError(f"{code!r} is not an error code of {self.version.value}")
        text = encode_call_error(
            unique_id, code, truncate_description(description), dict(details or {})
        )
        del self._inbound[unique_id]
        self._out.append(text)

    # -- our own calls -------------------------------------------------------------------

    def send_call(
        self, action: str, payload: JsonObject, now: float, *, timeout: float | None = None
    ) -> int:
        """Send (or queue behind the call in flight) a CALL; returns its handle.

        The call's timeout (``timeout`` or the session's ``call_timeout``) starts when it is
        written. Raises :class:`OutboundValidationError` for an action we may not send or a
        payload that fails the request schema, :class:`SessionClosedError` after
        :meth:`connection_lost`.
        """
        if self._closed:
            raise SessionClosedError("the connection is closed")
        if action not in self._outbound_calls:
            raise OutboundValidationError(action, self._why_not_outbound(action, "CALL"))
        if self.validate:
            try:
                self._schemas.validate_request(action, payload)
            except OcppError as exc:
                raise OutboundValidationError(
                    action, f"our {action} request is invalid: {exc.description}", exc
                ) from None
        if timeout is None:
            timeout = self.call_timeout
        elif timeout <= 0:
            raise ValueError("timeout must be positive")
        unique_id = self._id_factory()
        try:
            text = encode_call(unique_id, action, payload)
        except TypeError as exc:
            raise OutboundValidationError(action, f"{action} request is not JSON: {exc}") from None
        outbound = _Outbound(next(self._handles), unique_id, action, text, timeout)
        if self._in_flight is None:
            outbound.deadline = now + timeout
            self._in_flight = outbound
            self._out.append(text)
        else:
            if self._queue is None:
                self._queue = deque()
            self._queue.append(outbound)
        return outbound.handle

    def send_message(self, action: str, payload: JsonObject) -> None:
        """(2.1) Send a SEND message: written at once, never answered, not queued."""
        if self._closed:
            raise SessionClosedError("the connection is closed")
        if not self._is_v21:
            raise OutboundValidationError(action, "SEND messages exist only in OCPP 2.1")
        if action not in self._outbound_sends:
            raise OutboundValidationError(action, self._why_not_outbound(action, "SEND"))
        if self.validate:
            try:
                self._schemas.validate_request(action, payload)
            except OcppError as exc:
                raise OutboundValidationError(
                    action, f"our {action} message is invalid: {exc.description}", exc
                ) from None
        try:
            text = encode_send(self._id_factory(), action, payload)
        except TypeError as exc:
            raise OutboundValidationError(action, f"{action} message is not JSON: {exc}") from None
        self._out.append(text)

    # -- internals -----------------------------------------------------------------------

    def _why_not_outbound(self, action: str, what: str) -> str:
        if action not in self._known:
            return f"{action} is not an action of OCPP {self.version.value}"
        if what == "CALL" and action in self._schemas.send_actions:
            return f"{action} is a SEND message; use send_message"
        if what == "SEND" and action in self._schemas.actions:
            return f"{action} is a CALL; use send_call"
        return f"a {self.role.value} does not send {action} in OCPP {self.version.value}"

    def _send_next(self, now: float) -> None:
        if self._queue:
            outbound = self._queue.popleft()
            outbound.deadline = now + outbound.timeout
            self._in_flight = outbound
            self._out.append(outbound.text)

    def _reject(
        self,
        unique_id: str | None,
        kind: FaultKind,
        description: str,
        action: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> list[RpcEvent]:
        code = self._codes[kind]
        self._out.append(
            encode_call_error(
                unique_id or UNREADABLE_MESSAGE_ID,
                code,
                truncate_description(description),
                dict(details or {}),
            )
        )
        return [ProtocolViolation(description, unique_id, action, code)]

    def _on_bad_frame(self, exc: FrameError, now: float) -> list[RpcEvent]:
        mtid = exc.message_type_id
        if mtid is None or mtid not in self._unanswerable:
            return self._reject(exc.unique_id, exc.kind, exc.description)
        # A broken answer or SEND: never answered with a CALLERROR.
        events: list[RpcEvent] = [ProtocolViolation(exc.description, exc.unique_id)]
        inflight = self._in_flight
        if inflight is not None and exc.unique_id == inflight.unique_id and mtid in (3, 4):
            if mtid == 3:
                code = self._codes[exc.kind]
                description = f"the {self._peer}'s answer is not a valid CALLRESULT: "
                if self._is_v21:
                    self._out.append(
                        encode_call_result_error(
                            inflight.unique_id, code, truncate_description(exc.description)
                        )
                    )
                    events[0] = ProtocolViolation(exc.description, exc.unique_id, None, code)
            else:
                code = self._codes[FaultKind.GENERIC]
                description = f"the {self._peer}'s CALLERROR is malformed: "
            error = CallError(
                inflight.unique_id, code, truncate_description(description + exc.description)
            )
            events.append(CallErrored(inflight.handle, inflight.action, error))
            self._in_flight = None
            self._send_next(now)
        return events

    def _on_call(self, call: Call) -> list[RpcEvent]:
        unique_id = call.unique_id
        action = call.action
        if unique_id in self._inbound:
            return self._reject(
                unique_id,
                FaultKind.DUPLICATE_ID,
                f"message id {unique_id} is already used by an unanswered "
                f"{self._inbound[unique_id]} CALL",
                action,
            )
        if action not in self._inbound_calls:
            if action not in self._known:
                return self._reject(
                    unique_id,
                    FaultKind.UNKNOWN_ACTION,
                    f"{action} is not an action of OCPP {self.version.value}",
                    action,
                )
            if action in self._schemas.send_actions:
                why = f"{action} must be sent as a SEND message, not a CALL"
            else:
                why = f"a {self._peer} may not send {action} in OCPP {self.version.value}"
            return self._reject(unique_id, FaultKind.NOT_SUPPORTED, why, action)
        if self.validate:
            try:
                self._schemas.validate_request(action, call.payload)
            except OcppError as exc:
                return self._reject(unique_id, exc.kind, exc.description, action, exc.details)
        self._inbound[unique_id] = action
        return [CallReceived(call)]

    def _on_call_result(self, result: CallResult, now: float) -> list[RpcEvent]:
        inflight = self._in_flight
        if inflight is None or result.unique_id != inflight.unique_id:
            return [
                ProtocolViolation(
                    f"CALLRESULT {result.unique_id} does not answer our call in flight",
                    result.unique_id,
                )
            ]
        self._in_flight = None
        event: RpcEvent
        if self.validate:
            try:
                self._schemas.validate_response(inflight.action, result.payload)
            except OcppError as exc:
                code = self._codes[exc.kind]
                description = truncate_description(
                    f"the {self._peer}'s answer is invalid: {exc.description}"
                )
                if self._is_v21:
                    self._out.append(
                        encode_call_result_error(
                            result.unique_id,
                            code,
                            truncate_description(exc.description),
                            exc.details,
                        )
                    )
                event = CallErrored(
                    inflight.handle,
                    inflight.action,
                    CallError(result.unique_id, code, description, exc.details),
                )
                self._send_next(now)
                return [event]
        event = CallCompleted(inflight.handle, inflight.action, result.payload)
        self._send_next(now)
        return [event]

    def _on_call_error(self, error: CallError, now: float) -> list[RpcEvent]:
        inflight = self._in_flight
        if inflight is None or error.unique_id != inflight.unique_id:
            return [
                ProtocolViolation(
                    f"CALLERROR {error.unique_id} ({error.error_code}) does not answer our "
                    "call in flight",
                    error.unique_id,
                )
            ]
        self._in_flight = None
        self._send_next(now)
        return [CallErrored(inflight.handle, inflight.action, error)]

    def _on_send(self, message: Send) -> list[RpcEvent]:
        action = message.action
        if action not in self._inbound_sends:
            if action not in self._known:
                why = f"SEND {action} is not an action of OCPP {self.version.value}"
            elif action in self._schemas.actions:
                why = f"{action} is a CALL and cannot be sent as a SEND message"
            else:
                why = f"a {self._peer} may not send {action}"
            return [ProtocolViolation(why, message.unique_id, action)]
        if self.validate:
            try:
                self._schemas.validate_request(action, message.payload)
            except OcppError as exc:
                return [ProtocolViolation(exc.description, message.unique_id, action)]
        return [MessageReceived(message)]
