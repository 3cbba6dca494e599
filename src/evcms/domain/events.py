"""Version-neutral events that services publish on the bus (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


Event = (
    StationConnected
    | StationDisconnected
    | StationBooted
    | ConnectorStatusChanged
    | SessionStarted
    | SessionUpdated
    | SessionEnded
)
