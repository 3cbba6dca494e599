"""Request and response bodies of the REST API (pydantic), and their mapping from the domain."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evcms.domain.access import ApiKey, Role
from evcms.domain.charging_sessions import ChargingSession
from evcms.domain.ids import STATION_ID_MAX_LENGTH, parse_site_id, parse_station_id
from evcms.domain.stations import (
    ConnectorState,
    ConnectorStatus,
    Presence,
    RegistrationStatus,
    Site,
    Station,
    StationInfo,
)
from evcms.services.network import MAX_STATION_PASSWORD, MIN_STATION_PASSWORD, StationView
from evcms.services.ports import Direction, LoggedMessage

MAX_PAGE = 1000

_Latitude = Field(None, ge=-90, le=90, description="WGS 84 degrees, -90..90")
_Longitude = Field(None, ge=-180, le=180, description="WGS 84 degrees, -180..180")
_Password = Field(
    None,
    min_length=MIN_STATION_PASSWORD,
    max_length=MAX_STATION_PASSWORD,
    description=f"Basic-auth password, {MIN_STATION_PASSWORD}-{MAX_STATION_PASSWORD} printable"
    " ASCII characters",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValueError("give both latitude and longitude, or neither")


# -- sites ------------------------------------------------------------------------------------


class SiteCreate(_Strict):
    id: str = Field(
        description="Lower-case slug: letters, digits, '-' and '_', at most 63 characters",
        examples=["depot-north"],
    )
    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=500)
    latitude: float | None = _Latitude
    longitude: float | None = _Longitude

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return parse_site_id(value)

    @model_validator(mode="after")
    def _both_coordinates(self) -> SiteCreate:
        _check_coordinates(self.latitude, self.longitude)
        return self

    def to_site(self) -> Site:
        return Site(
            id=parse_site_id(self.id),
            name=self.name,
            address=self.address,
            latitude=self.latitude,
            longitude=self.longitude,
        )


class SiteReplace(_Strict):
    """PUT: every field of the site (its id comes from the path)."""

    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=500)
    latitude: float | None = _Latitude
    longitude: float | None = _Longitude

    @model_validator(mode="after")
    def _both_coordinates(self) -> SiteReplace:
        _check_coordinates(self.latitude, self.longitude)
        return self


class SitePatch(_Strict):
    """PATCH: only the fields given change; ``null`` coordinates remove them."""

    name: str | None = Field(None, min_length=1, max_length=200)
    address: str | None = Field(None, max_length=500)
    latitude: float | None = _Latitude
    longitude: float | None = _Longitude


class SiteOut(BaseModel):
    id: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        return cls(
            id=site.id,
            name=site.name,
            address=site.address,
            latitude=site.latitude,
            longitude=site.longitude,
        )


# -- stations ---------------------------------------------------------------------------------


class StationCreate(_Strict):
    id: str = Field(
        description="The station's identity: the last segment of its WebSocket URL; at most"
        f" {STATION_ID_MAX_LENGTH} letters, digits and - . _ ~",
        examples=["ACME-0001"],
    )
    site_id: str | None = None
    name: str = Field("", max_length=200)
    password: str | None = _Password
    generate_password: bool = Field(
        False, description="Let evcms generate a password; it is returned once in the answer"
    )
    registration: RegistrationStatus = RegistrationStatus.ACCEPTED

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return parse_station_id(value)

    @model_validator(mode="after")
    def _one_password_source(self) -> StationCreate:
        if self.password is not None and self.generate_password:
            raise ValueError("give either password or generate_password, not both")
        return self


class StationPatch(_Strict):
    """Only the fields given change; ``"site_id": null`` removes the station from its site."""

    name: str | None = Field(None, max_length=200)
    site_id: str | None = None
    registration: RegistrationStatus | None = None


class CredentialsChange(_Strict):
    """Set a password, let evcms generate one, or remove it with ``{"password": null}``."""

    password: str | None = _Password
    generate: bool = Field(False, description="Generate a password; it is returned once")

    @model_validator(mode="after")
    def _one_intent(self) -> CredentialsChange:
        if self.generate and self.password is not None:
            raise ValueError("give either password or generate, not both")
        if not self.generate and "password" not in self.model_fields_set:
            raise ValueError(
                'say what to do: {"password": "..."} sets one, {"generate": true} generates one,'
                ' {"password": null} removes it'
            )
        return self


class StationInfoOut(BaseModel):
    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None

    @classmethod
    def of(cls, info: StationInfo) -> StationInfoOut:
        return cls(
            vendor=info.vendor,
            model=info.model,
            serial_number=info.serial_number,
            firmware_version=info.firmware_version,
            iccid=info.iccid,
            imsi=info.imsi,
            meter_type=info.meter_type,
            meter_serial_number=info.meter_serial_number,
        )


class PresenceOut(BaseModel):
    connected: bool
    connected_since: datetime | None
    last_message_at: datetime | None
    ocpp_version: str | None

    @classmethod
    def of(cls, presence: Presence | None) -> PresenceOut:
        if presence is None:
            return cls(
                connected=False, connected_since=None, last_message_at=None, ocpp_version=None
            )
        return cls(
            connected=presence.connected,
            connected_since=presence.connected_since,
            last_message_at=presence.last_message_at,
            ocpp_version=presence.ocpp_version,
        )


class RunningSessionOut(BaseModel):
    """The session running on a connector, with its latest meter figures."""

    session_id: int
    transaction_id: str
    started_at: datetime | None
    id_token: str | None
    energy_wh: str = Field(description="Energy charged so far, Wh (decimal text)")
    power_w: str | None = Field(description="Power at the latest sample, W (decimal text)")
    soc_percent: str | None
    last_sample_at: datetime | None

    @classmethod
    def of(cls, session: ChargingSession) -> RunningSessionOut:
        state = session.state
        return cls(
            session_id=session.id,
            transaction_id=session.transaction_id,
            started_at=state.started_at,
            id_token=state.id_token,
            energy_wh=format(state.energy_wh, "f"),
            power_w=None if state.power_w is None else format(state.power_w, "f"),
            soc_percent=None if state.soc_percent is None else format(state.soc_percent, "f"),
            last_sample_at=state.last_sample_at,
        )


def session_place(session: ChargingSession) -> tuple[int, int]:
    """(evse, connector) a session runs on, as the station last said."""
    state = session.state
    evse = state.evse_id if state.evse_id is not None else session.evse_id
    connector = state.connector_id if state.connector_id is not None else session.connector_id
    return evse, connector


class ConnectorOut(BaseModel):
    evse_id: int = Field(description="0: the station as a whole")
    connector_id: int
    status: ConnectorStatus
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    updated_at: datetime
    session: RunningSessionOut | None = Field(
        None, description="The session running here: energy so far, current power, SoC"
    )

    @classmethod
    def of(cls, state: ConnectorState, session: ChargingSession | None = None) -> ConnectorOut:
        return cls(
            session=None if session is None else RunningSessionOut.of(session),
            evse_id=state.evse_id,
            connector_id=state.connector_id,
            status=state.status,
            error_code=state.error_code,
            info=state.info,
            vendor_id=state.vendor_id,
            vendor_error_code=state.vendor_error_code,
            updated_at=state.updated_at,
        )


class StationOut(BaseModel):
    id: str
    site_id: str | None
    name: str
    registration: RegistrationStatus
    password_set: bool = Field(description="Whether the station must present a Basic-auth password")
    created_at: datetime
    ocpp_version: str | None = Field(description="From its last BootNotification")
    last_boot_at: datetime | None
    info: StationInfoOut | None = Field(description="What its last BootNotification said")

    @classmethod
    def of(cls, station: Station) -> StationOut:
        return cls(**_station_fields(station))


class StationStateOut(StationOut):
    """A station with its live state: presence and connector statuses."""

    presence: PresenceOut
    connectors: list[ConnectorOut]

    @classmethod
    def of_view(
        cls, view: StationView, running: list[ChargingSession] | None = None
    ) -> StationStateOut:
        """``running``: the station's active sessions, shown on their connectors."""
        connectors = sorted(view.connectors, key=lambda c: (c.evse_id, c.connector_id))
        on: dict[tuple[int, int], ChargingSession] = {}
        for session in running or []:
            if session.station_id == view.station.id:
                on[session_place(session)] = session
        return cls(
            **_station_fields(view.station),
            presence=PresenceOut.of(view.presence),
            connectors=[ConnectorOut.of(c, on.get((c.evse_id, c.connector_id))) for c in connectors],
        )


def _station_fields(station: Station) -> dict[str, Any]:
    return {
        "id": station.id,
        "site_id": station.site_id,
        "name": station.name,
        "registration": station.registration,
        "password_set": station.password_hash is not None,
        "created_at": station.created_at,
        "ocpp_version": station.ocpp_version,
        "last_boot_at": station.last_boot_at,
        "info": StationInfoOut.of(station.info) if station.info is not None else None,
    }


class StationCredentialsOut(BaseModel):
    ocpp_url: str = Field(description="Where the station connects")
    username: str = Field(description="Basic-auth user name: the station id")
    password: str | None = Field(
        description="The generated password; shown only in this answer and never again"
    )
    security_profile: Literal[0, 1] = Field(
        description="0: no password (only if unsecured stations are allowed); 1: Basic auth"
        " (use wss:// in front of evcms for profile 2)"
    )


class StationWithCredentialsOut(BaseModel):
    station: StationOut
    credentials: StationCredentialsOut


# -- the message log ----------------------------------------------------------------------------


class LoggedMessageOut(BaseModel):
    id: int
    at: datetime
    direction: Direction = Field(description="in: station -> evcms; out: evcms -> station")
    message: Any = Field(description="The frame parsed as JSON; null when it is not valid JSON")
    raw: str = Field(description="The frame as it went over the wire")

    @classmethod
    def of(cls, logged: LoggedMessage) -> LoggedMessageOut:
        try:
            parsed = json.loads(logged.frame)
        except ValueError:
            parsed = None
        return cls(
            id=logged.id, at=logged.at, direction=logged.direction, message=parsed, raw=logged.frame
        )


class MessagePage(BaseModel):
    messages: list[LoggedMessageOut] = Field(description="Newest first")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null on the last page"
    )


# -- OCPP pass-through ----------------------------------------------------------------------------


class OcppResult(BaseModel):
    outcome: Literal["result"] = "result"
    payload: dict[str, Any]


class OcppError(BaseModel):
    """The station answered with a CALLERROR: the operation ran, the station refused it."""

    outcome: Literal["error"] = "error"
    error_code: str | None
    error_description: str | None
    error_details: dict[str, Any] | None


# -- API keys ---------------------------------------------------------------------------------


class ApiKeyCreate(_Strict):
    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key")
    role: Role


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime
    revoked: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id, name=key.name, role=key.role, created_at=key.created_at, revoked=key.revoked
        )


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The key to send as 'Authorization: Bearer ...'; shown once")


class ErrorOut(BaseModel):
    detail: str
