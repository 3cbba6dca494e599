"""The invoicing service over the in-memory repository: receipts, monthly invoices, credit notes,
idempotency by key, who may read what, and the errors callers see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evcms.domain.billing import ChargeLine, LineKind, Party, SessionCharge
from evcms.domain.invoices import (
    Invoice,
    InvoiceKind,
    PaymentStatus,
    SessionFacts,
    fee_line,
)
from evcms.services.clock import FixedClock
from evcms.services.invoicing import Invoicing
from evcms.services.ports import ServiceError
from evcms.storage.invoices import MemoryInvoiceRepository

D = Decimal
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
SELLER = Party("Seller Ltd", "1 Main St, Sofia", "BG", "BG123456789", "123456789")
BUYER = Party("Ivan Petrov", email="ivan@example.com")
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


@dataclass
class FakeRenderer:
    rendered: list[Invoice] = field(default_factory=list)

    def render(self, invoice: Invoice) -> bytes:
        self.rendered.append(invoice)
        return b"%PDF-" + invoice.number_text.encode()


@dataclass
class Setup:
    service: Invoicing
    repo: MemoryInvoiceRepository
    renderer: FakeRenderer
    clock: FixedClock


@pytest.fixture
def setup() -> Setup:
    repo, renderer, clock = MemoryInvoiceRepository(), FakeRenderer(), FixedClock(T0)
    service = Invoicing(invoices=repo, renderer=renderer, clock=clock, seller=SELLER)
    return Setup(service, repo, renderer, clock)


def charge(session_id: int = 42, currency: str = "EUR") -> SessionCharge:
    return SessionCharge(
        session_id,
        currency,
        (
            ChargeLine(LineKind.ENERGY, D("12.345"), D("3.09"), D("0.62"), D(20)),
            ChargeLine(LineKind.FLAT, D(1), D("0.50"), D("0.10"), D(20)),
        ),
        energy_wh=D("12345"),
    )


def facts(start: datetime = T0) -> SessionFacts:
    return SessionFacts("CP-1", start, start + timedelta(hours=1), D("12345"), "1")


async def receipt(setup: Setup, session_id: int = 42, driver_id: str | None = "d1") -> Invoice:
    return await setup.service.receipt_for_session(
        charge(session_id), facts(), driver_id=driver_id, buyer=BUYER, language="bg", paid_by="card"
    )


async def test_a_paid_session_gets_one_receipt(setup: Setup) -> None:
    first = await receipt(setup)
    assert (first.kind, first.series, first.number_text) == (InvoiceKind.RECEIPT, "R", "R-0000000001")
    assert first.key == "receipt:session:42"
    assert (first.payment_status, first.paid_by, first.language) == (PaymentStatus.PAID, "card", "bg")
    assert (first.seller, first.buyer, first.driver_id, first.issued_at) == (SELLER, BUYER, "d1", T0)
    assert [line.description for line in first.lines] == ["Energy", "Session fee"]
    assert first.total_incl_vat == D("4.31") and first.session_ids == (42,)
    setup.clock.advance(3600)
    again = await receipt(setup)  # a retried settlement
    assert again == first
    assert (await receipt(setup, session_id=43)).number_text == "R-0000000002"


async def test_a_fee_receipt(setup: Setup) -> None:
    found = await setup.service.receipt_for_fee(
        key="receipt:subscription:s1:2026-03", driver_id="d1", buyer=BUYER, language="en",
        description="Subscription fee", excl=D("10.00"), vat=D("2.00"), vat_percent=D(20),
        currency="eur", paid_by="card",
    )
    assert (found.currency, found.total_incl_vat, found.number_text) == ("EUR", D("12.00"), "R-0000000001")
    (line,) = found.lines
    assert (line.description, line.vat_percent, line.session_id) == ("Subscription fee", D(20), None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paid_by": "cash"}, "paid_by must be one of card, wallet"),
        ({"language": "de"}, "language must be one of en, bg"),
        ({"excl": D("10.005")}, "more than 2 decimals"),
        ({"description": "  "}, "needs a description"),
        ({"currency": "EURO"}, "not an ISO 4217"),
        ({"key": ""}, "key must be"),
    ],
)
async def test_a_bad_fee_says_what_to_fix(setup: Setup, change: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "key": "fee:1", "driver_id": "d1", "buyer": BUYER, "language": "en",
        "description": "Top-up fee", "excl": D("1.00"), "vat": D("0.20"),
        "vat_percent": D(20), "currency": "EUR", "paid_by": "card",
    }
    with pytest.raises(ServiceError, match=message) as caught:
        await setup.service.receipt_for_fee(**{**args, **change})  # type: ignore[arg-type]
    assert caught.value.status == 422
    assert await setup.repo.list() == []


async def test_a_monthly_invoice_of_sessions_and_fees(setup: Setup) -> None:
    fee = fee_line("Subscription fee", excl_vat=D("10.00"), vat=D("2.00"), vat_percent=D(20), unit="month")
    found = await setup.service.monthly_invoice(
        driver_id="d1", buyer=BUYER, language="bg", period_start=MARCH, period_end=APRIL,
        sessions=[(charge(2), facts(T0 + timedelta(days=2))), (charge(1), facts())], fees=[fee],
    )
    assert found is not None
    assert (found.kind, found.number_text, found.key) == (InvoiceKind.INVOICE, "INV-0000000001", "invoice:d1:2026-03")
    assert (found.payment_status, found.period_start, found.period_end) == (PaymentStatus.DUE, MARCH, APRIL)
    assert found.session_ids == (1, 2)
    assert found.total_incl_vat == D("4.31") * 2 + D("12.00")
    again = await setup.service.monthly_invoice(
        driver_id="d1", buyer=BUYER, language="bg", period_start=MARCH, period_end=APRIL,
        sessions=[], fees=[],
    )
    assert again == found  # one invoice per driver and month


async def test_nothing_to_invoice_is_none(setup: Setup) -> None:
    free = SessionCharge(5, "EUR", ())
    assert await setup.service.monthly_invoice(
        driver_id="d1", buyer=BUYER, language="en", period_start=MARCH, period_end=APRIL,
        sessions=[(free, facts())],
    ) is None
    assert await setup.repo.list() == []


async def test_a_fees_only_invoice_uses_the_default_currency(setup: Setup) -> None:
    fee = fee_line("Subscription fee", excl_vat=D("10.00"), vat=D("2.00"), vat_percent=D(20))
    found = await setup.service.monthly_invoice(
        driver_id="d1", buyer=BUYER, language="en", period_start=MARCH, period_end=APRIL,
        sessions=[], fees=[fee],
    )
    assert found is not None and found.currency == "EUR"


async def test_one_invoice_has_one_currency_and_a_forward_period(setup: Setup) -> None:
    with pytest.raises(ServiceError, match="BGN, EUR") as caught:
        await setup.service.monthly_invoice(
            driver_id="d1", buyer=BUYER, language="en", period_start=MARCH, period_end=APRIL,
            sessions=[(charge(1), facts()), (charge(2, "BGN"), facts())],
        )
    assert caught.value.status == 422
    with pytest.raises(ServiceError, match="period_end must be after"):
        await setup.service.monthly_invoice(
            driver_id="d1", buyer=BUYER, language="en", period_start=APRIL, period_end=MARCH,
            sessions=[(charge(1), facts())],
        )


async def test_a_credit_note_cancels_a_document_once(setup: Setup) -> None:
    original = await receipt(setup)
    setup.clock.advance(86400)
    credit = await setup.service.credit_note(original.id, reason="  charged twice ")
    assert (credit.kind, credit.number_text, credit.key) == (InvoiceKind.CREDIT_NOTE, "CN-0000000001", f"credit:{original.id}")
    assert (credit.corrects_id, credit.corrects_number, credit.note) == (original.id, "R-0000000001", "charged twice")
    assert credit.total_incl_vat == -original.total_incl_vat
    assert credit.issued_at == T0 + timedelta(days=1) and credit.driver_id == "d1"
    assert await setup.service.credit_note(original.id, reason="again") == credit
    with pytest.raises(ServiceError, match="credit notes cannot be credited") as caught:
        await setup.service.credit_note(credit.id, reason="undo")
    assert caught.value.status == 409
    with pytest.raises(ServiceError) as missing:
        await setup.service.credit_note("nope", reason="x")
    assert missing.value.status == 404
    with pytest.raises(ServiceError, match="reason") as empty:
        await setup.service.credit_note(original.id, reason=" ")
    assert empty.value.status == 422


async def test_drivers_read_only_their_own(setup: Setup) -> None:
    mine = await receipt(setup, 1, "d1")
    theirs = await receipt(setup, 2, "d2")
    assert await setup.service.get(mine.id, driver_id="d1") == mine
    assert await setup.service.get(theirs.id) == theirs  # operators read all
    for call in (setup.service.get, setup.service.pdf):
        with pytest.raises(ServiceError) as caught:
            await call(theirs.id, driver_id="d1")
        assert caught.value.status == 404
    assert await setup.service.pdf(mine.id, driver_id="d1") == b"%PDF-R-0000000001"
    assert setup.renderer.rendered == [mine]
    assert [i.id for i in await setup.service.list(driver_id="d1")] == [mine.id]


async def test_listing_filters_and_checks_its_page(setup: Setup) -> None:
    r = await receipt(setup, 1)
    setup.clock.advance(60)
    c = await setup.service.credit_note(r.id, reason="wrong")
    assert [i.id for i in await setup.service.list()] == [c.id, r.id]
    assert [i.id for i in await setup.service.list(kind=InvoiceKind.RECEIPT)] == [r.id]
    assert [i.id for i in await setup.service.list(limit=1, offset=1)] == [r.id]
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        with pytest.raises(ServiceError) as caught:
            await setup.service.list(**bad)  # type: ignore[arg-type]
        assert caught.value.status == 422
