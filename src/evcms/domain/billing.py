"""What a session costs once it is fixed, and the money types billing passes around (pure).

A :class:`SessionCharge` is the settled price of one session: lines that sum exactly to its
totals, in a currency's minor units once rounded. It is made from the pricing engine's
``PriceBreakdown`` (:func:`charge_from_breakdown`), may be changed by a subscription plan
(``domain.subscriptions``), and is what payments capture, what the ledger books and what an
invoice lists. Money is Decimal; storage keeps integer minor units (:func:`to_minor`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from evcms.domain.tariffs import DimensionType, PriceBreakdown, minor_units, round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's minor units (cents); it must be rounded already."""
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more digits than the currency's minor unit")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units back to an amount with the currency's digits: 1234 EUR -> Decimal('12.34')."""
    digits = minor_units(currency)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


class PaymentMode(enum.StrEnum):
    WALLET = "wallet"  # prepaid: the session is debited from the driver's wallet
    CARD = "card"  # pre-authorised on the card at the start, captured at the end
    POSTPAID = "postpaid"  # booked as owed; a monthly invoice collects it


class LineKind(enum.StrEnum):
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    FLAT = "FLAT"
    INCLUDED_ENERGY = "INCLUDED_ENERGY"  # negative: energy a subscription plan includes
    PLAN_DISCOUNT = "PLAN_DISCOUNT"  # negative: a subscription plan's discount
    ADJUSTMENT = "ADJUSTMENT"  # the tariff's min/max price and rounding, so lines sum to totals


UNITS = {
    LineKind.ENERGY: "kWh",
    LineKind.TIME: "h",
    LineKind.PARKING_TIME: "h",
    LineKind.FLAT: "session",
    LineKind.INCLUDED_ENERGY: "kWh",
}


@dataclass(frozen=True, slots=True)
class ChargeLine:
    kind: LineKind
    quantity: Decimal  # in UNITS[kind]; 1 for FLAT and adjustments
    excl_vat: Decimal  # rounded to the currency
    vat: Decimal  # rounded to the currency
    vat_percent: Decimal | None  # None when the line mixes rates (or has no VAT information)

    @property
    def incl_vat(self) -> Decimal:
        return self.excl_vat + self.vat

    @property
    def unit(self) -> str:
        return UNITS.get(self.kind, "")


@dataclass(frozen=True, slots=True)
class SessionCharge:
    """The fixed price of a session. ``sum(lines) == totals`` always holds."""

    session_id: int
    currency: str
    lines: tuple[ChargeLine, ...]
    energy_wh: Decimal = ZERO  # the session's energy, for plans that include kWh
    notes: tuple[str, ...] = field(default=())  # e.g. "min_price"

    @property
    def total_excl_vat(self) -> Decimal:
        return sum((line.excl_vat for line in self.lines), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), ZERO)

    @property
    def total_incl_vat(self) -> Decimal:
        return self.total_excl_vat + self.total_vat

    def with_lines(self, lines: tuple[ChargeLine, ...], note: str | None = None) -> SessionCharge:
        return replace(self, lines=lines, notes=self.notes + ((note,) if note else ()))


def vat_rate(excl: Decimal, vat: Decimal) -> Decimal | None:
    """The VAT percentage that ``vat`` is of ``excl`` when it is a clean rate (to 0.01 %)."""
    if excl == 0:
        return None if vat else ZERO
    rate = (vat * HUNDRED / excl).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return rate if rate >= 0 else None


def allocate(exact: list[Decimal], currency: str) -> list[Decimal]:
    """Round amounts to the currency so that they sum to the rounded sum of the exact amounts
    (largest remainder: the cents that rounding each alone would lose or add go to the amounts
    closest to the next cent). Invoices then need no rounding line."""
    if not exact:
        return []
    quantum = Decimal(1).scaleb(-minor_units(currency))
    target = round_money(sum(exact, ZERO), currency)
    floors = [(amount / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum for amount in exact]
    missing = int((target - sum(floors, ZERO)) / quantum)
    order = sorted(range(len(exact)), key=lambda i: (exact[i] - floors[i], -i), reverse=True)
    for i in order[:missing]:
        floors[i] += quantum
    return floors


def charge_from_breakdown(
    session_id: int, breakdown: PriceBreakdown, *, energy_wh: Decimal = ZERO
) -> SessionCharge:
    """The lines of a priced session: one per component that costs something (rounded so that
    they sum to the rounded total of the exact amounts), and an ADJUSTMENT line for what the
    tariff's min/max price adds or takes, so the lines sum to the breakdown's totals exactly."""
    currency = breakdown.currency
    costs = [
        cost
        for dimension in DimensionType
        if (cost := breakdown.components.get(dimension)) is not None
        and (cost.exact_excl_vat != 0 or cost.exact_vat != 0)
    ]
    excl = allocate([c.exact_excl_vat for c in costs], currency)
    vat = allocate([c.exact_vat for c in costs], currency)
    lines = [
        ChargeLine(
            kind=LineKind(cost.type.value),
            quantity=cost.quantity,
            excl_vat=excl[i],
            vat=vat[i],
            vat_percent=vat_rate(cost.exact_excl_vat, cost.exact_vat),
        )
        for i, cost in enumerate(costs)
        if excl[i] != 0 or vat[i] != 0
    ]
    excl_gap = breakdown.total_excl_vat - sum(excl, ZERO)
    vat_gap = breakdown.total_vat - sum(vat, ZERO)
    if excl_gap or vat_gap:
        lines.append(
            ChargeLine(
                kind=LineKind.ADJUSTMENT,
                quantity=Decimal(1),
                excl_vat=excl_gap,
                vat=vat_gap,
                vat_percent=vat_rate(excl_gap, vat_gap) if excl_gap else None,
            )
        )
    notes = (breakdown.limit_applied,) if breakdown.limit_applied else ()
    return SessionCharge(session_id, currency, tuple(lines), energy_wh=energy_wh, notes=notes)


def free_charge(session_id: int, currency: str, *, energy_wh: Decimal = ZERO) -> SessionCharge:
    """A session with no tariff: nothing to pay."""
    return SessionCharge(session_id, currency, (), energy_wh=energy_wh)


@dataclass(frozen=True, slots=True)
class Party:
    """A seller or a buyer as an invoice names them."""

    name: str
    address: str = ""
    country: str | None = None  # ISO 3166-1 alpha-2
    vat_id: str | None = None
    company_id: str | None = None  # e.g. the Bulgarian EIK
    email: str | None = None
