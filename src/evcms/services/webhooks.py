"""Webhooks: subscriptions, and a delivery queue that survives restarts.

``on_event`` (a bus subscriber) never touches HTTP: it stores one delivery per matching
subscription (the event's JSON, as the live stream has it) and wakes the worker. ``run`` (the
worker) sends due deliveries through a :class:`WebhookSender` (httpx in production), signs each
attempt (:mod:`evcms.domain.webhooks`), logs every attempt, and retries failures with
exponential backoff until ``max_attempts``, then marks the delivery failed; an operator may
send it again. Pending deliveries in storage are picked up after a restart.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from evcms.domain.events import Event
from evcms.domain.ids import SiteId, StationId
from evcms.domain.webhooks import (
    PING_EVENT,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    RetryPolicy,
    WebhookSubscription,
    after_attempt,
    headers,
    matches,
    redelivered,
)
from evcms.services.ports import Clock, NotFound, ServiceError

log = logging.getLogger(__name__)

MIN_SECRET = 16
MAX_URL = 2000
SECRET_BYTES = 32


class WebhookRepository(Protocol):
    async def add_subscription(self, subscription: WebhookSubscription) -> None: ...

    async def get_subscription(self, subscription_id: str) -> WebhookSubscription | None: ...

    async def subscriptions(self) -> builtins.list[WebhookSubscription]: ...  # oldest first

    async def update_subscription(self, subscription: WebhookSubscription) -> None: ...  # NotFound

    async def delete_subscription(self, subscription_id: str) -> bool: ...  # and its deliveries

    async def enqueue(self, deliveries: Sequence[Delivery]) -> builtins.list[Delivery]: ...  # ids given

    async def due(self, at: datetime, limit: int) -> builtins.list[Delivery]: ...  # oldest due first

    async def next_due_at(self) -> datetime | None: ...  # of pending deliveries

    async def record_attempt(self, delivery: Delivery, attempt: DeliveryAttempt) -> None: ...

    async def save_delivery(self, delivery: Delivery) -> None: ...

    async def get_delivery(self, delivery_id: int) -> Delivery | None: ...

    async def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[Delivery]: ...  # newest first

    async def attempts(self, delivery_id: int) -> builtins.list[DeliveryAttempt]: ...  # in order

    async def purge(self, finished_before: datetime) -> int: ...  # delivered/failed ones


class WebhookSender(Protocol):
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AttemptOutcome: ...


# An event -> (its type name, its JSON object), or None for events not offered to webhooks.
Serialiser = Callable[[Event], tuple[str, dict[str, Any]] | None]
SiteOf = Callable[[StationId], Awaitable[SiteId | None]]


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 10.0  # seconds per attempt
    concurrency: int = 16  # attempts in flight at once
    poll_seconds: float = 1.0  # the worker looks for due deliveries at least this often


@dataclass(frozen=True, slots=True)
class DeliveryWithAttempts:
    delivery: Delivery
    attempts: list[DeliveryAttempt]


class Webhooks:
    def __init__(
        self,
        *,
        repository: WebhookRepository,
        sender: WebhookSender,
        clock: Clock,
        serialise: Serialiser,
        event_types: Iterable[str],
        site_of: SiteOf,
        policy: WebhookPolicy | None = None,
    ) -> None:
        self._repository = repository
        self._sender = sender
        self._clock = clock
        self._serialise = serialise
        self.event_types = tuple(event_types)
        self._site_of = site_of
        self.policy = policy or WebhookPolicy()
        self._subscriptions: list[WebhookSubscription] = []
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self.policy.concurrency)

    async def start(self) -> None:
        self._subscriptions = await self._repository.subscriptions()

    # -- subscriptions -----------------------------------------------------------------------

    def _check_url(self, url: str) -> str:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(f"url must be an absolute http:// or https:// URL, not {url!r}", 422)
        if len(url) > MAX_URL:
            raise ServiceError(f"url may have at most {MAX_URL} characters", 422)
        return url

    def _check_types(self, event_types: Iterable[str]) -> frozenset[str]:
        types = frozenset(t.strip() for t in event_types if t.strip())
        if not types:
            raise ServiceError(
                "event_types needs at least one event type, of: " + ", ".join(self.event_types), 422
            )
        unknown = sorted(types - set(self.event_types))
        if unknown:
            raise ServiceError(
                f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(self.event_types)}",
                422,
            )
        return types

    @staticmethod
    def _check_secret(secret: str) -> str:
        if len(secret) < MIN_SECRET:
            raise ServiceError(f"secret must have at least {MIN_SECRET} characters", 422)
        if len(secret) > 200:
            raise ServiceError("secret may have at most 200 characters", 422)
        return secret

    async def create(
        self,
        *,
        url: str,
        event_types: Iterable[str],
        secret: str | None = None,
        enabled: bool = True,
        description: str = "",
        site_id: SiteId | None = None,
        station_id: StationId | None = None,
    ) -> WebhookSubscription:
        """A new subscription; its secret is generated unless given (return it once)."""
        now = self._clock.now()
        subscription = WebhookSubscription(
            id=str(uuid.uuid4()),
            url=self._check_url(url),
            event_types=self._check_types(event_types),
            secret=self._check_secret(secret) if secret is not None else "whsec_" + secrets.token_urlsafe(SECRET_BYTES),
            enabled=enabled,
            created_at=now,
            updated_at=now,
            description=description,
            site_id=site_id,
            station_id=station_id,
        )
        await self._repository.add_subscription(subscription)
        await self.start()
        return subscription

    async def subscription(self, subscription_id: str) -> WebhookSubscription:
        found = await self._repository.get_subscription(subscription_id)
        if found is None:
            raise NotFound(f"no webhook subscription {subscription_id}")
        return found

    async def subscriptions(self) -> builtins.list[WebhookSubscription]:
        return await self._repository.subscriptions()

    async def update(
        self,
        subscription_id: str,
        *,
        url: str | None = None,
        event_types: Iterable[str] | None = None,
        secret: str | None = None,
        enabled: bool | None = None,
        description: str | None = None,
        filters: tuple[SiteId | None, StationId | None] | None = None,
    ) -> WebhookSubscription:
        """Change what is given; ``filters`` (site, station) replaces both filters."""
        current = await self.subscription(subscription_id)
        changed = replace(
            current,
            url=self._check_url(url) if url is not None else current.url,
            event_types=self._check_types(event_types) if event_types is not None else current.event_types,
            secret=self._check_secret(secret) if secret is not None else current.secret,
            enabled=current.enabled if enabled is None else enabled,
            description=current.description if description is None else description,
            site_id=current.site_id if filters is None else filters[0],
            station_id=current.station_id if filters is None else filters[1],
            updated_at=self._clock.now(),
        )
        await self._repository.update_subscription(changed)
        await self.start()
        return changed

    async def delete(self, subscription_id: str) -> None:
        if not await self._repository.delete_subscription(subscription_id):
            raise NotFound(f"no webhook subscription {subscription_id}")
        await self.start()

    # -- deliveries --------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """The bus handler: store a delivery for every subscription that wants ``event``."""
        if not self._subscriptions:
            return
        serialised = self._serialise(event)
        if serialised is None:
            return
        event_type, payload = serialised
        raw_station = payload.get("station_id")
        station_id = StationId(raw_station) if isinstance(raw_station, str) else None
        wanted = [
            s
            for s in self._subscriptions
            if matches(s, event_type, station_id, s.site_id)  # the site is checked below
        ]
        if any(s.site_id is not None for s in wanted):
            site_id = None if station_id is None else await self._site_of(station_id)
            wanted = [s for s in wanted if s.site_id is None or s.site_id == site_id]
        if not wanted:
            return
        await self._enqueue(wanted, event_type, payload)

    async def _enqueue(
        self, subscriptions: Sequence[WebhookSubscription], event_type: str, payload: dict[str, Any]
    ) -> builtins.list[Delivery]:
        now = self._clock.now()
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        deliveries = [
            Delivery(
                id=0,
                delivery_key=str(uuid.uuid4()),
                subscription_id=s.id,
                event_type=event_type,
                body=body,
                status=DeliveryStatus.PENDING,
                attempts=0,
                max_attempts=self.policy.retry.max_attempts,
                created_at=now,
                next_attempt_at=now,
            )
            for s in subscriptions
        ]
        stored = await self._repository.enqueue(deliveries)
        self._wake.set()
        return stored

    async def test(self, subscription_id: str) -> Delivery:
        """Queue a ``ping`` delivery to the subscription (whatever its event types)."""
        subscription = await self.subscription(subscription_id)
        now = self._clock.now()
        payload = {
            "type": PING_EVENT,
            "station_id": None,
            "at": now.isoformat().replace("+00:00", "Z"),
            "subscription_id": subscription.id,
        }
        [delivery] = await self._enqueue([subscription], PING_EVENT, payload)
        return delivery

    async def deliveries(
        self,
        subscription_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> builtins.list[DeliveryWithAttempts]:
        await self.subscription(subscription_id)
        found = await self._repository.deliveries(
            subscription_id, status=status, limit=limit, before_id=before_id
        )
        return [DeliveryWithAttempts(d, await self._repository.attempts(d.id)) for d in found]

    async def delivery(self, subscription_id: str, delivery_id: int) -> DeliveryWithAttempts:
        found = await self._repository.get_delivery(delivery_id)
        if found is None or found.subscription_id != subscription_id:
            raise NotFound(f"no delivery {delivery_id} of webhook subscription {subscription_id}")
        return DeliveryWithAttempts(found, await self._repository.attempts(delivery_id))

    async def redeliver(self, subscription_id: str, delivery_id: int) -> Delivery:
        """Send a delivered or failed delivery again (the same id, a fresh set of attempts)."""
        found = (await self.delivery(subscription_id, delivery_id)).delivery
        if found.status is DeliveryStatus.PENDING or delivery_id in self._in_flight:
            raise ServiceError(
                f"delivery {delivery_id} is still pending (attempt {found.attempts + 1} is due"
                " or under way); it can be sent again once delivered or failed",
                409,
            )
        again = redelivered(found, self._clock.now(), self.policy.retry)
        await self._repository.save_delivery(again)
        self._wake.set()
        return again

    # -- the worker --------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Start an attempt for every due delivery not already under way and wait for them;
        returns how many were attempted."""
        tasks = self._start_due(await self._repository.due(self._clock.now(), 200))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    def _start_due(self, due: Sequence[Delivery]) -> list[asyncio.Task[None]]:
        started = []
        for delivery in due:
            if delivery.id in self._in_flight:
                continue
            task = asyncio.get_running_loop().create_task(self._attempt(delivery))
            self._in_flight[delivery.id] = task
            task.add_done_callback(functools.partial(self._finished, delivery.id))
            started.append(task)
        return started

    def _finished(self, delivery_id: int, _task: object = None) -> None:
        self._in_flight.pop(delivery_id, None)
        self._wake.set()

    async def run(self) -> None:
        """The worker: runs until cancelled (in-flight attempts are cancelled with it)."""
        try:
            while True:
                self._wake.clear()
                try:
                    self._start_due(await self._repository.due(self._clock.now(), 200))
                    timeout = self.policy.poll_seconds
                    next_at = await self._repository.next_due_at()
                    if next_at is not None:
                        until = (next_at - self._clock.now()).total_seconds()
                        if until > 0:
                            timeout = min(timeout, until)
                except Exception:
                    log.exception("webhook worker failed; trying again")
                    timeout = self.policy.poll_seconds
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            for task in list(self._in_flight.values()):
                task.cancel()

    async def _attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            subscription = await self._repository.get_subscription(delivery.subscription_id)
            if subscription is None:
                return  # deleted meanwhile (with its deliveries)
            at = self._clock.now()
            body = delivery.body.encode()
            try:
                outcome = await self._sender.post(
                    subscription.url,
                    body,
                    headers(subscription.secret, delivery.delivery_key, delivery.event_type, at, body),
                    self.policy.timeout,
                )
            except Exception as exc:  # a sender must not raise; be safe anyway
                outcome = AttemptOutcome(None, f"{type(exc).__name__}: {exc}", 0)
            done = self._clock.now()
            after = after_attempt(delivery, outcome, done, self.policy.retry)
            attempt = DeliveryAttempt(
                delivery.id, after.attempts, at, outcome.status_code, outcome.error, outcome.duration_ms
            )
            await self._repository.record_attempt(after, attempt)
            if after.status is DeliveryStatus.FAILED:
                log.warning(
                    "webhook delivery %d to %s failed after %d attempts",
                    delivery.id,
                    subscription.url,
                    after.attempts,
                )

    async def purge(self, finished_before: datetime) -> int:
        return await self._repository.purge(finished_before)
