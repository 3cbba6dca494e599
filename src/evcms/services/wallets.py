"""Prepaid wallets and the ledger behind them: booking every movement of money.

Each money movement of billing is one ledger transaction under an idempotency key (the session
charge is ``session:{id}:wallet``, a card top-up ``top_up:payment:{id}``...): booking it again
returns the stored transaction and moves nothing, so callers may retry freely. Reusing a key
for *different* money is refused (409): it is a bug or a mixed-up request, not a retry.

Balances are sums of postings (``domain.ledger``). A wallet may go below zero: a session is
debited after the energy was delivered, whatever the balance then.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from evcms.domain.billing import SessionCharge
from evcms.domain.ledger import (
    DRIVER_ID_MAX_LENGTH,
    LedgerError,
    LedgerTransaction,
    Movement,
    card_payment_movement,
    fee_movement,
    is_rounded,
    receivable_account,
    receivable_movement,
    reversal_movement,
    session_charge_movement,
    settlement_movement,
    top_up_movement,
    wallet_account,
    wallet_balance,
)
from evcms.domain.tariffs import minor_units
from evcms.services.ports import Clock, ServiceError

MAX_TOP_UP = Decimal(10_000)
MAX_STATEMENT = 1000


class LedgerRepository(Protocol):
    """Ledger transactions with their postings; ``post`` writes a transaction and its postings
    at once, or nothing when the key is taken (also when another process races for it)."""

    async def post(self, movement: Movement, at: datetime) -> tuple[LedgerTransaction, bool]:
        """(the stored transaction, created): the one already stored under the key, if any."""
        ...

    async def get(self, key: str) -> LedgerTransaction | None: ...

    async def reversal_of(self, original: LedgerTransaction) -> LedgerTransaction | None:
        """The reversal booked for ``original`` (same driver, reference = its key), if any."""
        ...

    async def balance(self, account: str, currency: str) -> Decimal: ...  # sum of postings

    async def transactions(
        self, accounts: Sequence[str], *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[LedgerTransaction]:
        """The transactions with a posting on any of ``accounts``, newest (highest id) first,
        with all their postings."""
        ...

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]: ...  # non-zero sums


class Wallets:
    """The wallet of each driver and the ledger entries of billing (see the module docstring)."""

    def __init__(self, *, ledger: LedgerRepository, clock: Clock, currency: str = "EUR") -> None:
        self._ledger = ledger
        self._clock = clock
        self.currency = currency

    # -- reading ------------------------------------------------------------------------------

    def _quantize(self, amount: Decimal, currency: str | None = None) -> Decimal:
        digits = minor_units(currency or self.currency)
        return amount.quantize(Decimal(1).scaleb(-digits))

    async def balance(self, driver_id: str) -> Decimal:
        """What the driver has in the wallet (negative when a session overdrew it)."""
        _check_driver(driver_id)
        total = await self._ledger.balance(wallet_account(driver_id), self.currency)
        return self._quantize(wallet_balance(total))

    async def owed(self, driver_id: str, currency: str | None = None) -> Decimal:
        """What a postpaid driver owes (the receivable's sum)."""
        _check_driver(driver_id)
        return await self.account_balance(receivable_account(driver_id), currency)

    async def account_balance(self, account: str, currency: str | None = None) -> Decimal:
        """The sum of an account's postings (debits positive) in ``currency`` (default: the
        wallets' currency)."""
        currency = currency or self.currency
        return self._quantize(await self._ledger.balance(account, currency), currency)

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        """(account, currency) -> sum of postings, for every account that is not at zero; the
        sums of each currency add up to 0."""
        found = await self._ledger.trial_balance()
        return {k: self._quantize(v, k[1]) for k, v in sorted(found.items())}

    async def statement(
        self, driver_id: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[LedgerTransaction]:
        """The transactions that touch the driver's wallet or receivable, newest first (page
        with ``before_id`` = the last id seen)."""
        _check_driver(driver_id)
        if not 1 <= limit <= MAX_STATEMENT:
            raise ServiceError(f"limit must be 1-{MAX_STATEMENT}", 422)
        accounts = [wallet_account(driver_id), receivable_account(driver_id)]
        return await self._ledger.transactions(accounts, limit=limit, before_id=before_id)

    async def transaction(self, key: str) -> LedgerTransaction | None:
        return await self._ledger.get(key)

    # -- booking ------------------------------------------------------------------------------

    async def _post(self, movement: Movement) -> LedgerTransaction:
        transaction, created = await self._ledger.post(movement, self._clock.now())
        if not created and not movement.same_money(transaction):
            raise ServiceError(
                f"the key {movement.key!r} was already used for a different transaction"
                f" ({transaction.kind.value}); use a new key for new money",
                409,
            )
        return transaction

    def _amount(self, amount: Decimal, currency: str, what: str) -> None:
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise ServiceError(f"{what} must be a decimal number", 422)
        if not is_rounded(amount, currency):
            raise ServiceError(
                f"{what} {amount} has more than {minor_units(currency)} decimals for {currency}",
                422,
            )

    def _wallet_currency(self, currency: str, what: str) -> None:
        if currency != self.currency:
            raise ServiceError(
                f"wallets hold {self.currency}; {what} is in {currency} and cannot be taken from"
                " a wallet",
                409,
            )

    async def top_up(
        self,
        driver_id: str,
        amount: Decimal,
        *,
        key: str,
        source: str = "manual",
        reference: str | None = None,
        memo: str | None = None,
    ) -> LedgerTransaction:
        """Money into the wallet, booked by hand (``manual``: cash, bank transfer) or paid by
        card (``card``). ``amount``: more than 0, at most 10,000, in the currency's digits."""
        _check_driver(driver_id)
        self._amount(amount, self.currency, "a top-up amount")
        if amount <= 0 or amount > MAX_TOP_UP:
            raise ServiceError(
                f"a top-up amount must be more than 0 and at most {MAX_TOP_UP} {self.currency}"
                f" (got {amount})",
                422,
            )
        return await self._post(
            _movement(
                top_up_movement,
                driver_id,
                amount,
                self.currency,
                key=key,
                source=source,
                reference=reference,
                memo=memo,
            )
        )

    async def charge_session(self, charge: SessionCharge, driver_id: str) -> LedgerTransaction:
        """Pay a session from the wallet (key ``session:{id}:wallet``); may overdraw it. A free
        session is stored without postings (see ``domain.ledger``)."""
        _check_driver(driver_id)
        self._wallet_currency(charge.currency, f"session {charge.session_id}")
        return await self._post(_movement(session_charge_movement, charge, driver_id))

    async def book_card_payment(
        self, charge: SessionCharge, driver_id: str, payment_ref: str
    ) -> LedgerTransaction:
        """A session captured on the card (key ``session:{id}:card``)."""
        _check_driver(driver_id)
        return await self._post(_movement(card_payment_movement, charge, driver_id, payment_ref))

    async def book_receivable(self, charge: SessionCharge, driver_id: str) -> LedgerTransaction:
        """A postpaid session, owed by the driver (key ``session:{id}:postpaid``)."""
        _check_driver(driver_id)
        return await self._post(_movement(receivable_movement, charge, driver_id))

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
    ) -> LedgerTransaction:
        """A subscription fee from the wallet, the card or as owed (``source`` wallet | card |
        postpaid)."""
        _check_driver(driver_id)
        self._amount(excl, currency, "a fee")
        self._amount(vat, currency, "a fee's VAT")
        if source == "wallet":
            self._wallet_currency(currency, "the fee")
        return await self._post(
            _movement(
                fee_movement,
                driver_id,
                key=key,
                excl=excl,
                vat=vat,
                currency=currency,
                source=source,
                reference=reference,
                memo=memo,
            )
        )

    async def settle_receivable(
        self,
        driver_id: str,
        amount: Decimal,
        *,
        key: str,
        source: str,
        reference: str | None = None,
        currency: str | None = None,
    ) -> LedgerTransaction:
        """A postpaid driver paid ``amount`` of what is owed (``source`` card | manual)."""
        _check_driver(driver_id)
        currency = currency or self.currency
        self._amount(amount, currency, "a settled amount")
        return await self._post(
            _movement(
                settlement_movement,
                driver_id,
                amount,
                currency,
                key=key,
                source=source,
                reference=reference,
            )
        )

    async def reverse(
        self, key: str, *, new_key: str, memo: str | None = None
    ) -> LedgerTransaction:
        """Book the opposite of the transaction ``key`` (a refund, a credit note) under
        ``new_key``. 404 for an unknown key; 409 when it was already reversed under another
        key (a transaction is reversed at most once)."""
        if new_key == key:
            raise ServiceError("a reversal needs a key of its own: new_key must differ", 422)
        original = await self._ledger.get(key)
        if original is None:
            raise ServiceError(f"no ledger transaction has the key {key!r}", 404)
        previous = await self._ledger.reversal_of(original)
        if previous is not None and previous.key != new_key:
            raise ServiceError(
                f"the transaction {key!r} was already reversed ({previous.key!r})", 409
            )
        return await self._post(_movement(reversal_movement, original, key=new_key, memo=memo))


def _check_driver(driver_id: str) -> None:
    if not isinstance(driver_id, str) or not 0 < len(driver_id) <= DRIVER_ID_MAX_LENGTH:
        raise ServiceError(f"a driver id must be 1-{DRIVER_ID_MAX_LENGTH} characters", 422)


def _movement(build: Callable[..., Movement], *args: Any, **kwargs: Any) -> Movement:
    """``build(*args, **kwargs)``, the domain's LedgerError turned into a 422 ServiceError (its
    message says what is wrong with the amount, key or source)."""
    try:
        return build(*args, **kwargs)
    except LedgerError as exc:
        raise ServiceError(str(exc), 422) from exc
