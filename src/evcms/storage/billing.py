"""Billing profiles and session charges: SQL repository and its in-memory twin."""

from __future__ import annotations

import builtins
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Row, select

from evcms.domain.billing import (
    ChargeLine,
    LineKind,
    PaymentMode,
    SessionCharge,
    from_minor,
    to_minor,
)
from evcms.services.billing import BillingProfile, ChargeStatus, StoredCharge
from evcms.storage._sql import SqlRepository, upsert, utc, utc_or_none
from evcms.storage.tables import billing_profiles, session_charges


def charge_to_json(charge: SessionCharge) -> str:
    return orjson.dumps(
        {
            "energy_wh": str(charge.energy_wh),
            "notes": list(charge.notes),
            "lines": [
                {
                    "kind": line.kind.value,
                    "quantity": str(line.quantity),
                    "excl_vat": str(line.excl_vat),
                    "vat": str(line.vat),
                    "vat_percent": None if line.vat_percent is None else str(line.vat_percent),
                }
                for line in charge.lines
            ],
        }
    ).decode()


def charge_from_json(session_id: int, currency: str, text: str) -> SessionCharge:
    data = orjson.loads(text)
    lines = tuple(
        ChargeLine(
            kind=LineKind(item["kind"]),
            quantity=Decimal(item["quantity"]),
            excl_vat=Decimal(item["excl_vat"]),
            vat=Decimal(item["vat"]),
            vat_percent=None if item["vat_percent"] is None else Decimal(item["vat_percent"]),
        )
        for item in data["lines"]
    )
    return SessionCharge(
        session_id,
        currency,
        lines,
        energy_wh=Decimal(data["energy_wh"]),
        notes=tuple(data.get("notes", ())),
    )


def _charge_row(stored: StoredCharge) -> dict[str, Any]:
    charge = stored.charge
    return {
        "session_id": stored.session_id,
        "driver_id": stored.driver_id,
        "tariff_id": stored.tariff_id,
        "tariff_version": stored.tariff_version,
        "currency": charge.currency,
        "total_excl_minor": to_minor(charge.total_excl_vat, charge.currency),
        "total_tax_minor": to_minor(charge.total_vat, charge.currency),
        "total_incl_minor": to_minor(charge.total_incl_vat, charge.currency),
        "breakdown": charge_to_json(charge),
        "payment_mode": stored.payment_mode,
        "status": stored.status.value,
        "subscription_id": stored.subscription_id,
        "payment_id": stored.payment_id,
        "invoice_id": stored.invoice_id,
        "error": stored.error,
        "priced_at": utc(stored.priced_at),
        "settled_at": utc_or_none(stored.settled_at),
    }


def _stored_charge(row: Row[Any]) -> StoredCharge:
    charge = charge_from_json(row.session_id, row.currency, row.breakdown)
    if from_minor(row.total_incl_minor, row.currency) != charge.total_incl_vat:
        raise ValueError(f"session charge {row.session_id}: stored totals disagree with the lines")
    return StoredCharge(
        session_id=row.session_id,
        driver_id=row.driver_id,
        tariff_id=row.tariff_id,
        tariff_version=row.tariff_version,
        charge=charge,
        payment_mode=row.payment_mode,
        status=ChargeStatus(row.status),
        priced_at=row.priced_at,
        subscription_id=row.subscription_id,
        payment_id=row.payment_id,
        invoice_id=row.invoice_id,
        error=row.error,
        settled_at=row.settled_at,
    )


def _profile(row: Row[Any]) -> BillingProfile:
    return BillingProfile(
        driver_id=row.driver_id,
        mode=PaymentMode(row.mode),
        language=row.language,
        name=row.name,
        company_id=row.company_id,
        vat_id=row.vat_id,
        address=row.address,
        country=row.country,
        updated_at=row.updated_at,
    )


class SqlBillingRepository(SqlRepository):
    async def profile(self, driver_id: str) -> BillingProfile | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(billing_profiles).where(billing_profiles.c.driver_id == driver_id)
                )
            ).first()
        return None if row is None else _profile(row)

    async def save_profile(self, profile: BillingProfile) -> None:
        await self._writer.execute(
            upsert(self._dialect, billing_profiles, ["driver_id"]),
            {
                "driver_id": profile.driver_id,
                "mode": profile.mode.value,
                "language": profile.language,
                "name": profile.name,
                "company_id": profile.company_id,
                "vat_id": profile.vat_id,
                "address": profile.address,
                "country": profile.country,
                "updated_at": utc(profile.updated_at or self._clock.now()),
            },
        )

    async def charge(self, session_id: int) -> StoredCharge | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(session_charges).where(session_charges.c.session_id == session_id)
                )
            ).first()
        return None if row is None else _stored_charge(row)

    async def save_charge(self, stored: StoredCharge) -> None:
        await self._writer.execute(
            upsert(self._dialect, session_charges, ["session_id"]), _charge_row(stored)
        )

    async def charges(
        self,
        *,
        driver_id: str | None = None,
        status: ChargeStatus | None = None,
        priced_from: datetime | None = None,
        priced_until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredCharge]:
        query = select(session_charges)
        if driver_id is not None:
            query = query.where(session_charges.c.driver_id == driver_id)
        if status is not None:
            query = query.where(session_charges.c.status == status.value)
        if priced_from is not None:
            query = query.where(session_charges.c.priced_at >= utc(priced_from))
        if priced_until is not None:
            query = query.where(session_charges.c.priced_at < utc(priced_until))
        query = query.order_by(session_charges.c.session_id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored_charge(row) for row in rows]

    async def settled_among(self, session_ids: builtins.list[int]) -> set[int]:
        if not session_ids:
            return set()
        found: set[int] = set()
        settled = [s.value for s in (ChargeStatus.PAID, ChargeStatus.UNPAID, ChargeStatus.FREE)]
        async with self._engine.connect() as conn:
            for start in range(0, len(session_ids), 500):
                chunk = session_ids[start : start + 500]
                rows = await conn.execute(
                    select(session_charges.c.session_id).where(
                        session_charges.c.session_id.in_(chunk),
                        session_charges.c.status.in_(settled),
                    )
                )
                found.update(row.session_id for row in rows)
        return found


class MemoryBillingRepository:
    """Twin of :class:`SqlBillingRepository` (the same contract tests run against both)."""

    def __init__(self) -> None:
        self._profiles: dict[str, BillingProfile] = {}
        self._charges: dict[int, StoredCharge] = {}

    async def profile(self, driver_id: str) -> BillingProfile | None:
        return self._profiles.get(driver_id)

    async def save_profile(self, profile: BillingProfile) -> None:
        self._profiles[profile.driver_id] = profile

    async def charge(self, session_id: int) -> StoredCharge | None:
        return self._charges.get(session_id)

    async def save_charge(self, stored: StoredCharge) -> None:
        to_minor(stored.charge.total_incl_vat, stored.charge.currency)  # as strict as the SQL one
        self._charges[stored.session_id] = stored

    async def charges(
        self,
        *,
        driver_id: str | None = None,
        status: ChargeStatus | None = None,
        priced_from: datetime | None = None,
        priced_until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredCharge]:
        found = [
            c
            for c in self._charges.values()
            if (driver_id is None or c.driver_id == driver_id)
            and (status is None or c.status is status)
            and (priced_from is None or c.priced_at >= priced_from)
            and (priced_until is None or c.priced_at < priced_until)
        ]
        found.sort(key=lambda c: c.session_id, reverse=True)
        return found[:limit]

    async def settled_among(self, session_ids: builtins.list[int]) -> set[int]:
        settled = {ChargeStatus.PAID, ChargeStatus.UNPAID, ChargeStatus.FREE}
        return {
            i for i in session_ids if i in self._charges and self._charges[i].status in settled
        }
