"""Invoices, receipts and credit notes as documents (pure).

An issued document is immutable: its lines are fixed, its totals are the sums of its lines and
its tax totals per VAT rate sum to its total tax, so what the PDF shows, what is stored and what
the API answers always agree. A credit note is the exact negation of the document it corrects
(every amount and quantity negated), so the two cancel to the cent.

Line descriptions are English texts that double as gettext message ids: the document is
translated when it is rendered (``evcms.i18n``), not here. :func:`N_` marks such texts so the
translation catalogue can be checked for all of them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from evcms.domain.billing import ChargeLine, LineKind, Party, SessionCharge
from evcms.domain.tariffs import minor_units

ZERO = Decimal(0)
ONE = Decimal(1)


def N_(message: str) -> str:
    """Mark ``message`` as a translatable text without translating it (gettext's N_)."""
    return message


class InvoiceKind(enum.StrEnum):
    RECEIPT = "receipt"  # a session or fee already paid (card or wallet)
    INVOICE = "invoice"  # a monthly invoice of postpaid sessions and fees: to be paid
    CREDIT_NOTE = "credit_note"  # cancels a receipt or an invoice


SERIES: dict[InvoiceKind, str] = {
    InvoiceKind.RECEIPT: "R",
    InvoiceKind.INVOICE: "INV",
    InvoiceKind.CREDIT_NOTE: "CN",
}


class PaymentStatus(enum.StrEnum):
    PAID = "paid"
    DUE = "due"


FEE = "FEE"  # the kind of a line that is not part of a session (a subscription fee...)

# What each kind of session line is called on a document (English msgids).
LINE_DESCRIPTIONS: dict[str, str] = {
    LineKind.ENERGY: N_("Energy"),
    LineKind.TIME: N_("Charging time"),
    LineKind.PARKING_TIME: N_("Parking time"),
    LineKind.FLAT: N_("Session fee"),
    LineKind.INCLUDED_ENERGY: N_("Included energy (subscription)"),
    LineKind.PLAN_DISCOUNT: N_("Subscription discount"),
    LineKind.ADJUSTMENT: N_("Price adjustment"),
}
SUBSCRIPTION_FEE = N_("Subscription fee")
# The units lines are counted in (msgids too).
UNIT_TEXTS = (N_("kWh"), N_("h"), N_("session"), N_("month"))
# Kinds whose quantity times a unit price makes sense; the others are amounts only.
PRICED_BY_QUANTITY = frozenset({LineKind.ENERGY, LineKind.TIME, LineKind.PARKING_TIME, FEE})


def number_text(series: str, number: int) -> str:
    """The printed number: ``R-0000000001``."""
    return f"{series}-{number:010d}"


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a document says about a charging session besides its price."""

    station_id: str
    started_at: datetime
    ended_at: datetime | None
    energy_wh: Decimal
    connector: str | None = None

    @property
    def energy_kwh(self) -> Decimal:
        return self.energy_wh / 1000


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line of a document. ``excl_vat`` and ``vat`` are rounded to the currency."""

    description: str  # English; also the msgid the document is translated with
    quantity: Decimal
    unit: str  # "kWh", "h", "session", "month" or ""
    excl_vat: Decimal
    vat: Decimal
    vat_percent: Decimal | None  # None: the line mixes rates (or has no VAT information)
    kind: str = FEE  # a LineKind value for session lines, FEE otherwise
    session_id: int | None = None  # the session this line belongs to
    session: SessionFacts | None = None

    @property
    def incl_vat(self) -> Decimal:
        return self.excl_vat + self.vat

    @property
    def unit_price(self) -> Decimal | None:
        """The price of one unit excl. VAT, when the line is a quantity times a price."""
        if self.kind not in PRICED_BY_QUANTITY or not self.quantity or not self.unit:
            return None
        return self.excl_vat / self.quantity

    def negated(self) -> InvoiceLine:
        return replace(
            self, quantity=-self.quantity, excl_vat=-self.excl_vat, vat=-self.vat
        )


def fee_line(
    description: str,
    *,
    excl_vat: Decimal,
    vat: Decimal,
    vat_percent: Decimal | None,
    quantity: Decimal = ONE,
    unit: str = "",
) -> InvoiceLine:
    """A line that is not part of a session, e.g. a month of a subscription."""
    return InvoiceLine(description, quantity, unit, excl_vat, vat, vat_percent, kind=FEE)


def session_lines(charge: SessionCharge, facts: SessionFacts) -> tuple[InvoiceLine, ...]:
    """The lines of a priced session on a document: one per charge line, each knowing its
    session (the document groups them under the session's station, times and energy)."""
    return tuple(_session_line(line, charge.session_id, facts) for line in charge.lines)


def _session_line(line: ChargeLine, session_id: int, facts: SessionFacts) -> InvoiceLine:
    return InvoiceLine(
        description=LINE_DESCRIPTIONS.get(line.kind, str(line.kind)),
        quantity=line.quantity,
        unit=line.unit,
        excl_vat=line.excl_vat,
        vat=line.vat,
        vat_percent=line.vat_percent,
        kind=str(line.kind),
        session_id=session_id,
        session=facts,
    )


@dataclass(frozen=True, slots=True)
class TaxTotal:
    """The lines of one VAT rate: their base and their tax. ``rate`` None gathers the lines
    without one rate (an adjustment spread over several rates, say)."""

    rate: Decimal | None
    excl_vat: Decimal
    vat: Decimal


def tax_totals(lines: Iterable[InvoiceLine]) -> tuple[TaxTotal, ...]:
    """Base and tax per VAT rate, rates ascending (the mixed group last). The taxes sum to the
    lines' total tax exactly: every line is in exactly one group."""
    groups: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
    for line in lines:
        rate = _rate_of(line)
        excl, vat = groups.get(rate, (ZERO, ZERO))
        groups[rate] = (excl + line.excl_vat, vat + line.vat)
    ordered = sorted(groups, key=lambda r: (r is None, r if r is not None else ZERO))
    return tuple(TaxTotal(rate, *groups[rate]) for rate in ordered)


def _rate_of(line: InvoiceLine) -> Decimal | None:
    if line.vat_percent is None:
        return None
    return line.vat_percent.normalize() + ZERO  # 20.00 and 20 are one rate


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    """Everything of a document but its identity: the repository gives it an id and the next
    number of its series when it issues it."""

    key: str  # idempotency: issuing the same key again gives the same document
    kind: InvoiceKind
    issued_at: datetime
    language: str
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    payment_status: PaymentStatus
    driver_id: str | None = None
    paid_by: str | None = None  # "card" | "wallet" for receipts
    period_start: datetime | None = None  # monthly invoices: [start, end)
    period_end: datetime | None = None
    corrects_id: str | None = None  # credit notes: the document they cancel
    corrects_number: str | None = None
    note: str | None = None  # e.g. a credit note's reason

    def __post_init__(self) -> None:
        digits = minor_units(self.currency)
        for line in self.lines:
            for amount in (line.excl_vat, line.vat):
                if amount != amount.quantize(Decimal(1).scaleb(-digits)):
                    raise ValueError(
                        f"{amount} has more digits than {self.currency} has (round lines first)"
                    )

    @property
    def series(self) -> str:
        return SERIES[self.kind]

    def issue(self, invoice_id: str, number: int) -> Invoice:
        return Invoice(
            id=invoice_id,
            series=self.series,
            number=number,
            number_text=number_text(self.series, number),
            key=self.key,
            kind=self.kind,
            issued_at=self.issued_at,
            language=self.language,
            currency=self.currency,
            seller=self.seller,
            buyer=self.buyer,
            lines=self.lines,
            payment_status=self.payment_status,
            driver_id=self.driver_id,
            paid_by=self.paid_by,
            period_start=self.period_start,
            period_end=self.period_end,
            corrects_id=self.corrects_id,
            corrects_number=self.corrects_number,
            note=self.note,
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued receipt, invoice or credit note. Never changed once issued."""

    id: str
    series: str
    number: int
    number_text: str
    key: str
    kind: InvoiceKind
    issued_at: datetime
    language: str
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    payment_status: PaymentStatus
    driver_id: str | None = None
    paid_by: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    corrects_id: str | None = None
    corrects_number: str | None = None
    note: str | None = None

    @property
    def total_excl_vat(self) -> Decimal:
        return sum((line.excl_vat for line in self.lines), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), ZERO)

    @property
    def total_incl_vat(self) -> Decimal:
        return self.total_excl_vat + self.total_vat

    @property
    def tax_totals(self) -> tuple[TaxTotal, ...]:
        return tax_totals(self.lines)

    @property
    def session_ids(self) -> tuple[int, ...]:
        """The sessions the document lists, in order of first appearance."""
        seen: dict[int, None] = {}
        for line in self.lines:
            if line.session_id is not None:
                seen.setdefault(line.session_id, None)
        return tuple(seen)


def credit_note_of(
    invoice: Invoice, *, key: str, issued_at: datetime, reason: str
) -> InvoiceDraft:
    """The credit note that cancels ``invoice``: the same parties, language, currency and
    lines with every amount and quantity negated, so its totals (and tax totals per rate) are
    exactly the negation of the invoice's."""
    if invoice.kind is InvoiceKind.CREDIT_NOTE:
        raise ValueError(f"{invoice.number_text} is a credit note; a credit note is not credited")
    return InvoiceDraft(
        key=key,
        kind=InvoiceKind.CREDIT_NOTE,
        issued_at=issued_at,
        language=invoice.language,
        currency=invoice.currency,
        seller=invoice.seller,
        buyer=invoice.buyer,
        lines=tuple(line.negated() for line in invoice.lines),
        payment_status=invoice.payment_status,  # paid: a refund is owed; due: the debt is gone
        driver_id=invoice.driver_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        corrects_id=invoice.id,
        corrects_number=invoice.number_text,
        note=reason,
    )


def monthly_lines(
    sessions: Sequence[tuple[SessionCharge, SessionFacts]], fees: Sequence[InvoiceLine] = ()
) -> tuple[InvoiceLine, ...]:
    """The lines of a monthly invoice: each session's lines (oldest session first), then fees."""
    ordered = sorted(sessions, key=lambda pair: (pair[1].started_at, pair[0].session_id))
    lines: list[InvoiceLine] = []
    for charge, facts in ordered:
        lines.extend(session_lines(charge, facts))
    lines.extend(fees)
    return tuple(lines)
