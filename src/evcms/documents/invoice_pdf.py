"""Receipts, invoices and credit notes as A4 PDFs (fpdf2), in English or Bulgarian.

The document is drawn from the stored :class:`~evcms.domain.invoices.Invoice` alone, so a PDF
rendered today and one rendered in a year show the same thing. Texts are translated with
``evcms.i18n`` (the English text is the msgid; every text this module shows is in
:data:`MESSAGES` or the domain's line descriptions, and a test checks the Bulgarian catalogue has
them all); money, numbers and dates are formatted by Babel in the language's locale
("12,34 €" in Bulgarian, "€12.34" in English).

Cyrillic needs a Unicode TrueType font: DejaVu Sans from the system by default, or the one the
``EVCMS_INVOICE_FONT`` setting names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from fpdf import FPDF
from fpdf.fonts import FontFace

from evcms.domain.billing import Party
from evcms.domain.invoices import (
    N_,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    PaymentStatus,
    SessionFacts,
    TaxTotal,
)
from evcms.i18n import Translator, locale_of, translator

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEFAULT_BOLD_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
FONT_SETTING = "EVCMS_INVOICE_FONT"
_FAMILY = "InvoiceSans"

TITLES: dict[InvoiceKind, str] = {
    InvoiceKind.RECEIPT: N_("Receipt"),
    InvoiceKind.INVOICE: N_("Invoice"),
    InvoiceKind.CREDIT_NOTE: N_("Credit note"),
}
STATUSES: dict[PaymentStatus, str] = {
    PaymentStatus.PAID: N_("Paid"),
    PaymentStatus.DUE: N_("Due"),
}
PAID_BY: dict[str, str] = {
    "card": N_("Paid by card"),
    "wallet": N_("Paid from wallet"),
}
SESSION_HEADING = N_("Charging session at {station}, {start} – {end}, {energy} kWh")  # noqa: RUF001
PERIOD = N_("Period: {start} – {end}")  # noqa: RUF001
SESSION_HEADING_OPEN = N_("Charging session at {station}, from {start}, {energy} kWh")
COLUMNS = (
    N_("Description"),
    N_("Qty"),
    N_("Unit"),
    N_("Unit price excl. VAT"),
    N_("VAT %"),
    N_("Excl. VAT"),
    N_("VAT"),
    N_("Total"),
)
_COLUMN_WIDTHS = (50, 15, 13, 22, 13, 23, 21, 23)  # mm; 180 in all (A4 less 15 mm margins)
_ALIGN = ("LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")

# Every other text this module shows (the msgids the Bulgarian catalogue must have).
MESSAGES: tuple[str, ...] = (
    *TITLES.values(),
    *STATUSES.values(),
    *PAID_BY.values(),
    SESSION_HEADING,
    SESSION_HEADING_OPEN,
    *COLUMNS,
    N_("No. {number}"),
    N_("Issue date: {date}"),
    PERIOD,
    N_("Corrects document {number}"),
    N_("Reason: {reason}"),
    N_("Seller"),
    N_("Buyer"),
    N_("VAT ID: {vat_id}"),
    N_("Company ID: {company_id}"),
    N_("Email: {email}"),
    N_("VAT by rate"),
    N_("Tax base"),
    N_("VAT {rate}"),
    N_("VAT, mixed rates"),
    N_("Total excl. VAT"),
    N_("Total VAT"),
    N_("Grand total"),
    N_("Payment: {status}"),
    N_("Amounts in {currency}."),
)


class InvoiceFontMissing(RuntimeError):
    """No TrueType font to draw invoices with (the text needs Latin and Cyrillic)."""


def font_paths(font_path: str | Path | None) -> tuple[Path, Path]:
    if font_path is None:
        regular, bold = DEFAULT_FONT, DEFAULT_BOLD_FONT
    else:
        regular = Path(font_path)
        bold = regular.with_name(f"{regular.stem}-Bold{regular.suffix}")
    if not regular.is_file():
        raise InvoiceFontMissing(
            f"no font for invoice PDFs at {regular}: set {FONT_SETTING} to a TrueType font"
            " file with Latin and Cyrillic letters (e.g. DejaVuSans.ttf, Debian package"
            " fonts-dejavu-core)"
        )
    return regular, bold if bold.is_file() else regular


class InvoicePdfRenderer:
    """Draws an :class:`Invoice` as an A4 PDF (implements ``services.invoicing.InvoiceRenderer``).

    ``font_path``: a TrueType font (its ``-Bold`` sibling, if there is one, for headings);
    default DejaVu Sans. ``time_zone``: the zone dates and times are shown in.
    """

    def __init__(self, font_path: str | Path | None = None, *, time_zone: str = "UTC") -> None:
        self._regular, self._bold = font_paths(font_path)
        self._zone = ZoneInfo(time_zone)

    def render(self, invoice: Invoice) -> bytes:
        return _Document(invoice, self._regular, self._bold, self._zone).build()


class _Document:
    def __init__(self, invoice: Invoice, regular: Path, bold: Path, zone: ZoneInfo) -> None:
        self.invoice = invoice
        self.zone = zone
        self.locale = locale_of(invoice.language)
        self._: Translator = translator(invoice.language)
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(15, 15, 15)
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.add_font(_FAMILY, "", str(regular))
        pdf.add_font(_FAMILY, "B", str(bold))
        pdf.set_creation_date(invoice.issued_at)
        pdf.set_creator("evcms")
        pdf.set_title(f"{self._(TITLES[invoice.kind])} {invoice.number_text}")
        pdf.set_lang("bg-BG" if invoice.language == "bg" else "en-GB")
        self.pdf = pdf

    # -- formatting -------------------------------------------------------------------------

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, self.invoice.currency, locale=self.locale)

    def unit_price(self, amount: Decimal) -> str:
        """A price per unit: up to 4 decimals, at least the currency's."""
        shown = amount.quantize(Decimal("0.0001")).normalize()
        return format_currency(
            shown, self.invoice.currency, locale=self.locale, decimal_quantization=False
        )

    def number(self, value: Decimal, digits: int = 3) -> str:
        pattern = "#,##0." + "#" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, rate: Decimal) -> str:
        return f"{self.number(rate, 2)} %"

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def date(self, at: datetime) -> str:
        return format_date(self.local(at).date(), "medium", locale=self.locale)

    def time(self, at: datetime) -> str:
        return format_time(self.local(at).time(), "short", locale=self.locale)

    def moment(self, at: datetime) -> str:
        return f"{self.date(at)} {self.time(at)}"

    # -- drawing ----------------------------------------------------------------------------

    def build(self) -> bytes:
        self.pdf.add_page()
        self.header()
        self.parties()
        self.lines()
        self.totals()
        return bytes(self.pdf.output())

    def text(self, value: str, *, size: float = 9, bold: bool = False, height: float = 5) -> None:
        self.pdf.set_font(_FAMILY, "B" if bold else "", size)
        self.pdf.multi_cell(0, height, value, new_x="LMARGIN", new_y="NEXT")

    def header(self) -> None:
        _, invoice = self._, self.invoice
        self.text(_(TITLES[invoice.kind]), size=18, bold=True, height=9)
        self.text(_("No. {number}").format(number=invoice.number_text), size=11, bold=True)
        self.text(_("Issue date: {date}").format(date=self.date(invoice.issued_at)))
        if invoice.period_start is not None and invoice.period_end is not None:
            # the period is [start, end): its last day is the one before ``end``
            last = invoice.period_end - timedelta(microseconds=1)
            self.text(
                _(PERIOD).format(
                    start=self.date(invoice.period_start), end=self.date(last)
                )
            )
        if invoice.corrects_number:
            self.text(_("Corrects document {number}").format(number=invoice.corrects_number))
        if invoice.note:
            self.text(_("Reason: {reason}").format(reason=invoice.note))
        self.pdf.ln(4)

    def parties(self) -> None:
        _, pdf = self._, self.pdf
        top = pdf.get_y()
        half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
        bottoms = []
        for column, (title, party) in enumerate(
            ((_("Seller"), self.invoice.seller), (_("Buyer"), self.invoice.buyer))
        ):
            pdf.set_xy(pdf.l_margin + column * half, top)
            pdf.set_font(_FAMILY, "B", 10)
            pdf.multi_cell(half - 4, 5, title, new_x="LEFT", new_y="NEXT")
            pdf.set_font(_FAMILY, "", 9)
            pdf.multi_cell(half - 4, 4.5, "\n".join(self.party_lines(party)), new_x="LEFT", new_y="NEXT")
            bottoms.append(pdf.get_y())
        pdf.set_xy(pdf.l_margin, max(bottoms) + 5)

    def party_lines(self, party: Party) -> list[str]:
        _ = self._
        found = [party.name]
        found.extend(line for line in party.address.splitlines() if line.strip())
        if party.country:
            found.append(party.country)
        if party.vat_id:
            found.append(_("VAT ID: {vat_id}").format(vat_id=party.vat_id))
        if party.company_id:
            found.append(_("Company ID: {company_id}").format(company_id=party.company_id))
        if party.email:
            found.append(_("Email: {email}").format(email=party.email))
        return found

    def session_heading(self, facts: SessionFacts) -> str:
        _ = self._
        station = facts.station_id if not facts.connector else f"{facts.station_id} / {facts.connector}"
        energy = self.number(facts.energy_kwh)
        start = self.moment(facts.started_at)
        if facts.ended_at is None:
            return _(SESSION_HEADING_OPEN).format(station=station, start=start, energy=energy)
        same_day = self.local(facts.ended_at).date() == self.local(facts.started_at).date()
        end = self.time(facts.ended_at) if same_day else self.moment(facts.ended_at)
        return _(SESSION_HEADING).format(station=station, start=start, end=end, energy=energy)

    def line_cells(self, line: InvoiceLine) -> Sequence[str]:
        _ = self._
        unit_price = line.unit_price
        rate = line.vat_percent
        return (
            _(line.description),
            self.number(line.quantity),
            _(line.unit) if line.unit else "",
            "" if unit_price is None else self.unit_price(unit_price),
            "" if rate is None else self.percent(rate),
            self.money(line.excl_vat),
            self.money(line.vat),
            self.money(line.incl_vat),
        )

    def lines(self) -> None:
        _, pdf = self._, self.pdf
        pdf.set_font(_FAMILY, "", 8)
        heading_style = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
        with pdf.table(
            col_widths=_COLUMN_WIDTHS,
            text_align=_ALIGN,
            headings_style=heading_style,
            line_height=4.5,
            padding=1,
        ) as table:
            header = table.row()
            for column in COLUMNS:
                header.cell(_(column))
            shown_session: int | None = None
            for line in self.invoice.lines:
                if line.session is not None and line.session_id != shown_session:
                    shown_session = line.session_id
                    row = table.row()
                    row.cell(
                        self.session_heading(line.session),
                        colspan=len(COLUMNS),
                        style=FontFace(fill_color=(245, 245, 245)),
                        align="LEFT",
                    )
                elif line.session is None:
                    shown_session = None
                row = table.row()
                for cell in self.line_cells(line):
                    row.cell(cell)
        pdf.ln(4)

    def totals(self) -> None:
        _, pdf, invoice = self._, self.pdf, self.invoice
        self.text(_("VAT by rate"), size=10, bold=True)
        pdf.set_font(_FAMILY, "", 9)
        with pdf.table(
            col_widths=(60, 40, 40),
            width=140,
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT"),
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
            line_height=5,
            padding=1,
        ) as table:
            header = table.row()
            for title in ("", _("Tax base"), _("VAT")):
                header.cell(title)
            for group in invoice.tax_totals:
                row = table.row()
                row.cell(self.rate_label(group))
                row.cell(self.money(group.excl_vat))
                row.cell(self.money(group.vat))
        pdf.ln(3)
        rows = (
            (_("Total excl. VAT"), self.money(invoice.total_excl_vat), False),
            (_("Total VAT"), self.money(invoice.total_vat), False),
            (_("Grand total"), self.money(invoice.total_incl_vat), True),
        )
        for label, amount, bold in rows:
            pdf.set_font(_FAMILY, "B" if bold else "", 11 if bold else 9)
            pdf.cell(100, 6, label)
            pdf.cell(40, 6, amount, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        if invoice.kind is not InvoiceKind.CREDIT_NOTE:
            status = _(STATUSES[invoice.payment_status])
            if invoice.payment_status is PaymentStatus.PAID and invoice.paid_by in PAID_BY:
                status = _(PAID_BY[invoice.paid_by])
            self.text(_("Payment: {status}").format(status=status), size=10, bold=True)
        self.text(_("Amounts in {currency}.").format(currency=invoice.currency), size=8)

    def rate_label(self, group: TaxTotal) -> str:
        _ = self._
        if group.rate is None:
            return _("VAT, mixed rates")
        return _("VAT {rate}").format(rate=self.percent(group.rate))
