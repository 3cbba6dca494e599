"""Issued documents: one contract on the memory twin, SQLite and PostgreSQL — gapless numbers
per series, idempotent keys (also under races), and a stored document read back exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from evcms.domain.billing import Party
from evcms.domain.invoices import (
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    PaymentStatus,
    SessionFacts,
    credit_note_of,
    fee_line,
)
from evcms.services.invoicing import InvoiceRepository
from evcms.services.ports import AlreadyExists
from evcms.storage.database import create_engine
from evcms.storage.invoices import MemoryInvoiceRepository, SqlInvoiceRepository
from evcms.storage.migrate import upgrade
from evcms.storage.tables import invoice_series
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))
SELLER = Party("ЕВ Зареждане ЕООД", "ул. Витоша 1, София", "BG", "BG123456789", "123456789")  # noqa: RUF001
BUYER = Party("Иван Петров", "бул. България 2", "BG", email="ivan@example.com")
FACTS = SessionFacts("CP-1", T0, T0 + timedelta(hours=1), Decimal("12345.5"), "2")
SESSION_LINE = InvoiceLine(
    "Energy", Decimal("12.3455"), "kWh", Decimal("3.09"), Decimal("0.62"), Decimal("20.00"),
    kind="ENERGY", session_id=42, session=FACTS,
)


@dataclass
class Store:
    repo: InvoiceRepository
    kind: str
    url: str | None = None


SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=["memory", *SQL])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for found in _store(request.param, tmp_path):
        yield found


@pytest.fixture(params=SQL)
async def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for found in _store(request.param, tmp_path):
        yield found


async def _store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    if kind == "memory":
        yield Store(MemoryInvoiceRepository(), "memory")
        return
    if kind == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for repo in _sql(url):
            yield Store(repo, "sqlite", url)
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for repo in _sql(url):
            yield Store(repo, "postgres", url)


async def _sql(url: str) -> AsyncGenerator[SqlInvoiceRepository, None]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlInvoiceRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def draft(
    key: str,
    kind: InvoiceKind = InvoiceKind.RECEIPT,
    *,
    driver_id: str | None = "driver-1",
    at: datetime = T0,
    lines: tuple[InvoiceLine, ...] = (SESSION_LINE,),
) -> InvoiceDraft:
    return InvoiceDraft(
        key=key,
        kind=kind,
        issued_at=at,
        language="bg",
        currency="EUR",
        seller=SELLER,
        buyer=BUYER,
        lines=lines,
        payment_status=PaymentStatus.PAID if kind is InvoiceKind.RECEIPT else PaymentStatus.DUE,
        driver_id=driver_id,
        paid_by="card" if kind is InvoiceKind.RECEIPT else None,
    )


async def test_a_document_reads_back_exactly_as_issued(store: Store) -> None:
    fee = fee_line(
        "Subscription fee", excl_vat=Decimal("10.00"), vat=Decimal("2.00"),
        vat_percent=Decimal(20), unit="month",
    )
    issued_draft = replace(
        draft("invoice:driver-1:2026-03", InvoiceKind.INVOICE, lines=(SESSION_LINE, fee)),
        issued_at=T0.astimezone(SOFIA),
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=datetime(2026, 4, 1, tzinfo=UTC),
    )
    issued = await store.repo.issue(issued_draft, invoice_id="inv-1")
    assert (issued.number, issued.number_text, issued.series) == (1, "INV-0000000001", "INV")
    stored = await store.repo.get("inv-1")
    assert stored == issued
    assert stored is not None
    assert stored.issued_at == T0 and stored.issued_at.utcoffset() == timedelta(0)
    assert stored.seller == SELLER and stored.buyer == BUYER  # Cyrillic and all
    assert stored.lines[0].session == FACTS and stored.lines[0].quantity == Decimal("12.3455")
    assert stored.lines[1].unit_price == Decimal("10.00")
    assert (stored.total_excl_vat, stored.total_vat, stored.total_incl_vat) == (
        Decimal("13.09"), Decimal("2.62"), Decimal("15.71")
    )
    assert await store.repo.by_key("invoice:driver-1:2026-03") == issued
    assert await store.repo.get("nope") is None
    assert await store.repo.by_key("nope") is None


async def test_numbers_run_per_series(store: Store) -> None:
    r1 = await store.repo.issue(draft("receipt:session:1"), invoice_id="a")
    i1 = await store.repo.issue(draft("invoice:d:2026-03", InvoiceKind.INVOICE), invoice_id="b")
    r2 = await store.repo.issue(draft("receipt:session:2"), invoice_id="c")
    cn = await store.repo.issue(
        credit_note_of(r1, key="credit:a", issued_at=T0, reason="wrong station"), invoice_id="d"
    )
    assert [x.number_text for x in (r1, i1, r2, cn)] == [
        "R-0000000001", "INV-0000000001", "R-0000000002", "CN-0000000001"
    ]
    stored = await store.repo.get("d")
    assert stored is not None
    assert (stored.corrects_id, stored.corrects_number, stored.note) == ("a", "R-0000000001", "wrong station")
    assert stored.total_incl_vat == -r1.total_incl_vat


async def test_the_same_key_returns_the_stored_document_and_uses_no_number(store: Store) -> None:
    first = await store.repo.issue(draft("receipt:session:7"), invoice_id="first")
    again = await store.repo.issue(
        draft("receipt:session:7", at=T0 + timedelta(days=1)), invoice_id="second"
    )
    assert again == first and again.id == "first"
    assert await store.repo.get("second") is None
    following = await store.repo.issue(draft("receipt:session:8"), invoice_id="third")
    assert following.number == 2


async def test_twenty_concurrent_issues_get_numbers_1_to_20(store: Store) -> None:
    issued = await asyncio.gather(
        *(store.repo.issue(draft(f"receipt:session:{n}"), invoice_id=f"id-{n}") for n in range(20))
    )
    assert sorted(i.number for i in issued) == list(range(1, 21))
    stored = await store.repo.list(limit=100)
    assert sorted(i.number for i in stored) == list(range(1, 21))
    assert {i.key for i in stored} == {f"receipt:session:{n}" for n in range(20)}


async def test_concurrent_issues_of_one_key_make_one_document(store: Store) -> None:
    issued = await asyncio.gather(
        *(store.repo.issue(draft("receipt:session:5"), invoice_id=f"id-{n}") for n in range(10))
    )
    assert len({i.id for i in issued}) == 1
    assert len(await store.repo.list()) == 1
    nxt = await store.repo.issue(draft("receipt:session:6"), invoice_id="next")
    assert nxt.number == 2


async def test_a_failing_insert_leaves_no_gap(store: Store) -> None:
    await store.repo.issue(draft("receipt:session:1"), invoice_id="taken")
    with pytest.raises(AlreadyExists):  # the number was allocated, then the insert failed
        await store.repo.issue(draft("receipt:session:2"), invoice_id="taken")
    with pytest.raises(ValueError, match="naive"):
        await store.repo.issue(draft("receipt:session:3", at=T0.replace(tzinfo=None)), invoice_id="x")
    nxt = await store.repo.issue(draft("receipt:session:2"), invoice_id="fresh")
    assert nxt.number == 2
    assert await store.repo.by_key("receipt:session:3") is None


async def test_list_filters_newest_first_and_pages(store: Store) -> None:
    await store.repo.issue(draft("r:1", at=T0), invoice_id="r1")
    await store.repo.issue(draft("r:2", at=T0 + timedelta(hours=1)), invoice_id="r2")
    await store.repo.issue(draft("r:3", at=T0 + timedelta(hours=2), driver_id="driver-2"), invoice_id="r3")
    await store.repo.issue(
        draft("i:1", InvoiceKind.INVOICE, at=T0 + timedelta(hours=3)), invoice_id="i1"
    )
    assert [i.id for i in await store.repo.list()] == ["i1", "r3", "r2", "r1"]
    assert [i.id for i in await store.repo.list(driver_id="driver-1")] == ["i1", "r2", "r1"]
    assert [i.id for i in await store.repo.list(kind=InvoiceKind.RECEIPT)] == ["r3", "r2", "r1"]
    assert [
        i.id for i in await store.repo.list(driver_id="driver-1", kind=InvoiceKind.RECEIPT)
    ] == ["r2", "r1"]
    assert [i.id for i in await store.repo.list(limit=2, offset=1)] == ["r3", "r2"]
    assert await store.repo.list(driver_id="nobody") == []


async def test_two_processes_racing_for_one_key_share_the_winner(sql_store: Store) -> None:
    """Two repositories with their own engines and writers (two evcms processes) issue the same
    key at once: both get the one stored document, and the series used one number."""
    store = sql_store
    assert store.url is not None
    others = _sql(store.url)
    other = await anext(others)
    try:
        for n in range(5):
            key = f"receipt:session:{n}"
            a, b = await asyncio.gather(
                store.repo.issue(draft(key), invoice_id=f"a-{n}"),
                other.issue(draft(key), invoice_id=f"b-{n}"),
            )
            assert a == b and a.number == n + 1
        engine = create_engine(store.url)
        try:
            async with engine.connect() as conn:
                last = await conn.scalar(
                    select(invoice_series.c.last_number).where(invoice_series.c.series == "R")
                )
        finally:
            await engine.dispose()
        assert last == 5
    finally:
        await others.aclose()
