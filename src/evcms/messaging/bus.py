"""The in-process event bus (the default, for one node).

``publish`` never blocks the publisher: each subscriber has its own bounded queue and task, so a
slow subscriber drops its oldest events (counted) instead of slowing the station message path.
A subscriber may name the event types it handles: others never reach its queue, so a meter
sample does not wake a subscriber that only settles ended sessions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from evcms.domain.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None] | None]


class _Subscriber:
    def __init__(
        self, handler: Handler, maxsize: int, types: frozenset[type[Any]] | None = None
    ) -> None:
        self.handler = handler
        self.types = types
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if self.types is not None and type(event) not in self.types:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                result = self.handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)


class InProcessBus:
    def __init__(self, *, queue_size: int = 10_000) -> None:
        self._subscribers: list[_Subscriber] = []
        self._queue_size = queue_size
        self.published = 0

    def publish(self, event: Event) -> None:
        self.published += 1
        for subscriber in self._subscribers:
            subscriber.offer(event)

    def subscribe(
        self, handler: Handler, *, types: Iterable[type[Any]] | None = None
    ) -> Callable[[], None]:
        """Call ``handler`` with every published event (of ``types`` only, when given)."""
        wanted = None if types is None else frozenset(types)
        subscriber = _Subscriber(handler, self._queue_size, wanted)
        subscriber.task = asyncio.get_running_loop().create_task(subscriber.run())
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            if subscriber.task is not None:
                subscriber.task.cancel()

        return unsubscribe

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            if subscriber.task is not None:
                subscriber.task.cancel()
        self._subscribers.clear()
