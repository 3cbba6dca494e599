"""The ledger: SQL repository and its in-memory twin (``services.wallets.LedgerRepository``).

``ledger_transactions`` holds one row per transaction (``key`` unique), ``ledger_postings`` its
postings in integer minor units. A transaction and its postings are written in one database
transaction; a key that is taken - by an earlier call or by another process racing for it -
writes nothing and returns the stored transaction.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from evcms.domain.billing import from_minor, to_minor
from evcms.domain.ledger import (
    Journal,
    LedgerTransaction,
    Movement,
    Posting,
    TransactionKind,
)
from evcms.storage._sql import SqlRepository, utc
from evcms.storage.tables import ledger_postings, ledger_transactions

ZERO = Decimal(0)


@functools.cache
def _insert_or_ignore(dialect_name: str, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING id``: a taken key inserts nothing
    (on PostgreSQL it waits for a concurrent insert of the same key to commit first)."""
    if dialect_name == "postgresql":
        pg = postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
        return pg.returning(table.c.id)
    if dialect_name == "sqlite":
        lite = sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
        return lite.returning(table.c.id)
    raise NotImplementedError(f"insert-or-ignore is not implemented for {dialect_name}")


def _transaction(row: Row[Any], postings: Sequence[Posting]) -> LedgerTransaction:
    return LedgerTransaction(
        id=row.id,
        key=row.key,
        kind=TransactionKind(row.kind),
        at=row.at,
        currency=row.currency,
        driver_id=row.driver_id,
        session_id=row.session_id,
        reference=row.reference,
        memo=row.memo,
        postings=tuple(postings),
    )


async def _with_postings(
    conn: AsyncConnection, rows: Sequence[Row[Any]]
) -> builtins.list[LedgerTransaction]:
    """The transactions of ``rows`` (in their order) with their postings (in booking order)."""
    if not rows:
        return []
    p = ledger_postings.c
    ids = [row.id for row in rows]
    query = (
        select(p.transaction_id, p.account, p.amount_minor, p.currency)
        .where(p.transaction_id.in_(ids))
        .order_by(p.id)
    )
    postings: dict[int, builtins.list[Posting]] = {i: [] for i in ids}
    for posting in await conn.execute(query):
        postings[posting.transaction_id].append(
            Posting(
                posting.account,
                from_minor(posting.amount_minor, posting.currency),
                posting.currency,
            )
        )
    return [_transaction(row, postings[row.id]) for row in rows]


async def _by_key(conn: AsyncConnection, key: str) -> LedgerTransaction | None:
    row = (
        await conn.execute(select(ledger_transactions).where(ledger_transactions.c.key == key))
    ).first()
    if row is None:
        return None
    return (await _with_postings(conn, [row]))[0]


# -- SQL --------------------------------------------------------------------------------------


class SqlLedgerRepository(SqlRepository):
    """The ledger in ``ledger_transactions`` / ``ledger_postings`` (amounts in minor units)."""

    async def post(self, movement: Movement, at: datetime) -> tuple[LedgerTransaction, bool]:
        at = utc(at)
        values = {
            "key": movement.key,
            "kind": movement.kind.value,
            "at": at,
            "currency": movement.currency,
            "driver_id": movement.driver_id,
            "session_id": movement.session_id,
            "reference": movement.reference,
            "memo": movement.memo,
        }
        statement = _insert_or_ignore(self._dialect, ledger_transactions)

        async def op(conn: AsyncConnection) -> tuple[LedgerTransaction, bool]:
            found = await _by_key(conn, movement.key)
            if found is not None:
                return found, False
            new_id = await conn.scalar(statement, values)
            if new_id is None:  # another process stored the key since our select
                found = await _by_key(conn, movement.key)
                if found is None:
                    raise RuntimeError(f"ledger insert of {movement.key!r} ignored without a row")
                return found, False
            if movement.postings:
                await conn.execute(
                    insert(ledger_postings),
                    [
                        {
                            "transaction_id": new_id,
                            "account": p.account,
                            "amount_minor": to_minor(p.amount, p.currency),
                            "currency": p.currency,
                        }
                        for p in movement.postings
                    ],
                )
            return LedgerTransaction(id=new_id, at=at, **_fields(movement)), True

        try:
            result: tuple[LedgerTransaction, bool] = await self._writer.submit(op)
        except IntegrityError:  # a unique violation on the key: another writer won; read it
            winner = await self.get(movement.key)
            if winner is None:
                raise
            return winner, False
        return result

    async def get(self, key: str) -> LedgerTransaction | None:
        async with self._engine.connect() as conn:
            return await _by_key(conn, key)

    async def reversal_of(self, original: LedgerTransaction) -> LedgerTransaction | None:
        t = ledger_transactions.c
        driver = (
            t.driver_id.is_(None)
            if original.driver_id is None
            else t.driver_id == original.driver_id
        )
        query = (
            select(ledger_transactions)
            .where(driver, t.kind == TransactionKind.REVERSAL.value, t.reference == original.key)
            .order_by(t.id)
            .limit(1)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            found = await _with_postings(conn, rows)
        return found[0] if found else None

    async def balance(self, account: str, currency: str) -> Decimal:
        p = ledger_postings.c
        query = select(func.coalesce(func.sum(p.amount_minor), 0)).where(
            p.account == account, p.currency == currency
        )
        async with self._engine.connect() as conn:
            total = await conn.scalar(query)
        return from_minor(int(total or 0), currency)

    async def transactions(
        self, accounts: Sequence[str], *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[LedgerTransaction]:
        t, p = ledger_transactions.c, ledger_postings.c
        touching = select(p.transaction_id).where(p.account.in_(list(accounts)))
        query = select(ledger_transactions).where(t.id.in_(touching))
        if before_id is not None:
            query = query.where(t.id < before_id)
        query = query.order_by(t.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            return await _with_postings(conn, rows)

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        p = ledger_postings.c
        query = select(p.account, p.currency, func.sum(p.amount_minor).label("total")).group_by(
            p.account, p.currency
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            (row.account, row.currency): from_minor(int(row.total), row.currency)
            for row in rows
            if int(row.total) != 0
        }


def _fields(movement: Movement) -> dict[str, Any]:
    return {
        "key": movement.key,
        "kind": movement.kind,
        "currency": movement.currency,
        "driver_id": movement.driver_id,
        "session_id": movement.session_id,
        "reference": movement.reference,
        "memo": movement.memo,
        "postings": tuple(
            Posting(p.account, from_minor(to_minor(p.amount, p.currency), p.currency), p.currency)
            for p in movement.postings
        ),
    }


# -- memory -----------------------------------------------------------------------------------


class MemoryLedgerRepository:
    """Twin of :class:`SqlLedgerRepository` over a :class:`~evcms.domain.ledger.Journal` (the
    same contract tests run against both)."""

    def __init__(self) -> None:
        self.journal = Journal()

    async def post(self, movement: Movement, at: datetime) -> tuple[LedgerTransaction, bool]:
        # Amounts as the database gives them back: with the currency's digits.
        normal = Movement(**_fields(movement))
        return self.journal.record(normal, utc(at))

    async def get(self, key: str) -> LedgerTransaction | None:
        return self.journal.by_key.get(key)

    async def reversal_of(self, original: LedgerTransaction) -> LedgerTransaction | None:
        for transaction in self.journal.transactions:
            if (
                transaction.kind == TransactionKind.REVERSAL
                and transaction.reference == original.key
                and transaction.driver_id == original.driver_id
            ):
                return transaction
        return None

    async def balance(self, account: str, currency: str) -> Decimal:
        return from_minor(to_minor(self.journal.balance(account, currency), currency), currency)

    async def transactions(
        self, accounts: Sequence[str], *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[LedgerTransaction]:
        wanted = set(accounts)
        found = []
        for transaction in reversed(self.journal.transactions):
            if before_id is not None and transaction.id >= before_id:
                continue
            if any(p.account in wanted for p in transaction.postings):
                found.append(transaction)
                if len(found) >= limit:
                    break
        return found

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        return {
            k: from_minor(to_minor(v, k[1]), k[1])
            for k, v in self.journal.trial_balance().items()
            if v != 0
        }
