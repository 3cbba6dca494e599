"""Session event writes: ``ChargingSessionRepository.record`` through the Writer (group commit)
vs committing every event on its own (``engine.begin()`` per call, the same statements).

Each event is MeterValues-like: an Updated event with 8 sampled values (register, power, three
currents, voltage, SoC, temperature), stored as a ``session_events`` row (the event as JSON) plus
the update of its session's state columns. Prints events/s, p50/p99 latency per call and the
ratio to the baseline, on SQLite (a temporary file) and PostgreSQL (a throwaway database, when
the server on 127.0.0.1:5432 is reachable). Never passes or fails.

    PYTHONPATH=src python bench/session_writes.py [--events 5000] [--sessions 500] [--concurrency 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from databases import on_each_database
from evcms.domain.charging_sessions import EventKind, SessionEvent, SessionState, apply
from evcms.domain.ids import StationId
from evcms.domain.metering import MeterSample
from evcms.storage.charging import SqlChargingSessionRepository
from evcms.storage.database import SQLITE_BEGIN_OPTION, create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.writer import Writer

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SIGNED = 'OCMF|{"FV":"1.0","RD":[{"RV":12.345,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"30450221"}'


@dataclass(frozen=True, slots=True)
class Write:
    session_id: int
    event: SessionEvent
    state: SessionState


def meter_event(seq: int, at: datetime, register_wh: Decimal) -> SessionEvent:
    samples = (
        MeterSample(at, "Energy.Active.Import.Register", register_wh, "Wh", signed=SIGNED),
        MeterSample(at, "Power.Active.Import", Decimal("11040.5"), "W"),
        MeterSample(at, "Current.Import", Decimal("16.01"), "A", phase="L1"),
        MeterSample(at, "Current.Import", Decimal("16.02"), "A", phase="L2"),
        MeterSample(at, "Current.Import", Decimal("15.99"), "A", phase="L3"),
        MeterSample(at, "Voltage", Decimal("230.1"), "V", phase="L1-N"),
        MeterSample(at, "SoC", Decimal(40 + seq % 60), "Percent", location="EV"),
        MeterSample(at, "Temperature", Decimal("21.5"), "Celsius", location="Body"),
    )
    return SessionEvent(f"seq:{seq}", EventKind.UPDATED, seq, at, samples=samples, evse_id=1)


def plan(session_ids: list[int], events: int, first_seq: int) -> list[Write]:
    """``events`` meter events spread round-robin over the sessions, each with the state it
    leads to (computed up front: the benchmark measures storage, not the fold)."""
    states = {sid: SessionState() for sid in session_ids}
    writes: list[Write] = []
    for n in range(events):
        sid = session_ids[n % len(session_ids)]
        seq = first_seq + n // len(session_ids)
        at = T0 + timedelta(seconds=60 * seq)
        event = meter_event(seq, at, Decimal(1000 + 250 * seq) + Decimal("0.125"))
        states[sid] = apply(states[sid], event)
        writes.append(Write(sid, event, states[sid]))
    return writes


async def run_concurrently(
    writes: list[Write], concurrency: int, record: Callable[[Write], Awaitable[bool]]
) -> tuple[float, list[float]]:
    """(elapsed seconds, latency of every call)."""
    queue = list(reversed(writes))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            write = queue.pop()
            started = time.perf_counter()
            if not await record(write):
                raise RuntimeError("an event was not new")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def p(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1] * 1000


async def bench(url: str, label: str, events: int, sessions: int, concurrency: int) -> None:
    await upgrade(url)
    engine = create_engine(url, pool_size=20, max_overflow=0)
    try:
        async with Writer(engine) as setup:
            repo = SqlChargingSessionRepository(engine, setup)
            created = await asyncio.gather(
                *(
                    repo.create(
                        station_id=StationId(f"CP-{n:05}"),
                        evse_id=1,
                        connector_id=1,
                        ocpp_version="1.6",
                        transaction_id=None,
                        start_key=f"start-{n}",
                        driver_id=None,
                        at=T0,
                    )
                    for n in range(sessions)
                )
            )
        session_ids = [session.id for session, _ in created]
        rounds = -(-events // sessions)
        now = datetime.now(UTC)
        results: list[tuple[str, float, list[float], int]] = []

        # 1. the repository: one writer op per event, group commit
        async with Writer(engine) as writer:
            repo = SqlChargingSessionRepository(engine, writer)
            grouped, grouped_latency = await run_concurrently(
                plan(session_ids, events, 1),
                concurrency,
                lambda w: repo.record(w.session_id, w.event, w.state, now),
            )
            results.append(("repository.record (group commit)", grouped, grouped_latency, writer.commits))

        # 2. the baseline: the same op, one engine.begin() (one commit) per event
        alone_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

        def alone(w: Write) -> Awaitable[bool]:
            async def run() -> bool:
                async with alone_engine.begin() as conn:
                    return await repo.record_op(w.session_id, w.event, w.state, now)(conn)

            return run()

        for name, workers, first_seq in (
            ("commit per event, 1 at a time", 1, 1 + rounds),
            (f"commit per event, {concurrency} callers", concurrency, 1 + 2 * rounds),
        ):
            elapsed, latency = await run_concurrently(
                plan(session_ids, events, first_seq), workers, alone
            )
            results.append((name, elapsed, latency, events))

        baseline = events / results[1][1]
        for name, elapsed, latency, commits in results:
            rate = events / elapsed
            print(
                f"{label:<11} {name:<36} {rate:>8,.0f} events/s"
                f"  p50 {p(latency, 50):7.1f} ms  p99 {p(latency, 99):7.1f} ms"
                f"  {commits:>5} commits  {rate / baseline:5.1f}x baseline"
            )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    print(
        f"{args.events} meter events (8 samples each) over {args.sessions} sessions,"
        f" {args.concurrency} concurrent callers; baseline = commit per event, 1 at a time"
    )

    async def run(url: str, label: str) -> None:
        await bench(url, label, args.events, args.sessions, args.concurrency)

    await on_each_database(run)

if __name__ == "__main__":
    asyncio.run(main())
