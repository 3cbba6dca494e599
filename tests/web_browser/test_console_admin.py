"""The console's admin pages in a real headless Chromium against a running evcms: firmware
rollouts followed live, analytics after a charged session with a CSV export, the tariff
calculator (in English and in Bulgarian), operator accounts and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action
from playwright.async_api import Page, expect
from tests.end_to_end.conftest import Harness, running_evcms
from tests.support.databases import temporary_sqlite_url
from tests.web_browser.browser import browser, console_page, screenshot  # noqa: F401 - fixture

from evcms.domain.access import Role

PASSWORD = "s3cret-station-password"
ADMIN = ("admin@example.com", "admin-password-1")
WAIT = 15_000  # ms: Playwright's expectations retry until then


@contextlib.asynccontextmanager
async def evcms(tmp_path: Any, **settings: Any) -> AsyncIterator[Harness]:
    async with running_evcms(
        temporary_sqlite_url(tmp_path), analytics_flush_seconds=0.3, **settings
    ) as h:
        assert h.node.operators is not None
        await h.node.operators.add_user(*ADMIN, Role.ADMIN, name="Ada Admin")
        contexts: list[Any] = []
        h.browser_contexts = contexts  # type: ignore[attr-defined]
        try:
            yield h
        finally:  # close the pages' live streams before evcms stops
            for context in contexts:
                await context.close()


async def sign_in(chromium: Any, h: Harness, email: str, password: str) -> Page:
    page = await console_page(chromium, f"http://127.0.0.1:{h.node.http_port}")
    h.browser_contexts.append(page.context)  # type: ignore[attr-defined]
    await page.fill("#signin-email", email)
    await page.fill("#signin-password", password)
    await page.click("#signin-button")
    await expect(page.locator("#shell")).to_be_visible(timeout=WAIT)
    await expect(page.locator("#whoami")).not_to_be_empty()
    return page


def script_errors(page: Page) -> list[str]:
    """Errors the page's scripts threw or logged (failed requests the page showed are not)."""
    return [e for e in page.errors if "Failed to load resource" not in e]  # type: ignore[attr-defined]


async def shot(page: Page, name: str) -> None:
    await screenshot(page, f"console-{name}")


# -- firmware ---------------------------------------------------------------------------------


class FirmwareStation(ChargePoint16):
    """Accepts UpdateFirmware and reports Downloading .. Installed when the test says so."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked = asyncio.Event()
        self.location: str | None = None

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        self.location = location
        self.asked.set()
        return r16.UpdateFirmware()

    async def install(self) -> None:
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await self.call(c16.FirmwareStatusNotification(status=status))


def station_row(page: Page, station_id: str) -> Any:
    return page.locator(f'#rollout-detail tr[data-id="{station_id}"]')


async def test_admin_uploads_firmware_and_follows_a_rollout_live(browser, tmp_path):  # noqa: F811
    async with evcms(tmp_path) as h:
        for station_id in ("FW-1", "FW-2"):
            await h.add_station(station_id, password=PASSWORD)
        async with (
            h.connect("FW-1", "ocpp1.6", PASSWORD, handlers=FirmwareStation) as one,
            h.connect("FW-2", "ocpp1.6", PASSWORD, handlers=FirmwareStation) as two,
        ):
            for cp in (one, two):
                await cp.call(
                    c16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50")
                )
            page = await sign_in(browser, h, *ADMIN)
            await page.click("#nav a[href='#/firmware']")
            await page.set_input_files(
                "#firmware-file",
                files=[
                    {
                        "name": "fast50-2.1.0.bin",
                        "mimeType": "application/octet-stream",
                        "buffer": b"\x7fFW" * 1000,
                    }
                ],
            )
            await page.fill("#firmware-version", "2.1.0")
            await page.fill("#firmware-models", "Fast-50")
            await page.click("#firmware-upload")
            row = page.locator("#firmware-files tr", has_text="2.1.0")
            await expect(row).to_contain_text("fast50-2.1.0.bin", timeout=WAIT)
            await expect(row).to_contain_text("Fast-50")

            await row.get_by_role("button", name="Roll out").click()
            await page.select_option("#rollout-stations", ["FW-1", "FW-2"])
            await page.fill("#rollout-wave-size", "1")
            await page.click("#rollout-start")
            await expect(page.locator("#rollout-status")).to_contain_text("running", timeout=WAIT)
            await expect(station_row(page, "FW-1")).to_contain_text("updating", timeout=WAIT)
            await expect(station_row(page, "FW-2")).to_contain_text("pending")
            await expect(page.locator("#rollout-progress")).to_contain_text("0 of 2 stations done")
            await asyncio.wait_for(one.asked.wait(), 10)
            assert one.location is not None and one.location.startswith("http")
            assert not two.asked.is_set()
            await shot(page, "rollout-wave-1")

            await one.install()  # wave 1 done: the page shows it and wave 2 starting
            await expect(station_row(page, "FW-1")).to_contain_text("installed", timeout=WAIT)
            await expect(station_row(page, "FW-1")).to_contain_text("Installed")
            await expect(station_row(page, "FW-2")).to_contain_text("updating", timeout=WAIT)
            await expect(page.locator("#rollout-progress")).to_contain_text("1 of 2 stations done")
            await asyncio.wait_for(two.asked.wait(), 10)

            await two.install()
            await expect(page.locator("#rollout-status")).to_contain_text("completed", timeout=WAIT)
            await expect(page.locator("#rollout-progress")).to_contain_text("2 of 2 stations done")
            await expect(page.locator("#rollouts tr", has_text="#1")).to_contain_text(
                "completed", timeout=WAIT
            )
            await shot(page, "rollout-completed")
            assert script_errors(page) == []


# -- analytics, tariffs, Bulgarian ------------------------------------------------------------


def ocpi_tariff(price_per_kwh: str) -> str:
    return (
        '{"country_code": "BG", "party_id": "EVC", "id": "STANDARD", "currency": "EUR",'
        ' "elements": [{"price_components": [{"type": "ENERGY", "price": '
        + price_per_kwh
        + ', "vat": 20, "step_size": 1}]}], "last_updated": "2026-01-01T00:00:00Z"}'
    )


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_analytics_csv_and_the_tariff_calculator_in_two_languages(browser, tmp_path):  # noqa: F811
    async with evcms(tmp_path) as h:
        imported = await h.api.post(
            "/api/v1/tariffs",
            content=ocpi_tariff("0.25"),
            headers={"Content-Type": "application/json"},
        )
        assert imported.status_code == 201, imported.text
        assert (
            await h.api.put("/api/v1/tariffs/STANDARD/assignment", json={"scope": "default"})
        ).status_code == 200
        await h.api.post("/api/v1/sites", json={"id": "depot", "name": "Depot North"})
        await h.node.tokens.issue("CARD-A")
        await h.add_station("AN-1", password=PASSWORD, site_id="depot")
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(minutes=40)
        async with h.connect("AN-1", "ocpp1.6", PASSWORD) as cp:
            await cp.call(
                c16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50")
            )
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            started = await cp.call(
                c16.StartTransaction(
                    connector_id=1, id_tag="CARD-A", meter_start=1000, timestamp=stamp(start)
                )
            )
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            await cp.call(
                c16.StopTransaction(
                    meter_stop=13_500,
                    timestamp=stamp(end),
                    transaction_id=started.transaction_id,
                    reason="EVDisconnected",
                )
            )
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )

            today = datetime.now().date()
            period = {"from": str(today - timedelta(days=29)), "to": str(today + timedelta(days=1))}

            async def counted() -> bool:
                got = await h.api.get("/api/v1/analytics/summary", params=period)
                return got.status_code == 200 and got.json()["sessions"] == 1

            await h.wait_for(counted, timeout=15)

            page = await sign_in(browser, h, *ADMIN)
            await page.click("#nav a[href='#/analytics']")
            await expect(page.locator("#an-sessions .value")).to_have_text("1", timeout=WAIT)
            await expect(page.locator("#an-energy .value")).to_have_text("12.5 kWh")
            await expect(page.locator("#an-success .value")).to_have_text("100.0%")
            await expect(page.locator("#an-tokens")).to_contain_text("CARD-A")
            await expect(page.locator("#an-energy-chart .uplot canvas")).to_have_count(1)
            await expect(page.locator("#an-hour-bars .bar")).to_have_count(24)
            await shot(page, "analytics")
            async with page.expect_download() as download_info:
                await page.click("#an-csv-sessions")
            download = await download_info.value
            assert download.suggested_filename == "sessions.csv"
            text = (await download.path()).read_text()
            assert (
                text.splitlines()[0]
                == "bucket,sessions,successful,energy_kwh,duration_hours,charging_hours"
            )
            assert ",1,1,12.500," in text
            await expect(page.locator("#an-revenue .value")).to_have_text("€3.75")
            async with page.expect_download() as report_info:
                await page.click("#an-report-pdf")
            report = await report_info.value
            assert report.suggested_filename.startswith("depot-")
            assert (await report.path()).read_bytes().startswith(b"%PDF")

            # the session's charge on the billing page; the card blocked on the drivers page
            session_id = (await h.api.get("/api/v1/sessions")).json()["sessions"][0]["id"]
            await page.click("#nav a[href='#/billing']")
            charge = page.locator(f'#charges tr[data-id="{session_id}"]')
            await expect(charge).to_contain_text("€3.75", timeout=WAIT)
            await expect(charge).to_contain_text("STANDARD v1")
            await shot(page, "billing")
            await page.click("#nav a[href='#/drivers']")
            card = page.locator('#tokens tr[data-id="CARD-A"]')
            await expect(card).to_contain_text("Accepted", timeout=WAIT)
            await card.get_by_role("button", name="Block").click()
            await page.click("#confirm-ok")
            await expect(card).to_contain_text("Blocked", timeout=WAIT)
            await shot(page, "drivers")
            assert (await h.api.get("/api/v1/tokens/CARD-A")).json()["status"] == "Blocked"

            # the tariff calculator: 20 kWh at 0.25 EUR + 20 % VAT
            await page.click("#nav a[href='#/tariffs']")
            await expect(page.locator("#tariffs")).to_contain_text("STANDARD", timeout=WAIT)
            await page.fill("#calc-energy", "20")
            await page.fill("#calc-charging", "60")
            await page.click("#calc-run")
            await expect(page.locator("#calc-total .value")).to_have_text("€6.00", timeout=WAIT)
            await expect(page.locator("#calc-result")).to_contain_text("€5.00")
            await shot(page, "tariff-calculator")

            # in Bulgarian: the labels and the money the Bulgarian way
            await page.select_option("#language", "bg")
            await expect(page.locator("#nav a[href='#/tariffs']")).to_have_text(
                "Тарифи", timeout=WAIT
            )
            await expect(page.locator("#page h1")).to_have_text("Тарифи")
            await page.fill("#calc-energy", "20")
            await page.click("#calc-run")
            await expect(page.locator("#calc-total .label")).to_have_text("Общо", timeout=WAIT)
            await expect(page.locator("#calc-total .value")).to_have_text(re.compile(r"^6,00\s€$"))
            await shot(page, "tariff-calculator-bg")
            assert script_errors(page) == []


# -- users and webhooks -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A tiny HTTP server that answers 200 to every POST and keeps the bodies."""
    bodies: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        bodies.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], bodies
    finally:
        server.close()
        await server.wait_closed()


async def test_a_new_user_signs_in_with_the_role_and_a_webhook_delivers(browser, tmp_path):  # noqa: F811
    async with evcms(tmp_path) as h, receiver() as (port, bodies):
        page = await sign_in(browser, h, *ADMIN)
        await page.click("#nav a[href='#/users']")
        await page.fill("#user-email", "tech@example.com")
        await page.fill("#user-name", "Tess Tech")
        await page.select_option("#user-role", "technician")
        await page.fill("#user-password", "technician-pass-1")
        await page.get_by_role("button", name="Create user").click()
        row = page.locator("#users tr", has_text="tech@example.com")
        await expect(row.get_by_role("combobox")).to_have_value("technician", timeout=WAIT)
        await shot(page, "users")

        tech = await sign_in(browser, h, "tech@example.com", "technician-pass-1")
        await expect(tech.locator("#whoami")).to_contain_text("technician")
        await expect(tech.locator("#nav a[href='#/firmware']")).to_be_visible()
        await expect(tech.locator("#nav a[href='#/users']")).to_have_count(0)
        await expect(tech.locator("#nav a[href='#/webhooks']")).to_have_count(0)
        await tech.goto(f"http://127.0.0.1:{h.node.http_port}/#/users")
        await expect(tech.locator("#page")).to_contain_text(
            "Your role may not see this page.", timeout=WAIT
        )

        # the admin makes them a viewer: after signing in again the role is the new one
        await row.get_by_role("combobox").select_option("viewer")
        await page.click("#confirm-ok")
        await expect(
            page.locator(".toast", has_text="tech@example.com is now viewer")
        ).to_be_visible(timeout=WAIT)
        viewer = await sign_in(browser, h, "tech@example.com", "technician-pass-1")
        await expect(viewer.locator("#whoami")).to_contain_text("viewer")

        # webhooks: create one, the secret is shown once, a test ping is delivered
        await page.click("#nav a[href='#/webhooks']")
        await page.fill("#webhook-url", f"http://127.0.0.1:{port}/hook")
        await page.fill("#webhook-description", "Ops inbox")
        await page.click("#webhook-create")
        secret = page.locator("#webhook-secret-once")
        await expect(secret).to_have_value(re.compile(r"^.{16,}$"), timeout=WAIT)
        await expect(page.locator("#webhooks")).to_contain_text(f"http://127.0.0.1:{port}/hook")
        await (
            page.locator("#webhooks tr", has_text="Ops inbox")
            .get_by_role("button", name="Send test ping")
            .click()
        )
        delivery = page.locator("#deliveries tbody tr", has_text="ping")
        await expect(delivery).to_contain_text("delivered", timeout=WAIT)
        await expect(delivery).to_contain_text("200")
        assert bodies and b"ping" in bodies[0]
        await delivery.get_by_role("button", name="Redeliver").click()
        await expect(page.locator(".toast", has_text="sent again")).to_be_visible(timeout=WAIT)
        await expect(delivery).to_contain_text("2 /", timeout=WAIT)
        await shot(page, "webhooks")
        assert script_errors(page) == []
