"""Webhooks: which events a subscription gets, how a delivery is signed, when it is retried.

Signature scheme (what a receiver checks)::

    X-Evcms-Signature: sha256=<hex of HMAC-SHA256(secret, "<X-Evcms-Timestamp>.<raw body>")>

``X-Evcms-Timestamp`` is the attempt's time in Unix seconds; a receiver should also refuse a
timestamp too far from its own clock (replays). ``X-Evcms-Delivery`` is the delivery's id (the
same on every retry: receivers can drop duplicates) and ``X-Evcms-Event`` the event type.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from evcms.domain.ids import SiteId, StationId

SIGNATURE_HEADER = "X-Evcms-Signature"
TIMESTAMP_HEADER = "X-Evcms-Timestamp"
DELIVERY_HEADER = "X-Evcms-Delivery"
EVENT_HEADER = "X-Evcms-Event"
PING_EVENT = "ping"  # the test delivery: sent whatever the subscription's event types


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    url: str
    event_types: frozenset[str]
    secret: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    description: str = ""
    site_id: SiteId | None = None  # only events of this site's stations
    station_id: StationId | None = None  # only this station's events


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    delivery_key: str  # the X-Evcms-Delivery id
    subscription_id: str
    event_type: str
    body: str  # the JSON sent, exactly
    status: DeliveryStatus
    attempts: int  # attempts made so far
    max_attempts: int  # it fails when attempts reaches this without a 2xx
    created_at: datetime
    next_attempt_at: datetime | None  # None once delivered or failed
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    delivery_id: int
    number: int  # 1, 2, ...
    at: datetime
    status_code: int | None  # None: no HTTP answer (see error)
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: base, 2 x base, 4 x base, ... capped; ``max_attempts`` in all."""

    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    max_attempts: int = 8

    def delay(self, attempts_made: int) -> timedelta:
        """The wait after the ``attempts_made``-th failed attempt (1 -> base)."""
        exponent = max(attempts_made - 1, 0)
        seconds = self.base_seconds * (2 ** min(exponent, 60))
        return timedelta(seconds=min(seconds, self.max_seconds))


def matches(
    subscription: WebhookSubscription,
    event_type: str,
    station_id: StationId | None,
    site_id: SiteId | None,
) -> bool:
    """Whether ``subscription`` wants this event."""
    if not subscription.enabled or event_type not in subscription.event_types:
        return False
    if subscription.station_id is not None and station_id != subscription.station_id:
        return False
    return subscription.site_id is None or site_id == subscription.site_id


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Evcms-Signature value: ``sha256=<hex>`` over ``b"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    """What a receiver does (constant-time compare); documented as the reference."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature_header)


def headers(
    secret: str, delivery_key: str, event_type: str, at: datetime, body: bytes
) -> Mapping[str, str]:
    timestamp = int(at.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "evcms-webhooks",
        DELIVERY_HEADER: delivery_key,
        EVENT_HEADER: event_type,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def after_attempt(
    delivery: Delivery, outcome: AttemptOutcome, at: datetime, policy: RetryPolicy
) -> Delivery:
    """The delivery after one attempt: delivered, retried later, or failed for good."""
    attempts = delivery.attempts + 1
    if outcome.succeeded:
        status, next_at, delivered_at = DeliveryStatus.DELIVERED, None, at
    elif attempts >= delivery.max_attempts:
        status, next_at, delivered_at = DeliveryStatus.FAILED, None, None
    else:
        status, next_at, delivered_at = DeliveryStatus.PENDING, at + policy.delay(attempts), None
    return replace(
        delivery,
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        delivered_at=delivered_at,
        last_status_code=outcome.status_code,
        last_error=outcome.error,
    )


def redelivered(delivery: Delivery, at: datetime, policy: RetryPolicy) -> Delivery:
    """A delivery sent again on an operator's request: a fresh budget of attempts."""
    return replace(
        delivery,
        status=DeliveryStatus.PENDING,
        next_attempt_at=at,
        delivered_at=None,
        max_attempts=delivery.attempts + policy.max_attempts,
    )
