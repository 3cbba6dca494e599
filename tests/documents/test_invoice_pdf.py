"""Invoice PDFs in English and Bulgarian, read back with pypdf: what a person sees on them —
the title, number, parties, lines, totals formatted per locale — and the Bulgarian catalogue
having every text the documents use."""

# ruff: noqa: RUF001  (Bulgarian text and en dashes are what the documents print)

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file
from pypdf import PdfReader

import evcms.documents.invoice_pdf as invoice_pdf
import evcms.domain.invoices as invoices_domain
from evcms.documents.invoice_pdf import InvoiceFontMissing, InvoicePdfRenderer
from evcms.domain.billing import ChargeLine, LineKind, Party, SessionCharge
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
from evcms.i18n import messages, translator

D = Decimal
T0 = datetime(2026, 3, 14, 9, 5, tzinfo=UTC)
SOFIA = ZoneInfo("Europe/Sofia")
SELLER = Party("EV Charge Ltd", "1 Vitosha Blvd\nSofia 1000", "BG", "BG123456789", "204567890")
BUYER_BG = Party("Иван Петров", "бул. България 2, София", "BG", email="ivan@example.com")
BUYER_EN = Party("Jane Driver", "2 High St, London", "GB", vat_id="GB999999973")
CHARGE = SessionCharge(
    42,
    "EUR",
    (
        ChargeLine(LineKind.ENERGY, D("12.345"), D("3.09"), D("0.62"), D(20)),
        ChargeLine(LineKind.PARKING_TIME, D("0.5"), D("1.00"), D("0.09"), D(9)),
        ChargeLine(LineKind.FLAT, D(1), D("0.50"), D("0.10"), D(20)),
    ),
)
FACTS = SessionFacts("CP-1", T0, T0 + timedelta(minutes=70), D("12345"), "2")
SUBSCRIPTION = fee_line(
    "Subscription fee", excl_vat=D("1000.00"), vat=D("200.00"), vat_percent=D(20), unit="month"
)

def document(
    kind: InvoiceKind, language: str, buyer: Party, *, number: int = 1, lines: tuple[InvoiceLine, ...] = ()
) -> Invoice:
    is_invoice = kind is InvoiceKind.INVOICE
    return InvoiceDraft(
        key=f"{kind}:{number}",
        kind=kind,
        issued_at=T0 + timedelta(days=20),
        language=language,
        currency="EUR",
        seller=SELLER,
        buyer=buyer,
        lines=lines or session_lines(CHARGE, FACTS),
        payment_status=PaymentStatus.DUE if is_invoice else PaymentStatus.PAID,
        driver_id="d1",
        paid_by=None if is_invoice else "card",
        period_start=datetime(2026, 3, 1, tzinfo=UTC) if is_invoice else None,
        period_end=datetime(2026, 4, 1, tzinfo=UTC) if is_invoice else None,
    ).issue(f"id-{number}", number)


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[ \u00a0\u202f]+", " ", text)  # Babel's no-break spaces as plain ones


def test_an_english_receipt() -> None:
    pdf = InvoicePdfRenderer().render(document(InvoiceKind.RECEIPT, "en", BUYER_EN))
    text = text_of(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert text.startswith("Receipt\nNo. R-0000000001")
    assert "Issue date: 3 Apr 2026" in text
    for expected in (
        "Seller", "EV Charge Ltd", "Sofia 1000", "VAT ID: BG123456789", "Company ID: 204567890",
        "Buyer", "Jane Driver", "VAT ID: GB999999973",
        "Charging session at CP-1 / 2, 14 Mar 2026 09:05 – 10:15, 12.345 kWh",
        "Energy 12.345 kWh €0.2503 20 % €3.09 €0.62 €3.71",
        "Parking time 0.5 h €2.00 9 % €1.00 €0.09 €1.09",
        "Session fee 1 session 20 % €0.50 €0.10 €0.60",
        "VAT 9 % €1.00 €0.09", "VAT 20 % €3.59 €0.72",
        "Total excl. VAT €4.59", "Total VAT €0.81", "Grand total €5.40",
        "Payment: Paid by card",
    ):
        assert expected in text
    assert "Period" not in text and "Due" not in text


def test_a_bulgarian_monthly_invoice() -> None:
    lines = monthly_lines([(CHARGE, FACTS)], [SUBSCRIPTION])
    renderer = InvoicePdfRenderer(time_zone="Europe/Sofia")
    invoice = replace(  # March in Sofia: [1 Mar 00:00, 1 Apr 00:00) local time
        document(InvoiceKind.INVOICE, "bg", BUYER_BG, number=7, lines=lines),
        period_start=datetime(2026, 3, 1, tzinfo=SOFIA),
        period_end=datetime(2026, 4, 1, tzinfo=SOFIA),
    )
    text = text_of(renderer.render(invoice))
    assert text.startswith("Фактура\n№ INV-0000000007")
    for expected in (
        "Дата на издаване: 3.04.2026 г.",
        "Период: 1.03.2026 г. – 31.03.2026 г.",
        "Доставчик", "Получател", "Иван Петров", "бул. България 2, София", "Имейл: ivan@example.com",
        "ИН по ЗДДС: BG123456789", "ЕИК: 204567890",
        "Описание", "Мярка", "Ед. цена без ДДС",
        "Зареждане на CP-1 / 2, 14.03.2026 г. 11:05 – 12:15, 12,345 kWh",  # Sofia time
        "Енергия 12,345 kWh 0,2503 € 20 % 3,09 € 0,62 € 3,71 €",
        "Време за паркиране 0,5 ч 2,00 € 9 % 1,00 € 0,09 € 1,09 €",
        "Абонаментна такса 1 месец 1 000,00 € 20 % 1 000,00 € 200,00 € 1 200,00 €",
        "ДДС 9 % 1,00 € 0,09 €", "ДДС 20 % 1 003,59 € 200,72 €",
        "Общо без ДДС 1 004,59 €", "Общо ДДС 200,81 €", "Обща сума 1 205,40 €",
        "Плащане: Дължимо",
    ):
        assert expected in text


def test_a_credit_note_names_what_it_corrects_and_shows_negative_amounts() -> None:
    receipt = document(InvoiceKind.RECEIPT, "en", BUYER_EN, number=3)
    credit = credit_note_of(receipt, key="credit:id-3", issued_at=T0, reason="charged twice").issue("cn", 1)
    text = text_of(InvoicePdfRenderer().render(credit))
    assert text.startswith("Credit note\nNo. CN-0000000001")
    assert "Corrects document R-0000000003" in text and "Reason: charged twice" in text
    assert "Energy -12.345 kWh €0.2503 20 % -€3.09 -€0.62 -€3.71" in text
    assert "Grand total -€5.40" in text
    assert "Payment:" not in text
    bg = credit_note_of(
        document(InvoiceKind.RECEIPT, "bg", BUYER_BG), key="c", issued_at=T0, reason="грешка"
    ).issue("cn-bg", 2)
    bg_text = text_of(InvoicePdfRenderer().render(bg))
    assert bg_text.startswith("Кредитно известие\n№ CN-0000000002")
    assert "Към документ № R-0000000001" in bg_text and "Основание: грешка" in bg_text
    assert "Обща сума -5,40 €" in bg_text


def test_a_bulgarian_receipt_is_a_razpiska_paid_from_the_wallet() -> None:
    receipt = document(InvoiceKind.RECEIPT, "bg", BUYER_BG)
    text = text_of(InvoicePdfRenderer().render(replace(receipt, paid_by="wallet")))
    assert text.startswith("Разписка\n№ R-0000000001")
    assert "Плащане: Платено от портфейл" in text


def test_a_long_invoice_flows_onto_more_pages() -> None:
    sessions = [
        (SessionCharge(n, "EUR", CHARGE.lines), SessionFacts("CP-1", T0 + timedelta(hours=n), None, D(1000)))
        for n in range(60)
    ]
    invoice = document(InvoiceKind.INVOICE, "en", BUYER_EN, lines=monthly_lines(sessions))
    pdf = InvoicePdfRenderer().render(invoice)
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1
    text = text_of(pdf)
    assert "Charging session at CP-1, from 16 Mar 2026 20:05, 1 kWh" in text  # session 59
    assert f"Grand total €{60 * 5.40:.2f}" in text


def test_another_font_can_be_named(tmp_path: Path) -> None:
    serif = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
    if not serif.is_file():
        pytest.skip("no DejaVu Serif")
    text = text_of(InvoicePdfRenderer(serif).render(document(InvoiceKind.RECEIPT, "bg", BUYER_BG)))
    assert "Разписка" in text and "Иван Петров" in text


def test_a_missing_font_says_which_setting_to_set(tmp_path: Path) -> None:
    with pytest.raises(InvoiceFontMissing, match="EVCMS_INVOICE_FONT") as caught:
        InvoicePdfRenderer(tmp_path / "nope.ttf")
    assert str(tmp_path / "nope.ttf") in str(caught.value)


# -- translations -----------------------------------------------------------------------------


def _msgids(module_file: str | None) -> set[str]:
    assert module_file is not None
    found = extract_from_file("python", module_file, keywords={"_": None, "N_": None})
    return {message for _, message, _, _ in found if isinstance(message, str)}


def test_every_text_of_the_documents_has_a_bulgarian_translation() -> None:
    used = _msgids(invoice_pdf.__file__) | _msgids(invoices_domain.__file__)
    assert {"Invoice", "Energy", "Subscription fee", "Grand total"} <= used  # the extraction works
    assert set(invoice_pdf.MESSAGES) <= used
    bg = messages("bg")
    missing = sorted(used - set(bg))
    assert missing == [], f"add these to src/evcms/locale/bg/LC_MESSAGES/messages.po: {missing}"
    for msgid in used:
        placeholders = set(re.findall(r"\{(\w+)\}", msgid))
        assert set(re.findall(r"\{(\w+)\}", bg[msgid])) == placeholders, msgid


def test_the_translator_falls_back_to_english() -> None:
    bg = translator("bg")
    assert bg("Credit note") == "Кредитно известие"
    assert bg("Not in the catalogue") == "Not in the catalogue"
    assert translator("en")("Credit note") == "Credit note"
    assert translator("de")("Credit note") == "Credit note"
    assert translator("../bg")("Credit note") == "Credit note"  # no path tricks
    assert messages("bg") is messages("bg")  # read once
