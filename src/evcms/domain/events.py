"""Version-neutral events that services publish on the bus (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evcms.domain.charging_sessions import ChargingSession
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, RegistrationStatus, StationInfo


@dataclass(frozen=True, slots=True)
class StationConnected:
    station_id: StationId
    ocpp_version: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StationDisconnected:
    station_id: StationId
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class StationBooted:
    station_id: StationId
    info: StationInfo
    registration: RegistrationStatus
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    state: ConnectorState


@dataclass(frozen=True, slots=True)
class SessionStarted:
    session: ChargingSession


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    session: ChargingSession


@dataclass(frozen=True, slots=True)
class SessionEnded:
    session: ChargingSession


SessionEventPublished = SessionStarted | SessionUpdated | SessionEnded


# -- monitoring and maintenance ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterSampled:
    """A station reported meter values for a running session (the session's figures after it)."""

    station_id: StationId
    session_id: int
    transaction_id: str
    evse_id: int
    connector_id: int
    at: datetime  # the station's time of the newest sample
    power_w: Decimal | None
    energy_wh: Decimal
    soc_percent: Decimal | None


@dataclass(frozen=True, slots=True)
class OperationFinished:
    """A CSMS-initiated operation got the station's answer (or a timeout / a refusal)."""

    station_id: StationId
    operation_id: int
    action: str
    outcome: str  # CommandOutcome value: result, error, timeout, disconnected, rejected
    status: str | None  # the answer's "status" field when it has one (Accepted, Rejected, ...)
    requested_by: str
    at: datetime
    bulk_id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertChanged:
    """An alert opened, changed, resolved, or was acknowledged/commented by an operator."""

    station_id: StationId
    alert_id: int
    kind: str  # AlertKind value
    severity: str  # info | warning | critical
    status: str  # open | resolved
    change: str  # opened | updated | resolved | acknowledged | commented
    summary: str
    at: datetime
    evse_id: int | None = None
    connector_id: int | None = None
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class SecurityEventReported:
    """SecurityEventNotification (2.0.1; 1.6 security extension)."""

    station_id: StationId
    kind: str  # the OCPP security event type, e.g. "FirmwareUpdated", "InvalidCsmsCertificate"
    tech_info: str | None
    at: datetime  # the station's timestamp


@dataclass(frozen=True, slots=True)
class DeviceEventReported:
    """One EventData of a 2.0.1 NotifyEvent (a monitor tripped, a Problem variable, ...)."""

    station_id: StationId
    event_id: int
    component: str
    variable: str
    actual_value: str
    trigger: str  # Alerting | Delta | Periodic
    at: datetime
    evse_id: int | None = None
    connector_id: int | None = None
    cleared: bool = False
    tech_code: str | None = None
    tech_info: str | None = None
    event_notification_type: str | None = None


@dataclass(frozen=True, slots=True)
class FirmwareStatusChanged:
    """FirmwareStatusNotification: where a station's firmware update stands."""

    station_id: StationId
    status: str  # as the station sent it (1.6 and 2.0.1 values)
    at: datetime
    request_id: int | None = None  # 2.0.1 requestId; None for 1.6
    update_id: int | None = None  # evcms's firmware update record, when matched
    rollout_id: int | None = None
    failed: bool = False  # a terminal failure status
    finished: bool = False  # Installed, or a terminal failure


@dataclass(frozen=True, slots=True)
class DiagnosticsStatusChanged:
    """DiagnosticsStatusNotification (1.6) / LogStatusNotification (2.0.1)."""

    station_id: StationId
    status: str  # as the station sent it
    at: datetime
    request_id: int | None = None
    upload_id: int | None = None
    failed: bool = False
    finished: bool = False


Event = (
    StationConnected
    | StationDisconnected
    | StationBooted
    | ConnectorStatusChanged
    | SessionStarted
    | SessionUpdated
    | SessionEnded
    | MeterSampled
    | OperationFinished
    | AlertChanged
    | SecurityEventReported
    | DeviceEventReported
    | FirmwareStatusChanged
    | DiagnosticsStatusChanged
)
