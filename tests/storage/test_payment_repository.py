"""Cards on file, payments and webhook events: one contract on the memory twin, SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from evcms.services.payments import Payment, PaymentMethod, PaymentRepository, PaymentStatus
from evcms.services.ports import AlreadyExists
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.payments import MemoryPaymentRepository, SqlPaymentRepository
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=3))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PaymentRepository]:
    if request.param == "memory":
        yield MemoryPaymentRepository()
        return
    if request.param == "sqlite":
        url = temporary_sqlite_url(tmp_path / "data", "evcms.db")
        await upgrade(url)
        async for found in _sql(url):
            yield found
        return
    async with temporary_postgres_database() as url:
        await upgrade(url)
        async for found in _sql(url):
            yield found


async def _sql(url: str) -> AsyncIterator[PaymentRepository]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlPaymentRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def method(method_id: str, driver_id: str = "d1", *, at: datetime = T0, default: bool = False) -> PaymentMethod:
    return PaymentMethod(
        id=method_id,
        driver_id=driver_id,
        provider="stripe",
        customer_ref="cus_1",
        method_ref=f"pm_{method_id}",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2034,
        is_default=default,
        created_at=at,
    )


def payment(payment_id: str, key: str, **fields: object) -> Payment:
    values: dict[str, object] = {
        "id": payment_id,
        "key": key,
        "purpose": "session",
        "driver_id": "d1",
        "session_id": 42,
        "status": PaymentStatus.PENDING,
        "currency": "EUR",
        "authorized": Decimal("25.00"),
        "captured": Decimal("0.00"),
        "intent_ref": None,
        "method_id": "m1",
        "error": None,
        "created_at": T0,
        "updated_at": T0,
        **fields,
    }
    return Payment(**values)  # type: ignore[arg-type]


async def test_methods_are_kept_in_order_and_one_is_the_default(repo: PaymentRepository) -> None:
    await repo.add_method(method("m1", default=True, at=T0.astimezone(SOFIA)))
    await repo.add_method(method("m2", at=T0 + timedelta(minutes=1)))
    await repo.add_method(method("other", driver_id="d2"))
    found = await repo.methods("d1")
    assert [(m.id, m.is_default) for m in found] == [("m1", True), ("m2", False)]
    assert found[0] == method("m1", default=True) and found[0].created_at.tzinfo is not None
    await repo.set_default_method("d1", "m2")
    assert [m.is_default for m in await repo.methods("d1")] == [False, True]
    assert [m.is_default for m in await repo.methods("d2")] == [False]
    await repo.remove_method("m2", T0 + timedelta(hours=1))
    assert [m.id for m in await repo.methods("d1")] == ["m1"]
    removed = [m for m in await repo.methods("d1", include_removed=True) if m.id == "m2"]
    assert removed[0].removed_at == T0 + timedelta(hours=1) and not removed[0].is_default
    gone = await repo.get_method("m2")
    assert gone is not None and gone.removed_at is not None
    assert await repo.get_method("nope") is None


async def test_a_payment_round_trips_in_minor_units_and_its_key_is_unique(repo: PaymentRepository) -> None:
    stored = payment("p1", "session:42", authorized=Decimal("25.5"), created_at=T0.astimezone(SOFIA))
    await repo.add(stored)
    found = await repo.get("p1")
    assert found == replace(stored, authorized=Decimal("25.50"), created_at=T0)
    assert found is not None and str(found.authorized) == "25.50"
    assert await repo.by_key("session:42") == found
    with pytest.raises(AlreadyExists):
        await repo.add(payment("p2", "session:42"))
    assert await repo.get("p2") is None


async def test_update_is_a_compare_and_set_on_the_status(repo: PaymentRepository) -> None:
    await repo.add(payment("p1", "session:42"))
    authorized = payment(
        "p1", "session:42", status=PaymentStatus.AUTHORIZED, intent_ref="pi_1", updated_at=T0 + timedelta(seconds=1)
    )
    assert await repo.update(authorized, expected=PaymentStatus.PENDING)
    late = payment("p1", "session:42", status=PaymentStatus.FAILED, error="timeout")
    assert not await repo.update(late, expected=PaymentStatus.PENDING)  # moved meanwhile
    assert await repo.get("p1") == authorized
    assert await repo.by_intent("pi_1") == authorized
    captured = replace(authorized, status=PaymentStatus.CAPTURED, captured=Decimal("12.34"))
    assert await repo.update(captured, expected=PaymentStatus.AUTHORIZED)
    found = await repo.get("p1")
    assert found is not None and (found.status, found.captured) == (PaymentStatus.CAPTURED, Decimal("12.34"))
    assert await repo.by_intent("pi_2") is None


async def test_payments_are_listed_newest_first_and_filtered(repo: PaymentRepository) -> None:
    await repo.add(payment("p1", "session:1", session_id=1))
    await repo.add(payment("p2", "session:2", session_id=2, created_at=T0 + timedelta(minutes=1)))
    await repo.add(
        payment("p3", "top_up:1", purpose="top_up", session_id=None, driver_id="d2", created_at=T0 + timedelta(minutes=2))
    )
    assert [p.id for p in await repo.list()] == ["p3", "p2", "p1"]
    assert [p.id for p in await repo.list(driver_id="d1")] == ["p2", "p1"]
    assert [p.id for p in await repo.list(session_id=1)] == ["p1"]
    assert [p.id for p in await repo.list(limit=1)] == ["p3"]


async def test_a_webhook_event_is_recorded_once(repo: PaymentRepository) -> None:
    assert not await repo.webhook_seen("stripe", "evt_1")
    assert await repo.record_webhook("stripe", "evt_1", "payment_intent.succeeded", T0)
    assert await repo.webhook_seen("stripe", "evt_1")
    assert not await repo.record_webhook("stripe", "evt_1", "payment_intent.succeeded", T0)
    assert not await repo.webhook_seen("other", "evt_1")
