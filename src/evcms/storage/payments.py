"""Cards on file, card payments and the provider webhooks seen: SQL repository and its twin.

Tables ``payment_methods``, ``payments`` (money in integer minor units) and
``payment_webhook_events``. Both classes implement ``services.payments.PaymentRepository``.
``update`` is a compare-and-set on the payment's status: a webhook and the call that caused it
may race, and only one of them may move a payment (and so call ``on_succeeded``).
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evcms.domain.billing import from_minor, to_minor
from evcms.services.payments import Payment, PaymentMethod, PaymentStatus
from evcms.services.ports import AlreadyExists
from evcms.storage._sql import SqlRepository, utc, utc_or_none
from evcms.storage.tables import payment_methods, payment_webhook_events, payments

MAX_LIST = 1000


def _method_row(method: PaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "driver_id": method.driver_id,
        "provider": method.provider,
        "customer_ref": method.customer_ref,
        "method_ref": method.method_ref,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "is_default": method.is_default,
        "created_at": utc(method.created_at),
        "removed_at": utc_or_none(method.removed_at),
    }


def _method(row: Row[Any]) -> PaymentMethod:
    return PaymentMethod(
        id=row.id,
        driver_id=row.driver_id,
        provider=row.provider,
        customer_ref=row.customer_ref,
        method_ref=row.method_ref,
        brand=row.brand,
        last4=row.last4,
        exp_month=row.exp_month,
        exp_year=row.exp_year,
        is_default=bool(row.is_default),
        created_at=row.created_at,
        removed_at=row.removed_at,
    )


def _payment_row(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "key": payment.key,
        "purpose": payment.purpose,
        "driver_id": payment.driver_id,
        "session_id": payment.session_id,
        "provider": payment.provider,
        "intent_ref": payment.intent_ref,
        "method_id": payment.method_id,
        "status": PaymentStatus(payment.status).value,
        "currency": payment.currency,
        "authorized_minor": to_minor(payment.authorized, payment.currency),
        "captured_minor": to_minor(payment.captured, payment.currency),
        "error": payment.error,
        "created_at": utc(payment.created_at),
        "updated_at": utc(payment.updated_at),
    }


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        id=row.id,
        key=row.key,
        purpose=row.purpose,
        driver_id=row.driver_id,
        session_id=row.session_id,
        status=PaymentStatus(row.status),
        currency=row.currency,
        authorized=from_minor(row.authorized_minor, row.currency),
        captured=from_minor(row.captured_minor, row.currency),
        intent_ref=row.intent_ref,
        method_id=row.method_id,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        provider=row.provider,
    )


def _stored(payment: Payment) -> Payment:
    """What a round trip through the database gives back (UTC times, no ``extra``)."""
    return replace(
        payment,
        status=PaymentStatus(payment.status),
        created_at=utc(payment.created_at),
        updated_at=utc(payment.updated_at),
        authorized=from_minor(to_minor(payment.authorized, payment.currency), payment.currency),
        captured=from_minor(to_minor(payment.captured, payment.currency), payment.currency),
        extra=None,
    )


# -- SQL --------------------------------------------------------------------------------------


class SqlPaymentRepository(SqlRepository):
    async def add_method(self, method: PaymentMethod) -> None:
        await self._writer.execute(insert(payment_methods), _method_row(method))

    async def get_method(self, method_id: str) -> PaymentMethod | None:
        query = select(payment_methods).where(payment_methods.c.id == method_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _method(row)

    async def methods(
        self, driver_id: str, *, include_removed: bool = False
    ) -> builtins.list[PaymentMethod]:
        m = payment_methods.c
        query = select(payment_methods).where(m.driver_id == driver_id)
        if not include_removed:
            query = query.where(m.removed_at.is_(None))
        query = query.order_by(m.created_at, m.id)
        async with self._engine.connect() as conn:
            return [_method(row) for row in await conn.execute(query)]

    async def set_default_method(self, driver_id: str, method_id: str) -> None:
        m = payment_methods.c

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(
                update(payment_methods)
                .where(m.driver_id == driver_id, m.id != method_id, m.is_default.is_(True))
                .values(is_default=False)
            )
            await conn.execute(
                update(payment_methods)
                .where(m.driver_id == driver_id, m.id == method_id)
                .values(is_default=True)
            )

        await self._writer.submit(op)

    async def remove_method(self, method_id: str, at: datetime) -> None:
        statement = (
            update(payment_methods)
            .where(payment_methods.c.id == method_id)
            .values(removed_at=utc(at), is_default=False)
        )

        async def op(conn: AsyncConnection) -> None:
            await conn.execute(statement)

        await self._writer.submit(op)

    async def add(self, payment: Payment) -> None:
        row = _payment_row(payment)

        async def op(conn: AsyncConnection) -> None:
            taken = exists().where(payments.c.key == payment.key)
            if await conn.scalar(select(taken)):
                raise AlreadyExists(f"a payment with key {payment.key!r} exists")
            await conn.execute(insert(payments), row)

        try:
            await self._writer.submit(op)
        except IntegrityError as exc:  # another process inserted it meanwhile
            raise AlreadyExists(f"a payment with key {payment.key!r} exists") from exc

    async def _one(self, where: Any) -> Payment | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(payments).where(where))).first()
        return None if row is None else _payment(row)

    async def get(self, payment_id: str) -> Payment | None:
        return await self._one(payments.c.id == payment_id)

    async def by_key(self, key: str) -> Payment | None:
        return await self._one(payments.c.key == key)

    async def by_intent(self, intent_ref: str) -> Payment | None:
        return await self._one(payments.c.intent_ref == intent_ref)

    async def update(self, payment: Payment, *, expected: PaymentStatus) -> bool:
        values = _payment_row(payment)
        for fixed in ("id", "key", "created_at"):
            del values[fixed]
        statement = (
            update(payments)
            .where(payments.c.id == payment.id, payments.c.status == PaymentStatus(expected).value)
            .values(values)
        )

        async def op(conn: AsyncConnection) -> bool:
            return (await conn.execute(statement)).rowcount == 1

        result: bool = await self._writer.submit(op)
        return result

    async def list(
        self, *, driver_id: str | None = None, session_id: int | None = None, limit: int = 100
    ) -> builtins.list[Payment]:
        p = payments.c
        query = select(payments)
        if driver_id is not None:
            query = query.where(p.driver_id == driver_id)
        if session_id is not None:
            query = query.where(p.session_id == session_id)
        query = query.order_by(p.created_at.desc(), p.id.desc()).limit(min(limit, MAX_LIST))
        async with self._engine.connect() as conn:
            return [_payment(row) for row in await conn.execute(query)]

    async def webhook_seen(self, provider: str, event_id: str) -> bool:
        w = payment_webhook_events.c
        query = select(exists().where(w.provider == provider, w.event_id == event_id))
        async with self._engine.connect() as conn:
            return bool(await conn.scalar(query))

    async def record_webhook(self, provider: str, event_id: str, type: str, at: datetime) -> bool:
        w = payment_webhook_events.c
        row = {"provider": provider, "event_id": event_id, "type": type, "received_at": utc(at)}

        async def op(conn: AsyncConnection) -> bool:
            seen = exists().where(w.provider == provider, w.event_id == event_id)
            if await conn.scalar(select(seen)):
                return False
            await conn.execute(insert(payment_webhook_events), row)
            return True

        try:
            result: bool = await self._writer.submit(op)
        except IntegrityError:  # recorded by another process meanwhile
            return False
        return result


# -- memory -----------------------------------------------------------------------------------


class MemoryPaymentRepository:
    """Twin of :class:`SqlPaymentRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self.method_rows: dict[str, PaymentMethod] = {}
        self.payments: dict[str, Payment] = {}
        self.webhooks: dict[tuple[str, str], tuple[str, datetime]] = {}

    async def add_method(self, method: PaymentMethod) -> None:
        if method.id in self.method_rows:
            raise AlreadyExists(f"payment method {method.id} exists")
        self.method_rows[method.id] = replace(
            method, created_at=utc(method.created_at), removed_at=utc_or_none(method.removed_at)
        )

    async def get_method(self, method_id: str) -> PaymentMethod | None:
        return self.method_rows.get(method_id)

    async def methods(
        self, driver_id: str, *, include_removed: bool = False
    ) -> builtins.list[PaymentMethod]:
        found = [
            m
            for m in self.method_rows.values()
            if m.driver_id == driver_id and (include_removed or m.removed_at is None)
        ]
        return sorted(found, key=lambda m: (m.created_at, m.id))

    async def set_default_method(self, driver_id: str, method_id: str) -> None:
        for m in list(self.method_rows.values()):
            if m.driver_id == driver_id:
                self.method_rows[m.id] = replace(m, is_default=m.id == method_id)

    async def remove_method(self, method_id: str, at: datetime) -> None:
        found = self.method_rows.get(method_id)
        if found is not None:
            self.method_rows[method_id] = replace(found, removed_at=utc(at), is_default=False)

    async def add(self, payment: Payment) -> None:
        if payment.id in self.payments or await self.by_key(payment.key) is not None:
            raise AlreadyExists(f"a payment with key {payment.key!r} exists")
        self._check_intent(payment)
        self.payments[payment.id] = _stored(payment)

    def _check_intent(self, payment: Payment) -> None:
        if payment.intent_ref is None:
            return
        for other in self.payments.values():
            if other.id != payment.id and other.intent_ref == payment.intent_ref:
                raise AlreadyExists(f"intent {payment.intent_ref} belongs to payment {other.id}")

    async def get(self, payment_id: str) -> Payment | None:
        return self.payments.get(payment_id)

    async def by_key(self, key: str) -> Payment | None:
        return next((p for p in self.payments.values() if p.key == key), None)

    async def by_intent(self, intent_ref: str) -> Payment | None:
        return next((p for p in self.payments.values() if p.intent_ref == intent_ref), None)

    async def update(self, payment: Payment, *, expected: PaymentStatus) -> bool:
        current = self.payments.get(payment.id)
        if current is None or current.status != expected:
            return False
        self._check_intent(payment)
        self.payments[payment.id] = _stored(
            replace(payment, key=current.key, created_at=current.created_at)
        )
        return True

    async def list(
        self, *, driver_id: str | None = None, session_id: int | None = None, limit: int = 100
    ) -> builtins.list[Payment]:
        found = [
            p
            for p in self.payments.values()
            if (driver_id is None or p.driver_id == driver_id)
            and (session_id is None or p.session_id == session_id)
        ]
        found.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return found[: min(limit, MAX_LIST)]

    async def webhook_seen(self, provider: str, event_id: str) -> bool:
        return (provider, event_id) in self.webhooks

    async def record_webhook(self, provider: str, event_id: str, type: str, at: datetime) -> bool:
        if (provider, event_id) in self.webhooks:
            return False
        self.webhooks[(provider, event_id)] = (type, utc(at))
        return True
