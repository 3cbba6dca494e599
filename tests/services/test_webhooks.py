"""The webhook service over the memory twin, a fake clock and a fake HTTP sender."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from evcms.domain.events import AlertChanged, Event, StationConnected
from evcms.domain.ids import SiteId, StationId
from evcms.domain.webhooks import AttemptOutcome, DeliveryStatus, RetryPolicy, verify
from evcms.services.clock import FixedClock
from evcms.services.ports import NotFound, ServiceError
from evcms.services.webhooks import WebhookPolicy, Webhooks
from evcms.storage.webhooks import MemoryWebhookRepository
from evcms.web.event_schemas import EVENT_TYPES, event_json, event_type

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")


@dataclass
class Receiver:
    answers: list[int] = field(default_factory=list)  # status codes in turn; then 200
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptOutcome:
        self.received.append((url, body, dict(headers)))
        code = self.answers.pop(0) if self.answers else 200
        if code == 0:
            return AttemptOutcome(None, "ConnectError: refused", 1)
        return AttemptOutcome(code, None if code < 300 else f"HTTP {code}", 2)


def serialise(event: Event) -> tuple[str, dict[str, Any]] | None:
    kind = event_type(event)
    return None if kind is None else (kind, event_json(event))


async def no_site(station_id: StationId) -> SiteId | None:
    return SiteId("north") if station_id == CP else None


@pytest.fixture
async def setup() -> tuple[Webhooks, Receiver, FixedClock, MemoryWebhookRepository]:
    clock = FixedClock(T0)
    receiver = Receiver()
    repository = MemoryWebhookRepository()
    webhooks = Webhooks(
        repository=repository, sender=receiver, clock=clock, serialise=serialise,
        event_types=EVENT_TYPES, site_of=no_site,
        policy=WebhookPolicy(retry=RetryPolicy(base_seconds=10, max_seconds=60, max_attempts=3)),
    )
    await webhooks.start()
    return webhooks, receiver, clock, repository


def alert(at: datetime = T0, station: StationId = CP) -> AlertChanged:
    return AlertChanged(station, 1, "station_offline", "critical", "open", "opened", "offline", at)


async def test_a_matching_event_is_delivered_signed(setup: Any) -> None:
    webhooks, receiver, _, _ = setup
    sub = await webhooks.create(url="http://127.0.0.1:1/hook", event_types=["alert"])
    assert sub.secret.startswith("whsec_") and len(sub.secret) > 30
    await webhooks.on_event(StationConnected(CP, "ocpp1.6", T0))  # not subscribed
    await webhooks.on_event(alert())
    assert await webhooks.send_due() == 1
    [(url, body, headers)] = receiver.received
    assert url == "http://127.0.0.1:1/hook"
    assert headers["X-Evcms-Event"] == "alert"
    assert verify(sub.secret, headers["X-Evcms-Timestamp"], body, headers["X-Evcms-Signature"])
    assert body == b'{"type":"alert","station_id":"CP-1","alert_id":1,"kind":"station_offline","severity":"critical","status":"open","change":"opened","summary":"offline","at":"2026-03-01T12:00:00Z","evse_id":null,"connector_id":null,"acknowledged":false}'
    [logged] = await webhooks.deliveries(sub.id)
    assert logged.delivery.status is DeliveryStatus.DELIVERED
    assert [(a.number, a.status_code) for a in logged.attempts] == [(1, 200)]


async def test_failures_are_retried_with_backoff_then_fail_and_can_be_redelivered(setup: Any) -> None:
    webhooks, receiver, clock, _ = setup
    receiver.answers = [500, 0, 503, 200]
    sub = await webhooks.create(url="https://hooks.example.com/x", event_types=["alert"], secret="my-own-secret-1234")
    await webhooks.on_event(alert())
    assert await webhooks.send_due() == 1
    clock.advance(9)
    assert await webhooks.send_due() == 0  # the first retry waits 10 s
    clock.advance(1)
    assert await webhooks.send_due() == 1
    clock.advance(20)
    assert await webhooks.send_due() == 1
    [logged] = await webhooks.deliveries(sub.id)
    assert logged.delivery.status is DeliveryStatus.FAILED
    assert [(a.status_code, a.error) for a in logged.attempts] == [(500, "HTTP 500"), (None, "ConnectError: refused"), (503, "HTTP 503")]
    keys = {h["X-Evcms-Delivery"] for _, _, h in receiver.received}
    assert len(keys) == 1  # one delivery id on every retry
    await webhooks.redeliver(sub.id, logged.delivery.id)
    with pytest.raises(ServiceError, match="still pending"):
        await webhooks.redeliver(sub.id, logged.delivery.id)
    assert await webhooks.send_due() == 1
    [logged] = await webhooks.deliveries(sub.id)
    assert logged.delivery.status is DeliveryStatus.DELIVERED and len(logged.attempts) == 4


async def test_filters_by_station_and_site_and_disabled(setup: Any) -> None:
    webhooks, _, _, repository = setup
    north = await webhooks.create(url="http://h/1", event_types=["alert"], site_id=SiteId("north"))
    other = await webhooks.create(url="http://h/2", event_types=["alert"], station_id=StationId("CP-9"))
    off = await webhooks.create(url="http://h/3", event_types=["alert"], enabled=False)
    await webhooks.on_event(alert(station=CP))
    await webhooks.on_event(alert(station=StationId("CP-9")))
    assert len(await repository.deliveries(north.id)) == 1
    assert len(await repository.deliveries(other.id)) == 1
    assert await repository.deliveries(off.id) == []
    await webhooks.update(off.id, enabled=True)
    await webhooks.on_event(alert())
    assert len(await repository.deliveries(off.id)) == 1


async def test_bad_subscriptions_are_refused_with_what_to_fix(setup: Any) -> None:
    webhooks, _, _, _ = setup
    with pytest.raises(ServiceError, match="absolute http:// or https:// URL"):
        await webhooks.create(url="ftp://x", event_types=["alert"])
    with pytest.raises(ServiceError, match=r"unknown event type\(s\) alerts; known: station.connected"):
        await webhooks.create(url="http://x", event_types=["alerts"])
    with pytest.raises(ServiceError, match="at least one event type"):
        await webhooks.create(url="http://x", event_types=[])
    with pytest.raises(ServiceError, match="at least 16 characters"):
        await webhooks.create(url="http://x", event_types=["alert"], secret="short")
    with pytest.raises(NotFound):
        await webhooks.test("nope")


async def test_a_ping_and_deliveries_survive_a_restart(setup: Any) -> None:
    webhooks, receiver, clock, repository = setup
    sub = await webhooks.create(url="http://h/1", event_types=["connector.status"])
    ping = await webhooks.test(sub.id)
    assert ping.event_type == "ping"
    restarted = Webhooks(
        repository=repository, sender=receiver, clock=clock, serialise=serialise,
        event_types=EVENT_TYPES, site_of=no_site,
    )
    await restarted.start()
    assert await restarted.send_due() == 1
    assert receiver.received[0][2]["X-Evcms-Event"] == "ping"
