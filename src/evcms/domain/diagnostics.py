"""Diagnostics and log uploads: what evcms asked a station to upload and where it stands.

evcms hosts the upload endpoint itself. A request carries a one-time upload token; the station
uploads to ``<base>/uploads/<token>[/<file name>]`` and reports its progress with
DiagnosticsStatusNotification (1.6) or LogStatusNotification (2.0.1). Pure rules: no I/O, no
clock (``now`` comes in as a value).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime


class LogType(enum.StrEnum):
    """What to upload: 2.0.1's LogEnumType (1.6 GetDiagnostics has only diagnostics)."""

    DIAGNOSTICS = "DiagnosticsLog"
    SECURITY = "SecurityLog"


# 1.6 DiagnosticsStatus and 2.0.1 UploadLogStatusEnumType, and what each means for a request.
UPLOADED = frozenset({"Uploaded"})
UPLOAD_FAILURES = frozenset(
    {"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"}
)
UPLOAD_STATUSES = frozenset({"Idle", "Uploading", "AcceptedCanceled"}) | UPLOADED | UPLOAD_FAILURES


class TokenState(enum.StrEnum):
    VALID = "valid"
    USED = "used"  # a file arrived already
    EXPIRED = "expired"


class Progress(enum.StrEnum):
    """One word for where a request stands, from the station's answers and the file."""

    REQUESTED = "requested"  # sent, accepted, nothing reported yet
    NOT_SENT = "not_sent"  # the station was not reached, or the call failed
    REJECTED = "rejected"  # the station refused (2.0.1 Rejected)
    UPLOADING = "uploading"
    FILE_RECEIVED = "file_received"  # the file is here, the station has not said Uploaded yet
    COMPLETED = "completed"  # the station said Uploaded and the file is here
    UPLOADED_WITHOUT_FILE = "uploaded_without_file"  # Uploaded, but no file reached evcms
    FAILED = "failed"  # the station reported a failure


@dataclass(frozen=True, slots=True)
class UploadedFile:
    name: str
    size: int
    sha256: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DiagnosticsRequest:
    id: int
    station_id: str
    ocpp_version: str
    token: str
    token_expires_at: datetime
    created_at: datetime
    updated_at: datetime
    requested_by: str = ""
    log_type: LogType = LogType.DIAGNOSTICS
    since: datetime | None = None
    until: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    # the call: outcome (CommandOutcome value) and the station's answer (status or 1.6 fileName)
    command_outcome: str | None = None
    answer_status: str | None = None
    answer_file_name: str | None = None
    # the station's last DiagnosticsStatusNotification / LogStatusNotification
    station_status: str | None = None
    station_status_at: datetime | None = None
    file: UploadedFile | None = None
    # where the file lies in the file store (set with ``file``)
    file_key: str | None = None

    @property
    def request_id(self) -> int:
        """The 2.0.1 requestId sent in GetLog: the request's own id."""
        return self.id

    def replace(self, **changes: object) -> DiagnosticsRequest:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def token_state(request: DiagnosticsRequest, now: datetime) -> TokenState:
    """A token takes one file, before it expires."""
    if request.file is not None:
        return TokenState.USED
    if now >= request.token_expires_at:
        return TokenState.EXPIRED
    return TokenState.VALID


def is_failure(status: str) -> bool:
    return status in UPLOAD_FAILURES


def is_final(status: str) -> bool:
    return status in UPLOADED or status in UPLOAD_FAILURES


def progress(request: DiagnosticsRequest) -> Progress:
    """The request's state for people: the station's last report and whether the file arrived."""
    if request.command_outcome is not None and request.command_outcome != "result":
        return Progress.NOT_SENT
    if request.answer_status == "Rejected":
        return Progress.REJECTED
    status = request.station_status
    if status is not None and is_failure(status):
        return Progress.FAILED
    if status in UPLOADED:
        return Progress.COMPLETED if request.file is not None else Progress.UPLOADED_WITHOUT_FILE
    if request.file is not None:
        return Progress.FILE_RECEIVED
    if status == "Uploading":
        return Progress.UPLOADING
    return Progress.REQUESTED


def safe_file_name(name: str | None, fallback: str) -> str:
    """A file name to keep and offer for download: the last path segment, printable, no
    separators or leading dots; ``fallback`` when nothing is left."""
    if not name:
        return fallback
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in last if ch.isprintable() and ch not in '<>:"|?*').strip()
    cleaned = cleaned.lstrip(".").strip()
    return cleaned[:200] or fallback
