"""Versions, the CALLERROR code table and OcppError."""

from __future__ import annotations

import pytest

from evcms.ocpp import (
    ERROR_CODES,
    SUPPORTED_SUBPROTOCOLS,
    FaultKind,
    OcppError,
    OcppVersion,
    error_code,
    fault_kind_of,
    is_valid_error_code,
)
from evcms.ocpp.errors import truncate_description

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21


def test_version_values_are_subprotocol_names() -> None:
    assert OcppVersion("ocpp1.6") is V16
    assert OcppVersion("ocpp2.0.1") is V201
    assert OcppVersion("ocpp2.1") is V21
    assert isinstance(V16, str) and V16 == "ocpp1.6"
    assert SUPPORTED_SUBPROTOCOLS == ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")


def test_every_version_has_exactly_the_spec_error_codes() -> None:
    # OCPP-J 1.6 §4.2.3 Table 7 (note the misspelling) and 2.0.1 / 2.1 Part 4 §4.3 Table 9
    assert ERROR_CODES[V16] == {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
    two_x = {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
    assert ERROR_CODES[V201] == two_x
    assert ERROR_CODES[V21] == two_x


@pytest.mark.parametrize("version", list(OcppVersion))
@pytest.mark.parametrize("kind", list(FaultKind))
def test_every_kind_maps_to_a_code_of_that_version(version: OcppVersion, kind: FaultKind) -> None:
    code = error_code(version, kind)
    assert is_valid_error_code(version, code)


@pytest.mark.parametrize(
    ("kind", "v16", "v2x"),
    [
        (FaultKind.MALFORMED_JSON, "FormationViolation", "RpcFrameworkError"),
        (FaultKind.BAD_FRAME, "ProtocolError", "RpcFrameworkError"),
        (FaultKind.UNKNOWN_MESSAGE_TYPE, "ProtocolError", "MessageTypeNotSupported"),
        (FaultKind.UNKNOWN_ACTION, "NotImplemented", "NotImplemented"),
        (FaultKind.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (
            FaultKind.MISSING_PROPERTY,
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
        (FaultKind.WRONG_TYPE, "TypeConstraintViolation", "TypeConstraintViolation"),
        (FaultKind.BAD_VALUE, "PropertyConstraintViolation", "PropertyConstraintViolation"),
        (FaultKind.UNEXPECTED_PROPERTY, "FormationViolation", "FormatViolation"),
        (FaultKind.INTERNAL, "InternalError", "InternalError"),
        (FaultKind.SECURITY, "SecurityError", "SecurityError"),
        (FaultKind.GENERIC, "GenericError", "GenericError"),
    ],
)
def test_mapping_table(kind: FaultKind, v16: str, v2x: str) -> None:
    assert error_code(V16, kind) == v16
    assert error_code(V201, kind) == v2x
    assert error_code(V21, kind) == v2x


def test_reverse_lookup_accepts_both_spellings() -> None:
    assert fault_kind_of("OccurenceConstraintViolation") is FaultKind.OCCURRENCE
    assert fault_kind_of("OccurrenceConstraintViolation") is FaultKind.OCCURRENCE
    assert fault_kind_of("FormationViolation") is FaultKind.FORMAT
    assert fault_kind_of("NoSuchCode") is None


def test_ocpp_error_carries_kind_description_and_details() -> None:
    exc = OcppError(FaultKind.SECURITY, "not allowed before boot", {"hint": "boot first"})
    assert exc.kind is FaultKind.SECURITY
    assert exc.description == "not allowed before boot"
    assert exc.details == {"hint": "boot first"}
    assert exc.code(V16) == "SecurityError"
    assert "not allowed" in str(exc)
    assert OcppError(FaultKind.GENERIC).details == {}


def test_descriptions_are_cut_to_255_characters() -> None:
    assert truncate_description("x" * 10) == "x" * 10
    cut = truncate_description("x" * 1000)
    assert len(cut) == 255 and cut.endswith("...")
