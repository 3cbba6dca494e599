"""Connector-status upserts: group commit through the Writer vs one commit per upsert.

Prints rows/s for each way and the ratio, on SQLite (a temporary file) and PostgreSQL (a
throwaway database, when the server on 127.0.0.1:5432 is reachable). Never passes or fails.

    PYTHONPATH=src python bench/storage_writes.py [--rows 5000] [--stations 500] [--concurrency 500]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from databases import on_each_database
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorState, ConnectorStatus, Station
from evcms.storage._sql import upsert
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.repositories import SqlStationRepository, _connector_values
from evcms.storage.tables import connector_states
from evcms.storage.writer import Writer

STATUSES = list(ConnectorStatus)
T0 = datetime(2025, 3, 1, tzinfo=UTC)
KEY = ("station_id", "evse_id", "connector_id")


def states(rows: int, stations: int) -> list[ConnectorState]:
    return [
        ConnectorState(
            StationId(f"CP-{n % stations:05}"), 1 + (n // stations) % 2, 1, STATUSES[n % 9], T0
        )
        for n in range(rows)
    ]


async def run_concurrently(
    items: list[ConnectorState], concurrency: int, save: Callable[[ConnectorState], Awaitable[None]]
) -> float:
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            await save(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bench(url: str, label: str, rows: int, stations: int, concurrency: int) -> None:
    await upgrade(url)
    engine = create_engine(url, pool_size=20, max_overflow=0)
    try:
        async with Writer(engine) as setup:
            repo = SqlStationRepository(engine, setup)
            await asyncio.gather(
                *(repo.add(Station(StationId(f"CP-{n:05}"), T0)) for n in range(stations))
            )
        items = states(rows, stations)
        statement = upsert(engine.dialect.name, connector_states, KEY)

        # 1. the repository: group commit, same-statement upserts sent as one executemany
        async with Writer(engine) as writer:
            repo = SqlStationRepository(engine, writer)
            grouped = await run_concurrently(items, concurrency, repo.save_connector_state)
            commits = writer.commits

        # 2. group commit of opaque ops (one statement per op, one commit per batch)
        async def op_for(state: ConnectorState) -> Callable[[AsyncConnection], Awaitable[None]]:
            row = _connector_values(state)

            async def op(conn: AsyncConnection) -> None:
                await conn.execute(statement, row)

            return op

        async with Writer(engine) as writer:

            async def submit_op(state: ConnectorState) -> None:
                await writer.submit(await op_for(state))

            ops = await run_concurrently(items, concurrency, submit_op)
            op_commits = writer.commits

        # 3. the baseline: one transaction (and commit) per upsert, on one connection
        async with engine.connect() as conn:

            async def save_alone(state: ConnectorState) -> None:
                async with conn.begin():
                    await conn.execute(statement, _connector_values(state))

            alone = await run_concurrently(items, 1, save_alone)

        rates = {
            "repository (group commit + executemany)": (rows / grouped, commits),
            "writer ops (group commit only)": (rows / ops, op_commits),
            "one commit per upsert (baseline)": (rows / alone, rows),
        }
        baseline = rows / alone
        for name, (rate, n_commits) in rates.items():
            print(
                f"{label:<11} {name:<40} {rate:>9,.0f} rows/s  {n_commits:>5} commits"
                f"  {rate / baseline:5.1f}x baseline"
            )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    print(f"{args.rows} connector-status upserts over {args.stations} stations")

    async def run(url: str, label: str) -> None:
        await bench(url, label, args.rows, args.stations, args.concurrency)

    await on_each_database(run)

if __name__ == "__main__":
    asyncio.run(main())
