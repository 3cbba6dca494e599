"""Whether a driver may start: the payment gate that Charging asks for an accepted token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from evcms.domain.billing import PaymentMode
from evcms.domain.tokens import AuthorizationStatus, IdToken, TokenType
from evcms.services.billing import BillingPolicy, BillingProfile, DeclinePolicy, PaymentAdmission


@dataclass
class Payment:
    status: str
    error: str | None = None


class Wallets:
    def __init__(self, balance: str) -> None:
        self.value = Decimal(balance)

    async def balance(self, driver_id: str) -> Decimal:
        return self.value


class Cards:
    def __init__(self, *, method: bool, outcome: str = "authorized", error: str | None = None) -> None:
        self.method, self.outcome, self.error = method, outcome, error
        self.preauthorized: list[tuple[str, int, Decimal]] = []

    async def default_method(self, driver_id: str) -> object | None:
        return object() if self.method else None

    async def preauthorize_session(self, driver_id: str, session_id: int, amount: Decimal) -> Payment:
        self.preauthorized.append((driver_id, session_id, amount))
        return Payment(self.outcome, self.error)


def gate(mode: PaymentMode, *, wallet: str = "0", cards: Cards | None = None,
         decline: DeclinePolicy = DeclinePolicy.REFUSE) -> PaymentAdmission:
    async def profile(driver_id: str) -> BillingProfile:
        return BillingProfile(driver_id=driver_id, mode=mode, language="en")

    return PaymentAdmission(
        profiles=profile,
        wallets=Wallets(wallet),
        cards=cards,
        policy=BillingPolicy(wallet_min_balance=Decimal("5.00"), card_preauth_amount=Decimal("40.00"), decline=decline),
    )


T0 = datetime(2026, 11, 24, tzinfo=UTC)
TOKEN = IdToken(id="CARD-1", type=TokenType.ISO14443, created_at=T0, driver_id="d1")


@pytest.mark.parametrize(
    ("balance", "allowed"), [("4.99", False), ("5.00", True), ("120.00", True), ("-3.00", False)]
)
async def test_a_wallet_needs_the_minimum_balance(balance, allowed):
    verdict = await gate(PaymentMode.WALLET, wallet=balance).admit(TOKEN, station_id=None, session_id=None)
    if allowed:
        assert verdict is None
    else:
        assert verdict is not None and verdict.status is AuthorizationStatus.NO_CREDIT
        assert f"balance is {balance}" in verdict.reason and "top up" in verdict.reason


async def test_a_card_driver_needs_a_card_on_file():
    verdict = await gate(PaymentMode.CARD, cards=Cards(method=False)).admit(TOKEN, station_id=None, session_id=None)
    assert verdict.status is AuthorizationStatus.NO_CREDIT and "no card on file" in verdict.reason


async def test_a_card_is_pre_authorised_when_the_session_starts_not_at_authorize():
    cards = Cards(method=True)
    admission = gate(PaymentMode.CARD, cards=cards)
    assert await admission.admit(TOKEN, station_id=None, session_id=None) is None
    assert cards.preauthorized == []
    assert await admission.admit(TOKEN, station_id=None, session_id=42) is None
    assert cards.preauthorized == [("d1", 42, Decimal("40.00"))]


async def test_a_declined_pre_authorisation_refuses_the_start():
    cards = Cards(method=True, outcome="declined", error="insufficient_funds")
    verdict = await gate(PaymentMode.CARD, cards=cards).admit(TOKEN, station_id=None, session_id=7)
    assert verdict.status is AuthorizationStatus.NO_CREDIT and "insufficient_funds" in verdict.reason


async def test_with_the_stop_policy_the_start_is_answered_without_waiting_for_the_card():
    cards = Cards(method=True, outcome="declined")
    admission = gate(PaymentMode.CARD, cards=cards, decline=DeclinePolicy.STOP)
    assert await admission.admit(TOKEN, station_id=None, session_id=7) is None
    assert cards.preauthorized == []


async def test_postpaid_drivers_and_tokens_without_a_driver_always_may():
    assert await gate(PaymentMode.POSTPAID).admit(TOKEN, station_id=None, session_id=1) is None
    nobody = IdToken(id="FLEET-1", type=TokenType.ISO14443, created_at=T0)
    assert await gate(PaymentMode.WALLET).admit(nobody, station_id=None, session_id=None) is None
