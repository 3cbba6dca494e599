"""Counters the gateway keeps for /metrics: plain ints and dicts, cheap on the hot path.

The Prometheus collector (``evcms.metrics``) reads them at scrape time.
"""

from __future__ import annotations

from collections import defaultdict

# Upper bounds in seconds of the latency histogram buckets.
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.sum += seconds
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
                return
        self.buckets[-1] += 1


class GatewayStats:
    def __init__(self) -> None:
        # (direction, action, outcome) -> count; direction "in" = station-initiated.
        self.messages: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.handshakes_refused: defaultdict[int, int] = defaultdict(int)
        self.inbound_latency: defaultdict[str, Histogram] = defaultdict(Histogram)
        self.outbound_latency: defaultdict[str, Histogram] = defaultdict(Histogram)
        self.frames_in = 0
        self.frames_out = 0
        self.connections_total = 0
