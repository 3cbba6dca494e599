"""Webhook subscriptions and the delivery queue: one contract on memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evcms.domain.ids import SiteId, StationId
from evcms.domain.webhooks import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    WebhookSubscription,
)
from evcms.services.ports import NotFound
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.webhooks import MemoryWebhookRepository, SqlWebhookRepository
from evcms.storage.writer import Writer
from support.databases import temporary_postgres_database, temporary_sqlite_url

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryWebhookRepository()
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


async def _sql(url: str) -> AsyncIterator[Any]:
    engine = create_engine(url)
    writer = Writer(engine, max_wait=0.001)
    await writer.start()
    try:
        yield SqlWebhookRepository(engine, writer)
    finally:
        await writer.close()
        await engine.dispose()


def subscription(sid: str = "s1", at: datetime = T0) -> WebhookSubscription:
    return WebhookSubscription(
        sid, "http://127.0.0.1:9/hook", frozenset({"alert", "connector.status"}), "x" * 20, True, at, at,
        "ops hook", SiteId("north"), StationId("CP-1"),
    )


def delivery(key: str, sid: str = "s1", due: datetime = T0) -> Delivery:
    return Delivery(0, key, sid, "alert", '{"type":"alert"}', DeliveryStatus.PENDING, 0, 3, T0, due)


async def test_subscriptions_round_trip(repo: Any) -> None:
    await repo.add_subscription(subscription("s1"))
    await repo.add_subscription(subscription("s2", T0 + timedelta(seconds=1)))
    assert await repo.get_subscription("s1") == subscription("s1")
    assert [s.id for s in await repo.subscriptions()] == ["s1", "s2"]
    changed = replace(subscription("s1"), enabled=False, site_id=None, event_types=frozenset({"alert"}),
                      updated_at=T0 + timedelta(hours=1))
    await repo.update_subscription(changed)
    assert await repo.get_subscription("s1") == changed
    with pytest.raises(NotFound):
        await repo.update_subscription(subscription("nope"))
    assert await repo.delete_subscription("s2") is True
    assert await repo.delete_subscription("s2") is False
    assert await repo.get_subscription("s2") is None


async def test_the_queue_gives_due_deliveries_and_records_attempts(repo: Any) -> None:
    await repo.add_subscription(subscription())
    [d1, d2] = await repo.enqueue([delivery("k1"), delivery("k2", due=T0 + timedelta(seconds=30))])
    assert d1.id < d2.id
    assert await repo.get_delivery(d1.id) == d1
    assert [d.id for d in await repo.due(T0, 10)] == [d1.id]
    assert await repo.next_due_at() == T0
    retry = replace(d1, attempts=1, next_attempt_at=T0 + timedelta(seconds=60), last_status_code=500, last_error="HTTP 500")
    await repo.record_attempt(retry, DeliveryAttempt(d1.id, 1, T0, 500, "HTTP 500", 12))
    assert await repo.get_delivery(d1.id) == retry
    assert await repo.next_due_at() == T0 + timedelta(seconds=30)
    assert [d.id for d in await repo.due(T0 + timedelta(seconds=60), 10)] == [d2.id, d1.id]
    done = replace(retry, attempts=2, status=DeliveryStatus.DELIVERED, next_attempt_at=None, delivered_at=T0, last_status_code=204, last_error=None)
    await repo.record_attempt(done, DeliveryAttempt(d1.id, 2, T0 + timedelta(seconds=61), 204, None, 7))
    assert [(a.number, a.status_code, a.error) for a in await repo.attempts(d1.id)] == [(1, 500, "HTTP 500"), (2, 204, None)]
    assert [d.id for d in await repo.deliveries("s1")] == [d2.id, d1.id]
    assert [d.id for d in await repo.deliveries("s1", status=DeliveryStatus.DELIVERED)] == [d1.id]
    assert [d.id for d in await repo.deliveries("s1", limit=1)] == [d2.id]
    assert [d.id for d in await repo.deliveries("s1", before_id=d2.id)] == [d1.id]


async def test_purge_and_delete_remove_deliveries_with_their_attempts(repo: Any) -> None:
    await repo.add_subscription(subscription())
    [d1, d2] = await repo.enqueue([delivery("k1"), delivery("k2")])
    failed = replace(d1, status=DeliveryStatus.FAILED, attempts=1, next_attempt_at=None)
    await repo.record_attempt(failed, DeliveryAttempt(d1.id, 1, T0, None, "refused", 1))
    assert await repo.purge(T0 + timedelta(days=1)) == 1  # the pending one stays
    assert await repo.get_delivery(d1.id) is None and await repo.attempts(d1.id) == []
    await repo.save_delivery(replace(d2, status=DeliveryStatus.FAILED, next_attempt_at=None))
    assert (await repo.get_delivery(d2.id)).status is DeliveryStatus.FAILED
    await repo.delete_subscription("s1")
    assert await repo.get_delivery(d2.id) is None
