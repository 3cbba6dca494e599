"""Prepaid wallets: ``/wallets/{driver_id}`` and the trial balance (operators), ``/me/wallet``
(drivers). Amounts are JSON strings with the currency's digits ("12.30"), never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from evcms.domain.access import ApiKey, Role
from evcms.domain.ledger import (
    LedgerTransaction,
    receivable_account,
    wallet_account,
)
from evcms.domain.tariffs import minor_units
from evcms.services.wallets import MAX_STATEMENT, Wallets
from evcms.web.auth import BillingManager, Reader, current_key
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut

IDEMPOTENCY_KEY_MAX_LENGTH = 100
LATEST_ENTRIES = 20
MEMO_MAX_LENGTH = 500
REFERENCE_MAX_LENGTH = 120

router = APIRouter(
    tags=["wallets"],
    responses={503: {"model": ErrorOut, "description": "Wallets are not enabled on this server"}},
)
me_router = APIRouter(prefix="/me/wallet", tags=["driver wallet"])

_NO_DRIVER: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such driver"}
}


def wallets_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Wallets:
    """The wallets service; 503 when this evcms runs without it."""
    if deps.wallets is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "wallets are not enabled on this server"
        )
    wallets: Wallets = deps.wallets
    return wallets


WalletService = Annotated[Wallets, Depends(wallets_service)]
Deps = Annotated[WebDeps, Depends(web_deps)]


async def require_admin(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """The whole books are for admins only; 403 for other roles."""
    if key.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key {key.name!r} has role {key.role.value!r}; the trial balance needs an"
            " admin key",
        )
    return key


Admin = Annotated[ApiKey, Depends(require_admin)]


async def _known_driver(deps: WebDeps, driver_id: str) -> None:
    """404 for a driver id no account has (when driver accounts run here): money booked to a
    mistyped id would be lost in a wallet nobody owns."""
    if deps.drivers is not None and await deps.drivers.driver(driver_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"driver {driver_id!r} does not exist")


def money(amount: Decimal, currency: str) -> str:
    """An amount as JSON text with the currency's digits: Decimal('12.3') EUR -> "12.30"."""
    return str(amount.quantize(Decimal(1).scaleb(-minor_units(currency))))


# -- bodies -----------------------------------------------------------------------------------


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(
        gt=0,
        le=10_000,
        description='More than 0, at most 10000, at most the currency\'s decimals: "20.00"'
        " (a string, or a JSON number)",
        examples=["20.00"],
    )
    memo: str | None = Field(None, max_length=MEMO_MAX_LENGTH, description="e.g. 'cash at desk'")
    reference: str | None = Field(
        None, max_length=REFERENCE_MAX_LENGTH, description="e.g. a bank transfer's reference"
    )


class PostingOut(BaseModel):
    account: str
    amount: str = Field(description="Debit > 0, credit < 0")
    currency: str


class DriverEntryOut(BaseModel):
    """One transaction as the driver sees it: what it did to the wallet and to what is owed."""

    id: int
    kind: str = Field(
        description="top_up, session_charge, card_payment, receivable, subscription_fee,"
        " receivable_settled or reversal"
    )
    at: datetime
    currency: str
    session_id: int | None
    reference: str | None
    memo: str | None
    wallet_change: str | None = Field(
        description="What it added to the wallet balance (negative: taken); null: untouched"
    )
    owed_change: str | None = Field(
        description="What it added to what the driver owes (postpaid); null: untouched"
    )

    @classmethod
    def fields_of(cls, transaction: LedgerTransaction, driver_id: str) -> dict[str, Any]:
        currency = transaction.currency
        wallet, owed = wallet_account(driver_id), receivable_account(driver_id)
        return {
            "id": transaction.id,
            "kind": transaction.kind.value,
            "at": transaction.at,
            "currency": currency,
            "session_id": transaction.session_id,
            "reference": transaction.reference,
            "memo": transaction.memo,
            "wallet_change": (
                money(-transaction.change_of(wallet), currency)
                if transaction.touches(wallet)
                else None
            ),
            "owed_change": (
                money(transaction.change_of(owed), currency) if transaction.touches(owed) else None
            ),
        }

    @classmethod
    def of(cls, transaction: LedgerTransaction, driver_id: str) -> DriverEntryOut:
        return cls(**cls.fields_of(transaction, driver_id))


class EntryOut(DriverEntryOut):
    """A transaction with its idempotency key and all its postings (operators)."""

    key: str
    postings: list[PostingOut]

    @classmethod
    def of(cls, transaction: LedgerTransaction, driver_id: str) -> EntryOut:
        return cls(
            **cls.fields_of(transaction, driver_id),
            key=transaction.key,
            postings=[
                PostingOut(
                    account=p.account, amount=money(p.amount, p.currency), currency=p.currency
                )
                for p in transaction.postings
            ],
        )


class WalletOut(BaseModel):
    driver_id: str
    currency: str
    balance: str = Field(description="Negative when a session overdrew the wallet")
    entries: list[EntryOut] = Field(description=f"The latest {LATEST_ENTRIES}, newest first")


class EntryList(BaseModel):
    entries: list[EntryOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page")


class TopUpOut(BaseModel):
    driver_id: str
    currency: str
    balance: str
    entry: EntryOut


class TrialBalanceRow(BaseModel):
    account: str
    currency: str
    balance: str = Field(description="Sum of the postings: debit > 0, credit < 0")


class TrialBalanceOut(BaseModel):
    rows: list[TrialBalanceRow] = Field(description="Every account not at zero")
    totals: dict[str, str] = Field(description="Per currency; always 0 in balanced books")


class MyWalletOut(BaseModel):
    currency: str
    balance: str


class MyEntryList(BaseModel):
    entries: list[DriverEntryOut]
    next_before_id: int | None


def _next(entries: list[LedgerTransaction], limit: int) -> int | None:
    return entries[-1].id if len(entries) == limit else None


_Limit = Query(ge=1, le=MAX_STATEMENT, description=f"1-{MAX_STATEMENT}")
_BeforeId = Query(ge=1, description="Only entries with a smaller id (the next page)")


# -- operators --------------------------------------------------------------------------------


@router.get("/wallets/{driver_id}", responses=_NO_DRIVER)
async def get_wallet(driver_id: str, wallets: WalletService, deps: Deps, _: Reader) -> WalletOut:
    """A driver's wallet balance and its latest entries."""
    await _known_driver(deps, driver_id)
    balance = await wallets.balance(driver_id)
    entries = await wallets.statement(driver_id, limit=LATEST_ENTRIES)
    return WalletOut(
        driver_id=driver_id,
        currency=wallets.currency,
        balance=money(balance, wallets.currency),
        entries=[EntryOut.of(t, driver_id) for t in entries],
    )


@router.get("/wallets/{driver_id}/entries", responses=_NO_DRIVER)
async def wallet_entries(
    driver_id: str,
    wallets: WalletService,
    deps: Deps,
    _: Reader,
    limit: Annotated[int, _Limit] = 100,
    before_id: Annotated[int | None, _BeforeId] = None,
) -> EntryList:
    """The transactions on a driver's wallet or receivable, newest first."""
    await _known_driver(deps, driver_id)
    entries = await wallets.statement(driver_id, limit=limit, before_id=before_id)
    return EntryList(
        entries=[EntryOut.of(t, driver_id) for t in entries], next_before_id=_next(entries, limit)
    )


@router.post(
    "/wallets/{driver_id}/top-ups",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_NO_DRIVER,
        400: {"model": ErrorOut, "description": "No (or a too long) Idempotency-Key header"},
        409: {"model": ErrorOut, "description": "The Idempotency-Key was used for other money"},
        422: {"model": ErrorOut, "description": "A bad amount; says what to fix"},
    },
)
async def top_up(
    driver_id: str,
    body: TopUpIn,
    wallets: WalletService,
    deps: Deps,
    key: BillingManager,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Required: a unique string per top-up; sending it again (a retry)"
            " books nothing more and answers the same",
        ),
    ] = None,
) -> TopUpOut:
    """Book money a driver paid by hand (cash, bank transfer) into the wallet."""
    if idempotency_key is None or not idempotency_key.strip():
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "the Idempotency-Key header is required: send a unique value per top-up (e.g. a"
            " UUID) so that a retry does not book the money twice",
        )
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"the Idempotency-Key header may be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
        )
    await _known_driver(deps, driver_id)
    memo = body.memo if body.memo is not None else f"booked by {key.name}"
    entry = await wallets.top_up(
        driver_id,
        body.amount,
        key=f"top_up:manual:{driver_id}:{idempotency_key}",
        source="manual",
        reference=body.reference,
        memo=memo,
    )
    balance = await wallets.balance(driver_id)
    return TopUpOut(
        driver_id=driver_id,
        currency=wallets.currency,
        balance=money(balance, wallets.currency),
        entry=EntryOut.of(entry, driver_id),
    )


@router.get("/ledger/trial-balance")
async def trial_balance(wallets: WalletService, _: Admin) -> TrialBalanceOut:
    """The sum of every account's postings; each currency's sums add up to 0."""
    found = await wallets.trial_balance()
    totals: dict[str, Decimal] = {}
    for (_account, currency), amount in found.items():
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return TrialBalanceOut(
        rows=[
            TrialBalanceRow(account=account, currency=currency, balance=money(amount, currency))
            for (account, currency), amount in found.items()
        ],
        totals={c: money(t, c) for c, t in sorted(totals.items())},
    )


# -- drivers ----------------------------------------------------------------------------------


@me_router.get("")
async def my_wallet(wallets: WalletService, session: CurrentDriver) -> MyWalletOut:
    """Your wallet balance."""
    balance = await wallets.balance(session.driver.id)
    return MyWalletOut(currency=wallets.currency, balance=money(balance, wallets.currency))


@me_router.get("/entries")
async def my_wallet_entries(
    wallets: WalletService,
    session: CurrentDriver,
    limit: Annotated[int, _Limit] = 100,
    before_id: Annotated[int | None, _BeforeId] = None,
) -> MyEntryList:
    """What went into and out of your wallet (and what you owe, when you pay later), newest
    first."""
    driver_id = session.driver.id
    entries = await wallets.statement(driver_id, limit=limit, before_id=before_id)
    return MyEntryList(
        entries=[DriverEntryOut.of(t, driver_id) for t in entries],
        next_before_id=_next(entries, limit),
    )
