"""The monthly site report PDF: the figures of the known history, in English and Bulgarian."""

from __future__ import annotations

import io

from pypdf import PdfReader

from evcms.documents.site_report_pdf import MESSAGES, SiteReportPdfRenderer
from evcms.i18n import messages
from tests.services.test_analytics import build


def _text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_the_report_shows_the_months_figures_in_english_and_bulgarian() -> None:
    world = await build()
    report = await world.analytics.site_report("S1", "2026-10")
    english = _text(SiteReportPdfRenderer().render(report, "en"))
    assert "Monthly report: Car park" in english
    assert "66.67 %" in english  # success rate
    assert "95 %" in english  # uptime of the site (NEVI)
    assert "Energy 19 kWh" in english  # 19,000.5 Wh, to the Wh, half to even
    assert "€6.00" in english
    assert "GroundFailure" in english and "TOK-1" in english
    bulgarian = _text(SiteReportPdfRenderer().render(report, "bg"))
    assert "Месечен отчет: Car park" in bulgarian
    assert "66,67 %" in bulgarian
    assert "6,00 €" in bulgarian.replace("\xa0", " ")
    assert "Работоспособност" in bulgarian


def test_every_text_of_the_report_has_a_bulgarian_translation() -> None:
    missing = [m for m in MESSAGES if m not in messages("bg")]
    assert not missing
