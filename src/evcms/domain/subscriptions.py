"""Subscription plans: what a plan is, its monthly periods, and what it takes off a session (pure).

A driver pays a plan's monthly fee per *period* and gets, in that period, some kWh included
and/or a percentage off every session (a plan may also have a tariff of its own; billing picks
that). Periods are calendar months anchored on the moment the subscription started: the n-th
period ends n months after the anchor, on the anchor's day when the month has it, else on the
month's last day (started Jan 31: periods end Feb 28, Mar 31, Apr 30, ...). Keeping the anchor,
not the previous period end, is what stops a Jan 31 subscription drifting to the 28th forever.

:func:`apply_plan` changes a :class:`~evcms.domain.billing.SessionCharge` by adding negative
lines, never by editing the tariff's lines, so an invoice shows the full price and what the
plan took off; the lines still sum to the totals and the total never goes below zero.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.tariffs import round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)
WH_PER_KWH = Decimal(1000)


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"  # paid for the current period: benefits apply
    PAST_DUE = "past_due"  # the current period's fee is not paid (yet): no benefits
    CANCELLED = "cancelled"  # the driver cancelled: benefits until the period end, then ENDED
    ENDED = "ended"  # over; period_end is when its benefits stopped


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    currency: str
    monthly_fee: Decimal  # excl. VAT, rounded to the currency
    fee_vat_percent: Decimal
    included_kwh: Decimal  # per period; 0: none
    discount_percent: Decimal  # 0..100, off what a session costs after included energy
    tariff_id: str | None  # a tariff of the plan's own (billing uses it), or None
    active: bool  # False: retired, no new subscriptions (existing ones run on)
    created_at: datetime

    @property
    def fee_vat(self) -> Decimal:
        """The VAT on the monthly fee, rounded to the currency."""
        return round_money(self.monthly_fee * self.fee_vat_percent / HUNDRED, self.currency)

    @property
    def fee_incl_vat(self) -> Decimal:
        return self.monthly_fee + self.fee_vat

    @property
    def included_wh(self) -> Decimal:
        return self.included_kwh * WH_PER_KWH


@dataclass(frozen=True, slots=True)
class Subscription:
    """A driver's subscription to a plan. ``created_at`` is also the anchor of its periods (the
    first period starts when it is created); ``period_start``/``period_end`` are the current
    period (for ENDED: ``period_end`` is when the benefits stopped)."""

    id: str
    driver_id: str
    plan_id: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    created_at: datetime
    updated_at: datetime

    @property
    def paid_until(self) -> datetime:
        """Until when the benefits were paid for: a past-due period is not."""
        if self.status is SubscriptionStatus.PAST_DUE:
            return self.period_start
        return self.period_end

    def covers(self, at: datetime) -> bool:
        """Whether the benefits apply at ``at``: a paid period (this or an earlier one) holds it.

        A session that started in the previous period and ended after the renewal is still
        that period's (the periods before the current one were all paid)."""
        return self.created_at <= at < self.paid_until


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
    return value.astimezone(UTC)


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by whole calendar months (UTC), on the anchor's day or the month's last."""
    anchor = _utc(anchor)
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _months_between(anchor: datetime, at: datetime) -> int:
    return (at.year - anchor.year) * 12 + (at.month - anchor.month)


def next_period_end(start: datetime, *, anchor: datetime | None = None) -> datetime:
    """The end of the period that starts at ``start``: one calendar month later in UTC, on the
    day of ``anchor`` (the subscription's first period start; default ``start``) when the month
    has it. Jan 31 -> Feb 28 (29) -> Mar 31 with the anchor Jan 31."""
    start = _utc(start)
    anchor = start if anchor is None else _utc(anchor)
    months = _months_between(anchor, start)
    # start is a period boundary of anchor, so it lies in anchor's month + months (a clamped
    # day never moves it out of its month); the next boundary is one month on.
    return add_months(anchor, months + 1)


def period_containing(anchor: datetime, at: datetime) -> tuple[datetime, datetime]:
    """The period (start, end) of a subscription anchored at ``anchor`` that holds ``at``."""
    anchor, at = _utc(anchor), _utc(at)
    if at < anchor:
        raise ValueError(f"{at.isoformat()} is before the first period ({anchor.isoformat()})")
    months = _months_between(anchor, at)
    start = add_months(anchor, months)
    if start > at:
        months -= 1
        start = add_months(anchor, months)
    return start, add_months(anchor, months + 1)


@dataclass(frozen=True, slots=True)
class PlanApplication:
    charge: SessionCharge  # with the plan's negative lines added (or unchanged)
    included_wh_used: Decimal  # what the session took from the period's included energy


def _energy_line(charge: SessionCharge) -> ChargeLine | None:
    for line in charge.lines:
        if line.kind is LineKind.ENERGY and line.quantity > 0 and line.incl_vat > 0:
            return line
    return None


def apply_plan(
    charge: SessionCharge, plan: Plan, *, included_wh_left: Decimal
) -> PlanApplication:
    """What the session costs under the plan.

    Included energy first: a negative INCLUDED_ENERGY line takes off the ENERGY line's cost for
    min(``included_wh_left`` (at most the plan's), the energy billed on that line) at that line's average price per
    kWh, excl. and VAT separately, rounded to the currency (so never more than the line). Then
    the discount: a negative PLAN_DISCOUNT line of ``discount_percent`` of what remains, excl.
    and VAT separately, rounded. Neither takes the totals below zero.
    """
    currency = charge.currency
    lines = list(charge.lines)
    used = ZERO
    energy = _energy_line(charge)
    left = min(max(included_wh_left, ZERO), plan.included_wh)
    if energy is not None and left > 0:
        billed_wh = energy.quantity * WH_PER_KWH
        used = min(left, billed_wh)
        share = used / billed_wh
        excl_off = min(
            round_money(energy.excl_vat * share, currency),
            energy.excl_vat,
            max(charge.total_excl_vat, ZERO),
        )
        vat_off = min(
            round_money(energy.vat * share, currency), energy.vat, max(charge.total_vat, ZERO)
        )
        lines.append(
            ChargeLine(
                kind=LineKind.INCLUDED_ENERGY,
                quantity=used / WH_PER_KWH,
                excl_vat=-max(excl_off, ZERO),
                vat=-max(vat_off, ZERO),
                vat_percent=energy.vat_percent,
            )
        )
    if plan.discount_percent > 0:
        rest_excl = max(sum((line.excl_vat for line in lines), ZERO), ZERO)
        rest_vat = max(sum((line.vat for line in lines), ZERO), ZERO)
        rate = min(plan.discount_percent, HUNDRED) / HUNDRED
        excl_off = round_money(rest_excl * rate, currency)
        vat_off = round_money(rest_vat * rate, currency)
        if excl_off or vat_off:
            lines.append(
                ChargeLine(
                    kind=LineKind.PLAN_DISCOUNT,
                    quantity=Decimal(1),
                    excl_vat=-excl_off,
                    vat=-vat_off,
                    vat_percent=_common_rate(lines),
                )
            )
    if len(lines) == len(charge.lines):
        return PlanApplication(charge, used)
    return PlanApplication(charge.with_lines(tuple(lines), note=f"plan:{plan.id}"), used)


def _common_rate(lines: list[ChargeLine]) -> Decimal | None:
    """The VAT rate every line that costs something has, or None when they differ."""
    rates = {line.vat_percent for line in lines if line.excl_vat or line.vat}
    return rates.pop() if len(rates) == 1 else None
