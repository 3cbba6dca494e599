"""Metrics (Prometheus), event-loop lag, and structured logs.

Hot-path code keeps plain counters (``station_gateway.stats``, the storage writer's counters);
the collector here turns them into Prometheus metrics only when /metrics is scraped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from evcms.station_gateway.stats import LATENCY_BUCKETS, GatewayStats, Histogram


class LoopLagMonitor:
    """Measures how late the event loop wakes up: a stalled loop stalls every station."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self.last_lag = 0.0
        self.histogram = Histogram()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - before - self.interval)
            self.last_lag = lag
            self.max_lag = max(self.max_lag, lag)
            self.histogram.observe(lag)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _histogram(name: str, doc: str, labels: list[str], series: Iterable[tuple[list[str], Histogram]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for label_values, hist in series:
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip(LATENCY_BUCKETS, hist.buckets, strict=False):
            cumulative += count
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", hist.count))
        family.add_metric(label_values, buckets, hist.sum)
    return family


class EvcmsCollector(Collector):
    def __init__(
        self,
        *,
        stats: GatewayStats,
        connected: Callable[[], int],
        lag: LoopLagMonitor,
        storage: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._stats = stats
        self._connected = connected
        self._lag = lag
        self._storage = storage

    def collect(self) -> Iterable[Any]:
        s = self._stats
        yield GaugeMetricFamily(
            "evcms_stations_connected", "Stations connected to this node", value=self._connected()
        )
        yield CounterMetricFamily(
            "evcms_station_connections", "Station connections accepted", value=s.connections_total
        )
        refused = CounterMetricFamily(
            "evcms_station_handshakes_refused", "Handshakes refused by HTTP status", labels=["status"]
        )
        for status, count in sorted(s.handshakes_refused.items()):
            refused.add_metric([str(status)], count)
        yield refused
        messages = CounterMetricFamily(
            "evcms_ocpp_messages",
            "OCPP calls by direction (in: station-initiated), action and outcome",
            labels=["direction", "action", "outcome"],
        )
        for (direction, action, outcome), count in sorted(s.messages.items()):
            messages.add_metric([direction, action, outcome], count)
        yield messages
        yield CounterMetricFamily("evcms_ocpp_frames_in", "Frames received", value=s.frames_in)
        yield CounterMetricFamily("evcms_ocpp_frames_out", "Frames sent", value=s.frames_out)
        yield _histogram(
            "evcms_ocpp_inbound_handling_seconds",
            "Time from a station's CALL to our answer",
            ["action"],
            ([[a], h] for a, h in sorted(s.inbound_latency.items())),  # type: ignore[misc]
        )
        yield _histogram(
            "evcms_ocpp_call_latency_seconds",
            "Time from our CALL to the station's answer",
            ["action"],
            ([[a], h] for a, h in sorted(s.outbound_latency.items())),  # type: ignore[misc]
        )
        yield _histogram(
            "evcms_event_loop_lag_seconds", "How late the event loop woke up", [],
            [([], self._lag.histogram)],
        )
        yield GaugeMetricFamily(
            "evcms_event_loop_lag_max_seconds", "Largest loop lag seen", value=self._lag.max_lag
        )
        if self._storage is not None:
            figures = self._storage()
            yield CounterMetricFamily(
                "evcms_db_commits", "Database commits by the writer", value=figures.get("commits", 0)
            )
            yield CounterMetricFamily(
                "evcms_db_commit_seconds", "Time spent committing", value=figures.get("commit_seconds", 0.0)
            )
            yield GaugeMetricFamily(
                "evcms_db_last_commit_seconds", "Duration of the last commit",
                value=figures.get("last_commit_seconds", 0.0),
            )
            yield GaugeMetricFamily(
                "evcms_db_write_queue", "Writes waiting for the writer", value=figures.get("queued", 0)
            )
            yield CounterMetricFamily(
                "evcms_message_log_dropped",
                "OCPP frames dropped from the message log because storage fell behind",
                value=figures.get("message_log_dropped", 0),
            )


def prometheus_exposition(collector: Collector) -> Callable[[], tuple[bytes, str]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    def render() -> tuple[bytes, str]:
        return generate_latest(registry), CONTENT_TYPE_LATEST

    return render


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # "Started server process"
