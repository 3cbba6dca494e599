"""The driver app (/app) in a real headless Chromium at phone size, against a running evcms with
a real station (the `ocpp` package's ChargePoint over a socket) and card payments through the
local Stripe fake: sign up, confirm the address from the mail, sign in, add a card, add a
payment card, start charging from the app, watch the cost rise, stop, download the receipt;
then the same app in Bulgarian."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from tests.end_to_end.conftest import running_evcms
from tests.support.databases import services_required, temporary_sqlite_url

from evcms.simulator.stripe_fake import StripeFake

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SECRET_KEY = "sk_test_evcms_driver_app"
WEBHOOK_SECRET = "whsec_evcms_driver_app"
EMAIL = "mila@example.com"
PASSWORD = "a long passphrase 7"
# 0.25 EUR/kWh + 20 % VAT: 4 kWh cost 1.00 + 0.20 = 1.20 EUR
TARIFF = (
    '{"country_code": "BG", "party_id": "EVC", "id": "ENERGY", "currency": "EUR",'
    ' "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 20.0,'
    ' "step_size": 1}]}], "last_updated": "2026-01-01T00:00:00Z"}'
)


class AppStation(ChargePoint16):
    """Accepts the app's remote start and stop and remembers them."""

    remote: tuple[str, int | None] | None = None
    remote_stop: int | None = None

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag, connector_id=None, **_):
        self.remote = (id_tag, connector_id)
        return r16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id, **_):
        self.remote_stop = transaction_id
        return r16.RemoteStopTransaction(status="Accepted")


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        message = "Chromium is not installed: apt-get install chromium (.ci/run does)"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        await browser.close()


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def energy(at: datetime, wh: int, power_w: int) -> list[dict]:
    return [
        {
            "timestamp": stamp(at),
            "sampled_value": [
                {"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": str(power_w), "unit": "W", "measurand": "Power.Active.Import"},
            ],
        }
    ]


def amount(text: str) -> Decimal:
    """The number in a displayed English money amount: "€0.30" -> Decimal("0.30")."""
    found = re.search(r"\d+(?:[.,]\d+)?", text.replace(",", ""))
    assert found is not None, text
    return Decimal(found.group())


async def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_a_driver_signs_up_charges_from_the_app_and_downloads_the_receipt(browser, tmp_path):
    fake = StripeFake(api_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET)
    stripe_base = await fake.start()
    try:
        async with running_evcms(
            temporary_sqlite_url(tmp_path),
            allow_unsecured_stations=True,
            stripe_secret_key=SECRET_KEY,
            stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=stripe_base,
        ) as h:
            fake.webhook_url = f"http://127.0.0.1:{h.node.http_port}/api/v1/payments/stripe/webhook"
            await drive_the_app(h, browser)
    finally:
        await fake.stop()


async def drive_the_app(h, browser) -> None:
    api = h.api
    imported = await api.post(
        "/api/v1/tariffs", content=TARIFF, headers={"Content-Type": "application/json"}
    )
    assert imported.status_code == 201, imported.text
    assigned = await api.put("/api/v1/tariffs/ENERGY/assignment", json={"scope": "default"})
    assert assigned.status_code == 200, assigned.text
    site = {
        "id": "depot",
        "name": "Depot North",
        "address": "1 Vitosha Blvd, Sofia",
        "latitude": 42.6977,
        "longitude": 23.3219,
    }
    assert (await api.post("/api/v1/sites", json=site)).status_code == 201
    await h.add_station("APP-1", site_id="depot", name="Depot charger")
    base = f"http://127.0.0.1:{h.node.http_port}"

    async with h.connect("APP-1", "ocpp1.6", handlers=AppStation) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await cp.call(
            c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )

        context = await browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB", accept_downloads=True
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            await charge_from_the_app(h, page, cp, base)
        except Exception:
            await shot(page, "driver-app-failure.png")
            raise
        assert errors == []
        await context.close()
    assert (ARTIFACTS / "driver-app-bulgarian.png").stat().st_size > 0


async def charge_from_the_app(h, page, cp, base: str) -> None:
    api = h.api
    if True:
        # sign up
        await page.goto(f"{base}/app#/signup")
        await page.get_by_label("Your name").fill("Mila")
        await page.get_by_label("E-mail address").fill(EMAIL)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await page.get_by_text("we sent a link to mila@example.com").wait_for()
        await shot(page, "driver-app-signed-up.png")

        # follow the link from the mail
        mails = (await api.get("/api/v1/outbox")).json()["mails"]
        body = next(m for m in mails if m["to_address"] == EMAIL)["body"]
        link = re.search(r"\S+/app/verify-email\?token=[\w\-]+", body).group()
        assert link.startswith(base), link
        await page.goto(link)
        await page.get_by_text("Your e-mail address is confirmed").wait_for()
        await page.get_by_role("button", name="Sign in").click()

        # a wrong password says so; the right one signs in
        await page.get_by_label("E-mail address").fill(EMAIL)
        await page.get_by_label("Password").fill("not my password 1")
        await page.locator("#signin button[type=submit]").click()
        await page.locator("#signin .alert:not(:empty)").wait_for()
        await page.get_by_label("Password").fill(PASSWORD)
        await page.locator("#signin button[type=submit]").click()
        await page.get_by_text("To charge, add a card first").wait_for()

        # add a card: it waits for the operator's approval
        await page.get_by_role("link", name="Cards").click()
        await page.get_by_label("Card number (UID)").fill("MILA-CARD")
        await page.get_by_label("Name for the card").fill("keyring")
        await page.get_by_role("button", name="Add card").click()
        card = page.locator("#cards li", has_text="MILA-CARD")
        await card.get_by_text("Waiting for approval").wait_for()
        approved = await api.post("/api/v1/tokens/MILA-CARD/approve")
        assert approved.status_code == 200, approved.text
        await page.reload()
        await card.get_by_text("Active").wait_for()

        # a payment card, and pay by card
        await page.get_by_role("link", name="Payment").click()
        await page.get_by_label("Card from the payment provider").fill("pm_card_visa")
        await page.get_by_role("button", name="Add payment card").click()
        await page.locator("#payment-methods li", has_text="4242").wait_for()
        await page.get_by_label("Pay by").select_option("card")
        await page.get_by_text("Saved.").wait_for()
        profile = await api.get(f"/api/v1/drivers/{(await driver_id(h))}/billing-profile")
        assert profile.json()["mode"] == "card"
        await shot(page, "driver-app-payment.png")

        # find the free connector and start
        await page.get_by_role("link", name="Charge").click()
        site_card = page.locator("#sites article", has_text="Depot North")
        await site_card.get_by_text("1 free").wait_for()
        await site_card.get_by_role(
            "button", name="Start charging at Depot charger, connector 1"
        ).click()
        await h.wait_for(lambda: cp.remote is not None)
        assert cp.remote == ("MILA-CARD", 1)
        await page.get_by_text("Waiting for the station to start").wait_for()

        t0 = datetime.now(UTC).replace(microsecond=0)
        start = await cp.call(
            c16.StartTransaction(
                connector_id=1, id_tag="MILA-CARD", meter_start=0, timestamp=stamp(t0)
            )
        )
        assert start.id_tag_info["status"] == "Accepted", start.id_tag_info
        tx = start.transaction_id
        await cp.call(
            c16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await cp.call(
            c16.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=energy(t0 + timedelta(seconds=1), 1000, 7400),
            )
        )

        # watch it live: energy, power and the cost so far
        live = page.locator("#live article.live")
        await live.locator(".energy", has_text="1.00 kWh").wait_for()
        await live.locator(".power", has_text="7.4 kW").wait_for()
        cost = live.locator(".cost")
        await cost.filter(has_text="€").wait_for()
        first_text = await cost.inner_text()
        first = amount(first_text)
        assert first == Decimal("0.30")  # 1 kWh x 0.25 + 20 % VAT
        await shot(page, "driver-app-charging.png")
        await cp.call(
            c16.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=energy(t0 + timedelta(seconds=2), 3000, 7200),
            )
        )
        await live.locator(".energy", has_text="3.00 kWh").wait_for()
        await cost.filter(has_not_text=first_text).wait_for()
        risen = amount(await cost.inner_text())
        assert risen > first and risen == Decimal("0.90")
        # the connector shows as taken in the site list too
        await site_card.locator("li.busy", has_text="Charging").wait_for()
        await shot(page, "driver-app-cost-risen.png")

        # stop from the app
        await live.get_by_role("button", name="Stop charging").click()
        await h.wait_for(lambda: cp.remote_stop is not None)
        assert cp.remote_stop == tx
        await cp.call(
            c16.StopTransaction(
                meter_stop=4000,
                timestamp=stamp(t0 + timedelta(seconds=3)),
                transaction_id=tx,
                reason="Remote",
            )
        )
        await cp.call(
            c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )

        # the session is settled on the card: the receipt
        receipt = page.locator("#finished-receipt")
        await receipt.wait_for(timeout=30_000)
        finished = page.locator("#finished")
        assert "4.00 kWh" in await finished.inner_text()
        assert "€1.20" in await finished.inner_text()
        await shot(page, "driver-app-finished.png")
        async with page.expect_download() as waiting:
            await receipt.click()
        download = await waiting.value
        pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
        assert pdf.startswith(b"%PDF"), pdf[:20]

        # a subscription: see the plans, subscribe (the first month on the card), cancel
        plan = await api.post(
            "/api/v1/plans",
            json={
                "name": "Commuter",
                "monthly_fee": "10.00",
                "fee_vat_percent": "20",
                "included_kwh": "50",
                "discount_percent": "10",
            },
        )
        assert plan.status_code == 201, plan.text
        await page.get_by_role("link", name="Payment").click()
        offer = page.locator("#subscription article", has_text="Commuter")
        await offer.get_by_text("€12.00 a month").wait_for()
        await offer.get_by_role("button", name="Subscribe").click()
        mine = page.locator("#subscription article", has_text="Commuter")
        await mine.get_by_text("Renews on").wait_for()
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await mine.get_by_role("button", name="Cancel subscription").click()
        await mine.get_by_text("Ends on").wait_for()
        current = (await api.get("/api/v1/subscriptions")).json()["subscriptions"]
        assert [(s["status"], s["cancel_at_period_end"]) for s in current] == [
            (current[0]["status"], True)
        ]
        await shot(page, "driver-app-subscription.png")
        # a wallet top-up with the card on file
        await page.get_by_label("Amount (EUR)").fill("20.00")
        await page.get_by_role("button", name="Top up with my card").click()
        await page.locator("#wallet-balance", has_text="€20.00").wait_for()

        # history, then the app in Bulgarian
        await page.get_by_role("link", name="History").click()
        history = page.locator("#history li", has_text="APP-1")
        await history.get_by_text("4.00 kWh").wait_for()
        await history.get_by_text("€1.20").wait_for()
        await page.get_by_label("Language").select_option("bg")
        await page.get_by_role("heading", name="История").wait_for()
        await page.get_by_role("link", name="Зареждане").wait_for()
        history = page.locator("#history li", has_text="APP-1")
        await history.get_by_text("Цена").wait_for()
        text = await history.inner_text()
        assert re.search(r"1,20\s€", text), text  # euro the Bulgarian way
        assert "4,00 kWh" in text
        await page.locator("#documents li", has_text="Разписка R-0000000001").wait_for()
        await shot(page, "driver-app-bulgarian.png")
        # the choice is kept in the profile
        me = await api.get(f"/api/v1/drivers/{(await driver_id(h))}")
        assert me.json()["language"] == "bg"
        await page.get_by_role("link", name="Профил").click()
        await page.get_by_role("button", name="Изход").click()
        await page.get_by_role("heading", name="Вход").wait_for()


async def driver_id(h) -> str:
    drivers = (await h.api.get("/api/v1/drivers")).json()["drivers"]
    return next(d["id"] for d in drivers if d["email"] == EMAIL)


async def test_a_driver_resets_a_forgotten_password_from_the_mailed_link(browser, tmp_path):
    async with running_evcms(temporary_sqlite_url(tmp_path)) as h:
        base = f"http://127.0.0.1:{h.node.http_port}"
        registered = await h.api.post(
            "/api/v1/drivers/register",
            json={"email": EMAIL, "password": PASSWORD, "language": "bg"},
        )
        assert registered.status_code == 201, registered.text
        context = await browser.new_context(viewport=PHONE, is_mobile=True, locale="bg-BG")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # the browser speaks Bulgarian: so does the app
        await page.goto(f"{base}/app")
        await page.get_by_role("heading", name="Вход").wait_for()
        await page.get_by_label("Език").select_option("en")
        await page.get_by_role("link", name="Forgot your password?").click()
        await page.get_by_label("E-mail address").fill(EMAIL)
        await page.get_by_role("button", name="Send me a link").click()
        await page.get_by_text("a link to choose a new password is on its way").wait_for()

        mails = (await h.api.get("/api/v1/outbox")).json()["mails"]
        body = next(m for m in mails if "reset-password" in m["body"])["body"]
        link = re.search(r"\S+/app/reset-password\?token=[\w\-]+", body).group()
        await page.goto(link)
        await page.get_by_label("New password").fill("short")
        await page.get_by_role("button", name="Save the new password").click()
        await page.locator("#reset .alert:not(:empty)").wait_for()  # the server says what to fix
        await page.get_by_label("New password").fill("a brand new passphrase 9")
        await page.get_by_role("button", name="Save the new password").click()
        await page.get_by_text("Your password is changed").wait_for()
        await shot(page, "driver-app-password-reset.png")
        # the link works once
        await page.goto(link)
        await page.get_by_label("New password").fill("another new passphrase 10")
        await page.get_by_role("button", name="Save the new password").click()
        await page.locator("#reset .alert:not(:empty)").wait_for()

        login = await h.api.post(
            "/api/v1/drivers/login",
            json={"email": EMAIL, "password": "a brand new passphrase 9"},
        )
        assert login.status_code == 200, login.text
        old = await h.api.post("/api/v1/drivers/login", json={"email": EMAIL, "password": PASSWORD})
        assert old.status_code == 401
        assert errors == []
        await context.close()
