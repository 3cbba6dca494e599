"""Request and response bodies of the token and charging-session endpoints (pydantic).

Meter figures are Decimals in evcms and strings here ("12345.678"): JSON numbers would turn them
into binary floats on most clients. They are written in plain notation, never "1.2E+4".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evcms.domain.charging_sessions import ChargingSession, SessionEvent, SessionStatus
from evcms.domain.metering import MeterSample
from evcms.domain.tokens import TOKEN_ID_MAX_LENGTH, IdToken, TokenStatus, TokenType

NAIVE_TIME = "needs a time zone, e.g. 2027-01-01T00:00:00Z"
_DecimalText = Field(
    description="A decimal number as a string, exact (never a float)", examples=["12345.678"]
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def decimal_text(value: Decimal | None) -> str | None:
    """Plain decimal notation of ``value``, exact: 12345.678 -> "12345.678", 1E+3 -> "1000"."""
    return None if value is None else format(value, "f")


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(NAIVE_TIME)
    return value


# -- identification tokens ------------------------------------------------------------------------

_TokenId = Field(
    min_length=1,
    max_length=TOKEN_ID_MAX_LENGTH,
    description="The idTag / idToken as stations send it (1.6 stations carry at most 20"
    " characters, 2.0.1 at most 36)",
    examples=["04A2B3C4D5E6F7"],
)
_GroupId = Field(
    None,
    max_length=TOKEN_ID_MAX_LENGTH,
    description="The group token (1.6 parentIdTag / 2.0.1 groupIdToken)",
)
_ExpiresAt = Field(None, description="When the token stops being accepted (ISO 8601 with a zone)")
_MAX_CONCURRENT = "Sessions the token may run at once; 0 = no limit"
_LABEL = "A note for operators, e.g. the name printed on a card"


class TokenCreate(_Strict):
    id: str = _TokenId
    type: TokenType = TokenType.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    driver_id: str | None = Field(None, description="The driver who holds the token")
    group_id: str | None = _GroupId
    expires_at: datetime | None = _ExpiresAt
    max_concurrent: int = Field(1, ge=0, description=_MAX_CONCURRENT)
    label: str = Field("", max_length=200, description=_LABEL)

    _aware_expiry = field_validator("expires_at")(_aware)


class TokenPatch(_Strict):
    """Only the fields given change; ``null`` removes the driver, the group or the expiry."""

    status: TokenStatus | None = None
    driver_id: str | None = None
    group_id: str | None = _GroupId
    expires_at: datetime | None = _ExpiresAt
    max_concurrent: int | None = Field(None, ge=0, description=_MAX_CONCURRENT)
    label: str | None = Field(None, max_length=200, description=_LABEL)

    _aware_expiry = field_validator("expires_at")(_aware)

    @model_validator(mode="after")
    def _no_null_where_nothing_to_clear(self) -> TokenPatch:
        for name in ("status", "max_concurrent", "label"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class TokenOut(BaseModel):
    id: str
    type: TokenType
    status: TokenStatus
    driver_id: str | None
    group_id: str | None
    expires_at: datetime | None
    max_concurrent: int = Field(description="0: no limit")
    label: str
    pending_approval: bool = Field(
        description="Added by its driver and not yet approved by an operator: it cannot charge"
    )
    created_at: datetime

    @classmethod
    def of(cls, token: IdToken) -> TokenOut:
        return cls(
            id=token.id,
            type=token.type,
            status=token.status,
            driver_id=token.driver_id,
            group_id=token.group_id,
            expires_at=_utc(token.expires_at),
            max_concurrent=token.max_concurrent,
            label=token.label,
            pending_approval=token.pending_approval,
            created_at=token.created_at.astimezone(UTC),
        )


class TokenPage(BaseModel):
    tokens: list[TokenOut] = Field(description="Ordered by id")
    next_after_id: str | None = Field(
        description="Pass as after_id for the next page; null on the last page"
    )


# -- charging sessions ----------------------------------------------------------------------------


class SessionOut(BaseModel):
    id: int
    station_id: str
    evse_id: int
    connector_id: int
    transaction_id: str
    ocpp_version: str
    driver_id: str | None
    status: SessionStatus
    started_at: datetime | None
    ended_at: datetime | None
    id_token: str | None = Field(description="The token that started the session")
    stop_id_token: str | None = Field(description="The token that stopped it, if any")
    stop_reason: str | None
    meter_start_wh: str | None = _DecimalText
    meter_stop_wh: str | None = _DecimalText
    energy_wh: str = _DecimalText
    energy_kwh: str = _DecimalText
    offline: bool = Field(
        description="Some of its messages were sent while the station was offline"
    )
    charging_state: str | None
    number_of_phases: int | None = None
    power_w: str | None = _DecimalText
    soc_percent: str | None = _DecimalText
    last_sample_at: datetime | None
    closed_by: str | None = Field(description="Who force-closed the session, if anyone")
    close_note: str | None = Field(description="Why it was force-closed")
    duration_seconds: int | None = Field(
        description="From start to end; to now while the session is active"
    )

    @classmethod
    def of(cls, session: ChargingSession, now: datetime) -> SessionOut:
        return cls(**_session_fields(session, now))


class SessionEventOut(BaseModel):
    """A summary of one station message about the session; the meter values are in /samples."""

    kind: str
    seq_no: int
    at: datetime
    reason: str | None
    offline: bool
    id_token: str | None

    @classmethod
    def of(cls, event: SessionEvent) -> SessionEventOut:
        return cls(
            kind=event.kind,
            seq_no=event.seq_no,
            at=event.at,
            reason=event.reason,
            offline=event.offline,
            id_token=event.id_token,
        )


class SessionDetailOut(SessionOut):
    events: list[SessionEventOut] = Field(description="In the order they count: (seq_no, at)")

    @classmethod
    def of_events(
        cls, session: ChargingSession, events: Iterable[SessionEvent], now: datetime
    ) -> SessionDetailOut:
        return cls(**_session_fields(session, now), events=[SessionEventOut.of(e) for e in events])


def _session_fields(session: ChargingSession, now: datetime) -> dict[str, Any]:
    state = session.state
    duration = None
    if state.started_at is not None:
        end = state.ended_at if state.status is SessionStatus.ENDED else now
        if end is not None:
            duration = max(0, int((end - state.started_at).total_seconds()))
    return {
        "id": session.id,
        "station_id": session.station_id,
        "evse_id": session.evse_id,
        "connector_id": session.connector_id,
        "transaction_id": session.transaction_id,
        "ocpp_version": session.ocpp_version,
        "driver_id": session.driver_id,
        "status": state.status,
        "started_at": state.started_at,
        "ended_at": state.ended_at,
        "id_token": state.id_token,
        "stop_id_token": state.stop_id_token,
        "stop_reason": state.stop_reason,
        "meter_start_wh": decimal_text(state.meter_start_wh),
        "meter_stop_wh": decimal_text(state.meter_stop_wh),
        "energy_wh": decimal_text(state.energy_wh),
        "energy_kwh": decimal_text(state.energy_wh.scaleb(-3)),
        "offline": state.offline,
        "charging_state": state.charging_state,
        "number_of_phases": state.number_of_phases,
        "power_w": decimal_text(state.power_w),
        "soc_percent": decimal_text(state.soc_percent),
        "last_sample_at": state.last_sample_at,
        "closed_by": session.closed_by,
        "close_note": session.close_note,
        "duration_seconds": duration,
    }


class SessionPage(BaseModel):
    sessions: list[SessionOut] = Field(description="Newest first")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null on the last page"
    )


class SampleOut(BaseModel):
    at: datetime
    measurand: str
    value: str = _DecimalText
    unit: str = Field(description="The base unit: Wh, W, A, V, Percent, ...")
    phase: str | None
    location: str | None
    context: str | None
    signed: str | None = Field(description="Signed meter data as the station sent it, verbatim")

    @classmethod
    def of(cls, sample: MeterSample) -> SampleOut:
        return cls(
            at=sample.at,
            measurand=sample.measurand,
            value=format(sample.value, "f"),
            unit=sample.unit,
            phase=sample.phase,
            location=sample.location,
            context=sample.context,
            signed=sample.signed,
        )


class SamplesOut(BaseModel):
    session_id: int
    samples: list[SampleOut] = Field(description="Every meter value of the session, oldest first")


def flatten_samples(
    events: Iterable[SessionEvent], measurand: str | None = None
) -> list[MeterSample]:
    """The meter values of all events as one series ordered by time (stable within a time)."""
    samples = [
        sample
        for event in events
        for sample in event.samples
        if measurand is None or sample.measurand == measurand
    ]
    return sorted(samples, key=lambda s: s.at)


class ForceClose(_Strict):
    reason: str = Field(
        min_length=1, max_length=500, description="Why the session is closed; kept for the audit"
    )


class RemoteStart(_Strict):
    evse_id: int = Field(ge=1, description="The EVSE (1.6: the connector) to start on")
    token_id: str = Field(min_length=1, max_length=TOKEN_ID_MAX_LENGTH)


class DriverRemoteStart(RemoteStart):
    station_id: str = Field(min_length=1)


class OwnTokenIn(BaseModel):
    """A card a driver registers for themselves."""

    id: str = Field(min_length=1, max_length=TOKEN_ID_MAX_LENGTH, description="The card's UID")
    type: TokenType = TokenType.ISO14443
    label: str = Field("", max_length=200, description="A name for the card, e.g. 'blue tag'")
