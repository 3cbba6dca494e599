"""The analytics API over the hand-built history (tests/services/test_analytics.py): JSON, CSV,
the monthly PDF, roles, and 4xx that say what to fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.services.test_analytics import build
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    FixedClock,
    Health,
    core_services,
)

from evcms.documents.site_report_pdf import SiteReportPdfRenderer
from evcms.domain.access import Role
from evcms.messaging.bus import InProcessBus
from evcms.services.remote_operations import RemoteOperations
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

DAY = {"from": "2026-10-25", "to": "2026-10-26", "tz": "Europe/Sofia"}


class Api:
    def __init__(self, client: httpx.AsyncClient, keys: dict[Role, str]) -> None:
        self.client, self.keys = client, keys

    async def get(self, path: str, role: Role | None = Role.VIEWER, **params: object) -> httpx.Response:
        headers = {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}
        return await self.client.get(f"/api/v1/analytics{path}", params=params, headers=headers)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    world = await build()
    world.analytics._renderer = SiteReportPdfRenderer()
    db = MemoryDatabase()
    stations = MemoryStationRepository(db)
    clock = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
    bus = InProcessBus()
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    app = create_app(
        WebDeps(
            network=core.network, access=core.access, operations=RemoteOperations(commands=commands),
            message_log=MemoryMessageLog(db), metrics=lambda: (METRICS_BODY, METRICS_TYPE),
            health=Health(), ocpp_url=OCPP_URL, analytics=world.analytics,
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evcms.test") as client:
        yield Api(client, core.keys)
    await bus.close()


async def test_each_endpoint_answers_the_known_figures(api: Api) -> None:
    use = (await api.get("/utilisation", station="CP-A", evse=1, connector=1, **DAY)).json()
    assert (use["occupied_percent"], use["charging_percent"]) == ("9.00", "7.00")
    assert use["period"] == {
        "scope": "station CP-A evse 1 connector 1", "start": "2026-10-24T21:00:00+00:00",
        "end": "2026-10-25T22:00:00+00:00", "time_zone": "Europe/Sofia",
    }
    up = (await api.get("/uptime", site="S1", **DAY)).json()
    assert up["total"]["uptime_percent"] == "95.000"
    a = next(c for c in up["connectors"] if c["station_id"] == "CP-A")
    assert (a["uptime_percent"], a["total_minutes"], a["outage_minutes"], a["excluded_minutes"]) == (
        "92.000", "1500.000", "240.000", "120.000",
    )
    assert a["excluded_minutes_by_cause"] == {"operator_unavailable": "120.000"}
    assert "vandalism" in up["undetectable_excluded_causes"]
    hours = (await api.get("/sessions", grain="hour_of_day", **DAY)).json()["buckets"]
    # 7000.5 Wh is 7.000 kWh to the Wh, rounded half to even
    assert [(b["bucket"], b["energy_kwh"]) for b in hours if b["sessions"]] == [
        ("2", "12.000"), ("10", "7.000"), ("16", "0.000"),
    ]
    summary = (await api.get("/summary", site="S1", **DAY)).json()
    assert (summary["sessions"], summary["success_percent"], summary["revenue_incl_vat"]) == (3, "66.67", {"EUR": "6.00"})
    assert summary["average_duration_minutes"] == "75.00"
    revenue = (await api.get("/revenue", **DAY)).json()["buckets"]
    assert revenue == [{"bucket": "2026-10-25", "currency": "EUR", "sessions": 3, "excl_vat": "5.00", "incl_vat": "6.00"}]
    faults = (await api.get("/faults", site="S1", **DAY)).json()
    assert faults["by_code"] == {"Faulted": 1, "GroundFailure": 1}
    assert faults["by_model"] == {"M1": 1, "M2": 1}
    tokens = (await api.get("/top-tokens", limit=1, **DAY)).json()["tokens"]
    assert tokens == [{"id_token": "TOK-1", "sessions": 2, "energy_kwh": "12.000"}]


async def test_csv_has_a_header_row_and_money_as_decimal_text(api: Api) -> None:
    answer = await api.get("/revenue", format="csv", **DAY)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines() == ["bucket,currency,sessions,excl_vat,incl_vat", "2026-10-25,EUR,3,5.00,6.00"]
    uptime = (await api.get("/uptime", format="csv", site="S1", **DAY)).text.splitlines()
    assert uptime[0].startswith("station_id,evse_id,connector_id,uptime_percent")
    assert uptime[1].startswith("CP-A,1,1,92.000,84.000")
    for path in ("/utilisation", "/sessions", "/summary", "/faults", "/top-tokens"):
        answer = await api.get(path, format="csv", **DAY)
        assert answer.status_code == 200 and len(answer.text.splitlines()) >= 2, path


async def test_the_monthly_site_report_pdf_in_both_languages(api: Api) -> None:
    for lang in ("en", "bg"):
        answer = await api.get("/sites/S1/monthly-report.pdf", month="2026-10", lang=lang)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF")
    bad = await api.get("/sites/S1/monthly-report.pdf", month="October", lang="en")
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]


async def test_keys_are_needed_and_bad_input_says_what_to_fix(api: Api) -> None:
    assert (await api.get("/summary", role=None, **DAY)).status_code == 401
    for role in Role:
        assert (await api.get("/summary", role=role, **DAY)).status_code == 200
    cases = [
        ({"tz": "Mars/Olympus"}, 422, "unknown time zone"),
        ({"from": "2026-10-26", "to": "2026-10-25"}, 422, "'to' must be after 'from'"),
        ({"from": "yesterday"}, 422, "'from' is not a date"),
        ({"site": "nowhere"}, 404, "no site 'nowhere'"),
        ({"station": "CP-A", "evse": 1}, 422, "station, evse and connector together"),
        ({"site": "S1", "station": "CP-A"}, 422, "not both"),
    ]
    for change, code, message in cases:
        answer = await api.get("/summary", **{**DAY, **change})
        assert answer.status_code == code, change
        assert message in answer.json()["detail"], answer.json()
