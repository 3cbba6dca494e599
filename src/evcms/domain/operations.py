"""Remote operations: the version-neutral operations an operator sends to stations, the audit
record of every CSMS-initiated call, and the progress of bulk operations.

Pure values and rules; the translation to each OCPP version lives in
``station_gateway/operation_commands.py``.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# -- the audit record -----------------------------------------------------------------------


class OperationOutcome(enum.StrEnum):
    """How an operation ended (the values of ``services.ports.CommandOutcome``), or pending."""

    PENDING = "pending"  # sent (or about to be); no answer yet
    RESULT = "result"  # the station answered with a CALLRESULT
    ERROR = "error"  # the station answered with a CALLERROR
    TIMEOUT = "timeout"  # no answer in time
    DISCONNECTED = "disconnected"  # not connected, or lost while waiting
    REJECTED = "rejected"  # refused before sending (invalid for the station's version)


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One CSMS-initiated call: who asked, what was sent, what came back."""

    id: int
    station_id: str
    action: str  # the OCPP action (Reset, GetVariables, ...)
    request: dict[str, Any]
    requested_by: str
    requested_at: datetime
    outcome: OperationOutcome = OperationOutcome.PENDING
    operation: str | None = None  # the neutral operation's name (reset, ...); None: version's own
    ocpp_version: str | None = None
    status: str | None = None  # normalised: the answer's status (Accepted, Rejected, ...)
    response: dict[str, Any] | None = None  # the CALLRESULT payload
    error_code: str | None = None
    error_description: str | None = None
    finished_at: datetime | None = None
    bulk_id: int | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not OperationOutcome.PENDING


@dataclass(frozen=True, slots=True)
class NewOperation:
    """What is known before a call is sent (stored as pending)."""

    station_id: str
    action: str
    request: dict[str, Any]
    requested_by: str
    requested_at: datetime
    operation: str | None = None
    ocpp_version: str | None = None
    bulk_id: int | None = None


@dataclass(frozen=True, slots=True)
class OperationResult:
    """How a pending operation ended."""

    outcome: OperationOutcome
    finished_at: datetime
    status: str | None = None
    response: dict[str, Any] | None = None
    error_code: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class OperationFilter:
    station_id: str | None = None
    action: str | None = None
    outcome: OperationOutcome | None = None
    requested_by: str | None = None
    bulk_id: int | None = None

    def matches(self, record: OperationRecord) -> bool:
        return (
            (self.station_id is None or record.station_id == self.station_id)
            and (self.action is None or record.action == self.action)
            and (self.outcome is None or record.outcome is self.outcome)
            and (self.requested_by is None or record.requested_by == self.requested_by)
            and (self.bulk_id is None or record.bulk_id == self.bulk_id)
        )


def finish(record: OperationRecord, result: OperationResult) -> OperationRecord:
    """The record after ``result``; a finished record stays as it ended."""
    if record.finished:
        return record
    return OperationRecord(
        id=record.id,
        station_id=record.station_id,
        action=record.action,
        request=record.request,
        requested_by=record.requested_by,
        requested_at=record.requested_at,
        outcome=result.outcome,
        operation=record.operation,
        ocpp_version=record.ocpp_version,
        status=result.status,
        response=result.response,
        error_code=result.error_code,
        error_description=result.error_description,
        finished_at=result.finished_at,
        bulk_id=record.bulk_id,
    )


_ACCEPTED = "Accepted"
_PARTIAL = "PartiallyAccepted"


def normalised_status(action: str, response: Mapping[str, Any] | None) -> str | None:
    """The status a user reads off an answer: its ``status`` field when it has one; for
    answers made of per-item statuses (GetVariables, SetVariables, SetVariableMonitoring,
    ChangeConfiguration-like lists) Accepted when all are, the common status when they agree,
    PartiallyAccepted when some are; GetConfiguration: Accepted (Rejected when every asked key
    was unknown)."""
    if response is None:
        return None
    status = response.get("status")
    if isinstance(status, str):
        return status
    items: list[str] = []
    for field_name, item_status in (
        ("getVariableResult", "attributeStatus"),
        ("setVariableResult", "attributeStatus"),
        ("setMonitoringResult", "status"),
        ("clearMonitoringResult", "status"),
    ):
        for item in response.get(field_name) or ():
            if isinstance(item, Mapping) and isinstance(item.get(item_status), str):
                items.append(item[item_status])
    if items:
        distinct = set(items)
        if len(distinct) == 1:
            return items[0]
        return _PARTIAL if _ACCEPTED in distinct else "Rejected"
    if action == "GetConfiguration":
        known = response.get("configurationKey") or []
        unknown = response.get("unknownKey") or []
        return "Rejected" if unknown and not known else _ACCEPTED
    if action == "GetTransactionStatus":
        return _ACCEPTED
    return None


# -- the neutral operations ------------------------------------------------------------------


class InvalidOperation(ValueError):
    """The parameters of an operation do not make sense (the message says what to fix)."""


class ResetType(enum.StrEnum):
    """Soft/Hard (1.6), Immediate/OnIdle (2.0.1). Each version gets its nearest equivalent:
    Hard ~ Immediate, Soft ~ OnIdle (a soft reset ends transactions first)."""

    SOFT = "Soft"
    HARD = "Hard"
    IMMEDIATE = "Immediate"
    ON_IDLE = "OnIdle"


class TriggerableMessage(enum.StrEnum):
    """Messages an operator may ask a station to send now. Not every version has every one."""

    BOOT_NOTIFICATION = "BootNotification"
    HEARTBEAT = "Heartbeat"
    STATUS_NOTIFICATION = "StatusNotification"
    METER_VALUES = "MeterValues"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    # 1.6 DiagnosticsStatusNotification, 2.0.1 LogStatusNotification: the upload's status
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    LOG_STATUS_NOTIFICATION = "LogStatusNotification"
    TRANSACTION_EVENT = "TransactionEvent"  # 2.0.1
    SIGN_CHARGING_STATION_CERTIFICATE = "SignChargingStationCertificate"  # 2.0.1
    SIGN_V2G_CERTIFICATE = "SignV2GCertificate"  # 2.0.1
    SIGN_COMBINED_CERTIFICATE = "SignCombinedCertificate"  # 2.0.1
    PUBLISH_FIRMWARE_STATUS_NOTIFICATION = "PublishFirmwareStatusNotification"  # 2.0.1


class ChargingProfilePurpose(enum.StrEnum):
    STATION_MAX = "ChargingStationMaxProfile"  # 1.6 ChargePointMaxProfile
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"  # 2.0.1 only (station-set)


class ChargingProfileKind(enum.StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RecurrencyKind(enum.StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class ChargingRateUnit(enum.StrEnum):
    WATTS = "W"
    AMPERES = "A"


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_offset: int  # seconds from the schedule's start
    limit: Decimal  # in the schedule's unit
    number_of_phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    unit: ChargingRateUnit
    periods: tuple[SchedulePeriod, ...]
    start: datetime | None = None
    duration: int | None = None  # seconds
    min_rate: Decimal | None = None
    id: int | None = None  # 2.0.1 schedule id; default: the profile's id


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: ChargingProfilePurpose
    kind: ChargingProfileKind
    schedule: ChargingSchedule
    recurrency: RecurrencyKind | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # TxProfile only


def check_profile(profile: ChargingProfile) -> ChargingProfile:
    """The rules every version shares; raises :class:`InvalidOperation`."""
    periods = profile.schedule.periods
    if not periods:
        raise InvalidOperation("a charging schedule needs at least one period")
    if periods[0].start_offset != 0:
        raise InvalidOperation("the first schedule period must start at offset 0")
    offsets = [p.start_offset for p in periods]
    if offsets != sorted(set(offsets)):
        raise InvalidOperation("schedule periods must have increasing start offsets")
    for period in periods:
        if period.limit < 0:
            raise InvalidOperation("a schedule period's limit must not be negative")
        if period.number_of_phases is not None and period.number_of_phases not in (1, 2, 3):
            raise InvalidOperation("number_of_phases must be 1, 2 or 3")
    if (profile.kind is ChargingProfileKind.RECURRING) != (profile.recurrency is not None):
        raise InvalidOperation("a Recurring profile needs a recurrency (Daily/Weekly), others none")
    if profile.kind is ChargingProfileKind.RECURRING and profile.schedule.start is None:
        raise InvalidOperation("a Recurring profile needs the schedule's start")
    if profile.transaction_id is not None and profile.purpose is not ChargingProfilePurpose.TX:
        raise InvalidOperation("only a TxProfile names a transaction")
    if profile.purpose is ChargingProfilePurpose.EXTERNAL_CONSTRAINTS:
        raise InvalidOperation("ChargingStationExternalConstraints profiles are set by the station")
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_to <= profile.valid_from
    ):
        raise InvalidOperation("valid_to must come after valid_from")
    return profile


@dataclass(frozen=True, slots=True)
class Reset:
    type: ResetType = ResetType.SOFT
    evse_id: int | None = None  # 2.0.1 only: reset one EVSE
    name = "reset"
    action = "Reset"


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    operative: bool
    evse_id: int | None = None  # None: the whole station (1.6 connectorId 0)
    connector_id: int | None = None  # 2.0.1: one connector of the EVSE
    name = "change_availability"
    action = "ChangeAvailability"


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    evse_id: int
    connector_id: int = 1
    name = "unlock_connector"
    action = "UnlockConnector"


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    message: TriggerableMessage
    evse_id: int | None = None
    connector_id: int | None = None
    name = "trigger_message"
    action = "TriggerMessage"


@dataclass(frozen=True, slots=True)
class ClearCache:
    name = "clear_cache"
    action = "ClearCache"


@dataclass(frozen=True, slots=True)
class DataTransfer:
    vendor_id: str
    message_id: str | None = None
    data: Any = None  # 1.6 sends text: anything else is sent as its JSON text
    name = "data_transfer"
    action = "DataTransfer"


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    profile: ChargingProfile
    evse_id: int = 0  # 0: the whole station (ChargingStationMaxProfile, TxDefaultProfile)
    name = "set_charging_profile"
    action = "SetChargingProfile"


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = None
    name = "clear_charging_profile"
    action = "ClearChargingProfile"


@dataclass(frozen=True, slots=True)
class GetCompositeSchedule:
    evse_id: int
    duration: int  # seconds
    unit: ChargingRateUnit | None = None
    name = "get_composite_schedule"
    action = "GetCompositeSchedule"


NeutralOperation = (
    Reset
    | ChangeAvailability
    | UnlockConnector
    | TriggerMessage
    | ClearCache
    | DataTransfer
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
)

NEUTRAL_OPERATIONS: tuple[str, ...] = (
    "reset",
    "change_availability",
    "unlock_connector",
    "trigger_message",
    "clear_cache",
    "data_transfer",
    "set_charging_profile",
    "clear_charging_profile",
    "get_composite_schedule",
)


def check_operation(op: NeutralOperation) -> NeutralOperation:
    """Checks that hold for every version; raises :class:`InvalidOperation`."""
    if isinstance(op, ChangeAvailability) and op.connector_id is not None and not op.evse_id:
        raise InvalidOperation("a connector_id needs the evse_id it belongs to")
    if isinstance(op, TriggerMessage) and op.connector_id is not None and op.evse_id is None:
        raise InvalidOperation("a connector_id needs the evse_id it belongs to")
    if isinstance(op, UnlockConnector) and (op.evse_id < 1 or op.connector_id < 1):
        raise InvalidOperation("unlock needs an evse_id and connector_id of 1 or more")
    if isinstance(op, GetCompositeSchedule) and op.duration < 1:
        raise InvalidOperation("duration must be at least one second")
    if isinstance(op, SetChargingProfile):
        check_profile(op.profile)
        if op.profile.purpose is ChargingProfilePurpose.TX and op.evse_id == 0:
            raise InvalidOperation("a TxProfile is set on an EVSE (evse_id of 1 or more)")
        if op.profile.purpose is ChargingProfilePurpose.STATION_MAX and op.evse_id != 0:
            raise InvalidOperation("a ChargingStationMaxProfile is set on evse_id 0 (the station)")
    return op


# -- bulk operations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkTarget:
    """Which stations a bulk operation is for; resolved to the current stations when it starts."""

    station_ids: tuple[str, ...] = ()
    site_id: str | None = None
    model: str | None = None  # the model the stations reported in their BootNotification

    def describe(self) -> str:
        if self.station_ids:
            return f"stations {', '.join(self.station_ids)}"
        if self.site_id is not None:
            return f"the stations of site {self.site_id}"
        return f"the stations of model {self.model}"


@dataclass(frozen=True, slots=True)
class BulkOperation:
    id: int
    operation: str  # a neutral operation's name
    params: dict[str, Any]
    target: dict[str, Any]  # how it was asked for (station_ids / site_id / model)
    station_ids: tuple[str, ...]  # what the target resolved to
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BulkProgress:
    total: int
    done: int
    by_outcome: dict[str, int] = field(default_factory=dict)  # finished ones, per outcome
    by_status: dict[str, int] = field(default_factory=dict)  # answered ones, per status
    # station -> the ids of its operations (normally one; none yet while waiting its turn)
    operations: dict[str, list[int]] = field(default_factory=dict)
    results: dict[str, OperationRecord | None] = field(default_factory=dict)  # the latest

    @property
    def complete(self) -> bool:
        return self.done == self.total


def bulk_progress(station_ids: Sequence[str], records: Iterable[OperationRecord]) -> BulkProgress:
    """Where a bulk operation stands, from the operation records it produced so far."""
    latest: dict[str, OperationRecord] = {}
    ids: dict[str, list[int]] = {s: [] for s in station_ids}
    for record in sorted(records, key=lambda r: r.id):
        ids.setdefault(record.station_id, []).append(record.id)
        latest[record.station_id] = record
    finished = [r for r in latest.values() if r.finished]
    outcomes = Counter(r.outcome.value for r in finished)
    statuses = Counter(r.status for r in finished if r.status is not None)
    return BulkProgress(
        total=len(station_ids),
        done=sum(1 for s in station_ids if s in latest and latest[s].finished),
        by_outcome=dict(sorted(outcomes.items())),
        by_status=dict(sorted(statuses.items())),
        operations=ids,
        results={s: latest.get(s) for s in station_ids},
    )
