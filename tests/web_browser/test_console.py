"""The console page in a real headless Chromium against a running evcms with real stations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ocpp.v16 import call as call16
from tests.end_to_end.conftest import running_evcms
from tests.support.databases import services_required, temporary_sqlite_url

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
PASSWORD = "s3cret-station-password"


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


async def test_operator_signs_in_sees_stations_and_accepts_a_pending_one(browser, tmp_path):
    async with running_evcms(temporary_sqlite_url(tmp_path), auto_onboard="pending") as h:
        await h.api.post("/api/v1/sites", json={"id": "depot", "name": "Depot North"})
        await h.add_station("CP-ONLINE", password=PASSWORD, site_id="depot")
        async with h.connect("CP-ONLINE", "ocpp1.6", PASSWORD) as cp, h.connect(
            "CP-NEW", "ocpp1.6", PASSWORD
        ) as newcomer:
            await cp.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50"))
            await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            pending = await newcomer.call(
                call16.BootNotification(charge_point_vendor="NEWCO", charge_point_model="N1")
            )
            assert pending.status == "Pending"

            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{h.node.http_port}/")
            await page.fill("#key", "evk_not_a_real_key")
            await page.click("#login-button")
            await page.wait_for_selector("#login-error:not(:empty)")

            await page.fill("#key", h.admin_key)
            await page.click("#login-button")
            stations = page.locator("#stations")
            await stations.get_by_text("CP-ONLINE").wait_for()
            row = stations.locator("tr", has_text="CP-ONLINE")
            await row.get_by_text("ACME").wait_for()
            await row.get_by_text("Charging").wait_for()
            assert "Depot North" in await page.locator("#sites").inner_text()

            new_row = stations.locator("tr", has_text="CP-NEW")
            await new_row.get_by_text("Pending").wait_for()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "console-stations.png"), full_page=True)
            await new_row.get_by_role("button").click()

            async def accepted() -> bool:
                return (await h.station("CP-NEW"))["registration"] == "Accepted"

            await h.wait_for(accepted)
            await new_row.get_by_text("Accepted").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "console-accepted.png"), full_page=True)
    assert (ARTIFACTS / "console-accepted.png").stat().st_size > 0
