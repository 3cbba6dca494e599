"""Issuing receipts, monthly invoices and credit notes, and reading them back as data or PDF.

Every document is issued under an idempotency key (``receipt:session:42``,
``invoice:{driver}:2026-03``, ``credit:{invoice id}``): issuing the same key again returns the
document already issued, so a retried settlement or a re-run monthly job never makes a second
document nor burns a number. The repository gives each document the next number of its series
(R receipts, INV invoices, CN credit notes) without gaps. A document is never changed: a
mistake is corrected by a credit note, which negates the whole document.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from evcms.domain.billing import Party, SessionCharge
from evcms.domain.invoices import (
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    PaymentStatus,
    SessionFacts,
    credit_note_of,
    fee_line,
    monthly_lines,
    session_lines,
)
from evcms.domain.tariffs import minor_units
from evcms.i18n import LANGUAGES
from evcms.services.ports import Clock, ServiceError

__all__ = [
    "PAID_BY",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceRenderer",
    "InvoiceRepository",
    "Invoicing",
    "SessionFacts",
]

PAID_BY = ("card", "wallet")
MAX_PAGE = 500
REASON_MAX_LENGTH = 500


class InvoiceRepository(Protocol):
    """Issued documents. There is no update: an issued document never changes."""

    async def issue(self, draft: InvoiceDraft, *, invoice_id: str) -> Invoice:
        """Give ``draft`` the next number of its series and store it, both in one transaction
        (a failed store uses no number). A document with the same key already issued is
        returned as it is and nothing is allocated; an ``invoice_id`` taken by another key
        raises ``AlreadyExists``."""
        ...

    async def get(self, invoice_id: str) -> Invoice | None: ...

    async def by_key(self, key: str) -> Invoice | None: ...

    async def list(
        self,
        *,
        driver_id: str | None = None,
        kind: InvoiceKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Invoice]: ...  # newest first


class InvoiceRenderer(Protocol):
    def render(self, invoice: Invoice) -> bytes: ...  # a PDF


def _new_id() -> str:
    return str(uuid.uuid4())


class Invoicing:
    def __init__(
        self,
        *,
        invoices: InvoiceRepository,
        renderer: InvoiceRenderer,
        clock: Clock,
        seller: Party,
        currency: str = "EUR",
    ) -> None:
        self._invoices = invoices
        self._renderer = renderer
        self._clock = clock
        self.seller = seller
        self.currency = currency  # of monthly invoices that have only fees

    # -- issuing ----------------------------------------------------------------------------

    async def receipt_for_session(
        self,
        charge: SessionCharge,
        facts: SessionFacts,
        *,
        driver_id: str | None,
        buyer: Party,
        language: str,
        paid_by: str,
    ) -> Invoice:
        """The receipt of a paid session: its lines under the session's station, times and
        energy. Issued once per session."""
        _check_language(language)
        _check_paid_by(paid_by)
        draft = self._draft(
            key=f"receipt:session:{charge.session_id}",
            kind=InvoiceKind.RECEIPT,
            language=language,
            currency=charge.currency,
            buyer=buyer,
            lines=session_lines(charge, facts),
            payment_status=PaymentStatus.PAID,
            driver_id=driver_id,
            paid_by=paid_by,
        )
        return await self._issue(draft)

    async def receipt_for_fee(
        self,
        *,
        key: str,
        driver_id: str,
        buyer: Party,
        language: str,
        description: str,
        excl: Decimal,
        vat: Decimal,
        vat_percent: Decimal,
        currency: str,
        paid_by: str,
        quantity: Decimal = Decimal(1),
        unit: str = "",
    ) -> Invoice:
        """The receipt of a paid fee (a month of a subscription, a top-up...). ``key`` makes it
        idempotent: the caller's own key, e.g. ``receipt:subscription:{id}:2026-03``."""
        _check_language(language)
        _check_paid_by(paid_by)
        if not key or len(key) > 160:
            raise ServiceError("key must be 1-160 characters", 422)
        if not description.strip():
            raise ServiceError("a fee needs a description", 422)
        line = fee_line(
            description.strip(),
            excl_vat=excl,
            vat=vat,
            vat_percent=vat_percent,
            quantity=quantity,
            unit=unit,
        )
        draft = self._draft(
            key=key,
            kind=InvoiceKind.RECEIPT,
            language=language,
            currency=currency,
            buyer=buyer,
            lines=(line,),
            payment_status=PaymentStatus.PAID,
            driver_id=driver_id,
            paid_by=paid_by,
        )
        return await self._issue(draft)

    async def monthly_invoice(
        self,
        *,
        driver_id: str,
        buyer: Party,
        language: str,
        period_start: datetime,
        period_end: datetime,
        sessions: Sequence[tuple[SessionCharge, SessionFacts]],
        fees: Sequence[InvoiceLine] = (),
        currency: str | None = None,
    ) -> Invoice | None:
        """The invoice of a postpaid driver's month: the sessions of ``[period_start,
        period_end)`` and the fees, to be paid. None when there is nothing to invoice (no
        line at all). Issued once per driver and month: a second call returns the first
        invoice whatever it is given."""
        _check_language(language)
        if period_end <= period_start:
            raise ServiceError("period_end must be after period_start", 422)
        key = f"invoice:{driver_id}:{period_start:%Y-%m}"
        existing = await self._invoices.by_key(key)
        if existing is not None:
            return existing
        currencies = {charge.currency for charge, _ in sessions}
        if currency is not None:
            currencies.add(currency)
        if len(currencies) > 1:
            raise ServiceError(
                f"one invoice has one currency; these sessions are in {', '.join(sorted(currencies))}",
                422,
            )
        lines = monthly_lines(list(sessions), fees)
        if not lines:
            return None
        draft = self._draft(
            key=key,
            kind=InvoiceKind.INVOICE,
            language=language,
            currency=currencies.pop() if currencies else self.currency,
            buyer=buyer,
            lines=lines,
            payment_status=PaymentStatus.DUE,
            driver_id=driver_id,
            period_start=period_start,
            period_end=period_end,
        )
        return await self._issue(draft)

    async def credit_note(self, invoice_id: str, *, reason: str) -> Invoice:
        """The credit note that cancels a receipt or an invoice (all of it). Once per document:
        asking again returns the credit note already issued."""
        reason = reason.strip()
        if not reason:
            raise ServiceError("say why the document is credited (reason)", 422)
        if len(reason) > REASON_MAX_LENGTH:
            raise ServiceError(f"reason may be at most {REASON_MAX_LENGTH} characters", 422)
        invoice = await self._invoices.get(invoice_id)
        if invoice is None:
            raise ServiceError(f"no invoice {invoice_id}", 404)
        if invoice.kind is InvoiceKind.CREDIT_NOTE:
            raise ServiceError(
                f"{invoice.number_text} is a credit note; credit notes cannot be credited"
                " (issue a new invoice instead)",
                409,
            )
        draft = credit_note_of(
            invoice, key=f"credit:{invoice.id}", issued_at=self._clock.now(), reason=reason
        )
        return await self._issue(draft)

    # -- reading ----------------------------------------------------------------------------

    async def get(self, invoice_id: str, *, driver_id: str | None = None) -> Invoice:
        """A document; with ``driver_id`` only that driver's (404 for anyone else's)."""
        invoice = await self._invoices.get(invoice_id)
        if invoice is None or (driver_id is not None and invoice.driver_id != driver_id):
            raise ServiceError(f"no invoice {invoice_id}", 404)
        return invoice

    async def list(
        self,
        *,
        driver_id: str | None = None,
        kind: InvoiceKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Invoice]:
        """Documents, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise ServiceError(f"limit must be 1-{MAX_PAGE}", 422)
        if offset < 0:
            raise ServiceError("offset must be 0 or more", 422)
        return await self._invoices.list(driver_id=driver_id, kind=kind, limit=limit, offset=offset)

    async def pdf(self, invoice_id: str, *, driver_id: str | None = None) -> bytes:
        """The document as a PDF, drawn from what is stored."""
        return self._renderer.render(await self.get(invoice_id, driver_id=driver_id))

    # -- helpers ----------------------------------------------------------------------------

    def _draft(
        self,
        *,
        key: str,
        kind: InvoiceKind,
        language: str,
        currency: str,
        buyer: Party,
        lines: tuple[InvoiceLine, ...],
        payment_status: PaymentStatus,
        driver_id: str | None,
        paid_by: str | None = None,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> InvoiceDraft:
        currency = currency.upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ServiceError(f"{currency!r} is not an ISO 4217 currency code", 422)
        digits = minor_units(currency)
        for line in lines:
            for amount in (line.excl_vat, line.vat):
                if amount != amount.quantize(Decimal(1).scaleb(-digits)):
                    raise ServiceError(
                        f"{amount} {currency} has more than {digits} decimals: round it first",
                        422,
                    )
        return InvoiceDraft(
            key=key,
            kind=kind,
            issued_at=self._clock.now(),
            language=language,
            currency=currency,
            seller=self.seller,
            buyer=buyer,
            lines=lines,
            payment_status=payment_status,
            driver_id=driver_id,
            paid_by=paid_by,
            period_start=period_start,
            period_end=period_end,
        )

    async def _issue(self, draft: InvoiceDraft) -> Invoice:
        return await self._invoices.issue(draft, invoice_id=_new_id())


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ServiceError(f"language must be one of {', '.join(LANGUAGES)}", 422)


def _check_paid_by(paid_by: str) -> None:
    if paid_by not in PAID_BY:
        raise ServiceError(f"paid_by must be one of {', '.join(PAID_BY)}", 422)



