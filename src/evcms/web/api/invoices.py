"""Receipts, invoices and credit notes: ``/invoices`` (operators) and ``/me/invoices`` (drivers).

Documents are read-only here (they are issued by billing); the one thing an operator does is
cancel one with a credit note. Amounts are strings ("12.30"), never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from evcms.domain.billing import Party, from_minor, to_minor
from evcms.domain.invoices import Invoice, InvoiceKind, InvoiceLine, SessionFacts, TaxTotal
from evcms.services.invoicing import MAX_PAGE, REASON_MAX_LENGTH, Invoicing
from evcms.web.auth import BillingManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut

router = APIRouter(prefix="/invoices", tags=["invoices"])
me_router = APIRouter(prefix="/me/invoices", tags=["driver invoices"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such document (or not yours)"}
}
_PDF: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    200: {"content": {"application/pdf": {}}, "description": "The document as a PDF"},
}


def invoicing_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Invoicing:
    """The invoicing service; 503 when this evcms runs without it."""
    if deps.invoicing is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "invoicing is not enabled on this server"
        )
    service: Invoicing = deps.invoicing
    return service


InvoicingService = Annotated[Invoicing, Depends(invoicing_service)]


# -- bodies -----------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> str:
    """With the currency's digits: 12.3 -> "12.30"."""
    return str(from_minor(to_minor(amount, currency), currency))


def _plain(value: Decimal) -> str:
    """A quantity or rate without exponent or needless zeros: "12.345", "20", "0.5"."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _unit_price(value: Decimal) -> str:
    """A price per unit, 2-4 decimals: "0.25", "0.2503"."""
    four = value.quantize(Decimal("0.0001"))
    two = four.quantize(Decimal("0.01"))
    return f"{two if two == four else four}"


class PartyOut(BaseModel):
    name: str
    address: str
    country: str | None
    vat_id: str | None
    company_id: str | None
    email: str | None

    @classmethod
    def of(cls, party: Party) -> PartyOut:
        return cls(
            name=party.name,
            address=party.address,
            country=party.country,
            vat_id=party.vat_id,
            company_id=party.company_id,
            email=party.email,
        )


class SessionFactsOut(BaseModel):
    station_id: str
    connector: str | None
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: str

    @classmethod
    def of(cls, facts: SessionFacts) -> SessionFactsOut:
        return cls(
            station_id=facts.station_id,
            connector=facts.connector,
            started_at=facts.started_at,
            ended_at=facts.ended_at,
            energy_kwh=_plain(facts.energy_kwh),
        )


class InvoiceLineOut(BaseModel):
    kind: str = Field(description="ENERGY, TIME, PARKING_TIME, FLAT, ... for session lines; FEE")
    description: str = Field(description="In English; the PDF shows it in the document language")
    quantity: str
    unit: str
    unit_price_excl_vat: str | None = Field(description="When the line is quantity x price")
    vat_percent: str | None = Field(description="None when the line mixes VAT rates")
    excl_vat: str
    vat: str
    incl_vat: str
    session_id: int | None
    session: SessionFactsOut | None

    @classmethod
    def of(cls, line: InvoiceLine, currency: str) -> InvoiceLineOut:
        unit_price = line.unit_price
        return cls(
            kind=line.kind,
            description=line.description,
            quantity=_plain(line.quantity),
            unit=line.unit,
            unit_price_excl_vat=None if unit_price is None else _unit_price(unit_price),
            vat_percent=None if line.vat_percent is None else _plain(line.vat_percent),
            excl_vat=_money(line.excl_vat, currency),
            vat=_money(line.vat, currency),
            incl_vat=_money(line.incl_vat, currency),
            session_id=line.session_id,
            session=None if line.session is None else SessionFactsOut.of(line.session),
        )


class TaxTotalOut(BaseModel):
    vat_percent: str | None = Field(description="None: the lines that mix rates")
    excl_vat: str
    vat: str

    @classmethod
    def of(cls, total: TaxTotal, currency: str) -> TaxTotalOut:
        return cls(
            vat_percent=None if total.rate is None else _plain(total.rate),
            excl_vat=_money(total.excl_vat, currency),
            vat=_money(total.vat, currency),
        )


class InvoiceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "An issued document"})

    id: str
    kind: InvoiceKind
    number: str = Field(description='The printed number, e.g. "R-0000000001"')
    series: str
    sequence: int = Field(description="The number within its series")
    driver_id: str | None
    issued_at: datetime
    language: str
    currency: str
    seller: PartyOut
    buyer: PartyOut
    lines: list[InvoiceLineOut]
    tax_totals: list[TaxTotalOut]
    total_excl_vat: str
    total_vat: str
    total_incl_vat: str
    payment_status: str = Field(description="paid | due")
    paid_by: str | None = Field(description="card | wallet, for receipts")
    period_start: datetime | None
    period_end: datetime | None
    corrects_id: str | None = Field(description="A credit note's corrected document")
    corrects_number: str | None
    note: str | None = Field(description="A credit note's reason")
    session_ids: list[int]

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        currency = invoice.currency
        return cls(
            id=invoice.id,
            kind=invoice.kind,
            number=invoice.number_text,
            series=invoice.series,
            sequence=invoice.number,
            driver_id=invoice.driver_id,
            issued_at=invoice.issued_at,
            language=invoice.language,
            currency=currency,
            seller=PartyOut.of(invoice.seller),
            buyer=PartyOut.of(invoice.buyer),
            lines=[InvoiceLineOut.of(line, currency) for line in invoice.lines],
            tax_totals=[TaxTotalOut.of(t, currency) for t in invoice.tax_totals],
            total_excl_vat=_money(invoice.total_excl_vat, currency),
            total_vat=_money(invoice.total_vat, currency),
            total_incl_vat=_money(invoice.total_incl_vat, currency),
            payment_status=invoice.payment_status.value,
            paid_by=invoice.paid_by,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            corrects_id=invoice.corrects_id,
            corrects_number=invoice.corrects_number,
            note=invoice.note,
            session_ids=list(invoice.session_ids),
        )


class InvoiceList(BaseModel):
    invoices: list[InvoiceOut]
    limit: int
    offset: int


class CreditNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=REASON_MAX_LENGTH,
        description="Why the document is cancelled (printed on the credit note)",
    )


# -- helpers ----------------------------------------------------------------------------------



def _pdf_response(invoice_number: str, body: bytes) -> Response:
    return Response(
        content=body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice_number}.pdf"'},
    )


async def _pdf(invoicing: Invoicing, invoice_id: str, driver_id: str | None) -> Response:
    invoice = await invoicing.get(invoice_id, driver_id=driver_id)
    body = await invoicing.pdf(invoice_id, driver_id=driver_id)
    return _pdf_response(invoice.number_text, body)


_Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many, newest first")]
_Offset = Annotated[int, Query(ge=0, description="Skip this many")]


# -- operators --------------------------------------------------------------------------------


@router.get("")
async def list_invoices(
    invoicing: InvoicingService,
    _: Reader,
    driver_id: Annotated[str | None, Query(max_length=36, description="One driver's")] = None,
    kind: Annotated[InvoiceKind | None, Query(description="receipt | invoice | credit_note")] = None,
    limit: _Limit = 50,
    offset: _Offset = 0,
) -> InvoiceList:
    """Receipts, invoices and credit notes, newest first."""
    found = await invoicing.list(driver_id=driver_id, kind=kind, limit=limit, offset=offset)
    return InvoiceList(invoices=[InvoiceOut.of(i) for i in found], limit=limit, offset=offset)


@router.get("/{invoice_id}", responses=_NOT_FOUND)
async def get_invoice(invoice_id: str, invoicing: InvoicingService, _: Reader) -> InvoiceOut:
    """One document with its lines and totals."""
    return InvoiceOut.of(await invoicing.get(invoice_id))


@router.get("/{invoice_id}/pdf", responses=_PDF, response_class=Response)
async def invoice_pdf(invoice_id: str, invoicing: InvoicingService, _: Reader) -> Response:
    """The document as a PDF, in its language."""
    return await _pdf(invoicing, invoice_id, None)


@router.post(
    "/{invoice_id}/credit-note",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorOut, "description": "The document is itself a credit note"},
    },
)
async def credit_invoice(
    invoice_id: str, body: CreditNoteIn, invoicing: InvoicingService, _: BillingManager
) -> InvoiceOut:
    """Cancel a receipt or an invoice with a credit note (the whole document). Asking again
    returns the credit note already issued."""
    return InvoiceOut.of(await invoicing.credit_note(invoice_id, reason=body.reason))


# -- drivers ----------------------------------------------------------------------------------


@me_router.get("")
async def my_invoices(
    invoicing: InvoicingService,
    session: CurrentDriver,
    kind: Annotated[InvoiceKind | None, Query(description="receipt | invoice | credit_note")] = None,
    limit: _Limit = 50,
    offset: _Offset = 0,
) -> InvoiceList:
    """Your receipts, invoices and credit notes, newest first."""
    found = await invoicing.list(
        driver_id=session.driver.id, kind=kind, limit=limit, offset=offset
    )
    return InvoiceList(invoices=[InvoiceOut.of(i) for i in found], limit=limit, offset=offset)


@me_router.get("/{invoice_id}", responses=_NOT_FOUND)
async def my_invoice(
    invoice_id: str, invoicing: InvoicingService, session: CurrentDriver
) -> InvoiceOut:
    """One of your documents."""
    return InvoiceOut.of(await invoicing.get(invoice_id, driver_id=session.driver.id))


@me_router.get("/{invoice_id}/pdf", responses=_PDF, response_class=Response)
async def my_invoice_pdf(
    invoice_id: str, invoicing: InvoicingService, session: CurrentDriver
) -> Response:
    """One of your documents as a PDF."""
    return await _pdf(invoicing, invoice_id, session.driver.id)
