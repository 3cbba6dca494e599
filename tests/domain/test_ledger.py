"""The ledger's rules: balanced transactions, the postings of each money movement, balances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.ledger import (
    CASH_CARD,
    CASH_MANUAL,
    REVENUE_CHARGING,
    REVENUE_SUBSCRIPTIONS,
    VAT_PAYABLE,
    Journal,
    LedgerError,
    Movement,
    Posting,
    TransactionKind,
    balances,
    card_payment_movement,
    fee_movement,
    receivable_account,
    receivable_movement,
    reversal_movement,
    session_charge_movement,
    settlement_movement,
    stored,
    top_up_movement,
    wallet_account,
    wallet_balance,
)

D = Decimal
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def charge(session_id: int, excl: str, vat: str, currency: str = "EUR") -> SessionCharge:
    lines = (ChargeLine(LineKind.ENERGY, D("10"), D(excl), D(vat), None),)
    return SessionCharge(session_id, currency, lines)


def postings(movement: Movement) -> list[tuple[str, Decimal]]:
    return [(p.account, p.amount) for p in movement.postings]


MOVEMENTS: list[tuple[str, Callable[[], Movement], TransactionKind, str, list[tuple[str, str]]]] = [
    (
        "manual top-up",
        lambda: top_up_movement("d1", D("20.00"), "EUR", key="t1"),
        TransactionKind.TOP_UP,
        "t1",
        [(CASH_MANUAL, "20.00"), ("wallet:d1", "-20.00")],
    ),
    (
        "card top-up",
        lambda: top_up_movement("d1", D("5"), "EUR", key="t2", source="card"),
        TransactionKind.TOP_UP,
        "t2",
        [(CASH_CARD, "5"), ("wallet:d1", "-5")],
    ),
    (
        "session from the wallet",
        lambda: session_charge_movement(charge(42, "10.00", "2.00"), "d1"),
        TransactionKind.SESSION_CHARGE,
        "session:42:wallet",
        [("wallet:d1", "12.00"), (REVENUE_CHARGING, "-10.00"), (VAT_PAYABLE, "-2.00")],
    ),
    (
        "session by card",
        lambda: card_payment_movement(charge(43, "10.00", "2.00"), "d1", "pi_1"),
        TransactionKind.CARD_PAYMENT,
        "session:43:card",
        [(CASH_CARD, "12.00"), (REVENUE_CHARGING, "-10.00"), (VAT_PAYABLE, "-2.00")],
    ),
    (
        "postpaid session",
        lambda: receivable_movement(charge(44, "10.00", "0.00"), "d2"),
        TransactionKind.RECEIVABLE,
        "session:44:postpaid",
        [("receivable:d2", "10.00"), (REVENUE_CHARGING, "-10.00")],  # no VAT posting of 0
    ),
    (
        "fee from the wallet",
        lambda: fee_movement(
            "d1", key="f1", excl=D("9.00"), vat=D("1.80"), currency="EUR", source="wallet"
        ),
        TransactionKind.SUBSCRIPTION_FEE,
        "f1",
        [("wallet:d1", "10.80"), (REVENUE_SUBSCRIPTIONS, "-9.00"), (VAT_PAYABLE, "-1.80")],
    ),
    (
        "fee by card",
        lambda: fee_movement(
            "d1", key="f2", excl=D("9.00"), vat=D("1.80"), currency="EUR", source="card"
        ),
        TransactionKind.SUBSCRIPTION_FEE,
        "f2",
        [(CASH_CARD, "10.80"), (REVENUE_SUBSCRIPTIONS, "-9.00"), (VAT_PAYABLE, "-1.80")],
    ),
    (
        "fee owed",
        lambda: fee_movement(
            "d2", key="f3", excl=D("9.00"), vat=D("1.80"), currency="EUR", source="postpaid"
        ),
        TransactionKind.SUBSCRIPTION_FEE,
        "f3",
        [("receivable:d2", "10.80"), (REVENUE_SUBSCRIPTIONS, "-9.00"), (VAT_PAYABLE, "-1.80")],
    ),
    (
        "postpaid driver pays by transfer",
        lambda: settlement_movement("d2", D("10.00"), "EUR", key="s1", source="manual"),
        TransactionKind.RECEIVABLE_SETTLED,
        "s1",
        [(CASH_MANUAL, "10.00"), ("receivable:d2", "-10.00")],
    ),
    (
        "yen have no cents",
        lambda: top_up_movement("d3", D("500"), "JPY", key="t3"),
        TransactionKind.TOP_UP,
        "t3",
        [(CASH_MANUAL, "500"), ("wallet:d3", "-500")],
    ),
]


@pytest.mark.parametrize(
    ("build", "kind", "key", "expected"),
    [pytest.param(b, k, key, e, id=name) for name, b, k, key, e in MOVEMENTS],
)
def test_each_movement_books_balanced_postings(
    build: Callable[[], Movement], kind: TransactionKind, key: str, expected: list[tuple[str, str]]
) -> None:
    movement = build()
    assert (movement.kind, movement.key) == (kind, key)
    assert postings(movement) == [(a, D(x)) for a, x in expected]
    assert sum(p.amount for p in movement.postings) == 0


def test_session_movements_name_driver_session_and_payment() -> None:
    card = card_payment_movement(charge(43, "1.00", "0.20"), "d1", "pi_1")
    assert (card.driver_id, card.session_id, card.reference) == ("d1", 43, "pi_1")


def test_a_free_session_books_no_postings() -> None:
    free = session_charge_movement(SessionCharge(7, "EUR", ()), "d1")
    assert free.postings == ()
    assert free.key == "session:7:wallet"


def test_a_top_up_leaves_the_wallet_balance_positive() -> None:
    journal = Journal()
    journal.record(top_up_movement("d1", D("20.00"), "EUR", key="t"), T0)
    journal.record(session_charge_movement(charge(1, "5.00", "1.00"), "d1"), T0)
    assert wallet_balance(journal.balance(wallet_account("d1"), "EUR")) == D("14.00")
    assert journal.balance(CASH_MANUAL, "EUR") == D("20.00")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Movement("k", TransactionKind.TOP_UP, "EUR", (Posting("a", D("1"), "EUR"),)),
            "do not balance (EUR sums to 1)",
        ),
        (
            lambda: Movement(
                "k",
                TransactionKind.TOP_UP,
                "EUR",
                (Posting("a", D("1"), "EUR"), Posting("b", D("-1"), "BGN")),
            ),
            "BGN sums to -1, EUR sums to 1",
        ),
        (
            lambda: Movement(
                "k",
                TransactionKind.TOP_UP,
                "EUR",
                (Posting("a", D("0.001"), "EUR"), Posting("b", D("-0.001"), "EUR")),
            ),
            "more digits than the currency's minor unit",
        ),
        (
            lambda: Movement(
                "k",
                TransactionKind.TOP_UP,
                "EUR",
                (Posting("a", D("0"), "EUR"), Posting("b", D("0"), "EUR")),
            ),
            "a posting of 0 to a",
        ),
        (lambda: Movement("", TransactionKind.TOP_UP, "EUR", ()), "key must not be empty"),
        (lambda: Movement("k" * 161, TransactionKind.TOP_UP, "EUR", ()), "at most 160"),
        (lambda: Movement("k", TransactionKind.TOP_UP, "euro", ()), "not an ISO 4217 code"),
        (lambda: top_up_movement("d", D("0"), "EUR", key="k"), "must be more than 0"),
        (lambda: top_up_movement("d", D("-5"), "EUR", key="k"), "must be more than 0"),
        (lambda: top_up_movement("d", D("5"), "EUR", key="k", source="bitcoin"), "manual, card"),
        (lambda: top_up_movement("d", D("5.001"), "EUR", key="k"), "more digits"),
        (lambda: top_up_movement("d", D("1.5"), "JPY", key="k"), "more digits"),
        (lambda: session_charge_movement(charge(1, "-1.00", "0"), "d"), "must not be negative"),
        (
            lambda: fee_movement(
                "d", key="k", excl=D("1"), vat=D("0"), currency="EUR", source="cash"
            ),
            "wallet, card, postpaid",
        ),
        (
            lambda: settlement_movement("d", D("1"), "EUR", key="k", source="wallet"),
            "manual, card",
        ),
        (lambda: top_up_movement("d" * 37, D("1"), "EUR", key="k"), "driver_id must be 1-36"),
    ],
)
def test_bad_movements_are_refused_with_what_to_fix(
    make: Callable[[], Movement], message: str
) -> None:
    with pytest.raises(LedgerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_a_reversal_undoes_the_original() -> None:
    original = stored(session_charge_movement(charge(9, "10.00", "2.00"), "d1"), id=1, at=T0)
    reversal = reversal_movement(original, key="refund:9", memo="broken connector")
    assert reversal.kind is TransactionKind.REVERSAL
    assert (reversal.driver_id, reversal.session_id) == ("d1", 9)
    assert reversal.reference == "session:9:wallet"
    assert postings(reversal) == [
        ("wallet:d1", D("-12.00")),
        (REVENUE_CHARGING, D("10.00")),
        (VAT_PAYABLE, D("2.00")),
    ]
    assert balances([original, reversal]) == {
        ("wallet:d1", "EUR"): 0,
        (REVENUE_CHARGING, "EUR"): 0,
        (VAT_PAYABLE, "EUR"): 0,
    }


def test_same_money_tells_a_replay_from_a_reused_key() -> None:
    first = top_up_movement("d1", D("20.00"), "EUR", key="k", memo="cash")
    assert first.same_money(top_up_movement("d1", D("20.0"), "EUR", key="k", memo="other memo"))
    assert not first.same_money(top_up_movement("d1", D("25.00"), "EUR", key="k"))
    assert not first.same_money(top_up_movement("d2", D("20.00"), "EUR", key="k"))
    assert not first.same_money(top_up_movement("d1", D("20.00"), "EUR", key="k", source="card"))


def test_the_journal_stores_each_key_once() -> None:
    journal = Journal()
    first, created = journal.record(top_up_movement("d1", D("20"), "EUR", key="k"), T0)
    again, created_again = journal.record(top_up_movement("d1", D("99"), "EUR", key="k"), T0)
    assert (created, created_again) == (True, False)
    assert again == first
    assert wallet_balance(journal.balance("wallet:d1", "EUR")) == D("20")
    assert len(journal.transactions) == 1


# -- properties -------------------------------------------------------------------------------

DRIVERS = ("d1", "d2", "d3")
cents = st.integers(1, 500_000).map(lambda c: D(c).scaleb(-2))
vat_cents = st.integers(0, 100_000).map(lambda c: D(c).scaleb(-2))


@dataclass(frozen=True)
class Step:
    """One business movement, and what it should do to the driver's wallet and receivable."""

    movement: Movement
    wallet: Decimal  # change of the driver's wallet balance
    owed: Decimal  # change of what the driver owes


@st.composite
def steps(draw: Any) -> Step:
    driver = draw(st.sampled_from(DRIVERS))
    n = draw(st.integers(0, 5))  # a small pool of keys and sessions: replays happen
    what = draw(st.sampled_from(["top_up", "wallet", "card", "postpaid", "fee", "settle"]))
    if what == "top_up":
        amount = draw(cents)
        source = draw(st.sampled_from(["manual", "card"]))
        return Step(
            top_up_movement(driver, amount, "EUR", key=f"t{n}", source=source), amount, D(0)
        )
    if what in ("wallet", "card", "postpaid"):
        excl, vat = draw(vat_cents), draw(vat_cents)
        c = SessionCharge(n, "EUR", (ChargeLine(LineKind.ENERGY, D(1), excl, vat, None),))
        if what == "wallet":
            return Step(session_charge_movement(c, driver), -(excl + vat), D(0))
        if what == "card":
            return Step(card_payment_movement(c, driver, f"pi_{n}"), D(0), D(0))
        return Step(receivable_movement(c, driver), D(0), excl + vat)
    if what == "fee":
        excl, vat = draw(vat_cents), draw(vat_cents)
        source = draw(st.sampled_from(["wallet", "card", "postpaid"]))
        movement = fee_movement(
            driver, key=f"f{n}", excl=excl, vat=vat, currency="EUR", source=source
        )
        total = excl + vat
        return Step(
            movement,
            -total if source == "wallet" else D(0),
            total if source == "postpaid" else D(0),
        )
    amount = draw(cents)
    source = draw(st.sampled_from(["manual", "card"]))
    return Step(
        settlement_movement(driver, amount, "EUR", key=f"s{n}", source=source), D(0), -amount
    )


def _model(sequence: list[Step]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Wallet balances and debts by summing the movements, the first of each key only."""
    wallets = dict.fromkeys(DRIVERS, D(0))
    owed = dict.fromkeys(DRIVERS, D(0))
    seen: set[str] = set()
    for step in sequence:
        if step.movement.key in seen:
            continue
        seen.add(step.movement.key)
        assert step.movement.driver_id is not None
        wallets[step.movement.driver_id] += step.wallet
        owed[step.movement.driver_id] += step.owed
    return wallets, owed


@settings(max_examples=200, deadline=None)
@given(st.lists(steps(), max_size=40))
def test_any_sequence_keeps_the_books_balanced(sequence: list[Step]) -> None:
    journal = Journal()
    for step in sequence:
        journal.record(step.movement, T0)
    trial = journal.trial_balance()
    assert sum(trial.values()) == 0
    wallets, owed = _model(sequence)
    for driver in DRIVERS:
        assert wallet_balance(journal.balance(wallet_account(driver), "EUR")) == wallets[driver]
        assert journal.balance(receivable_account(driver), "EUR") == owed[driver]


@settings(max_examples=100, deadline=None)
@given(st.lists(steps(), max_size=30), st.randoms(use_true_random=False))
def test_replaying_movements_changes_nothing(sequence: list[Step], random: Any) -> None:
    journal = Journal()
    for step in sequence:
        journal.record(step.movement, T0)
    before = (list(journal.transactions), journal.trial_balance())
    replay = list(sequence)
    random.shuffle(replay)
    for step in replay:
        _, created = journal.record(step.movement, T0)
        assert not created
    assert (list(journal.transactions), journal.trial_balance()) == before


@settings(max_examples=100, deadline=None)
@given(st.lists(steps(), min_size=1, max_size=20))
def test_reversing_everything_brings_every_account_to_zero(sequence: list[Step]) -> None:
    journal = Journal()
    for step in sequence:
        journal.record(step.movement, T0)
    for transaction in list(journal.transactions):
        journal.record(reversal_movement(transaction, key=f"undo:{transaction.key}"), T0)
    assert all(v == 0 for v in journal.trial_balance().values())
