"""A station's configuration as it last reported it: OCPP 1.6 configuration keys, 2.0.1 device
model variables (from NotifyReport and GetVariables / SetVariables), variable monitors, the
events its monitors raised, security events and inbound data transfers.

Pure values; the gateway turns each version's messages into these.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """An OCPP 1.6 configuration key (GetConfiguration, ChangeConfiguration)."""

    key: str
    value: str | None
    readonly: bool
    reported_at: datetime


class AttributeType(enum.StrEnum):
    ACTUAL = "Actual"
    TARGET = "Target"
    MIN_SET = "MinSet"
    MAX_SET = "MaxSet"


class VariableSource(enum.StrEnum):
    REPORT = "NotifyReport"
    GET = "GetVariables"
    SET = "SetVariables"


@dataclass(frozen=True, slots=True)
class VariableKey:
    """Which attribute of which variable of which component. Absent instance: ""; absent
    EVSE / connector: 0 (their ids start at 1)."""

    component: str
    variable: str
    attribute_type: AttributeType = AttributeType.ACTUAL
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""


@dataclass(frozen=True, slots=True)
class VariableCharacteristics:
    data_type: str | None = None
    unit: str | None = None
    values_list: str | None = None
    min_limit: str | None = None  # the reported number, as text
    max_limit: str | None = None
    supports_monitoring: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceVariable:
    """One attribute of a 2.0.1 device model variable, as last reported."""

    key: VariableKey
    value: str | None
    reported_at: datetime
    source: VariableSource
    mutability: str | None = None  # ReadOnly | WriteOnly | ReadWrite
    characteristics: VariableCharacteristics | None = None


def merge_variable(old: DeviceVariable | None, new: DeviceVariable) -> DeviceVariable:
    """``new`` keeps what ``old`` knew and ``new`` does not say: a GetVariables answer carries
    only the value, so the mutability and characteristics of the last report stay."""
    if old is None:
        return new
    return replace(
        new,
        mutability=new.mutability if new.mutability is not None else old.mutability,
        characteristics=(
            new.characteristics if new.characteristics is not None else old.characteristics
        ),
    )


def merge_variables(
    old: Iterable[DeviceVariable], new: Iterable[DeviceVariable]
) -> list[DeviceVariable]:
    """The variables of ``new`` merged over those of ``old`` with the same key."""
    known = {v.key: v for v in old}
    merged: dict[VariableKey, DeviceVariable] = {}
    for variable in new:
        merged[variable.key] = merge_variable(merged.get(variable.key, known.get(variable.key)), variable)
    return list(merged.values())


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """A NotifyReport series (GetBaseReport / GetReport), keyed by its requestId."""

    station_id: str
    request_id: int
    parts: int
    last_seq_no: int
    complete: bool
    variables: int  # variable attributes reported so far
    started_at: datetime
    updated_at: datetime
    generated_at: datetime | None = None  # the station's time of the last part


def fold_report_part(
    report: DeviceReport | None,
    *,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    variables: int,
    at: datetime,
    generated_at: datetime | None = None,
) -> DeviceReport:
    """The report after one more NotifyReport part. A part seen before (same seqNo, a station
    resending after a lost answer) changes nothing. Complete once a part says tbc false."""
    if report is None:
        return DeviceReport(
            station_id=station_id,
            request_id=request_id,
            parts=1,
            last_seq_no=seq_no,
            complete=not tbc,
            variables=variables,
            started_at=at,
            updated_at=at,
            generated_at=generated_at,
        )
    if seq_no <= report.last_seq_no and report.parts > 0:
        return report
    return replace(
        report,
        parts=report.parts + 1,
        last_seq_no=seq_no,
        complete=report.complete or not tbc,
        variables=report.variables + variables,
        updated_at=at,
        generated_at=generated_at or report.generated_at,
    )


@dataclass(frozen=True, slots=True)
class VariableMonitor:
    """A 2.0.1 variable monitor (NotifyMonitoringReport, SetVariableMonitoring Accepted)."""

    id: int
    component: str
    variable: str
    type: str  # UpperThreshold, LowerThreshold, Delta, Periodic, PeriodicClockAligned
    value: str  # the threshold / interval, as text
    severity: int
    transaction: bool
    reported_at: datetime
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One EventData of a 2.0.1 NotifyEvent."""

    station_id: str
    event_id: int
    at: datetime  # the station's timestamp
    trigger: str  # Alerting | Delta | Periodic
    actual_value: str
    component: str
    variable: str
    received_at: datetime
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""
    cause: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    cleared: bool = False
    transaction_id: str | None = None
    variable_monitoring_id: int | None = None
    event_notification_type: str | None = None
    id: int | None = None  # assigned when stored


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    station_id: str
    kind: str
    at: datetime  # the station's timestamp
    received_at: datetime
    tech_info: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class InboundDataTransfer:
    """A DataTransfer the station sent, and what evcms answered."""

    station_id: str
    vendor_id: str
    received_at: datetime
    answer_status: str
    message_id: str | None = None
    data: Any = None
    id: int | None = None
