"""Diagnostics rules: one-time upload tokens, what a request's progress is, safe file names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.diagnostics import (
    DiagnosticsRequest,
    Progress,
    TokenState,
    UploadedFile,
    is_failure,
    is_final,
    progress,
    safe_file_name,
    token_state,
)

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
FILE = UploadedFile("diag.zip", 10, "0" * 64, T0)


def request(**changes) -> DiagnosticsRequest:
    base = DiagnosticsRequest(
        1, "CP-1", "ocpp1.6", "tok", T0 + timedelta(hours=1), T0, T0, command_outcome="result"
    )
    return base.replace(**changes)


def test_a_token_takes_one_file_before_it_expires():
    assert token_state(request(), T0) is TokenState.VALID
    assert token_state(request(), T0 + timedelta(minutes=59)) is TokenState.VALID
    assert token_state(request(), T0 + timedelta(hours=1)) is TokenState.EXPIRED
    assert token_state(request(file=FILE), T0) is TokenState.USED


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, Progress.REQUESTED),
        ({"command_outcome": "timeout"}, Progress.NOT_SENT),
        ({"command_outcome": "disconnected"}, Progress.NOT_SENT),
        ({"answer_status": "Rejected"}, Progress.REJECTED),
        ({"answer_status": "Accepted", "station_status": "Uploading"}, Progress.UPLOADING),
        ({"station_status": "Uploading", "file": FILE}, Progress.FILE_RECEIVED),
        ({"station_status": "Uploaded", "file": FILE}, Progress.COMPLETED),
        ({"station_status": "Uploaded"}, Progress.UPLOADED_WITHOUT_FILE),  # worth showing
        ({"station_status": "UploadFailed"}, Progress.FAILED),  # 1.6
        ({"station_status": "UploadFailure"}, Progress.FAILED),  # 2.0.1
        ({"station_status": "PermissionDenied"}, Progress.FAILED),
        ({"station_status": "Idle"}, Progress.REQUESTED),
    ],
)
def test_progress_combines_the_stations_report_and_whether_the_file_arrived(changes, expected):
    assert progress(request(**changes)) is expected


@pytest.mark.parametrize(
    ("status", "failed", "final"),
    [
        ("Uploading", False, False),
        ("Idle", False, False),
        ("Uploaded", False, True),
        ("UploadFailed", True, True),
        ("UploadFailure", True, True),
        ("BadMessage", True, True),
        ("NotSupportedOperation", True, True),
        ("AcceptedCanceled", False, False),
    ],
)
def test_which_statuses_end_an_upload(status, failed, final):
    assert is_failure(status) is failed
    assert is_final(status) is final


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("diag.zip", "diag.zip"),
        ("../../etc/passwd", "passwd"),
        ("C:\\logs\\station.log", "station.log"),
        (".hidden", "hidden"),
        ('a"b<c>.txt', "abc.txt"),
        ("", "fallback"),
        (None, "fallback"),
        ("..", "fallback"),
    ],
)
def test_file_names_are_reduced_to_a_safe_last_segment(name, expected):
    assert safe_file_name(name, "fallback") == expected


@given(st.text(max_size=300))
def test_a_safe_file_name_never_has_a_separator_or_starts_with_a_dot(name):
    safe = safe_file_name(name, "f")
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert len(safe) <= 200
