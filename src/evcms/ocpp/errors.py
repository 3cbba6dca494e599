"""CALLERROR codes per OCPP version, version-neutral fault kinds, and :class:`OcppError`.

Code that detects a fault names *what* is wrong with a :class:`FaultKind`; :func:`error_code`
turns it into the exact ``errorCode`` string of the connection's OCPP version. The code lists
come from OCPP-J 1.6 §4.2.3 (Table 7, "Valid Error Codes") and OCPP 2.0.1 / 2.1 Part 4 §4.3
("RPC Framework Error Codes"). 1.6 spells two codes differently from 2.x: ``FormationViolation``
(2.x ``FormatViolation``) and the misspelled ``OccurenceConstraintViolation`` (2.x
``OccurrenceConstraintViolation``); 1.6 has no ``MessageTypeNotSupported`` and no
``RpcFrameworkError``.

Mapping (FaultKind -> errorCode):

======================  ============================  ===============================
FaultKind               OCPP 1.6                      OCPP 2.0.1 and 2.1
======================  ============================  ===============================
MALFORMED_JSON          FormationViolation            RpcFrameworkError
BAD_FRAME               ProtocolError                 RpcFrameworkError
UNKNOWN_MESSAGE_TYPE    ProtocolError                 MessageTypeNotSupported
DUPLICATE_ID            ProtocolError                 RpcFrameworkError
UNKNOWN_ACTION          NotImplemented                NotImplemented
NOT_IMPLEMENTED         NotImplemented                NotImplemented
NOT_SUPPORTED           NotSupported                  NotSupported
FORMAT                  FormationViolation            FormatViolation
UNEXPECTED_PROPERTY     FormationViolation            FormatViolation
PROTOCOL                ProtocolError                 ProtocolError
MISSING_PROPERTY        OccurenceConstraintViolation  OccurrenceConstraintViolation
OCCURRENCE              OccurenceConstraintViolation  OccurrenceConstraintViolation
WRONG_TYPE              TypeConstraintViolation       TypeConstraintViolation
BAD_VALUE               PropertyConstraintViolation   PropertyConstraintViolation
SECURITY                SecurityError                 SecurityError
INTERNAL                InternalError                 InternalError
GENERIC                 GenericError                  GenericError
======================  ============================  ===============================

Why:

* MALFORMED_JSON (the text is not JSON): 2.x says RpcFrameworkError is for "content of the call
  is not a valid RPC request, for example: MessageId could not be read". 1.6 has no such code;
  FormationViolation ("syntactically incorrect") is the closest.
* BAD_FRAME (valid JSON but not a well-formed RPC array: not a list, wrong element count,
  message id not a string of 1..36 characters, action not a string): RpcFrameworkError in 2.x;
  ProtocolError ("incomplete") in 1.6.
* UNKNOWN_MESSAGE_TYPE: MessageTypeNotSupported exists for this in 2.x; 1.6 only says to ignore
  the payload, we answer ProtocolError so the sender is not left waiting.
* Schema violations follow the JSON-schema keyword that failed: ``required`` and
  ``minItems``/``maxItems`` -> occurrence; ``type`` -> type constraint; ``enum``, lengths,
  bounds, ``pattern`` and ``format`` -> property constraint; ``additionalProperties`` -> format
  (the payload does not have the structure of the PDU).
* When the message id cannot be read (or is not a valid id), the CALLERROR carries
  :data:`UNREADABLE_MESSAGE_ID` (``"-1"``), as 2.0.1 / 2.1 Part 4 §4.2.3 require ("When also the
  MessageId cannot be read, the CALLERROR SHALL contain "-1" as MessageId"); we do the same in
  1.6, which does not say.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from evcms.ocpp.versions import OcppVersion

__all__ = [
    "ERROR_CODES",
    "MAX_DESCRIPTION_LENGTH",
    "UNREADABLE_MESSAGE_ID",
    "ErrorCode",
    "FaultKind",
    "OcppError",
    "error_code",
    "fault_kind_of",
    "is_valid_error_code",
    "truncate_description",
]

#: Message id of a CALLERROR answering a message whose id could not be read.
UNREADABLE_MESSAGE_ID = "-1"

#: Maximum length of ``errorDescription`` (2.x: string[255]); longer texts are truncated.
MAX_DESCRIPTION_LENGTH = 255


class ErrorCode(enum.StrEnum):
    """Every ``errorCode`` string any supported OCPP version defines."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"  # 1.6 only
    FORMAT_VIOLATION = "FormatViolation"  # 2.0.1, 2.1
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"  # 1.6 (sic)
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"  # 2.0.1, 2.1
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"  # 2.0.1, 2.1
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"  # 2.0.1, 2.1


class FaultKind(enum.StrEnum):
    """What is wrong, independent of the OCPP version (see the module table)."""

    MALFORMED_JSON = "malformed_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_ACTION = "unknown_action"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    FORMAT = "format"
    UNEXPECTED_PROPERTY = "unexpected_property"
    PROTOCOL = "protocol"
    MISSING_PROPERTY = "missing_property"
    OCCURRENCE = "occurrence"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    SECURITY = "security"
    INTERNAL = "internal"
    GENERIC = "generic"


_E = ErrorCode
_COMMON: dict[FaultKind, ErrorCode] = {
    FaultKind.UNKNOWN_ACTION: _E.NOT_IMPLEMENTED,
    FaultKind.NOT_IMPLEMENTED: _E.NOT_IMPLEMENTED,
    FaultKind.NOT_SUPPORTED: _E.NOT_SUPPORTED,
    FaultKind.PROTOCOL: _E.PROTOCOL_ERROR,
    FaultKind.WRONG_TYPE: _E.TYPE_CONSTRAINT_VIOLATION,
    FaultKind.BAD_VALUE: _E.PROPERTY_CONSTRAINT_VIOLATION,
    FaultKind.SECURITY: _E.SECURITY_ERROR,
    FaultKind.INTERNAL: _E.INTERNAL_ERROR,
    FaultKind.GENERIC: _E.GENERIC_ERROR,
}
_V16: dict[FaultKind, ErrorCode] = {
    **_COMMON,
    FaultKind.MALFORMED_JSON: _E.FORMATION_VIOLATION,
    FaultKind.BAD_FRAME: _E.PROTOCOL_ERROR,
    FaultKind.UNKNOWN_MESSAGE_TYPE: _E.PROTOCOL_ERROR,
    FaultKind.DUPLICATE_ID: _E.PROTOCOL_ERROR,
    FaultKind.FORMAT: _E.FORMATION_VIOLATION,
    FaultKind.UNEXPECTED_PROPERTY: _E.FORMATION_VIOLATION,
    FaultKind.MISSING_PROPERTY: _E.OCCURENCE_CONSTRAINT_VIOLATION,
    FaultKind.OCCURRENCE: _E.OCCURENCE_CONSTRAINT_VIOLATION,
}
_V2X: dict[FaultKind, ErrorCode] = {
    **_COMMON,
    FaultKind.MALFORMED_JSON: _E.RPC_FRAMEWORK_ERROR,
    FaultKind.BAD_FRAME: _E.RPC_FRAMEWORK_ERROR,
    FaultKind.UNKNOWN_MESSAGE_TYPE: _E.MESSAGE_TYPE_NOT_SUPPORTED,
    FaultKind.DUPLICATE_ID: _E.RPC_FRAMEWORK_ERROR,
    FaultKind.FORMAT: _E.FORMAT_VIOLATION,
    FaultKind.UNEXPECTED_PROPERTY: _E.FORMAT_VIOLATION,
    FaultKind.MISSING_PROPERTY: _E.OCCURRENCE_CONSTRAINT_VIOLATION,
    FaultKind.OCCURRENCE: _E.OCCURRENCE_CONSTRAINT_VIOLATION,
}

# Plain strings, looked up on the hot path without enum overhead.
_CODES: dict[OcppVersion, dict[FaultKind, str]] = {
    OcppVersion.V16: {k: v.value for k, v in _V16.items()},
    OcppVersion.V201: {k: v.value for k, v in _V2X.items()},
    OcppVersion.V21: {k: v.value for k, v in _V2X.items()},
}

_V16_CODES = frozenset(v.value for v in _V16.values()) | {_E.GENERIC_ERROR.value}
_V2X_CODES = frozenset(v.value for v in _V2X.values())

#: The valid ``errorCode`` strings of each version.
ERROR_CODES: Mapping[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: _V16_CODES,
    OcppVersion.V201: _V2X_CODES,
    OcppVersion.V21: _V2X_CODES,
}

# Reverse lookup for inbound CALLERRORs; accepts both spellings in every version because
# stations in the field mix them up.
_KIND_OF_CODE: dict[str, FaultKind] = {
    "NotImplemented": FaultKind.NOT_IMPLEMENTED,
    "NotSupported": FaultKind.NOT_SUPPORTED,
    "InternalError": FaultKind.INTERNAL,
    "ProtocolError": FaultKind.PROTOCOL,
    "SecurityError": FaultKind.SECURITY,
    "FormationViolation": FaultKind.FORMAT,
    "FormatViolation": FaultKind.FORMAT,
    "PropertyConstraintViolation": FaultKind.BAD_VALUE,
    "OccurenceConstraintViolation": FaultKind.OCCURRENCE,
    "OccurrenceConstraintViolation": FaultKind.OCCURRENCE,
    "TypeConstraintViolation": FaultKind.WRONG_TYPE,
    "GenericError": FaultKind.GENERIC,
    "MessageTypeNotSupported": FaultKind.UNKNOWN_MESSAGE_TYPE,
    "RpcFrameworkError": FaultKind.BAD_FRAME,
}


def error_code(version: OcppVersion, kind: FaultKind) -> str:
    """The exact ``errorCode`` string that ``version`` uses for ``kind``."""
    return _CODES[version][kind]


def is_valid_error_code(version: OcppVersion, code: str) -> bool:
    """Whether ``code`` is one of the error codes ``version`` defines."""
    return code in ERROR_CODES[version]


def fault_kind_of(code: str) -> FaultKind | None:
    """A fault kind for an error code received from a peer (either spelling); None if unknown."""
    return _KIND_OF_CODE.get(code)


def truncate_description(description: str) -> str:
    """``description`` cut to the 255 characters an ``errorDescription`` may hold."""
    if len(description) <= MAX_DESCRIPTION_LENGTH:
        return description
    return description[: MAX_DESCRIPTION_LENGTH - 3] + "..."


class OcppError(Exception):
    """A fault that becomes a CALLERROR (raise it from a handler; the owner answers with it).

    ``kind`` is version-neutral; :meth:`code` gives the version's error code. ``details`` goes
    into ``errorDetails`` and must be JSON-serialisable.
    """

    __slots__ = ("description", "details", "kind")

    def __init__(
        self,
        kind: FaultKind,
        description: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(kind, description)
        self.kind = kind
        self.description = description
        self.details: dict[str, Any] = dict(details) if details else {}

    def code(self, version: OcppVersion) -> str:
        """The ``errorCode`` string for ``version``."""
        return _CODES[version][self.kind]

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.description}" if self.description else self.kind.value

    def __repr__(self) -> str:
        return (
            f"OcppError(kind={self.kind!r}, description={self.description!r}, "
            f"details={self.details!r})"
        )
