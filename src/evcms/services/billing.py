"""Billing: who pays how, whether a driver may start, and settling a session once it ended.

The flow (docs/architecture.md, "Paying for a session"):

1. **Admission** (:class:`PaymentAdmission`, the ``PaymentGate`` that ``Charging`` asks for an
   accepted token of a driver): a wallet driver needs at least the minimum balance; a card
   driver needs a card on file, and — with the ``refuse`` decline policy — a successful
   pre-authorisation when the session starts; a postpaid driver always may. A refusal is
   ``NoCredit`` (1.6: ``Blocked``) with a reason people can read.
2. **Settling** (:meth:`Billing.settle`, on ``SessionEnded`` and by a sweeper for anything
   missed): the price is fixed once — priced with the tariff in force at the start (a
   subscription plan's tariff when it has one), the plan's included energy and discount
   applied — and stored before any money moves. Then the money: wallet debit, card capture
   (release when nothing is due), or a receivable for postpaid drivers; ledger entries for each;
   a receipt for what was paid. Every step has an idempotency key, so settling again after a
   crash or a retry finishes what is missing and never charges twice.

This module only orchestrates: prices come from ``Pricing``, money from the wallet, card and
invoice services, each given in by the composition root through the narrow protocols below.
"""

from __future__ import annotations

import asyncio
import builtins
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from evcms.domain.billing import (
    HUNDRED,
    Party,
    PaymentMode,
    SessionCharge,
    charge_from_breakdown,
    free_charge,
)
from evcms.domain.charging_sessions import ChargingSession, SessionStatus
from evcms.domain.drivers import Driver
from evcms.domain.events import Event, SessionEnded, SessionStarted
from evcms.domain.ids import StationId
from evcms.domain.invoices import Invoice, SessionFacts
from evcms.domain.ledger import LedgerTransaction
from evcms.domain.subscriptions import Plan, PlanApplication, Subscription
from evcms.domain.tariffs import round_money
from evcms.domain.tokens import Authorization, AuthorizationStatus, IdToken
from evcms.services.charging import Charging
from evcms.services.payments import Payment, PaymentMethod, PaymentStatus
from evcms.services.ports import Clock, ServiceError, SessionFilter
from evcms.services.pricing import Pricing
from evcms.services.subscriptions import FeeOutcome

log = logging.getLogger(__name__)

LANGUAGES = ("en", "bg")


class DeclinePolicy(enum.StrEnum):
    REFUSE = "refuse"  # pre-authorise inside the start's answer: declined -> NoCredit
    STOP = "stop"  # answer at once, pre-authorise after; declined -> evcms stops the session


class ChargeStatus(enum.StrEnum):
    PENDING = "pending"  # priced; the money has not moved yet (or a step failed: retried)
    PAID = "paid"  # taken from the wallet or captured on the card
    UNPAID = "unpaid"  # owed: postpaid (the monthly invoice collects it) or a failed capture
    FREE = "free"  # nothing to pay (no tariff, or a total of zero)


SETTLED = frozenset({ChargeStatus.PAID, ChargeStatus.UNPAID, ChargeStatus.FREE})


@dataclass(frozen=True, slots=True)
class BillingProfile:
    driver_id: str
    mode: PaymentMode
    language: str
    name: str = ""
    company_id: str | None = None
    vat_id: str | None = None
    address: str | None = None
    country: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredCharge:
    """A session's fixed price and how it was settled."""

    session_id: int
    driver_id: str | None
    tariff_id: str | None
    tariff_version: int | None
    charge: SessionCharge
    payment_mode: str  # a PaymentMode, "subscription" is not one: the plan changes the price
    status: ChargeStatus
    priced_at: datetime
    subscription_id: str | None = None
    payment_id: str | None = None
    invoice_id: str | None = None
    error: str | None = None
    settled_at: datetime | None = None


class BillingRepository(Protocol):
    async def profile(self, driver_id: str) -> BillingProfile | None: ...

    async def save_profile(self, profile: BillingProfile) -> None: ...

    async def charge(self, session_id: int) -> StoredCharge | None: ...

    async def save_charge(self, stored: StoredCharge) -> None: ...  # insert or replace

    async def charges(
        self,
        *,
        driver_id: str | None = None,
        status: ChargeStatus | None = None,
        priced_from: datetime | None = None,
        priced_until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredCharge]: ...  # newest first

    async def settled_among(self, session_ids: builtins.list[int]) -> set[int]: ...


# --- what billing needs from the money services (they satisfy these structurally) -----------


class WalletBook(Protocol):
    async def balance(self, driver_id: str) -> Decimal: ...

    async def charge_session(self, charge: SessionCharge, driver_id: str) -> LedgerTransaction: ...

    async def book_card_payment(
        self, charge: SessionCharge, driver_id: str, payment_ref: str
    ) -> LedgerTransaction: ...

    async def book_receivable(self, charge: SessionCharge, driver_id: str) -> LedgerTransaction: ...

    async def settle_receivable(
        self,
        driver_id: str,
        amount: Decimal,
        *,
        key: str,
        source: str,
        reference: str | None = None,
    ) -> LedgerTransaction: ...

    async def top_up(
        self,
        driver_id: str,
        amount: Decimal,
        *,
        key: str,
        source: str = "manual",
        reference: str | None = None,
        memo: str | None = None,
    ) -> LedgerTransaction: ...

    async def book_fee(
        self,
        driver_id: str,
        *,
        key: str,
        excl: Decimal,
        vat: Decimal,
        currency: str,
        source: str,
        reference: str | None = None,
        memo: str | None = None,
    ) -> LedgerTransaction: ...


class CardProcessor(Protocol):
    async def default_method(self, driver_id: str) -> PaymentMethod | None: ...

    async def preauthorize_session(
        self, driver_id: str, session_id: int, amount: Decimal
    ) -> Payment: ...

    async def capture_session(self, session_id: int, amount: Decimal) -> Payment: ...

    async def release_session(self, session_id: int) -> Payment: ...

    async def session_payment(self, session_id: int) -> Payment | None: ...

    async def charge(
        self,
        driver_id: str,
        *,
        key: str,
        purpose: str,
        amount: Decimal,
        description: str,
        metadata: dict[str, str] | None = None,
    ) -> Payment: ...


class ReceiptIssuer(Protocol):
    async def receipt_for_session(
        self,
        charge: SessionCharge,
        facts: SessionFacts,
        *,
        driver_id: str | None,
        buyer: Party,
        language: str,
        paid_by: str,
    ) -> Invoice: ...


class MonthlyInvoicer(ReceiptIssuer, Protocol):
    async def receipt_for_fee(
        self,
        *,
        key: str,
        driver_id: str,
        buyer: Party,
        language: str,
        description: str,
        excl: Decimal,
        vat: Decimal,
        vat_percent: Decimal,
        currency: str,
        paid_by: str,
    ) -> Invoice: ...

    async def monthly_invoice(
        self,
        *,
        driver_id: str,
        buyer: Party,
        language: str,
        period_start: datetime,
        period_end: datetime,
        sessions: builtins.list[tuple[SessionCharge, SessionFacts]],
    ) -> Invoice | None: ...


class PlanBenefits(Protocol):
    async def active(
        self, driver_id: str, at: datetime | None = None
    ) -> tuple[Subscription, Plan] | None: ...

    async def apply(
        self, driver_id: str, charge: SessionCharge, *, at: datetime
    ) -> tuple[Subscription, PlanApplication] | None: ...


class DriverDirectory(Protocol):
    async def get(self, driver_id: str) -> Driver | None: ...


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    currency: str = "EUR"
    wallet_min_balance: Decimal = Decimal("5.00")
    card_preauth_amount: Decimal = Decimal("50.00")
    decline: DeclinePolicy = DeclinePolicy.REFUSE
    default_mode: PaymentMode = PaymentMode.POSTPAID
    time_zone: str = "UTC"  # months of monthly invoices are cut in this zone


_AUTHORIZED = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED, PaymentStatus.SUCCEEDED})
_CAPTURED = frozenset({PaymentStatus.CAPTURED, PaymentStatus.SUCCEEDED})


class PaymentAdmission:
    """The ``PaymentGate`` of ``Charging``: can this driver pay for a session now?"""

    def __init__(
        self,
        *,
        profiles: Callable[[str], Awaitable[BillingProfile]],
        wallets: WalletBook | None,
        cards: CardProcessor | None,
        policy: BillingPolicy,
    ) -> None:
        self._profiles = profiles
        self._wallets = wallets
        self._cards = cards
        self._policy = policy

    async def admit(
        self, token: IdToken, *, station_id: StationId | None, session_id: int | None
    ) -> Authorization | None:
        driver_id = token.driver_id
        if driver_id is None:
            return None
        profile = await self._profiles(driver_id)
        if profile.mode is PaymentMode.WALLET:
            if self._wallets is None:
                return None
            balance = await self._wallets.balance(driver_id)
            if balance < self._policy.wallet_min_balance:
                return _no_credit(
                    f"the wallet balance is {balance} {self._policy.currency}; at least"
                    f" {self._policy.wallet_min_balance} is needed to start: top up the wallet"
                )
            return None
        if profile.mode is PaymentMode.CARD:
            if self._cards is None:
                return _no_credit("card payments are not available: choose another payment mode")
            if await self._cards.default_method(driver_id) is None:
                return _no_credit("no card on file: add a payment card first")
            if session_id is not None and self._policy.decline is DeclinePolicy.REFUSE:
                payment = await self._cards.preauthorize_session(
                    driver_id, session_id, self._policy.card_preauth_amount
                )
                if payment.status not in _AUTHORIZED:
                    reason = payment.error or payment.status.value
                    return _no_credit(f"the card was not authorised: {reason}")
            return None
        return None  # postpaid


def _no_credit(reason: str) -> Authorization:
    return Authorization(AuthorizationStatus.NO_CREDIT, reason=reason)


class Billing:
    def __init__(
        self,
        *,
        repository: BillingRepository,
        charging: Charging,
        pricing: Pricing,
        drivers: DriverDirectory,
        clock: Clock,
        policy: BillingPolicy,
        wallets: WalletBook | None = None,
        cards: CardProcessor | None = None,
        invoicing: MonthlyInvoicer | None = None,
        plans: PlanBenefits | None = None,
    ) -> None:
        self._repo = repository
        self._charging = charging
        self._pricing = pricing
        self._drivers = drivers
        self._clock = clock
        self.policy = policy
        self._wallets = wallets
        self._cards = cards
        self._invoicing = invoicing
        self._plans = plans
        # striped: one settlement of a session at a time, without a lock per session kept forever
        self._locks = [asyncio.Lock() for _ in range(64)]
        self._background: set[asyncio.Task[Any]] = set()

    def admission(self) -> PaymentAdmission:
        return PaymentAdmission(
            profiles=self.profile_of, wallets=self._wallets, cards=self._cards, policy=self.policy
        )

    # -- profiles -------------------------------------------------------------------------

    async def profile_of(self, driver_id: str) -> BillingProfile:
        """The driver's billing profile; a driver who never set one pays the default way."""
        stored = await self._repo.profile(driver_id)
        if stored is not None:
            return stored
        driver = await self._drivers.get(driver_id)
        language = driver.language.value if driver is not None else "en"
        return BillingProfile(
            driver_id=driver_id,
            mode=self.policy.default_mode,
            language=language if language in LANGUAGES else "en",
            name=driver.name if driver is not None else "",
        )

    async def set_profile(
        self,
        driver_id: str,
        *,
        mode: PaymentMode | None = None,
        language: str | None = None,
        name: str | None = None,
        company_id: str | None = None,
        vat_id: str | None = None,
        address: str | None = None,
        country: str | None = None,
    ) -> BillingProfile:
        if await self._drivers.get(driver_id) is None:
            raise ServiceError(f"driver {driver_id} does not exist", 404)
        current = await self.profile_of(driver_id)
        if language is not None and language not in LANGUAGES:
            raise ServiceError(f"language must be one of {', '.join(LANGUAGES)}", 422)
        if mode is PaymentMode.CARD and self._cards is None:
            raise ServiceError("card payments are not configured on this server", 422)
        if country is not None and (len(country) != 2 or not country.isalpha()):
            raise ServiceError("country must be an ISO 3166 two-letter code, e.g. BG", 422)
        updated = replace(
            current,
            mode=mode or current.mode,
            language=language or current.language,
            name=current.name if name is None else name.strip(),
            company_id=current.company_id if company_id is None else (company_id.strip() or None),
            vat_id=current.vat_id if vat_id is None else (vat_id.strip() or None),
            address=current.address if address is None else (address.strip() or None),
            country=current.country if country is None else country.upper(),
            updated_at=self._clock.now(),
        )
        await self._repo.save_profile(updated)
        return updated

    async def buyer(self, driver_id: str) -> tuple[Party, str]:
        """The driver as an invoice names them, and the invoice language."""
        profile = await self.profile_of(driver_id)
        driver = await self._drivers.get(driver_id)
        email = driver.email if driver is not None else None
        name = profile.name or (
            driver.name if driver is not None and driver.name else email or driver_id
        )
        party = Party(
            name=name,
            address=profile.address or "",
            country=profile.country,
            vat_id=profile.vat_id,
            company_id=profile.company_id,
            email=email,
        )
        return party, profile.language

    # -- events -----------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: settle ended sessions; pre-authorise cards after the start answer
        under the ``stop`` decline policy."""
        if isinstance(event, SessionEnded):
            # Awaited, not spawned: the bus runs this subscriber's events one by one, so a burst
            # of ended sessions is settled in turn instead of all at once against the station
            # traffic (the sweeper catches anything the bounded queue dropped).
            await self._settle_logged(event.session)
        elif isinstance(event, SessionStarted) and self.policy.decline is DeclinePolicy.STOP:
            self._spawn(self._preauthorize_after_start(event.session))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _settle_logged(self, session: ChargingSession) -> None:
        try:
            await self.settle(session.id, ended=session)
        except Exception:
            log.exception("settling session %s failed; the sweeper retries", session.id)

    async def _preauthorize_after_start(self, session: ChargingSession) -> None:
        try:
            if session.driver_id is None or self._cards is None:
                return
            profile = await self.profile_of(session.driver_id)
            if profile.mode is not PaymentMode.CARD:
                return
            payment = await self._cards.preauthorize_session(
                session.driver_id, session.id, self.policy.card_preauth_amount
            )
            if payment.status not in _AUTHORIZED:
                log.warning(
                    "card of driver %s declined for session %s: stopping it",
                    session.driver_id,
                    session.id,
                )
                await self._charging.remote_stop(session.id)
        except Exception:
            log.exception("pre-authorising session %s failed", session.id)

    async def settle_background(self) -> None:
        """Wait for settlements started by events (tests; shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- settling ---------------------------------------------------------------------------

    async def settle(
        self, session_id: int, *, ended: ChargingSession | None = None
    ) -> StoredCharge:
        """Fix the price of an ended session and settle it (idempotent; see the module doc).
        ``ended``: the session as it ended, when the caller has it (no need to read it again)."""
        async with self._locks[session_id % len(self._locks)]:
            return await self._settle(session_id, ended)

    async def _settle(self, session_id: int, ended: ChargingSession | None) -> StoredCharge:
        stored = await self._repo.charge(session_id)
        if stored is not None and stored.status in SETTLED:
            return stored
        session = ended
        if session is None or session.state.status is not SessionStatus.ENDED:
            session = await self._charging.session(session_id)
        if session.state.status is not SessionStatus.ENDED:
            raise ServiceError(f"session {session_id} is still charging", 409)
        if stored is None:
            stored = await self._price(session)
            if stored.driver_id is not None and stored.charge.total_incl_vat != 0:
                # money will move: the price is fixed (stored) before it does
                await self._repo.save_charge(stored)
        return await self._collect(session, stored)

    async def _price(self, session: ChargingSession) -> StoredCharge:
        now = self._clock.now()
        began = min(session.state.started_at or session.created_at, session.created_at)
        plan_tariff = None
        if session.driver_id is not None and self._plans is not None:
            active = await self._plans.active(session.driver_id, began)
            if active is not None:
                plan_tariff = active[1].tariff_id
        priced = await self._pricing.price_session(session, tariff_id=plan_tariff)
        if priced is None and plan_tariff is not None:  # the plan's tariff is gone: the station's
            priced = await self._pricing.price_session(session)
        energy = session.state.energy_wh
        if priced is None:
            charge = free_charge(session.id, self.policy.currency, energy_wh=energy)
            tariff_id = tariff_version = None
        else:
            charge = charge_from_breakdown(session.id, priced.breakdown, energy_wh=energy)
            tariff_id, tariff_version = priced.tariff.id, priced.tariff.version
        subscription_id = None
        if session.driver_id is not None and self._plans is not None and charge.lines:
            applied = await self._plans.apply(session.driver_id, charge, at=began)
            if applied is not None:
                subscription, application = applied
                charge = application.charge
                subscription_id = subscription.id
        mode = "none"
        if session.driver_id is not None:
            mode = (await self.profile_of(session.driver_id)).mode.value
        return StoredCharge(
            session_id=session.id,
            driver_id=session.driver_id,
            tariff_id=tariff_id,
            tariff_version=tariff_version,
            charge=charge,
            payment_mode=mode,
            status=ChargeStatus.PENDING,
            priced_at=now,
            subscription_id=subscription_id,
        )

    async def _collect(self, session: ChargingSession, stored: StoredCharge) -> StoredCharge:
        charge, driver_id = stored.charge, stored.driver_id
        total = charge.total_incl_vat
        status, payment_id, error = ChargeStatus.PENDING, stored.payment_id, None
        paid_by: str | None = None
        if driver_id is None:
            status = ChargeStatus.FREE if total == 0 else ChargeStatus.UNPAID
            error = None if total == 0 else "no driver: the token belongs to nobody"
        elif stored.payment_mode == PaymentMode.CARD.value and self._cards is not None:
            payment = await self._cards.capture_session(session.id, total)
            payment_id = payment.id
            if total == 0:
                status = ChargeStatus.FREE
            elif payment.status in _CAPTURED:
                if self._wallets is not None:
                    ref = payment.intent_ref or str(payment_id)
                    await self._wallets.book_card_payment(charge, driver_id, ref)
                status, paid_by = ChargeStatus.PAID, "card"
            elif payment.status is PaymentStatus.PARTIALLY_CAPTURED and self._wallets is not None:
                # the hold was captured, the rest was declined: what came in is booked as card
                # money, the rest as owed (one ledger transaction each, idempotent by key)
                captured = payment.captured
                ref = payment.intent_ref or str(payment_id)
                await self._wallets.book_receivable(charge, driver_id)
                await self._wallets.settle_receivable(
                    driver_id,
                    captured,
                    key=f"session:{session.id}:card-part",
                    source="card",
                    reference=ref,
                )
                error = f"only {captured} was captured: {payment.error}"
                status = ChargeStatus.UNPAID
            else:
                error = f"card capture: {payment.error or payment.status.value}"
                if self._wallets is not None:
                    await self._wallets.book_receivable(charge, driver_id)
                status = ChargeStatus.UNPAID
        elif total == 0:
            status = ChargeStatus.FREE
        elif stored.payment_mode == PaymentMode.WALLET.value and self._wallets is not None:
            await self._wallets.charge_session(charge, driver_id)
            status, paid_by = ChargeStatus.PAID, "wallet"
        else:  # postpaid (or a mode whose service is not configured): owed
            if self._wallets is not None:
                await self._wallets.book_receivable(charge, driver_id)
            status = ChargeStatus.UNPAID
        invoice_id = stored.invoice_id
        if paid_by is not None and driver_id is not None and self._invoicing is not None:
            buyer, language = await self.buyer(driver_id)
            invoice = await self._invoicing.receipt_for_session(
                charge,
                _facts(session),
                driver_id=driver_id,
                buyer=buyer,
                language=language,
                paid_by=paid_by,
            )
            invoice_id = invoice.id
        settled = replace(
            stored,
            status=status,
            payment_id=payment_id,
            invoice_id=invoice_id,
            error=error,
            settled_at=self._clock.now(),
        )
        await self._repo.save_charge(settled)
        log.info("session %s settled: %s %s %s", session.id, status.value, total, charge.currency)
        return settled

    async def settle_missed(self, *, days: int = 7, limit: int = 500) -> int:
        """Settle ended sessions of the last ``days`` that have no settled charge (a crash
        between a session's end and its settlement, a failed capture retried). Returns how many."""
        since = self._clock.now() - timedelta(days=days)
        ended = await self._charging.list(
            SessionFilter(status=SessionStatus.ENDED, started_from=since), limit=limit
        )
        ids = [s.id for s in ended]
        done = await self._repo.settled_among(ids)
        count = 0
        for session_id in ids:
            if session_id in done:
                continue
            try:
                await self.settle(session_id)
                count += 1
            except Exception:
                log.exception("settling missed session %s failed", session_id)
        return count

    async def invoice_month(self, year: int, month: int) -> int:
        """Monthly invoices for postpaid drivers: every unpaid postpaid session priced in that
        month (in the policy's time zone) on one invoice per driver. Idempotent: a driver invoiced already for the
        month is not invoiced again. Returns how many invoices were issued."""
        if self._invoicing is None:
            raise ServiceError("invoicing is not configured on this server", 503)
        if not 1 <= month <= 12:
            raise ServiceError("month must be 1-12", 422)
        zone = ZoneInfo(self.policy.time_zone)
        start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone).astimezone(UTC)
        if end > self._clock.now():
            raise ServiceError(f"{year}-{month:02d} has not ended yet", 409)
        owed = await self._repo.charges(
            status=ChargeStatus.UNPAID, priced_from=start, priced_until=end, limit=100_000
        )
        by_driver: dict[str, builtins.list[StoredCharge]] = {}
        for stored in owed:
            if (
                stored.driver_id is not None
                and stored.payment_mode == PaymentMode.POSTPAID.value
                and stored.invoice_id is None
            ):
                by_driver.setdefault(stored.driver_id, []).append(stored)
        issued = 0
        for driver_id, charges in sorted(by_driver.items()):
            charges.sort(key=lambda c: c.session_id)
            sessions = []
            for stored in charges:
                session = await self._charging.session(stored.session_id)
                sessions.append((stored.charge, _facts(session)))
            buyer, language = await self.buyer(driver_id)
            invoice = await self._invoicing.monthly_invoice(
                driver_id=driver_id,
                buyer=buyer,
                language=language,
                period_start=start,
                period_end=end,
                sessions=sessions,
            )
            if invoice is None:
                continue
            for stored in charges:
                await self._repo.save_charge(replace(stored, invoice_id=invoice.id))
            issued += 1
        return issued

    async def invoice_last_month(self) -> int:
        """The monthly chore: invoice the month that ended (safe to run every day)."""
        now = self._clock.now().astimezone(ZoneInfo(self.policy.time_zone))
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        return await self.invoice_month(year, month)

    # -- subscription fees (the FeeCollector of services.subscriptions) ---------------------

    async def collect(
        self, subscription: Subscription, plan: Plan, period_start: datetime, period_end: datetime
    ) -> FeeOutcome:
        """Take a plan's fee for one period the way the driver pays: from the wallet (when it
        covers the fee), on the card, or as owed (postpaid). Idempotent per period: the same
        key books and charges once."""
        driver_id = subscription.driver_id
        currency = plan.currency
        excl = plan.monthly_fee
        vat = round_money(excl * plan.fee_vat_percent / HUNDRED, currency)
        total = excl + vat
        key = f"fee:{subscription.id}:{period_start.isoformat()}"
        memo = f"{plan.name}: {period_start:%Y-%m-%d} - {period_end:%Y-%m-%d}"
        if self._wallets is None:
            return FeeOutcome(False, error="wallets are not configured on this server")
        profile = await self.profile_of(driver_id)
        paid_by: str | None = None
        reference: str | None = key
        if profile.mode is PaymentMode.WALLET:
            balance = await self._wallets.balance(driver_id)
            if balance < total:
                return FeeOutcome(
                    False,
                    error=f"the wallet balance {balance} {currency} does not cover the fee"
                    f" {total} {currency}: top up the wallet first",
                )
            await self._wallets.book_fee(
                driver_id,
                key=key,
                excl=excl,
                vat=vat,
                currency=currency,
                source="wallet",
                reference=subscription.id,
                memo=memo,
            )
            paid_by = "wallet"
        elif profile.mode is PaymentMode.CARD:
            if self._cards is None:
                return FeeOutcome(False, error="card payments are not configured on this server")
            payment = await self._cards.charge(
                driver_id,
                key=key,
                purpose="subscription",
                amount=total,
                description=f"evcms plan {plan.name}",
                metadata={"subscription_id": subscription.id},
            )
            if payment.status not in _CAPTURED:
                return FeeOutcome(
                    False,
                    error=f"the card payment failed: {payment.error or payment.status.value}",
                )
            reference = payment.intent_ref or payment.id
            await self._wallets.book_fee(
                driver_id,
                key=key,
                excl=excl,
                vat=vat,
                currency=currency,
                source="card",
                reference=reference,
                memo=memo,
            )
            paid_by = "card"
        else:
            await self._wallets.book_fee(
                driver_id,
                key=key,
                excl=excl,
                vat=vat,
                currency=currency,
                source="postpaid",
                reference=subscription.id,
                memo=memo,
            )
        if paid_by is not None and self._invoicing is not None:
            buyer, language = await self.buyer(driver_id)
            await self._invoicing.receipt_for_fee(
                key=f"receipt:{key}",
                driver_id=driver_id,
                buyer=buyer,
                language=language,
                description=memo,
                excl=excl,
                vat=vat,
                vat_percent=plan.fee_vat_percent,
                currency=currency,
                paid_by=paid_by,
            )
        return FeeOutcome(True, reference=reference)

    # -- reading ----------------------------------------------------------------------------

    async def charge_of(self, session_id: int, *, driver_id: str | None = None) -> StoredCharge:
        session = await self._charging.session(session_id, driver_id=driver_id)
        stored = await self._repo.charge(session.id)
        if stored is None:
            if session.state.status is SessionStatus.ACTIVE:
                raise ServiceError(
                    f"session {session_id} is still charging: its running price is at"
                    f" /sessions/{session_id}/price",
                    404,
                )
            raise ServiceError(f"session {session_id} has not been settled yet", 404)
        return stored

    async def charges(
        self,
        *,
        driver_id: str | None = None,
        status: ChargeStatus | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredCharge]:
        return await self._repo.charges(driver_id=driver_id, status=status, limit=limit)

    # -- money in ----------------------------------------------------------------------------

    async def card_top_up(self, driver_id: str, amount: Decimal, *, key: str) -> Payment:
        """A driver tops up the wallet with the card on file. The wallet is credited when the
        payment succeeds (at once, or from the provider's webhook: whichever comes first)."""
        if self._cards is None or self._wallets is None:
            raise ServiceError("card top-ups are not configured on this server", 503)
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")) or amount > Decimal(10_000):
            raise ServiceError(
                "amount must be positive, at most 10000, with at most 2 decimals", 422
            )
        if await self._cards.default_method(driver_id) is None:
            raise ServiceError("no card on file: add a payment card first", 402)
        payment = await self._cards.charge(
            driver_id,
            key=f"top_up:{driver_id}:{key}",
            purpose="top_up",
            amount=amount,
            description="evcms wallet top-up",
        )
        # A payment that went through has credited the wallet already: CardPayments calls
        # on_succeeded (payment_succeeded below) when a payment first becomes paid.
        if payment.status in {PaymentStatus.DECLINED, PaymentStatus.FAILED}:
            raise ServiceError(
                f"the card payment failed: {payment.error or payment.status.value}",
                402,
            )
        return payment

    async def payment_succeeded(self, payment: Payment) -> None:
        """``CardPayments.on_succeeded``: book money that arrived (idempotent by payment id)."""
        if self._wallets is None:
            return
        if payment.purpose == "top_up":
            await self._wallets.top_up(
                payment.driver_id,
                payment.captured or payment.authorized,
                key=f"top_up:payment:{payment.id}",
                source="card",
                reference=payment.intent_ref,
            )


def _facts(session: ChargingSession) -> SessionFacts:
    """What a receipt or an invoice says about a session besides its price."""
    state = session.state
    return SessionFacts(
        station_id=str(session.station_id),
        started_at=state.started_at or session.created_at,
        ended_at=state.ended_at,
        energy_wh=state.energy_wh,
        connector=f"{session.evse_id}/{session.connector_id}",
    )
