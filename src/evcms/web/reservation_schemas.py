"""Request and response bodies of the reservation endpoints (pydantic)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evcms.domain.reservations import Reservation, ReservationStatus
from evcms.domain.tokens import TOKEN_ID_MAX_LENGTH

NAIVE_TIME = "needs a time zone, e.g. 2027-01-01T00:00:00Z"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(NAIVE_TIME)
    return value


_EvseId = Field(
    ge=0,
    description="The EVSE to reserve (1.6: the connector); 0 reserves any EVSE of the station",
    examples=[1],
)
_TokenId = Field(
    min_length=1,
    max_length=TOKEN_ID_MAX_LENGTH,
    description="The token the reservation is for; it, or a token of its group, may start",
    examples=["04A2B3C4D5E6F7"],
)
_ExpiresAt = Field(
    None,
    description="When the reservation ends (ISO 8601 with a zone); default 15 minutes from now",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReservationCreate(_Strict):
    station_id: str = Field(min_length=1, max_length=48, examples=["CP-1"])
    evse_id: int = _EvseId
    token_id: str = _TokenId
    expires_at: datetime | None = _ExpiresAt

    _aware_expiry = field_validator("expires_at")(_aware)


class ReservationOut(BaseModel):
    id: int = Field(description="Also the OCPP reservationId")
    station_id: str
    evse_id: int = Field(description="0: any EVSE of the station")
    id_token: str
    group_id: str | None = Field(description="The token's group when it was reserved")
    driver_id: str | None
    status: ReservationStatus = Field(
        description="Pending (sent), the station's answer (Accepted, Faulted, Occupied, Rejected,"
        " Unavailable), Failed (no answer), then Used, Cancelled, Expired or Removed"
    )
    expires_at: datetime
    session_id: int | None = Field(description="The session that used the reservation")
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationOut:
        return cls(
            id=reservation.id,
            station_id=reservation.station_id,
            evse_id=reservation.evse_id,
            id_token=reservation.id_token,
            group_id=reservation.group_id,
            driver_id=reservation.driver_id,
            status=reservation.status,
            expires_at=reservation.expires_at.astimezone(UTC),
            session_id=reservation.session_id,
            created_by=reservation.created_by,
            created_at=reservation.created_at.astimezone(UTC),
            updated_at=reservation.updated_at.astimezone(UTC),
        )


class ReservationPage(BaseModel):
    reservations: list[ReservationOut] = Field(description="Newest first")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next page; null on the last page"
    )
