"""Analytics on a big history: rollups against scanning raw rows, on PostgreSQL.

Generates in a throwaway PostgreSQL database (COPY through asyncpg) a year of history: sites,
stations with two connectors each, ended charging sessions with their settled charges, the
connector status history around each session (Preparing, Charging, Finishing, Available, some
faults and Unavailable maintenance), and meter samples. Meter samples go into a stand-in table
``bench_meter_samples(session_id, at, energy_wh)``: evcms keeps them in ``session_events`` as JSON
per station message, which the rollups never read either way; the stand-in keeps the generation
time reasonable and gives the baseline a fair column to scan.

Then it builds the rollups (``Analytics.rebuild``, the same code ``evcms analytics rebuild``
runs) and times:
  - the monthly network report (utilisation, uptime per connector, sessions per day, summary,
    revenue, faults, top tokens) from the rollups;
  - one site's monthly report (``site_report``);
  - a year of daily energy for the network;
  - the same monthly network figures computed by scanning the raw rows (the baseline): sessions
    and revenue from charging_sessions + session_charges, energy from the meter samples, status
    time from the history with a window function.
Figures only; never a pass/fail on time.

    .venv/bin/python bench/analytics_history.py                      # 1M sessions, 50M samples
    .venv/bin/python bench/analytics_history.py --sessions 100000 --samples 5000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from evcms.domain.analytics import Grain
from evcms.services.analytics import Analytics
from evcms.storage.analytics import SqlAnalyticsRepository
from evcms.storage.charging import SqlChargingSessionRepository
from evcms.storage.database import create_engine
from evcms.storage.migrate import upgrade
from evcms.storage.repositories import SqlSiteRepository, SqlStationRepository
from evcms.storage.writer import Writer

START = datetime(2025, 11, 1, tzinfo=UTC)
REPORT_MONTH = "2026-06"
ZONE = "Europe/Sofia"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


def _progress(what: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"  {what}: {done:,}/{total:,} ({rate:,.0f}/s)", flush=True)


async def generate(dsn: str, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_meter_samples (session_id bigint NOT NULL, at timestamptz NOT NULL,"
            " energy_wh numeric(24, 6) NOT NULL)"
        )
        now = START
        sites = [(f"site-{n:03d}", f"Site {n}", "", None, None, now) for n in range(args.stations // 50 or 1)]
        await conn.copy_records_to_table("sites", records=sites, columns=["id", "name", "address", "latitude", "longitude", "created_at"])
        station_rows = []
        for n in range(args.stations):
            site = sites[n % len(sites)][0]
            station_rows.append(
                (f"ST-{n:05d}", site, f"Station {n}", "Accepted", "ocpp1.6", "Vendor", f"Model-{n % 5}", now, now)
            )
        await conn.copy_records_to_table(
            "stations", records=station_rows,
            columns=["id", "site_id", "name", "registration", "ocpp_version", "vendor", "model", "created_at", "updated_at"],
        )
        days = args.days
        span = timedelta(days=days).total_seconds()
        history: list[tuple[Any, ...]] = []
        for sid, *_ in station_rows:
            history.append((sid, 0, 0, START, "connection", "Connected", "NoError", ""))
            for evse in (1, 2):
                history.append((sid, evse, 1, START, "status", "Available", "NoError", ""))
        # sessions: spread over the year; each connector's sessions in time order
        per_connector = args.sessions // (args.stations * 2)
        samples_per_session = max(1, args.samples // max(args.sessions, 1))
        session_id = 0
        sessions: list[tuple[Any, ...]] = []
        charges: list[tuple[Any, ...]] = []
        samples_total = 0
        started = time.perf_counter()
        print(f"generating {args.sessions:,} sessions, {args.samples:,} samples over {args.stations} stations, {days} days", flush=True)
        sample_buffer: list[tuple[Any, ...]] = []
        for sid, *_ in station_rows:
            for evse in (1, 2):
                gap = span / max(per_connector, 1)
                for k in range(per_connector):
                    session_id += 1
                    begin = START + timedelta(seconds=k * gap + rng.uniform(0, gap * 0.5))
                    minutes = rng.uniform(15, min(120, gap / 60 * 0.4))
                    end = begin + timedelta(minutes=minutes)
                    energy = Decimal(int(minutes * rng.uniform(80, 180)))
                    failed = rng.random() < 0.05
                    reason = "PowerLoss" if failed else "Local"
                    token = f"TOKEN-{rng.randrange(20000):05d}"
                    sessions.append(
                        (session_id, sid, str(session_id), evse, 1, "ocpp1.6", "Ended", begin, end, token,
                         reason, Decimal(0), energy, energy, 2**31 - 1, end, False, True, begin, end)
                    )
                    incl = int(energy * Decimal("0.036"))  # cents
                    excl = incl * 100 // 120
                    charges.append((session_id, "EUR", excl, incl - excl, incl, "[]", "wallet", "paid", end))
                    history += [
                        (sid, evse, 1, begin - timedelta(minutes=2), "status", "Preparing", "NoError", ""),
                        (sid, evse, 1, begin, "status", "Charging", "NoError", ""),
                        (sid, evse, 1, end, "status", "Finishing", "NoError", ""),
                        (sid, evse, 1, end + timedelta(minutes=3), "status", "Available", "NoError", ""),
                    ]
                    if rng.random() < 0.01:
                        f0 = end + timedelta(minutes=5)
                        history += [
                            (sid, evse, 1, f0, "status", "Faulted", rng.choice(["GroundFailure", "OverCurrentFailure", "PowerMeterFailure"]), ""),
                            (sid, evse, 1, f0 + timedelta(minutes=30), "status", "Available", "NoError", ""),
                        ]
                    step = minutes / samples_per_session
                    for m in range(samples_per_session):
                        sample_buffer.append(
                            (session_id, begin + timedelta(minutes=step * (m + 1)), energy * (m + 1) / samples_per_session)
                        )
                    if len(sample_buffer) >= 500_000:
                        await conn.copy_records_to_table("bench_meter_samples", records=sample_buffer, columns=["session_id", "at", "energy_wh"])
                        samples_total += len(sample_buffer)
                        sample_buffer.clear()
                        _progress("meter samples", samples_total, args.samples, started)
                    if len(sessions) >= 100_000:
                        await _flush_sessions(conn, sessions, charges)
                        _progress("sessions", session_id, args.sessions, started)
        if sample_buffer:
            await conn.copy_records_to_table("bench_meter_samples", records=sample_buffer, columns=["session_id", "at", "energy_wh"])
            samples_total += len(sample_buffer)
        await _flush_sessions(conn, sessions, charges)
        history.sort(key=lambda r: (r[0], r[3]))
        for n in range(0, len(history), 500_000):
            await conn.copy_records_to_table(
                "connector_status_history", records=history[n : n + 500_000],
                columns=["station_id", "evse_id", "connector_id", "at", "source", "status", "error_code", "vendor_error_code"],
            )
        print(f"  {session_id:,} sessions, {samples_total:,} samples, {len(history):,} status rows"
              f" in {time.perf_counter() - started:.1f} s; indexing and ANALYZE...", flush=True)
        await conn.execute("CREATE INDEX ON bench_meter_samples (at)")
        await conn.execute("SELECT setval(pg_get_serial_sequence('charging_sessions', 'id'), $1)", session_id + 1)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _flush_sessions(conn: asyncpg.Connection, sessions: list[Any], charges: list[Any]) -> None:
    await conn.copy_records_to_table(
        "charging_sessions", records=sessions,
        columns=["id", "station_id", "transaction_id", "evse_id", "connector_id", "ocpp_version", "status",
                 "started_at", "ended_at", "id_token", "stop_reason", "meter_start_wh", "meter_stop_wh",
                 "energy_wh", "last_seq_no", "last_at", "offline", "seen_start", "created_at", "updated_at"],
    )
    await conn.copy_records_to_table(
        "session_charges", records=charges,
        columns=["session_id", "currency", "total_excl_minor", "total_tax_minor", "total_incl_minor",
                 "breakdown", "payment_mode", "status", "priced_at"],
    )
    sessions.clear()
    charges.clear()


BASELINE = """
WITH s AS (
  SELECT cs.id, cs.energy_wh, cs.stop_reason, sc.currency, sc.total_incl_minor
  FROM charging_sessions cs LEFT JOIN session_charges sc ON sc.session_id = cs.id
  WHERE cs.started_at >= $1 AND cs.started_at < $2 AND cs.status = 'Ended'
)
SELECT count(*), sum(energy_wh), sum(total_incl_minor),
       count(*) FILTER (WHERE energy_wh > 0 AND coalesce(stop_reason, '') <> 'PowerLoss') FROM s
"""
BASELINE_SAMPLES = """
SELECT sum(e) FROM (SELECT max(energy_wh) - min(energy_wh) AS e FROM bench_meter_samples
                    WHERE at >= $1 AND at < $2 GROUP BY session_id) x
"""
BASELINE_STATUS = """
SELECT status, sum(extract(epoch FROM least(nxt, $2) - greatest(at, $1))) FROM (
  SELECT status, at, coalesce(lead(at) OVER (PARTITION BY station_id, evse_id, connector_id, source ORDER BY at, id), $2) AS nxt
  FROM connector_status_history WHERE source = 'status' AND at < $2
) h WHERE nxt > $1 GROUP BY status
"""
BASELINE_FAULTS = """
SELECT error_code, count(*) FROM connector_status_history
WHERE at >= $1 AND at < $2 AND status = 'Faulted' GROUP BY error_code
"""
BASELINE_TOKENS = """
SELECT id_token, count(*), sum(energy_wh) FROM charging_sessions
WHERE started_at >= $1 AND started_at < $2 GROUP BY id_token ORDER BY 3 DESC LIMIT 10
"""


async def measure(url: str, dsn: str, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    writer = Writer(engine)
    await writer.start()
    clock = FixedClock(START + timedelta(days=args.days))
    repo = SqlAnalyticsRepository(engine, writer, clock=clock)
    analytics = Analytics(
        repository=repo,
        stations=SqlStationRepository(engine, writer, clock=clock),
        sites=SqlSiteRepository(engine, writer, clock=clock),
        sessions=SqlChargingSessionRepository(engine, writer, clock=clock),
        charges=repo,
        clock=clock,
    )
    try:
        t0 = time.perf_counter()
        result = await analytics.rebuild(START, START + timedelta(days=args.days + 1))
        print(f"rebuild (rollups from raw rows): {time.perf_counter() - t0:.1f} s  {result}", flush=True)
        period = analytics.month_period(REPORT_MONTH, ZONE)
        network = await analytics.scope()

        async def network_report() -> None:
            await analytics.utilisation(network, period, Grain.DAY)
            await analytics.uptime(network, period)
            await analytics.sessions(network, period, Grain.DAY)
            await analytics.summary(network, period)
            await analytics.revenue(network, period, Grain.DAY)
            await analytics.faults(network, period)
            await analytics.top_tokens(network, period, 10)

        async def site_report() -> None:
            await analytics.site_report("site-000", REPORT_MONTH, ZONE)

        async def year_daily() -> None:
            year = analytics.period(START.date(), (START + timedelta(days=365)).date(), ZONE)
            await analytics.sessions(network, year, Grain.DAY)

        conn = await asyncpg.connect(dsn)

        async def baseline() -> None:
            for query in (BASELINE, BASELINE_SAMPLES, BASELINE_STATUS, BASELINE_FAULTS, BASELINE_TOKENS):
                await conn.fetch(query, period.start, period.end)

        for name, work in (
            ("monthly network report (rollups)", network_report),
            ("monthly site report (rollups)", site_report),
            ("a year of daily energy (rollups)", year_daily),
            ("monthly network report (raw scan baseline)", baseline),
        ):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                await work()
                times.append(time.perf_counter() - t0)
            print(f"{name:<46} best {min(times) * 1000:8.1f} ms   first {times[0] * 1000:8.1f} ms", flush=True)
        await conn.close()
    finally:
        await writer.close()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50_000_000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    args = parser.parse_args()
    name = f"evcms_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=args.host, port=args.port, user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://postgres@{args.host}:{args.port}/{name}"
    url = f"postgresql+asyncpg://postgres@{args.host}:{args.port}/{name}"
    try:
        await upgrade(url)
        await generate(dsn, args)
        await measure(url, dsn, args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
