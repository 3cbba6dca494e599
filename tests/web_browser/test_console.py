"""The operator console in a real headless Chromium against a running evcms, with a station of
the `ocpp` package charging over a real socket: what the operator sees changes live."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from playwright.async_api import expect
from tests.end_to_end.conftest import running_evcms
from tests.support.databases import temporary_sqlite_url
from tests.web_browser.browser import browser, console_page, screenshot, sign_in  # noqa: F401

from evcms.domain.access import Role

STATION_PASSWORD = "s3cret-station-password"


class Station(ChargePoint16):
    """Accepts a remote stop and remembers which transaction it was asked to stop."""

    remote_stop: int | None = None

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int, **_: object) -> result16.RemoteStopTransaction:
        self.remote_stop = transaction_id
        return result16.RemoteStopTransaction(status="Accepted")


def meter_value(at: datetime, wh: int, kw: str) -> dict[str, object]:
    return {
        "timestamp": at.isoformat(),
        "sampled_value": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"},
        ],
    }


async def test_operator_watches_a_station_charge_live_and_stops_it(browser, tmp_path):  # noqa: F811
    async with running_evcms(temporary_sqlite_url(tmp_path)) as h:
        await h.api.post(
            "/api/v1/sites",
            json={"id": "depot", "name": "Depot North", "latitude": 42.69, "longitude": 23.32},
        )
        await h.add_station("CP-LIVE", password=STATION_PASSWORD, site_id="depot")
        await h.node.tokens.issue("CARD-1")
        await h.node.operators.add_user(
            "ops@example.com", "a long console password 7", Role.OPERATOR
        )

        async with h.connect("CP-LIVE", "ocpp1.6", STATION_PASSWORD, handlers=Station) as cp:
            await cp.call(
                call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50")
            )
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            base = f"http://127.0.0.1:{h.node.http_port}"
            page = await console_page(browser, base)
            await page.fill("#signin-email", "ops@example.com")
            await page.fill("#signin-password", "not the password")
            await page.click("#signin-button")
            await expect(page.locator("#signin-error")).not_to_be_empty()
            await sign_in(page, "ops@example.com")

            # the stations list: the connector turns from Available to Charging without a reload
            await page.goto(f"{base}/#/stations")
            row = page.locator("#stations tr[data-id='CP-LIVE']")
            connector = row.locator(".badge.connector")
            await expect(connector).to_have_attribute("data-state", "Available")
            await expect(row.locator(".presence")).to_have_attribute("data-state", "online")
            await expect(page.locator("#sites-map [data-site='depot']")).to_contain_text("1")
            await page.fill("#station-search", "no such model")
            await expect(row).to_have_count(0)
            await page.fill("#station-search", "fast-50")  # search by model
            await expect(row).to_have_count(1)
            await page.evaluate("window.notReloaded = true")

            start_at = datetime.now(UTC) - timedelta(minutes=5)
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
            )
            started = await cp.call(
                call16.StartTransaction(
                    connector_id=1,
                    id_tag="CARD-1",
                    meter_start=1000,
                    timestamp=start_at.isoformat(),
                )
            )
            assert started.id_tag_info["status"] == "Accepted"
            tx = started.transaction_id
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            await expect(connector).to_have_attribute("data-state", "Charging")
            assert await page.evaluate("window.notReloaded") is True
            await screenshot(page, "console-stations-charging")

            # the dashboard counts it too
            await page.goto(f"{base}/#/")
            await expect(page.locator("#tile-sessions .value")).to_have_text("1")
            await expect(page.locator("#connectors-Charging .value")).to_have_text("1")
            await expect(page.locator("#dashboard-sessions")).to_contain_text("CP-LIVE")
            await screenshot(page, "console-dashboard")

            # the station page: the power chart gets the meter values as they come
            await page.goto(f"{base}/#/stations/CP-LIVE")
            status = page.locator("#station-connectors .connector-status")
            await expect(status).to_have_attribute("data-state", "Charging")
            chart = page.locator("#station-chart [data-points]")
            await expect(chart).to_have_attribute("data-points", "0")
            for minute, (wh, kw) in enumerate([(2000, "11.0"), (3100, "10.8"), (4200, "7.4")]):
                await cp.call(
                    call16.MeterValues(
                        connector_id=1,
                        transaction_id=tx,
                        meter_value=[meter_value(start_at + timedelta(minutes=minute + 1), wh, kw)],
                    )
                )
                await expect(chart).to_have_attribute("data-points", str(minute + 1))
            await expect(page.locator("#station-connectors .power")).to_have_text(
                re.compile(r"7[.,]4 kW")
            )
            await expect(page.locator("#station-chart canvas")).to_have_count(1)
            await screenshot(page, "console-station-charging")

            # the remote stop: confirmed, answered, and the session ends when the station says so
            await page.locator("#station-connectors button.stop-session").click()
            await page.locator("#confirm-ok").click()
            await expect(page.locator("#operation-answer")).to_have_attribute(
                "data-state", "Accepted"
            )
            await expect(page.locator("#operation-answer")).to_contain_text("Accepted")
            assert cp.remote_stop == tx
            await cp.call(
                call16.StopTransaction(
                    meter_stop=4300,
                    timestamp=(start_at + timedelta(minutes=4)).isoformat(),
                    transaction_id=tx,
                    reason="Remote",
                )
            )
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            await expect(page.locator("#station-chart-title [data-state='Ended']")).to_be_visible()
            await expect(status).to_have_attribute("data-state", "Available")
            await expect(page.locator("#station-connectors button.stop-session")).to_have_count(0)

            async def logged_stop() -> bool:  # the raw OCPP log (written in batches) has the stop
                await page.locator("#messages-refresh").click()
                return (
                    "RemoteStopTransaction" in await page.locator("#station-messages").inner_text()
                )

            await h.wait_for(logged_stop)
            await screenshot(page, "console-station-stopped")

            # the session's own page: ended, with its energy, and no stop button any more
            await page.locator("#station-chart-title a").click()
            await expect(page.locator("#session-header .session-status")).to_have_attribute(
                "data-state", "Ended"
            )
            await expect(page.locator("#session-energy")).to_have_text(re.compile(r"3[.,]300 kWh"))
            await expect(page.locator("#stop-session")).to_have_count(0)
            await expect(page.locator("#session-chart [data-points]")).not_to_have_attribute(
                "data-points", "0"
            )
            await screenshot(page, "console-session")

            await page.goto(f"{base}/#/sessions")
            await expect(page.locator("#sessions-live td.empty")).to_be_visible()
            ended = page.locator("#sessions-history tr[data-id]")
            await expect(ended).to_have_count(1)
            await expect(ended).to_contain_text(re.compile(r"3[.,]30 kWh"))
            assert page.errors == []
            await page.context.close()  # ends the live stream before evcms stops
