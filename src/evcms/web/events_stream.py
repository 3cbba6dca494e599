"""GET /api/v1/events: the live event stream (Server-Sent Events).

Each client has its own bus subscription and its own bounded buffer: a client that reads slower
than events arrive loses the oldest ones (and is told how many with an ``event: dropped``
notice) instead of slowing evcms. The subscription ends when the client disconnects.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, status
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from evcms.domain.events import Event
from evcms.domain.ids import SiteId, StationId, parse_site_id
from evcms.services.network import NetworkAdmin
from evcms.services.ports import EventBus
from evcms.web.auth import Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.event_schemas import (
    EVENT_TYPES,
    event_classes,
    event_json,
    event_type,
    station_of,
)

router = APIRouter(tags=["events"])

Deps = Annotated[WebDeps, Depends(web_deps)]

HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
BUFFER_SIZE = 1000  # events held per client; beyond that the oldest are dropped
MEDIA_TYPE = "text/event-stream"


class EventFilter:
    """Which events one stream wants; the station -> site lookups are cached per stream."""

    def __init__(
        self,
        network: NetworkAdmin,
        *,
        types: frozenset[str] | None,
        stations: frozenset[StationId] | None,
        site: SiteId | None,
    ) -> None:
        self._network = network
        self._types = types
        self._stations = stations
        self._site = site
        self._site_of: dict[StationId, SiteId | None] = {}

    async def wants(self, event: Event) -> bool:
        kind = event_type(event)
        if kind is None or (self._types is not None and kind not in self._types):
            return False
        station_id = station_of(event)
        if self._stations is not None and station_id not in self._stations:
            return False
        if self._site is None:
            return True
        if station_id not in self._site_of:
            station = await self._network.station(station_id)
            self._site_of[station_id] = None if station is None else station.site_id
        return self._site_of[station_id] == self._site


class EventStream:
    """One client's buffer of SSE frames: filled by the bus, drained by the response."""

    def __init__(self, wanted: EventFilter, *, size: int) -> None:
        self._wanted = wanted
        self._buffer: deque[tuple[int, str, str]] = deque(maxlen=size)
        self._ready = asyncio.Event()
        self._sequence = 0
        self.dropped = 0

    async def on_event(self, event: Event) -> None:
        """The bus handler: filter, serialise, buffer (dropping the oldest when full)."""
        if not await self._wanted.wants(event):
            return
        self._sequence += 1
        body = event_json(event)
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append((self._sequence, str(body["type"]), data))
        self._ready.set()

    async def next_frame(self, timeout: float) -> str:
        """The next frame to send: a dropped notice, an event, or a keep-alive after ``timeout``."""
        if not self._buffer and self.dropped == 0:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return ": keep-alive\n\n"
        if self.dropped:
            count, self.dropped = self.dropped, 0
            return f"event: dropped\ndata: {json.dumps({'count': count})}\n\n"
        sequence, kind, data = self._buffer.popleft()
        return f"id: {sequence}\nevent: {kind}\ndata: {data}\n\n"


class EventStreamResponse(Response):
    """Subscribes on start, streams frames, unsubscribes when the client goes (or on error)."""

    media_type = MEDIA_TYPE

    def __init__(
        self, bus: EventBus, stream: EventStream, classes: frozenset[type[Any]] | None = None
    ) -> None:
        super().__init__(
            status_code=status.HTTP_200_OK,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            media_type=MEDIA_TYPE,
        )
        # no Content-Length: the body is endless (Response adds "0" for an empty body)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._bus = bus
        self._stream = stream
        self._classes = classes  # the event classes the client asked for (None: all)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unsubscribe = self._bus.subscribe(self._stream.on_event, types=self._classes)
        try:
            async with anyio.create_task_group() as group:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                try:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": self.status_code,
                            "headers": self.raw_headers,
                        }
                    )
                    # a first comment so clients see the stream open before any event
                    await send(
                        {"type": "http.response.body", "body": b": open\n\n", "more_body": True}
                    )
                    while True:
                        frame = await self._stream.next_frame(HEARTBEAT_SECONDS)
                        await send(
                            {
                                "type": "http.response.body",
                                "body": frame.encode(),
                                "more_body": True,
                            }
                        )
                except OSError:  # the server says the client is gone
                    group.cancel_scope.cancel()
        finally:
            unsubscribe()


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@router.get(
    "/events",
    status_code=status.HTTP_200_OK,
    response_class=EventStreamResponse,
    responses={
        200: {
            "content": {MEDIA_TYPE: {}},
            "description": "Server-Sent Events: `id: <n>`, `event: <type>`, `data: <JSON>` per"
            ' event; `event: dropped` with `{"count": n}` when this client fell behind and lost'
            " events; a `: keep-alive` comment every 15 s.",
        },
        503: {"description": "The live event stream is not enabled on this server"},
    },
)
async def stream_events(
    _: Reader,
    deps: Deps,
    station_id: Annotated[
        list[str] | None,
        Query(description="Only these stations (repeat or comma-separate)"),
    ] = None,
    site_id: Annotated[str | None, Query(description="Only stations of this site")] = None,
    event_types: Annotated[
        list[str] | None,
        Query(
            alias="type",
            description="Only these event types (repeat or comma-separate): "
            + ", ".join(EVENT_TYPES),
        ),
    ] = None,
) -> Any:
    """The live event stream: station online/offline and boots, connector status, sessions."""
    if deps.events is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the live event stream is not enabled on this server",
        )
    types = _split(event_types)
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown event type(s) {', '.join(unknown)}; valid types: {', '.join(EVENT_TYPES)}",
        )
    stations = _split(station_id)
    wanted = EventFilter(
        deps.network,
        types=frozenset(types) or None,
        stations=frozenset(StationId(s) for s in stations) or None,
        site=None if site_id is None else parse_site_id(site_id),
    )
    classes = frozenset(event_classes(types)) if types else None
    return EventStreamResponse(deps.events, EventStream(wanted, size=BUFFER_SIZE), classes)
