"""The console by role, in a real headless Chromium: a technician acknowledges and comments an
alert that a station's fault opened (live, without a reload); a viewer sees the same station
without any operation button; a technician's remote operation shows the station's answer."""

from __future__ import annotations

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
PASSWORD = "a long console password 7"


class Station(ChargePoint16):
    @on("Reset")
    def on_reset(self, type: str, **_: object) -> result16.Reset:
        self.reset = type
        return result16.Reset(status="Rejected")


async def test_technician_acknowledges_an_alert_and_a_viewer_cannot_operate(browser, tmp_path):  # noqa: F811
    async with running_evcms(temporary_sqlite_url(tmp_path)) as h:
        await h.add_station("CP-FAULT", password=STATION_PASSWORD)
        await h.node.operators.add_user("tech@example.com", PASSWORD, Role.TECHNICIAN, name="Tess")
        await h.node.operators.add_user("view@example.com", PASSWORD, Role.VIEWER)
        base = f"http://127.0.0.1:{h.node.http_port}"

        async with h.connect("CP-FAULT", "ocpp1.6", STATION_PASSWORD, handlers=Station) as cp:
            await cp.call(
                call16.BootNotification(charge_point_vendor="ACME", charge_point_model="F1")
            )
            await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )

            tech = await console_page(browser, base)
            await sign_in(tech, "tech@example.com")
            await tech.goto(f"{base}/#/alerts")
            await expect(tech.locator("#alerts-list td.empty")).to_be_visible()

            # the fault opens an alert: it appears on the open page by itself
            await cp.call(
                call16.StatusNotification(
                    connector_id=1, error_code="GroundFailure", status="Faulted"
                )
            )
            row = tech.locator("#alerts-list tr[data-id]", has_text="CP-FAULT")
            await expect(row).to_have_count(1)
            await expect(row.locator(".badge.s-critical")).to_be_visible()
            await row.click()
            detail = tech.locator("#alert-detail")
            await expect(detail).to_contain_text("CP-FAULT")
            await tech.locator("#alert-acknowledge").click()
            await expect(tech.locator("#alert-acknowledged")).to_contain_text("tech@example.com")
            await expect(row.locator(".ack")).to_be_visible()
            await tech.fill("#alert-comment", "Cable replaced on site")
            await detail.get_by_role("button", name="Add comment").click()
            await expect(tech.locator("#alert-history")).to_contain_text("Cable replaced on site")
            await screenshot(tech, "console-alert-acknowledged")

            alert_id = int(await row.get_attribute("data-id"))
            stored = (await h.api.get(f"/api/v1/alerts/{alert_id}")).json()
            assert stored["acknowledged"] is True
            assert [c["text"] for c in stored["comments"]] == ["Cable replaced on site"]

            # the technician may operate: a reset is confirmed and the station's answer shown
            await tech.goto(f"{base}/#/stations/CP-FAULT")
            await expect(tech.locator("#station-connectors .connector-status")).to_have_attribute(
                "data-state", "Faulted"
            )
            await expect(tech.locator("#station-connectors")).to_contain_text("GroundFailure")
            await tech.locator("#op-reset").click()
            await tech.locator("#confirm-cancel").click()
            await tech.locator("#op-reset").click()
            await tech.locator("#confirm-ok").click()
            answer = tech.locator("#operation-answer")
            await expect(answer).to_have_attribute("data-state", "Rejected")
            await expect(answer).to_contain_text("Rejected")
            assert cp.reset == "Soft"
            await expect(tech.locator("#station-audit")).to_contain_text("Reset")
            assert tech.errors == []
            await tech.context.close()

            # a viewer sees the station, its alert, and no button that changes anything
            viewer = await console_page(browser, base)
            await sign_in(viewer, "view@example.com")
            await viewer.goto(f"{base}/#/stations/CP-FAULT")
            await expect(viewer.locator("#station-connectors .connector-status")).to_have_attribute(
                "data-state", "Faulted"
            )
            await expect(viewer.locator("#station-alerts")).to_contain_text("GroundFailure")
            await expect(viewer.locator("#station-messages tbody tr").first).to_be_visible()
            await expect(viewer.locator("#station-operations")).to_have_count(0)
            for button in ("#op-reset", "#config-refresh", "#diagnostics-request", ".stop-session"):
                await expect(viewer.locator(button)).to_have_count(0)
            await screenshot(viewer, "console-station-viewer")

            await viewer.goto(f"{base}/#/alerts?id={alert_id}")
            await expect(viewer.locator("#alert-detail")).to_contain_text("Cable replaced on site")
            await expect(viewer.locator("#alert-acknowledge")).to_have_count(0)
            await expect(viewer.locator("#alert-comment")).to_have_count(0)

            await viewer.goto(f"{base}/#/operations")
            await expect(viewer.locator("#audit")).to_contain_text("Reset")
            await expect(viewer.locator("#bulk-form")).to_have_count(0)
            assert viewer.errors == []
            await viewer.context.close()
