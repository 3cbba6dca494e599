"""The in-process bus: every subscriber gets what it asked for, in order; a slow one loses its
oldest events instead of slowing publishers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from evcms.domain.events import Event, StationConnected, StationDisconnected
from evcms.domain.ids import StationId
from evcms.messaging.bus import InProcessBus

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def connected(n: int) -> StationConnected:
    return StationConnected(StationId(f"S{n}"), "ocpp1.6", AT)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_subscriber_with_types_gets_only_those_and_one_without_gets_everything() -> None:
    bus = InProcessBus()
    everything: list[Event] = []
    only_gone: list[Event] = []
    bus.subscribe(everything.append)
    bus.subscribe(only_gone.append, types=(StationDisconnected,))
    events: list[Event] = [connected(1), StationDisconnected(StationId("S1"), AT, "closed"), connected(2)]
    for event in events:
        bus.publish(event)
    await settle()
    assert everything == events
    assert only_gone == [events[1]]
    assert bus.published == 3
    await bus.close()


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    bus = InProcessBus(queue_size=2)
    seen: list[Event] = []
    release = asyncio.Event()

    async def slow(event: Event) -> None:
        await release.wait()
        seen.append(event)

    bus.subscribe(slow)
    bus.publish(connected(0))
    await settle()  # the subscriber holds event 0 and waits
    for n in range(1, 5):
        bus.publish(connected(n))  # the queue keeps the newest two: 3 and 4
    release.set()
    await settle()
    assert [e.station_id for e in seen] == ["S0", "S3", "S4"]
    await bus.close()


async def test_unsubscribing_stops_delivery() -> None:
    bus = InProcessBus()
    seen: list[Event] = []
    unsubscribe = bus.subscribe(seen.append)
    bus.publish(connected(1))
    await settle()
    unsubscribe()
    bus.publish(connected(2))
    await settle()
    assert [e.station_id for e in seen] == ["S1"]
    await bus.close()
