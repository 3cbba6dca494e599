"""Stations, their connectors and the rules of their life cycle (pure, version-neutral).

The model is site -> station -> EVSE -> connector. OCPP 1.6 has no EVSE: its connector N is
EVSE N with connector 1, and its connector 0 is the station as a whole (``evse_id`` 0).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime

from evcms.domain.ids import SiteId, StationId


class RegistrationStatus(enum.StrEnum):
    """What a BootNotification is answered with."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConnectorStatus(enum.StrEnum):
    """Connector status across versions (1.6's nine statuses plus 2.0.1's Occupied)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"


NO_ERROR = "NoError"


@dataclass(frozen=True, slots=True)
class Site:
    id: SiteId
    name: str
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a station says about itself in its BootNotification."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class Station:
    """A registered station. ``password_hash`` is None for a station without credentials."""

    id: StationId
    created_at: datetime
    site_id: SiteId | None = None
    name: str = ""
    registration: RegistrationStatus = RegistrationStatus.ACCEPTED
    password_hash: str | None = None
    info: StationInfo | None = None
    ocpp_version: str | None = None
    last_boot_at: datetime | None = None

    def replace(self, **changes: object) -> Station:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """The last status a station reported for one connector (``evse_id`` 0: the station)."""

    station_id: StationId
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    updated_at: datetime
    error_code: str = NO_ERROR
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    """Whether a station is connected, since when, and when it last spoke."""

    station_id: StationId
    connected: bool
    connected_since: datetime | None
    last_message_at: datetime | None
    ocpp_version: str | None = None


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: RegistrationStatus
    interval: int


def decide_boot(
    station: Station, *, heartbeat_interval: int, pending_retry_interval: int
) -> BootDecision:
    """Answer to a BootNotification: an accepted station gets the heartbeat interval, a pending
    or rejected one the interval after which it may boot again."""
    if station.registration is RegistrationStatus.ACCEPTED:
        return BootDecision(RegistrationStatus.ACCEPTED, heartbeat_interval)
    return BootDecision(station.registration, pending_retry_interval)


class ConnectionVerdict(enum.Enum):
    """The outcome of checking a station's credentials at the WebSocket handshake."""

    ALLOW = "allow"
    UNKNOWN_STATION = "unknown station"
    BAD_CREDENTIALS = "bad credentials"
    CREDENTIALS_REQUIRED = "credentials required"
    TOO_MANY_ATTEMPTS = "too many failed attempts"


def check_credentials(
    station: Station | None,
    *,
    password_ok: bool | None,
    allow_unsecured: bool,
) -> ConnectionVerdict:
    """Decide a handshake from what is known about the station.

    ``password_ok`` is None when the station sent no password, else whether it matched.
    A station with no password configured (security profile 0) connects only when the operator
    allows unsecured stations; a station with one always has to present it.
    """
    if station is None:
        return ConnectionVerdict.UNKNOWN_STATION
    if station.password_hash is None:
        if allow_unsecured:
            return ConnectionVerdict.ALLOW
        return ConnectionVerdict.CREDENTIALS_REQUIRED
    if password_ok is None:
        return ConnectionVerdict.CREDENTIALS_REQUIRED
    return ConnectionVerdict.ALLOW if password_ok else ConnectionVerdict.BAD_CREDENTIALS
