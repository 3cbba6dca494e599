"""Webhook subscriptions, the delivery queue and its attempt log: SQL repository and its twin.

Tables ``webhook_subscriptions``, ``webhook_deliveries`` (pending ones are the queue: indexed by
status and due time; delivered and failed ones are the log) and ``webhook_attempts``. Both
classes implement ``services.webhooks.WebhookRepository``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.ids import SiteId, StationId
from evcms.domain.webhooks import Delivery, DeliveryAttempt, DeliveryStatus, WebhookSubscription
from evcms.services.ports import AlreadyExists, NotFound
from evcms.storage._sql import SqlRepository, utc, utc_or_none
from evcms.storage.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

MAX_LIST = 1000
FINISHED = (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value)


def _subscription_values(s: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "event_types": json.dumps(sorted(s.event_types)),
        "secret": s.secret,
        "enabled": s.enabled,
        "description": s.description,
        "site_id": s.site_id,
        "station_id": s.station_id,
        "created_at": utc(s.created_at),
        "updated_at": utc(s.updated_at),
    }


def _subscription(row: Row[Any]) -> WebhookSubscription:
    return WebhookSubscription(
        id=row.id,
        url=row.url,
        event_types=frozenset(json.loads(row.event_types)),
        secret=row.secret,
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
        description=row.description,
        site_id=None if row.site_id is None else SiteId(row.site_id),
        station_id=None if row.station_id is None else StationId(row.station_id),
    )


def _delivery_values(d: Delivery) -> dict[str, Any]:
    return {
        "delivery_key": d.delivery_key,
        "subscription_id": d.subscription_id,
        "event_type": d.event_type,
        "body": d.body,
        "status": DeliveryStatus(d.status).value,
        "attempts": d.attempts,
        "max_attempts": d.max_attempts,
        "created_at": utc(d.created_at),
        "next_attempt_at": utc_or_none(d.next_attempt_at),
        "delivered_at": utc_or_none(d.delivered_at),
        "last_status_code": d.last_status_code,
        "last_error": None if d.last_error is None else d.last_error[:1000],
    }


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        delivery_key=row.delivery_key,
        subscription_id=row.subscription_id,
        event_type=row.event_type,
        body=row.body,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )


def _attempt_values(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "delivery_id": a.delivery_id,
        "number": a.number,
        "at": utc(a.at),
        "status_code": a.status_code,
        "error": None if a.error is None else a.error[:1000],
        "duration_ms": a.duration_ms,
    }


def _attempt(row: Row[Any]) -> DeliveryAttempt:
    return DeliveryAttempt(
        row.delivery_id, row.number, row.at, row.status_code, row.error, row.duration_ms
    )


def _stored_delivery(d: Delivery, delivery_id: int) -> Delivery:
    return replace(
        d,
        id=delivery_id,
        status=DeliveryStatus(d.status),
        created_at=utc(d.created_at),
        next_attempt_at=utc_or_none(d.next_attempt_at),
        delivered_at=utc_or_none(d.delivered_at),
        last_error=None if d.last_error is None else d.last_error[:1000],
    )


# -- SQL --------------------------------------------------------------------------------------


class SqlWebhookRepository(SqlRepository):
    async def add_subscription(self, subscription: WebhookSubscription) -> None:
        try:
            await self._writer.execute(
                insert(webhook_subscriptions), _subscription_values(subscription)
            )
        except IntegrityError as exc:
            raise AlreadyExists(f"webhook subscription {subscription.id} exists") from exc

    async def get_subscription(self, subscription_id: str) -> WebhookSubscription | None:
        query = select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _subscription(row)

    async def subscriptions(self) -> builtins.list[WebhookSubscription]:
        s = webhook_subscriptions.c
        query = select(webhook_subscriptions).order_by(s.created_at, s.id)
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in await conn.execute(query)]

    async def update_subscription(self, subscription: WebhookSubscription) -> None:
        values = _subscription_values(subscription)
        del values["id"], values["created_at"]
        statement = (
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription.id)
            .values(values)
        )

        async def op(conn: AsyncConnection) -> int:
            return int((await conn.execute(statement)).rowcount)

        if await self._writer.submit(op) != 1:
            raise NotFound(f"no webhook subscription {subscription.id}")

    async def delete_subscription(self, subscription_id: str) -> bool:
        d = webhook_deliveries.c

        async def op(conn: AsyncConnection) -> bool:
            ids = select(d.id).where(d.subscription_id == subscription_id).scalar_subquery()
            await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
            await conn.execute(delete(webhook_deliveries).where(d.subscription_id == subscription_id))
            result = await conn.execute(
                delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
            )
            return bool(result.rowcount)

        deleted: bool = await self._writer.submit(op)
        return deleted

    async def enqueue(self, deliveries: Sequence[Delivery]) -> builtins.list[Delivery]:
        rows = [_delivery_values(d) for d in deliveries]

        async def op(conn: AsyncConnection) -> list[int]:
            ids = []
            for row in rows:
                result = await conn.execute(
                    insert(webhook_deliveries).values(row).returning(webhook_deliveries.c.id)
                )
                ids.append(int(result.scalar_one()))
            return ids

        ids = await self._writer.submit(op)
        return [_stored_delivery(d, i) for d, i in zip(deliveries, ids, strict=True)]

    async def due(self, at: datetime, limit: int) -> builtins.list[Delivery]:
        d = webhook_deliveries.c
        query = (
            select(webhook_deliveries)
            .where(d.status == DeliveryStatus.PENDING.value, d.next_attempt_at <= utc(at))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_delivery(row) for row in await conn.execute(query)]

    async def next_due_at(self) -> datetime | None:
        d = webhook_deliveries.c
        query = (
            select(d.next_attempt_at)
            .where(d.status == DeliveryStatus.PENDING.value)
            .order_by(d.next_attempt_at)
            .limit(1)
        )
        async with self._engine.connect() as conn:
            value: datetime | None = (await conn.execute(query)).scalar()
        return value

    async def record_attempt(self, delivery: Delivery, attempt: DeliveryAttempt) -> None:
        values = _delivery_values(delivery)
        statement = update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(values)
        attempt_row = _attempt_values(attempt)

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement)
            await conn.execute(insert(webhook_attempts).values(attempt_row))

        await self._writer.submit(op)

    async def save_delivery(self, delivery: Delivery) -> None:
        statement = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(_delivery_values(delivery))
        )

        async def op(conn: AsyncConnection) -> int:
            return int((await conn.execute(statement)).rowcount)

        if await self._writer.submit(op) != 1:
            raise NotFound(f"no delivery {delivery.id}")

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _delivery(row)

    async def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[Delivery]:
        d = webhook_deliveries.c
        query = select(webhook_deliveries).where(d.subscription_id == subscription_id)
        if status is not None:
            query = query.where(d.status == status.value)
        if before_id is not None:
            query = query.where(d.id < before_id)
        query = query.order_by(d.id.desc()).limit(min(limit, MAX_LIST))
        async with self._engine.connect() as conn:
            return [_delivery(row) for row in await conn.execute(query)]

    async def attempts(self, delivery_id: int) -> builtins.list[DeliveryAttempt]:
        a = webhook_attempts.c
        query = select(webhook_attempts).where(a.delivery_id == delivery_id).order_by(a.number)
        async with self._engine.connect() as conn:
            return [_attempt(row) for row in await conn.execute(query)]

    async def purge(self, finished_before: datetime) -> int:
        d = webhook_deliveries.c
        old = (d.status.in_(FINISHED)) & (d.created_at < utc(finished_before))

        async def op(conn: AsyncConnection) -> int:
            ids = select(d.id).where(old).scalar_subquery()
            await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
            return int((await conn.execute(delete(webhook_deliveries).where(old))).rowcount)

        removed: int = await self._writer.submit(op)
        return removed


# -- memory -----------------------------------------------------------------------------------


class MemoryWebhookRepository:
    """Twin of :class:`SqlWebhookRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.subscription_rows: dict[str, WebhookSubscription] = {}
        self.delivery_rows: dict[int, Delivery] = {}
        self.attempt_rows: dict[int, list[DeliveryAttempt]] = {}

    async def add_subscription(self, subscription: WebhookSubscription) -> None:
        if subscription.id in self.subscription_rows:
            raise AlreadyExists(f"webhook subscription {subscription.id} exists")
        self.subscription_rows[subscription.id] = replace(
            subscription,
            created_at=utc(subscription.created_at),
            updated_at=utc(subscription.updated_at),
        )

    async def get_subscription(self, subscription_id: str) -> WebhookSubscription | None:
        return self.subscription_rows.get(subscription_id)

    async def subscriptions(self) -> builtins.list[WebhookSubscription]:
        return sorted(self.subscription_rows.values(), key=lambda s: (s.created_at, s.id))

    async def update_subscription(self, subscription: WebhookSubscription) -> None:
        current = self.subscription_rows.get(subscription.id)
        if current is None:
            raise NotFound(f"no webhook subscription {subscription.id}")
        self.subscription_rows[subscription.id] = replace(
            subscription, created_at=current.created_at, updated_at=utc(subscription.updated_at)
        )

    async def delete_subscription(self, subscription_id: str) -> bool:
        for d in [d for d in self.delivery_rows.values() if d.subscription_id == subscription_id]:
            del self.delivery_rows[d.id]
            self.attempt_rows.pop(d.id, None)
        return self.subscription_rows.pop(subscription_id, None) is not None

    async def enqueue(self, deliveries: Sequence[Delivery]) -> builtins.list[Delivery]:
        stored = []
        for d in deliveries:
            if any(o.delivery_key == d.delivery_key for o in self.delivery_rows.values()):
                raise AlreadyExists(f"delivery {d.delivery_key} exists")
            row = _stored_delivery(d, max(self.delivery_rows, default=0) + 1)
            self.delivery_rows[row.id] = row
            stored.append(row)
        return stored

    async def due(self, at: datetime, limit: int) -> builtins.list[Delivery]:
        found = [
            d
            for d in self.delivery_rows.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= at
        ]
        found.sort(key=lambda d: (d.next_attempt_at, d.id))
        return found[:limit]

    async def next_due_at(self) -> datetime | None:
        times = [
            d.next_attempt_at
            for d in self.delivery_rows.values()
            if d.status is DeliveryStatus.PENDING and d.next_attempt_at is not None
        ]
        return min(times, default=None)

    async def record_attempt(self, delivery: Delivery, attempt: DeliveryAttempt) -> None:
        await self.save_delivery(delivery)
        self.attempt_rows.setdefault(delivery.id, []).append(replace(attempt, at=utc(attempt.at)))

    async def save_delivery(self, delivery: Delivery) -> None:
        if delivery.id not in self.delivery_rows:
            raise NotFound(f"no delivery {delivery.id}")
        self.delivery_rows[delivery.id] = _stored_delivery(delivery, delivery.id)

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        return self.delivery_rows.get(delivery_id)

    async def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[Delivery]:
        found = [
            d
            for d in self.delivery_rows.values()
            if d.subscription_id == subscription_id
            and (status is None or d.status is status)
            and (before_id is None or d.id < before_id)
        ]
        found.sort(key=lambda d: d.id, reverse=True)
        return found[: min(limit, MAX_LIST)]

    async def attempts(self, delivery_id: int) -> builtins.list[DeliveryAttempt]:
        return sorted(self.attempt_rows.get(delivery_id, []), key=lambda a: a.number)

    async def purge(self, finished_before: datetime) -> int:
        old = [
            d.id
            for d in self.delivery_rows.values()
            if d.status.value in FINISHED and d.created_at < finished_before
        ]
        for delivery_id in old:
            del self.delivery_rows[delivery_id]
            self.attempt_rows.pop(delivery_id, None)
        return len(old)
