"""Webhooks: matching, the signature a receiver verifies, the backoff schedule."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.ids import SiteId, StationId
from evcms.domain.webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryStatus,
    RetryPolicy,
    WebhookSubscription,
    after_attempt,
    headers,
    matches,
    redelivered,
    signature,
    verify,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def subscription(**changes: object) -> WebhookSubscription:
    fields: dict[str, object] = {
        "id": "s1",
        "url": "http://127.0.0.1/hook",
        "event_types": frozenset({"alert", "connector.status"}),
        "secret": "s" * 20,
        "enabled": True,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return WebhookSubscription(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "event_type", "station", "site", "wanted"),
    [
        ({}, "alert", "CP-1", None, True),
        ({}, "meter.sample", "CP-1", None, False),
        ({"enabled": False}, "alert", "CP-1", None, False),
        ({"station_id": StationId("CP-2")}, "alert", "CP-1", None, False),
        ({"station_id": StationId("CP-1")}, "alert", "CP-1", None, True),
        ({"site_id": SiteId("north")}, "alert", "CP-1", "south", False),
        ({"site_id": SiteId("north")}, "alert", "CP-1", "north", True),
    ],
)
def test_matching(changes: dict, event_type: str, station: str, site: str | None, wanted: bool) -> None:  # type: ignore[type-arg]
    assert matches(subscription(**changes), event_type, StationId(station), site and SiteId(site)) is wanted


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"type":"alert"}'
    expected = hmac.new(b"topsecret-topsecret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("topsecret-topsecret", 1700000000, body) == f"sha256={expected}"
    sent = headers("topsecret-topsecret", "d-1", "alert", datetime.fromtimestamp(1700000000, UTC), body)
    assert sent["X-Evcms-Timestamp"] == "1700000000"
    assert sent["X-Evcms-Delivery"] == "d-1" and sent["X-Evcms-Event"] == "alert"
    assert verify("topsecret-topsecret", sent["X-Evcms-Timestamp"], body, sent["X-Evcms-Signature"])
    assert not verify("other-secret-other", sent["X-Evcms-Timestamp"], body, sent["X-Evcms-Signature"])
    assert not verify("topsecret-topsecret", "1700000001", body, sent["X-Evcms-Signature"])
    assert not verify("topsecret-topsecret", sent["X-Evcms-Timestamp"], body + b" ", sent["X-Evcms-Signature"])


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(base_seconds=10, max_seconds=60, max_attempts=8)
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]


def delivery(max_attempts: int = 3) -> Delivery:
    return Delivery(1, "d-1", "s1", "alert", "{}", DeliveryStatus.PENDING, 0, max_attempts, T0, T0)


def test_a_delivery_is_retried_then_fails_for_good_and_can_be_sent_again() -> None:
    policy = RetryPolicy(base_seconds=10, max_seconds=3600, max_attempts=3)
    error = AttemptOutcome(500, "HTTP 500", 3)
    d = after_attempt(delivery(), error, T0, policy)
    assert (d.status, d.attempts, d.next_attempt_at) == (DeliveryStatus.PENDING, 1, T0 + timedelta(seconds=10))
    d = after_attempt(d, AttemptOutcome(None, "refused", 1), T0, policy)
    assert d.next_attempt_at == T0 + timedelta(seconds=20)
    d = after_attempt(d, error, T0, policy)
    assert (d.status, d.attempts, d.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
    again = redelivered(d, T0, policy)
    assert (again.status, again.max_attempts, again.next_attempt_at) == (DeliveryStatus.PENDING, 6, T0)
    done = after_attempt(again, AttemptOutcome(204, None, 2), T0, policy)
    assert (done.status, done.delivered_at, done.attempts) == (DeliveryStatus.DELIVERED, T0, 4)


@given(st.lists(st.integers(100, 599), max_size=20))
def test_a_delivery_is_never_attempted_more_than_its_budget(codes: list[int]) -> None:
    policy = RetryPolicy(max_attempts=5)
    d = delivery(5)
    for code in codes:
        if d.status is not DeliveryStatus.PENDING:
            break
        d = after_attempt(d, AttemptOutcome(code, None, 1), T0, policy)
    assert d.attempts <= 5
    assert (d.status is DeliveryStatus.DELIVERED) == any(200 <= c < 300 for c in codes[: d.attempts])
