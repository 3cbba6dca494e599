"""Paying for sessions end to end: real stations (the `ocpp` package) over real sockets, the
real Stripe client against a local HTTP fake of Stripe, SQLite and PostgreSQL.

One tariff for all: energy by time of day (0.30 EUR/kWh 08:00-20:00, else 0.20) plus an idle
fee (6.00 EUR per hour connected but not charging), 20 % VAT, in UTC. The session used by the
card and wallet stories runs 19:00-21:00: 5 kWh before 20:00, 10 kWh across 20:00 (half day,
half night, split at the boundary), then 30 idle minutes:
    energy 5 x 0.30 + 5 x 0.30 + 5 x 0.20 = 4.00, idle 0.5 h x 6.00 = 3.00 -> 7.00 + 1.40 VAT = 8.40
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from pypdf import PdfReader

from evcms.simulator.stripe_fake import StripeFake
from tests.end_to_end.conftest import database, running_evcms

SECRET_KEY = "sk_test_evcms_billing"
WEBHOOK_SECRET = "whsec_evcms_billing"

TARIFF = """{
  "country_code": "BG", "party_id": "EVC", "id": "DAY-NIGHT", "currency": "EUR",
  "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20.0, "step_size": 1}],
     "restrictions": {"start_time": "08:00", "end_time": "20:00"}},
    {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 20.0, "step_size": 1}]},
    {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 20.0, "step_size": 60}]}
  ],
  "last_updated": "2026-11-01T00:00:00Z"
}"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def billed(request: pytest.FixtureRequest, tmp_path: Any):
    """evcms with card payments through the Stripe fake, and the day/night + idle tariff."""
    fake = StripeFake(api_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET)
    base = await fake.start()
    try:
        async with database(request.param, tmp_path) as url, running_evcms(
            url,
            allow_unsecured_stations=True,
            stripe_secret_key=SECRET_KEY,
            stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=base,
        ) as h:
            fake.webhook_url = f"http://127.0.0.1:{h.node.http_port}/api/v1/payments/stripe/webhook"
            imported = await h.api.post(
                "/api/v1/tariffs", params={"time_zone": "UTC"}, content=TARIFF,
                headers={"Content-Type": "application/json"},
            )
            assert imported.status_code == 201, imported.text
            assigned = await h.api.put("/api/v1/tariffs/DAY-NIGHT/assignment", json={"scope": "default"})
            assert assigned.status_code == 200, assigned.text
            h.stripe = fake
            yield h
    finally:
        await fake.stop()


async def sign_up(h, email: str, name: str) -> tuple[str, dict[str, str]]:
    """A verified, signed-in driver: (driver id, the Authorization header of their app)."""
    api = h.api
    password = "a long passphrase 7"
    created = await api.post("/api/v1/drivers/register", json={"email": email, "password": password, "name": name},
                             headers={"Authorization": ""})
    assert created.status_code == 201, created.text
    outbox = (await api.get("/api/v1/outbox")).json()["mails"]
    mail = next(m for m in outbox if m["to_address"] == email)
    secret = re.search(r"verify-email\?token=([\w\-]+)", mail["body"]).group(1)
    assert (await api.post("/api/v1/drivers/verify-email", json={"token": secret})).status_code == 200
    login = await api.post("/api/v1/drivers/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    me = {"Authorization": f"Bearer {login.json()['token']}"}
    profile = await api.get("/api/v1/me", headers=me)
    return profile.json()["id"], me


def energy(at: str, wh: int, power_w: int) -> list[dict]:
    return [{"timestamp": at, "sampled_value": [
        {"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
        {"value": str(power_w), "unit": "W", "measurand": "Power.Active.Import"},
    ]}]


def energy201(at: str, wh: int, power_w: int) -> list[dict]:
    return [{"timestamp": at, "sampled_value": [
        {"value": wh, "unit_of_measure": {"unit": "Wh"}, "measurand": "Energy.Active.Import.Register"},
        {"value": power_w, "unit_of_measure": {"unit": "W"}, "measurand": "Power.Active.Import"},
    ]}]


async def settled(h, session_id: int, me: dict[str, str]) -> dict[str, Any]:
    async def done() -> bool:
        found = await h.api.get(f"/api/v1/me/sessions/{session_id}/charge", headers=me)
        return found.status_code == 200 and found.json()["status"] != "pending"

    await h.wait_for(done)
    return (await h.api.get(f"/api/v1/me/sessions/{session_id}/charge", headers=me)).json()


async def receipt_text(h, invoice_id: str, me: dict[str, str]) -> str:
    pdf = await h.api.get(f"/api/v1/me/invoices/{invoice_id}/pdf", headers=me)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)


async def pay_by(h, me: dict[str, str], mode: str) -> None:
    chosen = await h.api.put("/api/v1/me/billing-profile", json={"mode": mode}, headers=me)
    assert chosen.status_code == 200, chosen.text


async def wallet_top_up(h, driver_id: str, amount: str, key: str) -> None:
    booked = await h.api.post(f"/api/v1/wallets/{driver_id}/top-ups", json={"amount": amount},
                              headers={"Idempotency-Key": key})
    assert booked.status_code in (200, 201), booked.text


async def test_a_card_driver_pays_the_captured_price_and_gets_a_receipt(billed):
    h = billed
    driver_id, me = await sign_up(h, "ana@example.com", "Ana Petrova")
    assert (await h.api.put("/api/v1/me/billing-profile", json={"mode": "card", "language": "bg"},
                            headers=me)).status_code == 200
    await h.node.tokens.issue("ANA-CARD", driver_id=driver_id)
    await h.add_station("CARD-201")
    async with h.connect("CARD-201", "ocpp2.0.1") as cp:
        await cp.call(c201.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        # no card on file yet: the driver cannot pay, the station hears NoCredit
        refused = await cp.call(c201.Authorize(id_token={"id_token": "ANA-CARD", "type": "ISO14443"}))
        assert refused.id_token_info["status"] == "NoCredit"
        added = await h.api.post("/api/v1/me/payment-methods", json={"payment_method": "pm_card_visa"}, headers=me)
        assert added.status_code == 201, added.text
        ok = await cp.call(c201.Authorize(id_token={"id_token": "ANA-CARD", "type": "ISO14443"}))
        assert ok.id_token_info["status"] == "Accepted"

        def event(kind: str, seq: int, at: str, trigger: str, meter: list[dict] | None = None, **extra: Any):
            return c201.TransactionEvent(
                event_type=kind, timestamp=at, trigger_reason=trigger, seq_no=seq,
                transaction_info={"transaction_id": "TX-CARD-1", **extra.pop("info", {})},
                meter_value=meter, **extra)

        started = await cp.call(event("Started", 0, "2026-11-24T19:00:00Z", "Authorized",
                                      energy201("2026-11-24T19:00:00Z", 0, 0),
                                      id_token={"id_token": "ANA-CARD", "type": "ISO14443"},
                                      evse={"id": 1, "connector_id": 1}))
        assert started.id_token_info["status"] == "Accepted"  # 50.00 pre-authorised on the card
        assert [i["amount_capturable"] for i in h.stripe.intents.values()] == [5000]
        await cp.call(event("Updated", 1, "2026-11-24T19:30:00Z", "MeterValuePeriodic",
                            energy201("2026-11-24T19:30:00Z", 5000, 11000)))
        await cp.call(event("Updated", 2, "2026-11-24T20:30:00Z", "MeterValuePeriodic",
                            energy201("2026-11-24T20:30:00Z", 15000, 0)))
        ended = await cp.call(event("Ended", 3, "2026-11-24T21:00:00Z", "EVCommunicationLost",
                                    energy201("2026-11-24T21:00:00Z", 15000, 0),
                                    info={"stopped_reason": "EVDisconnected"}))
        assert Decimal(str(ended.total_cost)) == Decimal("8.40")  # the station shows the final cost
    session = await h.node.charging.find("CARD-201", "TX-CARD-1")
    charge = await settled(h, session.id, me)
    assert (charge["status"], charge["payment_mode"]) == ("paid", "card")
    assert (charge["total_excl_vat"], charge["total_vat"], charge["total_incl_vat"]) == ("7.00", "1.40", "8.40")
    lines = {line["kind"]: line for line in charge["lines"]}
    assert (lines["ENERGY"]["quantity"], lines["ENERGY"]["excl_vat"]) == ("15", "4.00")
    assert (lines["PARKING_TIME"]["quantity"], lines["PARKING_TIME"]["excl_vat"]) == ("0.5", "3.00")
    # exactly the price was captured, once
    [intent] = h.stripe.intents.values()
    assert (intent["amount"], intent["amount_received"], intent["status"]) == (5000, 840, "succeeded")
    # ledger: the card money in, revenue and VAT out
    assert (await h.api.get("/api/v1/ledger/trial-balance")).status_code == 200
    balances = {row["account"]: Decimal(row["balance"])
                for row in (await h.api.get("/api/v1/ledger/trial-balance")).json()["rows"]}
    assert balances["cash:card"] == Decimal("8.40")
    assert balances["revenue:charging"] == Decimal("-7.00")
    assert balances["vat:payable"] == Decimal("-1.40")
    # the receipt, in Bulgarian
    text = await receipt_text(h, charge["invoice_id"], me)
    assert "Ana Petrova" in text and "8,40" in text and "R-0000000001" in text
    assert re.search("[\u0400-\u04ff]", text)  # Cyrillic
    # settling again (a retried webhook, the sweeper) changes nothing
    again = await h.api.post("/api/v1/billing/settle-missed")
    assert again.json() == {"settled": 0}
    assert [i["amount_received"] for i in h.stripe.intents.values()] == [840]


async def test_a_wallet_driver_is_refused_below_the_minimum_then_pays_from_the_wallet(billed):
    h = billed
    driver_id, me = await sign_up(h, "boris@example.com", "Boris Ivanov")
    await pay_by(h, me, "wallet")
    await h.node.tokens.issue("BORIS-CARD", driver_id=driver_id)
    await wallet_top_up(h, driver_id, "2.00", "boris-1")
    await h.add_station("WALLET-16")
    async with h.connect("WALLET-16", "ocpp1.6") as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        refused = await cp.call(c16.Authorize(id_tag="BORIS-CARD"))
        assert refused.id_tag_info["status"] == "Blocked"  # 2.00 < the 5.00 minimum (1.6 has no NoCredit)
        await wallet_top_up(h, driver_id, "20.00", "boris-2")
        await wallet_top_up(h, driver_id, "20.00", "boris-2")  # a retried request: booked once
        accepted = await cp.call(c16.Authorize(id_tag="BORIS-CARD"))
        assert accepted.id_tag_info["status"] == "Accepted"
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="BORIS-CARD", meter_start=0,
                                                   timestamp="2026-11-24T19:00:00Z"))
        tx = start.transaction_id
        await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=energy("2026-11-24T19:30:00Z", 5000, 11000)))
        await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=energy("2026-11-24T20:30:00Z", 15000, 0)))
        stop = c16.StopTransaction(meter_stop=15000, timestamp="2026-11-24T21:00:00Z", transaction_id=tx,
                                   reason="EVDisconnected")
        await cp.call(stop)
        await cp.call(stop)  # the station retries: still one session, one debit
    session = await h.node.charging.find("WALLET-16", str(tx))
    charge = await settled(h, session.id, me)
    assert (charge["status"], charge["payment_mode"], charge["total_incl_vat"]) == ("paid", "wallet", "8.40")
    wallet = (await h.api.get("/api/v1/me/wallet", headers=me)).json()
    assert wallet["balance"] == "13.60"  # 2.00 + 20.00 - 8.40
    entries = (await h.api.get(f"/api/v1/wallets/{driver_id}/entries")).json()
    kinds = sorted(e["kind"] for e in (entries["entries"] if isinstance(entries, dict) else entries))
    assert kinds == ["session_charge", "top_up", "top_up"]
    text = await receipt_text(h, charge["invoice_id"], me)
    assert "Boris Ivanov" in text and "8.40" in text


async def test_a_subscription_driver_gets_the_included_energy_off(billed):
    h = billed
    driver_id, me = await sign_up(h, "vera@example.com", "Vera Koleva")
    await pay_by(h, me, "wallet")
    await h.node.tokens.issue("VERA-CARD", driver_id=driver_id)
    plan = await h.api.post("/api/v1/plans", json={
        "name": "Commuter", "currency": "EUR", "monthly_fee": "10.00", "fee_vat_percent": "20",
        "included_kwh": "5"})
    assert plan.status_code == 201, plan.text
    await wallet_top_up(h, driver_id, "50.00", "vera-1")
    subscribed = await h.api.post("/api/v1/me/subscription", json={"plan_id": plan.json()["id"]}, headers=me)
    assert subscribed.status_code == 201, subscribed.text
    assert (await h.api.get("/api/v1/me/wallet", headers=me)).json()["balance"] == "38.00"  # fee 12.00 paid
    await h.add_station("SUB-16")
    async with h.connect("SUB-16", "ocpp1.6") as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="VERA-CARD", meter_start=0,
                                                   timestamp="2026-11-24T10:00:00Z"))
        tx = start.transaction_id
        await cp.call(c16.StopTransaction(meter_stop=10000, timestamp="2026-11-24T11:00:00Z", transaction_id=tx,
                                          reason="EVDisconnected"))
    session = await h.node.charging.find("SUB-16", str(tx))
    charge = await settled(h, session.id, me)
    # 10 kWh at the day rate: 3.00 + 0.60; 5 kWh included: -1.50 - 0.30 -> 1.80
    assert (charge["status"], charge["total_excl_vat"], charge["total_incl_vat"]) == ("paid", "1.50", "1.80")
    assert charge["subscription_id"] == subscribed.json()["id"]
    assert "INCLUDED_ENERGY" in {line["kind"] for line in charge["lines"]}
    assert (await h.api.get("/api/v1/me/wallet", headers=me)).json()["balance"] == "36.20"
    mine = (await h.api.get("/api/v1/me/subscription", headers=me)).json()
    assert Decimal(str(mine["usage"]["used_kwh"])) == Decimal(5)


async def test_a_card_top_up_credits_the_wallet_once(billed):
    h = billed
    _, me = await sign_up(h, "dora@example.com", "Dora Marinova")
    added = await h.api.post("/api/v1/me/payment-methods", json={"payment_method": "pm_card_visa"}, headers=me)
    assert added.status_code == 201, added.text
    for _ in range(2):  # the app retries with the same key: one payment, one credit
        paid = await h.api.post("/api/v1/me/wallet/top-ups", json={"amount": "25.00"},
                                headers={**me, "Idempotency-Key": "dora-topup-1"})
        assert paid.status_code == 201, paid.text
        assert paid.json()["status"] == "succeeded"
    assert (await h.api.get("/api/v1/me/wallet", headers=me)).json()["balance"] == "25.00"
    assert [i["amount_received"] for i in h.stripe.intents.values()] == [2500]
    missing_key = await h.api.post("/api/v1/me/wallet/top-ups", json={"amount": "5.00"}, headers=me)
    assert missing_key.status_code == 400 and "Idempotency-Key" in missing_key.json()["detail"]
