"""Alerts against a running evcms, for a 1.6 and a 2.0.1 station over real sockets: a Faulted
connector and an offline station open alerts that resolve when the cause clears; the alerts
reach the live stream (GET /api/v1/events?type=alert), a webhook receiver on loopback (signed;
it answers 500 first, and the retry is logged), and the operator's mailbox (the outbox)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from sqlalchemy import select

from evcms.domain.webhooks import verify
from evcms.storage.database import create_engine
from evcms.storage.tables import email_outbox
from tests.end_to_end.conftest import Harness, database, running_evcms

SECRET = "e2e-webhook-secret-0123456789"


class Receiver:
    """A tiny HTTP server on 127.0.0.1: answers with ``answers`` in turn, then 200."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                code = self.answers.pop(0) if self.answers else 200
                self.requests.append((headers, body, code))
                writer.write(f"HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def evcms_alerts(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Harness]:
    async with database(request.param, tmp_path) as url, running_evcms(
        url,
        allow_unsecured_stations=True,
        alert_check_seconds=0.2,
        webhook_retry_base_seconds=0.3,
        alert_email_to="ops@example.com",
        alert_email_min_severity="warning",
    ) as harness:
        yield harness


@contextlib.asynccontextmanager
async def alert_stream(h: Harness) -> AsyncIterator[list[dict[str, Any]]]:
    """Alert events of the live stream, collected while the block runs."""
    seen: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=str(h.api.base_url), headers=h.api.headers, timeout=30) as client:
        async with client.stream("GET", "/api/v1/events", params={"type": "alert"}) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 5) == ": open"

            async def read() -> None:
                async for line in lines:
                    if line.startswith("data:"):
                        seen.append(json.loads(line.removeprefix("data:").strip()))

            reader = asyncio.create_task(read())
            try:
                yield seen
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)


async def station_alerts(h: Harness, station_id: str, **params: str) -> list[dict[str, Any]]:
    response = await h.api.get(f"/api/v1/stations/{station_id}/alerts", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])


async def wait_alert(h: Harness, station_id: str, kind: str, status: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def present() -> bool:
        found[:] = [a for a in await station_alerts(h, station_id) if a["kind"] == kind and a["status"] == status]
        return bool(found)

    await h.wait_for(present, timeout=15)
    return found[0]


async def boot(cp: Any, version: str) -> None:
    if version == "ocpp1.6":
        await cp.call(c16.BootNotification(charge_point_vendor="ACME", charge_point_model="Fast-50"))
    else:
        await cp.call(c201.BootNotification(charging_station={"model": "Fast-50", "vendor_name": "ACME"}, reason="PowerUp"))


async def connector_status(cp: Any, version: str, status: str, error: str = "NoError") -> None:
    if version == "ocpp1.6":
        await cp.call(c16.StatusNotification(connector_id=1, error_code=error, status=status))
    else:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        await cp.call(c201.StatusNotification(timestamp=now, connector_status=status, evse_id=1, connector_id=1))


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_faults_and_offline_stations_raise_alerts_that_reach_stream_webhook_and_mail(
    evcms_alerts: Harness, version: str
) -> None:
    h = evcms_alerts
    station_id = "CP-ALERT-16" if version == "ocpp1.6" else "CP-ALERT-201"
    rules = await h.api.put(
        "/api/v1/alert-rules",
        json={"rules": [{"kind": "station_offline", "thresholds": {"grace_seconds": 1}}]},
    )
    assert rules.status_code == 200, rules.text
    async with Receiver([500]) as receiver:
        created = await h.api.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "event_types": ["alert"], "secret": SECRET, "station_id": station_id},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["secret"] == SECRET
        await h.add_station(station_id)

        async with alert_stream(h) as stream:
            async with h.connect(station_id, version) as cp:
                await boot(cp, version)
                await connector_status(cp, version, "Faulted", "GroundFailure")
                fault = await wait_alert(h, station_id, "connector_faulted", "open")
                assert (fault["evse_id"], fault["connector_id"], fault["severity"]) == (1, 1, "critical")
                await connector_status(cp, version, "Available")
                resolved = await wait_alert(h, station_id, "connector_faulted", "resolved")
                assert resolved["id"] == fault["id"] and resolved["resolved_at"] is not None
            # the station went away: past the 1 s grace period it is offline
            offline = await wait_alert(h, station_id, "station_offline", "open")
            async with h.connect(station_id, version) as cp:
                await boot(cp, version)
                back = await wait_alert(h, station_id, "station_offline", "resolved")
                assert back["id"] == offline["id"]
            assert len(await station_alerts(h, station_id)) == 2  # each opened once

            def changes() -> list[tuple[str, str]]:
                return [(e["kind"], e["change"]) for e in stream if e["station_id"] == station_id]

            expected = [
                ("connector_faulted", "opened"),
                ("connector_faulted", "resolved"),
                ("station_offline", "opened"),
                ("station_offline", "resolved"),
            ]
            await h.wait_for(lambda: changes() == expected, timeout=10)
            assert all(e["type"] == "alert" for e in stream)

        # the webhook: four signed deliveries, the first one answered 500 and retried
        await h.wait_for(lambda: len([r for r in receiver.requests if r[2] == 200]) == 4, timeout=20)
        for headers, body, _ in receiver.requests:
            assert headers["x-evcms-event"] == "alert"
            assert verify(SECRET, headers["x-evcms-timestamp"], body, headers["x-evcms-signature"])
        first = receiver.requests[0]
        assert first[2] == 500
        retried = [r for r in receiver.requests[1:] if r[0]["x-evcms-delivery"] == first[0]["x-evcms-delivery"]]
        assert [r[2] for r in retried] == [200] and retried[0][1] == first[1]
        log = await h.api.get(f"/api/v1/webhooks/{hook['id']}/deliveries")
        assert log.status_code == 200, log.text
        deliveries = log.json()["deliveries"]
        assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 4
        oldest = deliveries[-1]
        assert [a["status_code"] for a in oldest["attempt_log"]] == [500, 200]
        assert json.loads(oldest["body"])["change"] == "opened"

    # the e-mail (critical alerts, opened and resolved) is in the outbox
    engine = create_engine(h.node.settings.database_url)
    try:
        async with engine.connect() as conn:
            mails = (await conn.execute(select(email_outbox.c.to_address, email_outbox.c.subject))).all()
    finally:
        await engine.dispose()
    subjects = [s for to, s in mails if to == "ops@example.com" and station_id in s]
    assert any(s.startswith("[evcms critical] OPEN") and "Faulted" in s for s in subjects), subjects
    assert any(s.startswith("[evcms critical] RESOLVED") for s in subjects), subjects
