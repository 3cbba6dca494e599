"""Documents: lines from a session's charge, tax totals per VAT rate, credit notes as the exact
negation of what they correct (table-driven cases and hypothesis properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.billing import ChargeLine, LineKind, Party, SessionCharge
from evcms.domain.invoices import (
    FEE,
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    PaymentStatus,
    SessionFacts,
    TaxTotal,
    credit_note_of,
    fee_line,
    monthly_lines,
    number_text,
    session_lines,
    tax_totals,
)

D = Decimal
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FACTS = SessionFacts("CP-1", T0, T0 + timedelta(minutes=70), D("12345"), "1")
SELLER = Party("Seller Ltd", "1 Main St", "BG", "BG123456789", "123456789")
BUYER = Party("Ivan Petrov")


def charge(*lines: ChargeLine, session_id: int = 42) -> SessionCharge:
    return SessionCharge(session_id, "EUR", lines, energy_wh=D("12345"))


def line(kind: LineKind, qty: str, excl: str, vat: str, rate: str | None) -> ChargeLine:
    return ChargeLine(kind, D(qty), D(excl), D(vat), None if rate is None else D(rate))


def draft(lines: tuple[InvoiceLine, ...], kind: InvoiceKind = InvoiceKind.INVOICE) -> InvoiceDraft:
    return InvoiceDraft(
        key="k", kind=kind, issued_at=T0, language="en", currency="EUR", seller=SELLER,
        buyer=BUYER, lines=lines, payment_status=PaymentStatus.DUE, driver_id="d1",
    )


@pytest.mark.parametrize(
    ("kind", "description", "unit", "unit_price"),
    [
        (LineKind.ENERGY, "Energy", "kWh", D("0.25")),
        (LineKind.TIME, "Charging time", "h", D("0.25")),
        (LineKind.PARKING_TIME, "Parking time", "h", D("0.25")),
        (LineKind.FLAT, "Session fee", "session", None),
        (LineKind.INCLUDED_ENERGY, "Included energy (subscription)", "kWh", None),
        (LineKind.PLAN_DISCOUNT, "Subscription discount", "", None),
        (LineKind.ADJUSTMENT, "Price adjustment", "", None),
    ],
)
def test_each_charge_line_becomes_a_described_line_of_its_session(
    kind: LineKind, description: str, unit: str, unit_price: Decimal | None
) -> None:
    (found,) = session_lines(charge(line(kind, "4", "1.00", "0.20", "20")), FACTS)
    assert (found.description, found.unit, found.kind) == (description, unit, kind.value)
    assert (found.quantity, found.excl_vat, found.vat, found.incl_vat) == (D(4), D("1.00"), D("0.20"), D("1.20"))
    assert (found.session_id, found.session) == (42, FACTS)
    assert found.unit_price == unit_price


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], []),
        ([("1.00", "0.20", "20")], [(D(20), "1.00", "0.20")]),
        (  # two rates, ascending; 20.00 and 20 are one rate
            [("3.09", "0.62", "20.00"), ("1.00", "0.09", "9"), ("0.50", "0.10", "20")],
            [(D(9), "1.00", "0.09"), (D(20), "3.59", "0.72")],
        ),
        (  # lines without one rate are a group of their own, last
            [("1.00", "0.15", None), ("10.00", "2.00", "20"), ("0.00", "0.01", None), ("5.00", "0.00", "0")],
            [(D(0), "5.00", "0.00"), (D(20), "10.00", "2.00"), (None, "1.00", "0.16")],
        ),
        (  # negative lines (a plan's discount) reduce their rate's base
            [("10.00", "2.00", "20"), ("-2.50", "-0.50", "20")],
            [(D(20), "7.50", "1.50")],
        ),
    ],
)
def test_tax_totals_per_rate(
    lines: list[tuple[str, str, str | None]], expected: list[tuple[Decimal | None, str, str]]
) -> None:
    invoice_lines = [
        fee_line("x", excl_vat=D(e), vat=D(v), vat_percent=None if r is None else D(r))
        for e, v, r in lines
    ]
    assert tax_totals(invoice_lines) == tuple(TaxTotal(r, D(e), D(v)) for r, e, v in expected)


def test_a_monthly_invoice_lists_sessions_oldest_first_then_fees() -> None:
    later = SessionFacts("CP-2", T0 + timedelta(days=3), None, D(0))
    fee = fee_line("Subscription fee", excl_vat=D("10.00"), vat=D("2.00"), vat_percent=D(20), unit="month")
    found = monthly_lines(
        [
            (charge(line(LineKind.FLAT, "1", "0.50", "0.10", "20"), session_id=9), later),
            (charge(line(LineKind.ENERGY, "12.345", "3.09", "0.62", "20"), session_id=8), FACTS),
        ],
        [fee],
    )
    assert [(x.session_id, x.description) for x in found] == [
        (8, "Energy"), (9, "Session fee"), (None, "Subscription fee")
    ]
    invoice = draft(found).issue("id", 3)
    assert invoice.session_ids == (8, 9)
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        D("13.59"), D("2.72"), D("16.31")
    )
    assert invoice.number_text == "INV-0000000003" and invoice.series == "INV"
    assert found[2].kind == FEE and found[2].unit_price == D("10.00")


@pytest.mark.parametrize(
    ("series", "number", "text"),
    [("R", 1, "R-0000000001"), ("INV", 1234567, "INV-0001234567"), ("CN", 9999999999, "CN-9999999999")],
)
def test_number_text(series: str, number: int, text: str) -> None:
    assert number_text(series, number) == text


def test_a_draft_refuses_amounts_finer_than_the_currency() -> None:
    with pytest.raises(ValueError, match="more digits than EUR"):
        draft((fee_line("x", excl_vat=D("1.005"), vat=D(0), vat_percent=D(0)),))


def test_a_credit_note_negates_and_refers_to_its_document() -> None:
    invoice = draft(session_lines(charge(line(LineKind.ENERGY, "12.345", "3.09", "0.62", "20")), FACTS)).issue("inv-1", 5)
    credit = credit_note_of(invoice, key="credit:inv-1", issued_at=T0 + timedelta(days=2), reason="wrong driver")
    assert credit.kind is InvoiceKind.CREDIT_NOTE and credit.series == "CN"
    assert (credit.corrects_id, credit.corrects_number, credit.note) == ("inv-1", "INV-0000000005", "wrong driver")
    assert credit.lines[0].quantity == D("-12.345") and credit.lines[0].excl_vat == D("-3.09")
    assert credit.lines[0].unit_price == invoice.lines[0].unit_price  # same price, negative quantity
    assert (credit.buyer, credit.seller, credit.language, credit.currency) == (
        invoice.buyer, invoice.seller, invoice.language, invoice.currency
    )
    note = credit.issue("cn-1", 1)
    with pytest.raises(ValueError, match="credit note"):
        credit_note_of(note, key="credit:cn-1", issued_at=T0, reason="again")


# -- properties -------------------------------------------------------------------------------

cents = st.integers(min_value=-1_000_000, max_value=1_000_000).map(lambda c: Decimal(c).scaleb(-2))
rates = st.sampled_from([None, D(0), D(9), D("20.00"), D(20), D("7.5")])
quantities = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
invoice_lines = st.builds(
    lambda kind, q, e, v, r: InvoiceLine("x", q, "kWh", e, v, r, kind=kind),
    st.sampled_from([*(k.value for k in LineKind), FEE]),
    quantities,
    cents,
    cents,
    rates,
)


def _invoice(lines: list[InvoiceLine]) -> Invoice:
    return draft(tuple(lines)).issue("inv", 1)


@given(st.lists(invoice_lines, max_size=30))
def test_tax_totals_sum_to_the_totals(lines: list[InvoiceLine]) -> None:
    invoice = _invoice(lines)
    groups = invoice.tax_totals
    assert sum((g.vat for g in groups), D(0)) == invoice.total_vat
    assert sum((g.excl_vat for g in groups), D(0)) == invoice.total_excl_vat
    assert len({g.rate for g in groups}) == len(groups)  # each rate once
    assert invoice.total_incl_vat == sum((x.incl_vat for x in lines), D(0))


@given(st.lists(invoice_lines, min_size=1, max_size=30))
def test_a_credit_note_cancels_its_invoice_exactly(lines: list[InvoiceLine]) -> None:
    invoice = _invoice(lines)
    credit = credit_note_of(invoice, key="c", issued_at=T0, reason="r").issue("cn", 1)
    assert credit.total_excl_vat == -invoice.total_excl_vat
    assert credit.total_vat == -invoice.total_vat
    assert credit.total_incl_vat + invoice.total_incl_vat == 0
    assert {g.rate: (-g.excl_vat, -g.vat) for g in credit.tax_totals} == {
        g.rate: (g.excl_vat, g.vat) for g in invoice.tax_totals
    }
    assert [x.negated() for x in credit.lines] == list(invoice.lines)


@given(
    st.lists(
        st.tuples(st.sampled_from(list(LineKind)), quantities, cents, cents, rates),
        max_size=8,
    )
)
def test_session_lines_keep_the_charge_totals(parts: list[tuple[LineKind, Decimal, Decimal, Decimal, Decimal | None]]) -> None:
    priced = charge(*(ChargeLine(k, q, e, v, r) for k, q, e, v, r in parts))
    found = session_lines(priced, FACTS)
    assert sum((x.excl_vat for x in found), D(0)) == priced.total_excl_vat
    assert sum((x.vat for x in found), D(0)) == priced.total_vat
    assert all(x.session_id == priced.session_id for x in found)
