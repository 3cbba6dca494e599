"""Request and response bodies of the tariff endpoints (pydantic).

Money and quantities are Decimals in evcms and strings here ("0.25"), exact, in plain notation.
The tariff itself is the OCPI 2.2.1 Tariff object, in and out, exactly as imported.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evcms.domain.tariffs import ComponentCost, PriceBreakdown
from evcms.services.tariffs import AssignmentScope, StoredTariff
from evcms.web.session_schemas import NAIVE_TIME, decimal_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TariffVersionOut(BaseModel):
    id: str
    version: int
    name: str
    currency: str
    time_zone: str = Field(description="IANA zone the local-time restrictions are read in")
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredTariff) -> TariffVersionOut:
        return cls(
            id=stored.id,
            version=stored.version,
            name=stored.name,
            currency=stored.currency,
            time_zone=stored.time_zone,
            created_at=stored.created_at,
        )


class TariffOut(TariffVersionOut):
    ocpi: dict[str, Any] = Field(description="The OCPI 2.2.1 Tariff object as imported")


class TariffList(BaseModel):
    tariffs: list[TariffVersionOut]


class AssignmentIn(_Strict):
    scope: AssignmentScope
    scope_id: str | None = Field(
        default=None, max_length=63, description="The site or station id; none for default"
    )


class AssignmentOut(BaseModel):
    tariff_id: str
    scope: AssignmentScope
    scope_id: str | None


class QuoteIn(_Strict):
    start: datetime = Field(description="When charging starts, with a time zone")
    energy_kwh: Decimal = Field(default=Decimal(0), ge=0)
    charging_minutes: Decimal = Field(default=Decimal(0), ge=0)
    parking_minutes: Decimal = Field(default=Decimal(0), ge=0)
    max_power_kw: Decimal | None = Field(default=None, ge=0)
    version: int | None = Field(default=None, ge=1, description="Default: the latest")

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(NAIVE_TIME)
        return value

    @field_validator("energy_kwh", "charging_minutes", "parking_minutes", "max_power_kw")
    @classmethod
    def _finite(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise ValueError("must be a finite number")
        return value


class ComponentOut(BaseModel):
    type: str
    quantity: str = Field(description="Billed quantity: kWh, hours or sessions")
    amount_excl_vat: str
    vat_amount: str
    amount_incl_vat: str

    @classmethod
    def of(cls, cost: ComponentCost) -> ComponentOut:
        return cls(
            type=cost.type.value,
            quantity=_text(cost.quantity.normalize()),
            amount_excl_vat=_text(cost.amount_excl_vat),
            vat_amount=_text(cost.vat_amount),
            amount_incl_vat=_text(cost.amount_incl_vat),
        )


class QuoteOut(BaseModel):
    tariff_id: str
    version: int
    currency: str
    components: list[ComponentOut]
    total_excl_vat: str
    total_vat: str
    total_incl_vat: str
    limit_applied: Literal["min_price", "max_price"] | None

    @classmethod
    def of(cls, stored: StoredTariff, breakdown: PriceBreakdown) -> QuoteOut:
        return cls(
            tariff_id=stored.id,
            version=stored.version,
            currency=breakdown.currency,
            components=[ComponentOut.of(c) for c in breakdown.components.values()],
            total_excl_vat=_text(breakdown.total_excl_vat),
            total_vat=_text(breakdown.total_vat),
            total_incl_vat=_text(breakdown.total_incl_vat),
            limit_applied=breakdown.limit_applied,
        )


def _text(value: Decimal) -> str:
    text = decimal_text(value)
    assert text is not None
    return text
