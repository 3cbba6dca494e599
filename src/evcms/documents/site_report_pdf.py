"""The monthly report of a site as an A4 PDF (fpdf2), in English or Bulgarian.

Drawn from a :class:`~evcms.services.analytics.SiteReport`; texts are gettext msgids translated
with ``evcms.i18n`` (all listed in :data:`MESSAGES`, which the Bulgarian catalogue carries);
numbers, money and dates are formatted by Babel in the language's locale. The font is the
invoices' (DejaVu Sans, or ``EVCMS_INVOICE_FONT``): Cyrillic needs a Unicode TrueType font.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from fpdf import FPDF

from evcms.documents.invoice_pdf import font_paths
from evcms.domain.invoices import N_
from evcms.i18n import locale_of, translator
from evcms.services.analytics import SiteReport

_FAMILY = "ReportSans"

TITLE = N_("Monthly report: {site}")
MESSAGES: tuple[str, ...] = (
    TITLE,
    N_("Period: {start} – {end} ({zone})"),  # noqa: RUF001
    N_("Summary"),
    N_("Sessions"),
    N_("Successful sessions"),
    N_("Success rate"),
    N_("Energy"),
    N_("Average session"),
    N_("Revenue incl. VAT"),
    N_("Utilisation (occupied / charging)"),
    N_("Uptime (23 CFR 680.116)"),
    N_("Availability without exclusions"),
    N_("Excluded: operator-set Unavailable"),
    N_("Stations"),
    N_("Station"),
    N_("Uptime"),
    N_("Energy per day"),
    N_("Day"),
    N_("Faults"),
    N_("Error code"),
    N_("Model"),
    N_("Count"),
    N_("Top tokens"),
    N_("Token"),
    N_("No data"),
    N_("{minutes} min"),
)


class SiteReportPdfRenderer:
    """Implements ``services.analytics.ReportRenderer``."""

    def __init__(self, font_path: str | Path | None = None) -> None:
        self._font = font_path

    def render(self, report: SiteReport, language: str) -> bytes:
        regular, bold = font_paths(self._font)
        return _Report(report, language, regular, bold).build()


class _Report:
    def __init__(self, report: SiteReport, language: str, regular: Path, bold: Path) -> None:
        self.report = report
        self.locale = locale_of(language)
        self._ = translator(language)
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(15, 15, 15)
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.add_font(_FAMILY, "", str(regular))
        pdf.add_font(_FAMILY, "B", str(bold))
        pdf.set_creator("evcms")
        pdf.set_title(self._(TITLE).format(site=report.site.name))
        pdf.set_lang("bg-BG" if language == "bg" else "en-GB")
        self.pdf = pdf

    def number(self, value: Decimal, digits: int = 3) -> str:
        return format_decimal(value, format="#,##0." + "#" * digits, locale=self.locale)

    def percent(self, value: Decimal | None) -> str:
        return "–" if value is None else f"{self.number(value, 2)} %"  # noqa: RUF001

    def kwh(self, wh: Decimal) -> str:
        return f"{self.number(wh / 1000)} kWh"

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def text(self, value: str, *, size: float = 10, bold: bool = False) -> None:
        self.pdf.set_font(_FAMILY, "B" if bold else "", size)
        self.pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")

    def table(self, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], widths: tuple[int, ...]) -> None:
        self.pdf.set_font(_FAMILY, "", 9)
        with self.pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=True) as table:
            for values in [header, *rows]:
                row = table.row()
                for value in values:
                    row.cell(value)
        self.pdf.ln(3)

    def build(self) -> bytes:
        _, r = self._, self.report
        s = r.summary
        self.pdf.add_page()
        self.text(_(TITLE).format(site=r.site.name), size=16, bold=True)
        last = r.period.end.astimezone(r.period.zone).date()
        first = r.period.start.astimezone(r.period.zone).date()
        self.text(
            _("Period: {start} – {end} ({zone})").format(  # noqa: RUF001
                start=self.day(first), end=self.day(date.fromordinal(last.toordinal() - 1)), zone=r.period.zone_name
            )
        )
        self.pdf.ln(2)
        self.text(_("Summary"), size=12, bold=True)
        revenue = ", ".join(format_currency(v, c, locale=self.locale) for c, v in s.revenue.items()) or "–"  # noqa: RUF001
        average = ""
        if s.average_energy_wh is not None and s.average_duration_s is not None:
            minutes = self.number(s.average_duration_s / 60, 0)
            average = f"{self.kwh(s.average_energy_wh)}, {_('{minutes} min').format(minutes=minutes)}"
        u = r.utilisation
        rows = [
            (_("Sessions"), str(s.sessions)),
            (_("Successful sessions"), str(s.successful)),
            (_("Success rate"), self.percent(s.success_percent)),
            (_("Energy"), self.kwh(s.energy_wh)),
            (_("Average session"), average or "–"),  # noqa: RUF001
            (_("Revenue incl. VAT"), revenue),
            (_("Utilisation (occupied / charging)"), f"{self.percent(u.occupied_percent)} / {self.percent(u.charging_percent)}"),
            (_("Uptime (23 CFR 680.116)"), self.percent(r.uptime.uptime_percent)),
            (_("Availability without exclusions"), self.percent(r.uptime.availability_percent)),
            (
                _("Excluded: operator-set Unavailable"),
                _("{minutes} min").format(minutes=self.number(Decimal(r.uptime.uptime.excluded_total) / 60_000_000, 0)),
            ),
        ]
        self.table(("", ""), rows, (90, 90))
        self.text(_("Stations"), size=12, bold=True)
        self.table(
            (_("Station"), _("Sessions"), _("Energy"), _("Uptime")),
            [(sid, str(x.sessions), self.kwh(x.energy_wh), self.percent(up.uptime_percent)) for sid, x, up in r.stations],
            (60, 30, 45, 45),
        )
        self.text(_("Energy per day"), size=12, bold=True)
        self.table(
            (_("Day"), _("Sessions"), _("Energy")),
            [(self.day(date.fromisoformat(b.bucket)), str(b.sessions), self.kwh(b.energy_wh)) for b in r.daily],
            (70, 40, 70),
        )
        self.text(_("Faults"), size=12, bold=True)
        if r.faults:
            self.table(
                (_("Error code"), _("Model"), _("Count")),
                [(f.error_code, f.model, str(f.faults)) for f in r.faults],
                (70, 70, 40),
            )
        else:
            self.text(_("No data"))
        self.text(_("Top tokens"), size=12, bold=True)
        if r.tokens:
            self.table(
                (_("Token"), _("Sessions"), _("Energy")),
                [(t.id_token, str(t.sessions), self.kwh(Decimal(t.energy_mwh) / 1000)) for t in r.tokens],
                (80, 40, 60),
            )
        else:
            self.text(_("No data"))
        return bytes(self.pdf.output())
