"""Double-entry bookkeeping: accounts, postings, transactions, and the movements of money (pure).

Every movement of money is one transaction of postings that sum to zero per currency (a debit is
a positive amount, a credit a negative one), so the books always balance and a balance is never
stored: it is the sum of an account's postings. Each transaction has a unique ``key`` (e.g.
``session:42:wallet``) so that booking the same business event twice books it once.

Accounts are strings:

- ``wallet:{driver_id}`` - a liability: what the operator owes the driver (prepaid money). A
  top-up credits it, so the driver's wallet balance is *minus* the account's sum.
- ``receivable:{driver_id}`` - postpaid: what the driver owes (an asset, positive when owed).
- ``cash:card`` (money at the card provider), ``cash:manual`` (cash, bank transfers an operator
  books by hand).
- ``revenue:charging``, ``revenue:subscriptions`` (excl. VAT) and ``vat:payable``.

Zero amounts are never posted: a movement leaves out its postings of 0, so a free session
becomes a transaction without postings. It is still stored under its key (the session is
settled, a replay is a no-op) and changes no balance.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from evcms.domain.billing import SessionCharge
from evcms.domain.tariffs import minor_units

ZERO = Decimal(0)

CASH_CARD = "cash:card"
CASH_MANUAL = "cash:manual"
REVENUE_CHARGING = "revenue:charging"
REVENUE_SUBSCRIPTIONS = "revenue:subscriptions"
VAT_PAYABLE = "vat:payable"

KEY_MAX_LENGTH = 160  # ledger_transactions.key
ACCOUNT_MAX_LENGTH = 80  # ledger_postings.account
DRIVER_ID_MAX_LENGTH = 36  # ledger_transactions.driver_id
REFERENCE_MAX_LENGTH = 160

TOP_UP_SOURCES = {"manual": CASH_MANUAL, "card": CASH_CARD}
SETTLEMENT_SOURCES = TOP_UP_SOURCES
FEE_SOURCES = ("wallet", "card", "postpaid")


class LedgerError(ValueError):
    """A transaction that cannot be booked (unbalanced, a bad amount or account); the message
    says what is wrong."""


class TransactionKind(enum.StrEnum):
    TOP_UP = "top_up"  # money into a wallet
    SESSION_CHARGE = "session_charge"  # a session paid from the wallet
    CARD_PAYMENT = "card_payment"  # a session paid by card
    RECEIVABLE = "receivable"  # a postpaid session, owed
    SUBSCRIPTION_FEE = "subscription_fee"
    RECEIVABLE_SETTLED = "receivable_settled"  # a postpaid driver paid what was owed
    REVERSAL = "reversal"  # the opposite of an earlier transaction (refunds, credit notes)


def wallet_account(driver_id: str) -> str:
    return f"wallet:{driver_id}"


def receivable_account(driver_id: str) -> str:
    return f"receivable:{driver_id}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a transaction: ``amount`` > 0 debits the account, < 0 credits it."""

    account: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Movement:
    """A transaction before it is stored: checked when made (balanced, amounts in the
    currency's digits, no zero postings, lengths that fit the columns)."""

    key: str
    kind: TransactionKind
    currency: str
    postings: tuple[Posting, ...]
    driver_id: str | None = None
    session_id: int | None = None
    reference: str | None = None
    memo: str | None = None

    def __post_init__(self) -> None:
        check_key(self.key)
        _check_currency(self.currency)
        if self.driver_id is not None and not 0 < len(self.driver_id) <= DRIVER_ID_MAX_LENGTH:
            raise LedgerError(f"driver_id must be 1-{DRIVER_ID_MAX_LENGTH} characters")
        if self.reference is not None and len(self.reference) > REFERENCE_MAX_LENGTH:
            raise LedgerError(f"reference must be at most {REFERENCE_MAX_LENGTH} characters")
        for posting in self.postings:
            _check_posting(posting)
        sums = sums_by_currency(self.postings)
        unbalanced = {c: s for c, s in sums.items() if s != 0}
        if unbalanced:
            listed = ", ".join(f"{c} sums to {s}" for c, s in sorted(unbalanced.items()))
            raise LedgerError(
                f"the postings of {self.key!r} do not balance ({listed}): debits must equal"
                " credits in each currency"
            )

    def same_money(self, other: Movement | LedgerTransaction) -> bool:
        """Whether ``other`` moves the same money (kind, driver, session and postings): a replay
        of this movement, as opposed to a different one that reuses its key."""
        return (
            self.kind == other.kind
            and self.driver_id == other.driver_id
            and self.session_id == other.session_id
            and _multiset(self.postings) == _multiset(other.postings)
        )


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """A stored transaction: a :class:`Movement` with its id (ascending in booking order) and
    the time it was booked (aware UTC)."""

    id: int
    key: str
    kind: TransactionKind
    at: datetime
    currency: str
    driver_id: str | None = None
    session_id: int | None = None
    reference: str | None = None
    memo: str | None = None
    postings: tuple[Posting, ...] = ()

    def change_of(self, account: str, currency: str | None = None) -> Decimal:
        """What this transaction adds to ``account``'s sum (0 when it does not touch it)."""
        return sum(
            (
                p.amount
                for p in self.postings
                if p.account == account and (currency is None or p.currency == currency)
            ),
            ZERO,
        )

    def touches(self, account: str) -> bool:
        return any(p.account == account for p in self.postings)


def stored(movement: Movement, *, id: int, at: datetime) -> LedgerTransaction:
    return LedgerTransaction(
        id=id,
        key=movement.key,
        kind=movement.kind,
        at=at,
        currency=movement.currency,
        driver_id=movement.driver_id,
        session_id=movement.session_id,
        reference=movement.reference,
        memo=movement.memo,
        postings=movement.postings,
    )


# -- checks and sums --------------------------------------------------------------------------


def check_key(key: str) -> None:
    if not key or not key.strip():
        raise LedgerError("a ledger key must not be empty")
    if len(key) > KEY_MAX_LENGTH:
        raise LedgerError(f"a ledger key must be at most {KEY_MAX_LENGTH} characters")


def _check_currency(currency: str) -> None:
    if (
        len(currency) != 3
        or not currency.isascii()
        or not currency.isalpha()
        or not currency.isupper()
    ):
        raise LedgerError(f"currency {currency!r} is not an ISO 4217 code such as 'EUR'")


def is_rounded(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` is finite and has no more digits than the currency's minor unit."""
    if not amount.is_finite():
        return False
    scaled = amount.scaleb(minor_units(currency))
    return scaled == scaled.to_integral_value()


def _check_posting(posting: Posting) -> None:
    if not posting.account or len(posting.account) > ACCOUNT_MAX_LENGTH:
        raise LedgerError(f"an account name must be 1-{ACCOUNT_MAX_LENGTH} characters")
    _check_currency(posting.currency)
    if not is_rounded(posting.amount, posting.currency):
        raise LedgerError(
            f"{posting.amount} {posting.currency} on {posting.account} has more digits than"
            " the currency's minor unit"
        )
    if posting.amount == 0:
        raise LedgerError(f"a posting of 0 to {posting.account}: leave it out")


def _multiset(postings: Iterable[Posting]) -> list[tuple[str, Decimal, str]]:
    return sorted((p.account, p.amount, p.currency) for p in postings)


def sums_by_currency(postings: Iterable[Posting]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for posting in postings:
        sums[posting.currency] = sums.get(posting.currency, ZERO) + posting.amount
    return sums


def balances(
    transactions: Iterable[LedgerTransaction | Movement],
) -> dict[tuple[str, str], Decimal]:
    """(account, currency) -> the sum of its postings (debits positive): the trial balance."""
    found: dict[tuple[str, str], Decimal] = {}
    for transaction in transactions:
        for p in transaction.postings:
            found[(p.account, p.currency)] = found.get((p.account, p.currency), ZERO) + p.amount
    return found


def wallet_balance(account_sum: Decimal) -> Decimal:
    """The driver's wallet balance from the sum of ``wallet:{driver}`` (a liability: credits
    are what the driver has)."""
    return -account_sum


def _postings(currency: str, *pairs: tuple[str, Decimal]) -> tuple[Posting, ...]:
    """Postings of the non-zero amounts, in the given order."""
    return tuple(Posting(account, amount, currency) for account, amount in pairs if amount != 0)


def _positive(amount: Decimal, what: str) -> None:
    if not amount.is_finite() or amount <= 0:
        raise LedgerError(f"{what} must be more than 0 (got {amount})")


def _not_negative(amount: Decimal, what: str) -> None:
    if not amount.is_finite() or amount < 0:
        raise LedgerError(f"{what} must not be negative (got {amount}); book a reversal instead")


def _source(sources: Mapping[str, str], source: str, what: str) -> str:
    try:
        return sources[source]
    except KeyError:
        raise LedgerError(
            f"{what} source must be one of {', '.join(sources)} (got {source!r})"
        ) from None


# -- the business movements -------------------------------------------------------------------


def top_up_movement(
    driver_id: str,
    amount: Decimal,
    currency: str,
    *,
    key: str,
    source: str = "manual",
    reference: str | None = None,
    memo: str | None = None,
) -> Movement:
    """Money into a wallet: debit ``cash:{source}``, credit ``wallet:{driver}``."""
    _positive(amount, "a top-up amount")
    cash = _source(TOP_UP_SOURCES, source, "a top-up")
    return Movement(
        key=key,
        kind=TransactionKind.TOP_UP,
        currency=currency,
        postings=_postings(currency, (cash, amount), (wallet_account(driver_id), -amount)),
        driver_id=driver_id,
        reference=reference,
        memo=memo,
    )


def _session_movement(
    charge: SessionCharge,
    driver_id: str,
    *,
    kind: TransactionKind,
    key: str,
    debit: str,
    reference: str | None = None,
) -> Movement:
    excl, vat = charge.total_excl_vat, charge.total_vat
    _not_negative(excl, f"session {charge.session_id}'s total excl. VAT")
    _not_negative(vat, f"session {charge.session_id}'s VAT")
    currency = charge.currency
    return Movement(
        key=key,
        kind=kind,
        currency=currency,
        postings=_postings(
            currency, (debit, excl + vat), (REVENUE_CHARGING, -excl), (VAT_PAYABLE, -vat)
        ),
        driver_id=driver_id,
        session_id=charge.session_id,
        reference=reference,
    )


def session_charge_movement(charge: SessionCharge, driver_id: str) -> Movement:
    """A session paid from the wallet: debit the wallet by the total incl. VAT, credit revenue
    (excl. VAT) and VAT payable. It may take the wallet below zero: the energy was delivered."""
    return _session_movement(
        charge,
        driver_id,
        kind=TransactionKind.SESSION_CHARGE,
        key=f"session:{charge.session_id}:wallet",
        debit=wallet_account(driver_id),
    )


def card_payment_movement(charge: SessionCharge, driver_id: str, payment_ref: str) -> Movement:
    """A session paid by card: debit ``cash:card``, credit revenue and VAT."""
    return _session_movement(
        charge,
        driver_id,
        kind=TransactionKind.CARD_PAYMENT,
        key=f"session:{charge.session_id}:card",
        debit=CASH_CARD,
        reference=payment_ref,
    )


def receivable_movement(charge: SessionCharge, driver_id: str) -> Movement:
    """A postpaid session: debit ``receivable:{driver}`` (owed), credit revenue and VAT."""
    return _session_movement(
        charge,
        driver_id,
        kind=TransactionKind.RECEIVABLE,
        key=f"session:{charge.session_id}:postpaid",
        debit=receivable_account(driver_id),
    )


def fee_movement(
    driver_id: str,
    *,
    key: str,
    excl: Decimal,
    vat: Decimal,
    currency: str,
    source: str,
    reference: str | None = None,
    memo: str | None = None,
) -> Movement:
    """A subscription fee: debit the wallet, ``cash:card`` or the receivable (by ``source``:
    wallet | card | postpaid), credit ``revenue:subscriptions`` and VAT."""
    _not_negative(excl, "a fee excl. VAT")
    _not_negative(vat, "a fee's VAT")
    debits = {
        "wallet": wallet_account(driver_id),
        "card": CASH_CARD,
        "postpaid": receivable_account(driver_id),
    }
    debit = _source(debits, source, "a fee")
    return Movement(
        key=key,
        kind=TransactionKind.SUBSCRIPTION_FEE,
        currency=currency,
        postings=_postings(
            currency, (debit, excl + vat), (REVENUE_SUBSCRIPTIONS, -excl), (VAT_PAYABLE, -vat)
        ),
        driver_id=driver_id,
        reference=reference,
        memo=memo,
    )


def settlement_movement(
    driver_id: str,
    amount: Decimal,
    currency: str,
    *,
    key: str,
    source: str,
    reference: str | None = None,
) -> Movement:
    """A postpaid driver paid: debit ``cash:{source}`` (card | manual), credit the receivable."""
    _positive(amount, "a settled amount")
    cash = _source(SETTLEMENT_SOURCES, source, "a settlement")
    return Movement(
        key=key,
        kind=TransactionKind.RECEIVABLE_SETTLED,
        currency=currency,
        postings=_postings(currency, (cash, amount), (receivable_account(driver_id), -amount)),
        driver_id=driver_id,
        reference=reference,
    )


def reversal_movement(
    original: LedgerTransaction, *, key: str, memo: str | None = None
) -> Movement:
    """The opposite postings of ``original`` (a refund, a credit note), for the same driver and
    session; its reference is the original's key."""
    return Movement(
        key=key,
        kind=TransactionKind.REVERSAL,
        currency=original.currency,
        postings=tuple(Posting(p.account, -p.amount, p.currency) for p in original.postings),
        driver_id=original.driver_id,
        session_id=original.session_id,
        reference=original.key,
        memo=memo,
    )


# -- a journal --------------------------------------------------------------------------------


@dataclass
class Journal:
    """Transactions in booking order, at most one per key: what a ledger stores. The in-memory
    ledger repository is one; the tests replay movements on it."""

    transactions: list[LedgerTransaction] = field(default_factory=list)
    by_key: dict[str, LedgerTransaction] = field(default_factory=dict)

    def record(self, movement: Movement, at: datetime) -> tuple[LedgerTransaction, bool]:
        """Store ``movement`` unless its key is taken: (the stored transaction, created)."""
        existing = self.by_key.get(movement.key)
        if existing is not None:
            return existing, False
        transaction = stored(movement, id=len(self.transactions) + 1, at=at)
        self.transactions.append(transaction)
        self.by_key[movement.key] = transaction
        return transaction, True

    def balance(self, account: str, currency: str) -> Decimal:
        return sum((t.change_of(account, currency) for t in self.transactions), ZERO)

    def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        return balances(self.transactions)
