"""Issued receipts, invoices and credit notes: SQL repository and its in-memory twin.

Numbers are gapless per series: one transaction bumps ``invoice_series.last_number`` (an
upsert with RETURNING, which also row-locks the series on PostgreSQL, so concurrent issuers
queue) and inserts the document; if the insert fails the bump is rolled back with it. A key
already issued returns the stored document and allocates nothing; when two issuers of one key
race (two processes), the loser's insert breaks the unique key, its transaction (and number) is
rolled back, and it returns the winner's document.

Both implement ``services.invoicing.InvoiceRepository``. Documents are never updated.

Stored as: seller and buyer as JSON objects; ``lines`` as a JSON object
``{"lines": [...], "paid_by", "corrects_number", "note"}`` (amounts as strings: the table has
no columns for those three document facts); totals also as minor units for queries.
"""

from __future__ import annotations

import builtins
import functools
import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from evcms.domain.billing import Party, to_minor
from evcms.domain.invoices import (
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    PaymentStatus,
    SessionFacts,
)
from evcms.services.ports import AlreadyExists
from evcms.storage._sql import SqlRepository, utc, utc_or_none
from evcms.storage.tables import invoice_series, invoices

# -- JSON -------------------------------------------------------------------------------------


def _party_json(party: Party) -> str:
    return json.dumps(
        {
            "name": party.name,
            "address": party.address,
            "country": party.country,
            "vat_id": party.vat_id,
            "company_id": party.company_id,
            "email": party.email,
        },
        ensure_ascii=False,
    )


def _party(text: str) -> Party:
    data = json.loads(text)
    return Party(
        name=data.get("name", ""),
        address=data.get("address") or "",
        country=data.get("country"),
        vat_id=data.get("vat_id"),
        company_id=data.get("company_id"),
        email=data.get("email"),
    )


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _line_data(line: InvoiceLine) -> dict[str, Any]:
    facts = line.session
    return {
        "kind": line.kind,
        "description": line.description,
        "quantity": str(line.quantity),
        "unit": line.unit,
        "excl_vat": str(line.excl_vat),
        "vat": str(line.vat),
        "vat_percent": _dec(line.vat_percent),
        "session_id": line.session_id,
        "session": None
        if facts is None
        else {
            "station_id": facts.station_id,
            "started_at": utc(facts.started_at).isoformat(),
            "ended_at": None if facts.ended_at is None else utc(facts.ended_at).isoformat(),
            "energy_wh": str(facts.energy_wh),
            "connector": facts.connector,
        },
    }


def _line(data: dict[str, Any]) -> InvoiceLine:
    facts = data.get("session")
    return InvoiceLine(
        description=data["description"],
        quantity=Decimal(data["quantity"]),
        unit=data.get("unit") or "",
        excl_vat=Decimal(data["excl_vat"]),
        vat=Decimal(data["vat"]),
        vat_percent=None if data.get("vat_percent") is None else Decimal(data["vat_percent"]),
        kind=data.get("kind") or "FEE",
        session_id=data.get("session_id"),
        session=None
        if not facts
        else SessionFacts(
            station_id=facts["station_id"],
            started_at=datetime.fromisoformat(facts["started_at"]),
            ended_at=None if facts.get("ended_at") is None else datetime.fromisoformat(facts["ended_at"]),
            energy_wh=Decimal(facts["energy_wh"]),
            connector=facts.get("connector"),
        ),
    )


def _body_json(invoice: Invoice) -> str:
    return json.dumps(
        {
            "lines": [_line_data(line) for line in invoice.lines],
            "paid_by": invoice.paid_by,
            "corrects_number": invoice.corrects_number,
            "note": invoice.note,
        },
        ensure_ascii=False,
    )


def _row(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "id": invoice.id,
        "key": invoice.key,
        "kind": invoice.kind.value,
        "series": invoice.series,
        "number": invoice.number,
        "number_text": invoice.number_text,
        "driver_id": invoice.driver_id,
        "issued_at": utc(invoice.issued_at),
        "language": invoice.language,
        "currency": currency,
        "seller": _party_json(invoice.seller),
        "buyer": _party_json(invoice.buyer),
        "lines": _body_json(invoice),
        "total_excl_minor": to_minor(invoice.total_excl_vat, currency),
        "total_tax_minor": to_minor(invoice.total_vat, currency),
        "total_incl_minor": to_minor(invoice.total_incl_vat, currency),
        "corrects_id": invoice.corrects_id,
        "period_start": utc_or_none(invoice.period_start),
        "period_end": utc_or_none(invoice.period_end),
        "payment_status": invoice.payment_status.value,
    }


def _invoice(row: Row[Any]) -> Invoice:
    body = json.loads(row.lines)
    if isinstance(body, list):  # just the lines
        body = {"lines": body}
    return Invoice(
        id=row.id,
        series=row.series,
        number=row.number,
        number_text=row.number_text,
        key=row.key,
        kind=InvoiceKind(row.kind),
        issued_at=row.issued_at,
        language=row.language,
        currency=row.currency,
        seller=_party(row.seller),
        buyer=_party(row.buyer),
        lines=tuple(_line(line) for line in body.get("lines", [])),
        payment_status=PaymentStatus(row.payment_status),
        driver_id=row.driver_id,
        paid_by=body.get("paid_by"),
        period_start=row.period_start,
        period_end=row.period_end,
        corrects_id=row.corrects_id,
        corrects_number=body.get("corrects_number"),
        note=body.get("note"),
    )


@functools.cache
def _allocate(dialect_name: str) -> Insert:
    """``INSERT INTO invoice_series VALUES (:series, 1) ON CONFLICT (series) DO UPDATE SET
    last_number = last_number + 1 RETURNING last_number``: the next number of a series."""
    values = {"series": bindparam("series"), "last_number": 1}
    bumped = {"last_number": invoice_series.c.last_number + 1}
    if dialect_name == "postgresql":
        pg = postgresql.insert(invoice_series).values(values)
        return pg.on_conflict_do_update(index_elements=["series"], set_=bumped).returning(
            invoice_series.c.last_number
        )
    if dialect_name == "sqlite":
        lite = sqlite.insert(invoice_series).values(values)
        return lite.on_conflict_do_update(index_elements=["series"], set_=bumped).returning(
            invoice_series.c.last_number
        )
    raise NotImplementedError(f"invoice numbering is not implemented for {dialect_name}")


def _normalised(draft: InvoiceDraft) -> InvoiceDraft:
    """The draft with its times in UTC (as the database gives them back); naive times refused."""
    return replace(
        draft,
        issued_at=utc(draft.issued_at),
        period_start=utc_or_none(draft.period_start),
        period_end=utc_or_none(draft.period_end),
    )


# -- SQL --------------------------------------------------------------------------------------


class SqlInvoiceRepository(SqlRepository):
    async def issue(self, draft: InvoiceDraft, *, invoice_id: str) -> Invoice:
        draft = _normalised(draft)
        allocate = _allocate(self._dialect)

        async def op(conn: AsyncConnection) -> Invoice:
            found = (await conn.execute(select(invoices).where(invoices.c.key == draft.key))).first()
            if found is not None:
                return _invoice(found)
            number = (await conn.execute(allocate, {"series": draft.series})).scalar_one()
            invoice = draft.issue(invoice_id, number)
            await conn.execute(invoices.insert(), _row(invoice))
            return invoice

        try:
            issued: Invoice = await self._writer.submit(op)
        except IntegrityError as exc:
            winner = await self.by_key(draft.key)  # another process issued this key first
            if winner is not None:
                return winner
            if await self.get(invoice_id) is not None:
                raise AlreadyExists(f"invoice id {invoice_id} is taken") from exc
            raise
        return issued

    async def get(self, invoice_id: str) -> Invoice | None:
        return await self._one(select(invoices).where(invoices.c.id == invoice_id))

    async def by_key(self, key: str) -> Invoice | None:
        return await self._one(select(invoices).where(invoices.c.key == key))

    async def _one(self, query: Any) -> Invoice | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _invoice(row)

    async def list(
        self,
        *,
        driver_id: str | None = None,
        kind: InvoiceKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Invoice]:
        query = select(invoices)
        if driver_id is not None:
            query = query.where(invoices.c.driver_id == driver_id)
        if kind is not None:
            query = query.where(invoices.c.kind == InvoiceKind(kind).value)
        query = (
            query.order_by(
                invoices.c.issued_at.desc(), invoices.c.series, invoices.c.number.desc()
            )
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            return [_invoice(row) for row in await conn.execute(query)]


# -- memory -----------------------------------------------------------------------------------


class MemoryInvoiceRepository:
    """Twin of :class:`SqlInvoiceRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.keys: dict[str, str] = {}  # key -> id
        self.last_numbers: dict[str, int] = {}

    async def issue(self, draft: InvoiceDraft, *, invoice_id: str) -> Invoice:
        draft = _normalised(draft)
        found = self.keys.get(draft.key)
        if found is not None:
            return self.invoices[found]
        if invoice_id in self.invoices:
            raise AlreadyExists(f"invoice id {invoice_id} is taken")
        number = self.last_numbers.get(draft.series, 0) + 1
        invoice = draft.issue(invoice_id, number)
        _row(invoice)  # what the database would refuse, refused here too
        self.last_numbers[draft.series] = number
        self.invoices[invoice_id] = invoice
        self.keys[draft.key] = invoice_id
        return invoice

    async def get(self, invoice_id: str) -> Invoice | None:
        return self.invoices.get(invoice_id)

    async def by_key(self, key: str) -> Invoice | None:
        found = self.keys.get(key)
        return None if found is None else self.invoices[found]

    async def list(
        self,
        *,
        driver_id: str | None = None,
        kind: InvoiceKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Invoice]:
        found = [
            i
            for i in self.invoices.values()
            if (driver_id is None or i.driver_id == driver_id) and (kind is None or i.kind == kind)
        ]
        found.sort(key=lambda i: i.number, reverse=True)
        found.sort(key=lambda i: i.series)
        found.sort(key=lambda i: i.issued_at, reverse=True)
        return found[offset : offset + limit]
