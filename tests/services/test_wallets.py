"""Wallets: top-ups, paying sessions and fees, what postpaid drivers owe, reversals, statements."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.ledger import (
    CASH_CARD,
    CASH_MANUAL,
    REVENUE_CHARGING,
    REVENUE_SUBSCRIPTIONS,
    VAT_PAYABLE,
    TransactionKind,
)
from evcms.services.clock import FixedClock
from evcms.services.ports import ServiceError
from evcms.services.wallets import Wallets
from evcms.storage.ledger import MemoryLedgerRepository

D = Decimal
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def wallets(clock: FixedClock) -> Wallets:
    return Wallets(ledger=MemoryLedgerRepository(), clock=clock)


def charge(session_id: int, excl: str, vat: str, currency: str = "EUR") -> SessionCharge:
    lines = (
        ChargeLine(LineKind.ENERGY, D("20"), D(excl), D(vat), D(20)),
        ChargeLine(LineKind.FLAT, D(1), D("0.00"), D("0.00"), D(20)),
    )
    return SessionCharge(session_id, currency, lines)


async def assert_balanced(wallets: Wallets) -> None:
    trial = await wallets.trial_balance()
    assert sum(trial.values()) == 0


async def test_a_new_wallet_is_empty(wallets: Wallets) -> None:
    assert await wallets.balance("d1") == D("0.00")
    assert str(await wallets.balance("d1")) == "0.00"
    assert await wallets.statement("d1") == []


async def test_top_ups_add_to_the_balance(wallets: Wallets, clock: FixedClock) -> None:
    first = await wallets.top_up("d1", D("20"), key="k1", memo="cash at desk")
    clock.advance(60)
    await wallets.top_up("d1", D("5.50"), key="k2", source="card", reference="pi_9")
    assert str(await wallets.balance("d1")) == "25.50"
    assert (first.kind, first.at, first.memo) == (TransactionKind.TOP_UP, T0, "cash at desk")
    assert await wallets.account_balance(CASH_MANUAL) == D("20.00")
    assert await wallets.account_balance(CASH_CARD) == D("5.50")
    assert await wallets.balance("d2") == 0
    await assert_balanced(wallets)


async def test_a_retried_top_up_books_once(wallets: Wallets) -> None:
    first = await wallets.top_up("d1", D("20.00"), key="k")
    again = await wallets.top_up("d1", D("20.00"), key="k")
    assert again == first
    assert await wallets.balance("d1") == D("20.00")


async def test_a_key_reused_for_other_money_is_refused(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("20.00"), key="k")
    with pytest.raises(ServiceError, match="already used for a different transaction") as error:
        await wallets.top_up("d1", D("30.00"), key="k")
    assert error.value.status == 409
    with pytest.raises(ServiceError):
        await wallets.top_up("d2", D("20.00"), key="k")
    assert await wallets.balance("d1") == D("20.00")
    assert await wallets.balance("d2") == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (D("0"), "more than 0"),
        (D("-1"), "more than 0"),
        (D("10000.01"), "at most 10000"),
        (D("1.005"), "more than 2 decimals"),
        (D("NaN"), "decimal number"),
    ],
)
async def test_bad_top_up_amounts_are_refused(
    wallets: Wallets, amount: Decimal, message: str
) -> None:
    with pytest.raises(ServiceError, match=message) as error:
        await wallets.top_up("d1", amount, key="k")
    assert error.value.status == 422
    assert await wallets.trial_balance() == {}


async def test_the_largest_top_up_is_accepted(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("10000"), key="k")
    assert await wallets.balance("d1") == D("10000.00")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"source": "crypto"}, "source must be one of manual, card"),
        ({"key": ""}, "key must not be empty"),
        ({"key": "k" * 161}, "at most 160"),
        ({"driver_id": "d" * 37}, "driver id must be 1-36"),
    ],
)
async def test_bad_top_up_requests_say_what_to_fix(
    wallets: Wallets, call: dict[str, str], message: str
) -> None:
    args = {"driver_id": "d1", "key": "k", **call}
    driver_id, key = args.pop("driver_id"), args.pop("key")
    with pytest.raises(ServiceError, match=message) as error:
        await wallets.top_up(driver_id, D("5"), key=key, **args)
    assert error.value.status == 422


async def test_a_session_is_paid_from_the_wallet(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("20.00"), key="k")
    paid = await wallets.charge_session(charge(42, "10.00", "2.00"), "d1")
    assert (paid.key, paid.kind, paid.session_id) == (
        "session:42:wallet",
        TransactionKind.SESSION_CHARGE,
        42,
    )
    assert await wallets.balance("d1") == D("8.00")
    assert await wallets.account_balance(REVENUE_CHARGING) == D("-10.00")
    assert await wallets.account_balance(VAT_PAYABLE) == D("-2.00")
    # billing retries after a crash: nothing more is taken
    assert await wallets.charge_session(charge(42, "10.00", "2.00"), "d1") == paid
    assert await wallets.balance("d1") == D("8.00")
    await assert_balanced(wallets)


async def test_a_session_may_overdraw_the_wallet(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("5.00"), key="k")
    await wallets.charge_session(charge(1, "10.00", "2.00"), "d1")
    assert str(await wallets.balance("d1")) == "-7.00"


async def test_a_free_session_changes_no_balance(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("5.00"), key="k")
    free = await wallets.charge_session(SessionCharge(3, "EUR", ()), "d1")
    assert free.postings == ()
    assert await wallets.balance("d1") == D("5.00")
    assert [t.key for t in await wallets.statement("d1")] == ["k"]


async def test_a_session_in_another_currency_is_not_taken_from_the_wallet(
    wallets: Wallets,
) -> None:
    with pytest.raises(ServiceError, match="wallets hold EUR; session 5 is in BGN") as error:
        await wallets.charge_session(charge(5, "1.00", "0.20", "BGN"), "d1")
    assert error.value.status == 409
    assert await wallets.trial_balance() == {}


async def test_card_and_postpaid_sessions_book_revenue(wallets: Wallets) -> None:
    card = await wallets.book_card_payment(charge(1, "10.00", "2.00"), "d1", "pi_1")
    owed = await wallets.book_receivable(charge(2, "5.00", "1.00"), "d2")
    assert (card.key, card.reference) == ("session:1:card", "pi_1")
    assert owed.key == "session:2:postpaid"
    assert await wallets.account_balance(CASH_CARD) == D("12.00")
    assert await wallets.owed("d2") == D("6.00")
    assert await wallets.balance("d1") == 0  # the card, not the wallet
    assert await wallets.account_balance(REVENUE_CHARGING) == D("-15.00")
    await assert_balanced(wallets)


async def test_a_postpaid_driver_settles_what_is_owed(wallets: Wallets) -> None:
    await wallets.book_receivable(charge(2, "50.00", "10.00"), "d2")
    await wallets.settle_receivable(
        "d2", D("40.00"), key="inv-1:paid", source="manual", reference="INV-1"
    )
    assert await wallets.owed("d2") == D("20.00")
    assert await wallets.account_balance(CASH_MANUAL) == D("40.00")
    assert [t.kind for t in await wallets.statement("d2")] == [
        TransactionKind.RECEIVABLE_SETTLED,
        TransactionKind.RECEIVABLE,
    ]
    with pytest.raises(ServiceError, match="more than 0"):
        await wallets.settle_receivable("d2", D("0"), key="x", source="card")
    with pytest.raises(ServiceError, match="source must be one of"):
        await wallets.settle_receivable("d2", D("1"), key="x", source="wallet")


@pytest.mark.parametrize(
    ("source", "wallet", "card", "owed"),
    [
        ("wallet", "-12.00", "0.00", "0.00"),
        ("card", "0.00", "12.00", "0.00"),
        ("postpaid", "0.00", "0.00", "12.00"),
    ],
)
async def test_a_subscription_fee_is_taken_from_its_source(
    wallets: Wallets, source: str, wallet: str, card: str, owed: str
) -> None:
    fee = await wallets.book_fee(
        "d1", key="sub:1:2026-03", excl=D("10.00"), vat=D("2.00"), currency="EUR", source=source
    )
    assert fee.kind is TransactionKind.SUBSCRIPTION_FEE
    assert str(await wallets.balance("d1")) == wallet
    assert str(await wallets.account_balance(CASH_CARD)) == card
    assert str(await wallets.owed("d1")) == owed
    assert await wallets.account_balance(REVENUE_SUBSCRIPTIONS) == D("-10.00")
    await assert_balanced(wallets)


async def test_bad_fees_are_refused(wallets: Wallets) -> None:
    with pytest.raises(ServiceError, match="more than 2 decimals"):
        await wallets.book_fee(
            "d1", key="f", excl=D("1.001"), vat=D(0), currency="EUR", source="card"
        )
    with pytest.raises(ServiceError, match="must not be negative"):
        await wallets.book_fee("d1", key="f", excl=D("-1"), vat=D(0), currency="EUR", source="card")
    with pytest.raises(ServiceError, match="wallets hold EUR"):
        await wallets.book_fee(
            "d1", key="f", excl=D("1"), vat=D(0), currency="USD", source="wallet"
        )
    assert await wallets.trial_balance() == {}


async def test_a_reversal_refunds_a_session(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("20.00"), key="k")
    await wallets.charge_session(charge(42, "10.00", "2.00"), "d1")
    refund = await wallets.reverse("session:42:wallet", new_key="credit-note:CN-1", memo="CN-1")
    assert (refund.kind, refund.reference, refund.session_id) == (
        TransactionKind.REVERSAL,
        "session:42:wallet",
        42,
    )
    assert await wallets.balance("d1") == D("20.00")
    assert await wallets.account_balance(REVENUE_CHARGING) == 0
    # a retry of the same refund books nothing more
    assert await wallets.reverse("session:42:wallet", new_key="credit-note:CN-1") == refund
    assert await wallets.balance("d1") == D("20.00")


async def test_a_transaction_is_reversed_at_most_once(wallets: Wallets) -> None:
    await wallets.charge_session(charge(42, "10.00", "2.00"), "d1")
    await wallets.reverse("session:42:wallet", new_key="refund-1")
    with pytest.raises(ServiceError, match="already reversed") as error:
        await wallets.reverse("session:42:wallet", new_key="refund-2")
    assert error.value.status == 409
    assert await wallets.balance("d1") == 0


async def test_reversing_an_unknown_key_is_not_found(wallets: Wallets) -> None:
    with pytest.raises(ServiceError, match="no ledger transaction has the key 'nope'") as error:
        await wallets.reverse("nope", new_key="undo")
    assert error.value.status == 404
    with pytest.raises(ServiceError, match="new_key must differ"):
        await wallets.reverse("nope", new_key="nope")


async def test_the_statement_shows_the_drivers_own_entries_newest_first(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("20.00"), key="a")
    await wallets.top_up("d2", D("20.00"), key="b")
    await wallets.charge_session(charge(1, "1.00", "0.20"), "d1")
    await wallets.book_receivable(charge(2, "1.00", "0.20"), "d1")
    await wallets.book_card_payment(charge(3, "1.00", "0.20"), "d1", "pi")  # not the wallet
    statement = await wallets.statement("d1")
    assert [t.key for t in statement] == ["session:2:postpaid", "session:1:wallet", "a"]
    older = await wallets.statement("d1", limit=1, before_id=statement[0].id)
    assert [t.key for t in older] == ["session:1:wallet"]
    with pytest.raises(ServiceError, match="limit must be 1-1000"):
        await wallets.statement("d1", limit=0)


async def test_the_trial_balance_has_every_account_and_sums_to_zero(wallets: Wallets) -> None:
    await wallets.top_up("d1", D("20.00"), key="a")
    await wallets.charge_session(charge(1, "10.00", "2.00"), "d1")
    assert await wallets.trial_balance() == {
        (CASH_MANUAL, "EUR"): D("20.00"),
        (REVENUE_CHARGING, "EUR"): D("-10.00"),
        (VAT_PAYABLE, "EUR"): D("-2.00"),
        ("wallet:d1", "EUR"): D("-8.00"),
    }


async def test_a_wallet_in_yen_has_no_cents(clock: FixedClock) -> None:
    wallets = Wallets(ledger=MemoryLedgerRepository(), clock=clock, currency="JPY")
    await wallets.top_up("d1", D("500"), key="k")
    assert str(await wallets.balance("d1")) == "500"
    with pytest.raises(ServiceError, match="more than 0 decimals for JPY"):
        await wallets.top_up("d1", D("1.5"), key="k2")
