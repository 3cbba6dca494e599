"""The ledger: one contract on the memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.ledger import (
    CASH_MANUAL,
    REVENUE_CHARGING,
    VAT_PAYABLE,
    Movement,
    Posting,
    TransactionKind,
    receivable_movement,
    reversal_movement,
    session_charge_movement,
    top_up_movement,
)
from evcms.services.wallets import LedgerRepository
from evcms.storage.database import create_engine
from evcms.storage.ledger import MemoryLedgerRepository, SqlLedgerRepository
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

D = Decimal
T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))


@dataclass
class Ledger:
    repo: LedgerRepository
    # Another repository on the same database, as another process would have (SQL only).
    other: Callable[[], AbstractAsyncContextManager[LedgerRepository]] | None = None


@asynccontextmanager
async def _sql(url: str) -> AsyncIterator[LedgerRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlLedgerRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


@asynccontextmanager
async def _database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        yield url
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    if request.param == "memory":
        yield Ledger(MemoryLedgerRepository())
        return
    async with _database(request.param, tmp_path) as url, _sql(url) as repo:
        yield Ledger(repo, lambda: _sql(url))


def charge(session_id: int, excl: str, vat: str) -> SessionCharge:
    return SessionCharge(
        session_id, "EUR", (ChargeLine(LineKind.ENERGY, D(1), D(excl), D(vat), None),)
    )


def top_up(driver: str, amount: str, key: str, **kwargs: str) -> Movement:
    return top_up_movement(driver, D(amount), "EUR", key=key, **kwargs)


async def test_a_transaction_is_stored_with_its_postings(ledger: Ledger) -> None:
    repo = ledger.repo
    assert await repo.get("t1") is None
    stored, created = await repo.post(
        top_up("d1", "20.5", "t1", reference="bank 77", memo="transfer"), T0.astimezone(SOFIA)
    )
    assert created
    found = await repo.get("t1")
    assert found == stored
    assert found is not None
    assert (found.key, found.kind, found.driver_id, found.reference, found.memo) == (
        "t1",
        TransactionKind.TOP_UP,
        "d1",
        "bank 77",
        "transfer",
    )
    assert found.at == T0 and found.at.tzinfo is not None
    # amounts come back with the currency's digits
    assert [(p.account, str(p.amount), p.currency) for p in found.postings] == [
        (CASH_MANUAL, "20.50", "EUR"),
        ("wallet:d1", "-20.50", "EUR"),
    ]


async def test_posting_a_key_again_returns_the_first_and_writes_nothing(ledger: Ledger) -> None:
    repo = ledger.repo
    first, _ = await repo.post(top_up("d1", "20.00", "same"), T0)
    again, created = await repo.post(top_up("d1", "99.00", "same"), T0 + timedelta(hours=1))
    assert not created
    assert again == first
    assert await repo.balance("wallet:d1", "EUR") == D("-20.00")
    assert len(await repo.transactions(["wallet:d1"])) == 1


async def test_many_callers_posting_one_key_book_it_once(ledger: Ledger) -> None:
    repo = ledger.repo
    results = await asyncio.gather(
        *(repo.post(top_up("d1", "5.00", "race"), T0) for _ in range(10))
    )
    assert sum(created for _, created in results) == 1
    assert len({t.id for t, _ in results}) == 1
    assert await repo.balance("wallet:d1", "EUR") == D("-5.00")


async def test_two_processes_racing_for_a_key_book_it_once(ledger: Ledger) -> None:
    if ledger.other is None:
        pytest.skip("one process only in memory")
    async with ledger.other() as other:
        movements = [top_up("d1", "5.00", f"race-{i}") for i in range(20)]
        results = await asyncio.gather(
            *(r.post(m, T0) for m in movements for r in (ledger.repo, other))
        )
    assert sum(created for _, created in results) == 20
    for i in range(20):
        pair = [t for t, _ in results if t.key == f"race-{i}"]
        assert pair[0] == pair[1]
    assert await ledger.repo.balance("wallet:d1", "EUR") == D("-100.00")


async def test_a_transaction_whose_postings_fail_leaves_nothing(ledger: Ledger) -> None:
    broken = top_up("d1", "1.00", "broken")
    # Postings the database cannot hold (finer than cents), past the domain's checks:
    object.__setattr__(
        broken,
        "postings",
        (Posting(CASH_MANUAL, D("0.001"), "EUR"), Posting("wallet:d1", D("-0.001"), "EUR")),
    )
    with pytest.raises(ValueError, match="more digits"):
        await ledger.repo.post(broken, T0)
    assert await ledger.repo.get("broken") is None
    assert await ledger.repo.trial_balance() == {}
    # the key is still free
    _, created = await ledger.repo.post(top_up("d1", "1.00", "broken"), T0)
    assert created


async def test_a_transaction_without_postings_is_kept_but_moves_nothing(ledger: Ledger) -> None:
    free = session_charge_movement(SessionCharge(7, "EUR", ()), "d1")
    stored, created = await ledger.repo.post(free, T0)
    assert created and stored.postings == ()
    assert await ledger.repo.get("session:7:wallet") == stored
    _, again = await ledger.repo.post(free, T0)
    assert not again
    assert await ledger.repo.trial_balance() == {}
    assert await ledger.repo.transactions(["wallet:d1"]) == []  # not in the statement


async def test_balances_and_the_trial_balance_sum_postings(ledger: Ledger) -> None:
    repo = ledger.repo
    await repo.post(top_up("d1", "20.00", "t1"), T0)
    await repo.post(top_up("d2", "3.10", "t2"), T0)
    await repo.post(session_charge_movement(charge(1, "10.00", "2.00"), "d1"), T0)
    await repo.post(top_up_movement("d3", D("700"), "JPY", key="t3"), T0)
    assert await repo.balance("wallet:d1", "EUR") == D("-8.00")
    assert await repo.balance("wallet:d1", "JPY") == 0
    assert await repo.balance("wallet:nobody", "EUR") == 0
    assert await repo.balance(CASH_MANUAL, "JPY") == D("700")
    assert await repo.trial_balance() == {
        (CASH_MANUAL, "EUR"): D("23.10"),
        (CASH_MANUAL, "JPY"): D("700"),
        ("wallet:d1", "EUR"): D("-8.00"),
        ("wallet:d2", "EUR"): D("-3.10"),
        ("wallet:d3", "JPY"): D("-700"),
        (REVENUE_CHARGING, "EUR"): D("-10.00"),
        (VAT_PAYABLE, "EUR"): D("-2.00"),
    }


async def test_accounts_at_zero_leave_the_trial_balance(ledger: Ledger) -> None:
    original, _ = await ledger.repo.post(top_up("d1", "20.00", "t1"), T0)
    await ledger.repo.post(reversal_movement(original, key="undo"), T0)
    assert await ledger.repo.trial_balance() == {}


async def test_transactions_are_listed_newest_first_by_account(ledger: Ledger) -> None:
    repo = ledger.repo
    ids = []
    for i in range(5):
        stored, _ = await repo.post(top_up("d1", f"{i + 1}.00", f"t{i}"), T0 + timedelta(minutes=i))
        ids.append(stored.id)
    await repo.post(top_up("d2", "1.00", "other"), T0)
    owed = receivable_movement(charge(3, "1.00", "0"), "d1")
    receivable, _ = await repo.post(owed, T0)
    assert ids == sorted(ids)
    listed = await repo.transactions(["wallet:d1", "receivable:d1"])
    assert [t.id for t in listed] == [receivable.id, *reversed(ids)]
    assert [t.id for t in await repo.transactions(["wallet:d1"], limit=2)] == [ids[4], ids[3]]
    page = await repo.transactions(["wallet:d1"], limit=2, before_id=ids[3])
    assert [t.id for t in page] == [ids[2], ids[1]]
    assert page[0].postings[1] == Posting("wallet:d1", D("-3.00"), "EUR")
    assert await repo.transactions(["wallet:nobody"]) == []


async def test_the_reversal_of_a_transaction_is_found(ledger: Ledger) -> None:
    repo = ledger.repo
    original, _ = await repo.post(top_up("d1", "20.00", "t1"), T0)
    other, _ = await repo.post(top_up("d2", "20.00", "t2"), T0)
    assert await repo.reversal_of(original) is None
    reversal, _ = await repo.post(reversal_movement(original, key="undo-t1", memo="mistake"), T0)
    assert await repo.reversal_of(original) == reversal
    assert await repo.reversal_of(other) is None
    assert reversal.memo == "mistake"
