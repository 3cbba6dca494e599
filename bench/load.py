"""Load generator for OCPP-J central systems: evcms against the stock-library reference.

Opens N station connections over real sockets (a mix of OCPP 1.6 and 2.0.1), with raw
`websockets` clients and hand-built orjson frames (not the `ocpp` library: the load side must be
cheaper than the server it measures), and reports CALLs/s, latency, server CPU and RSS.

    python bench/load.py --target both --scenario meter --stations 200 --duration 20 --server-cpu 0
    python bench/load.py --target reference --scenario idle --stations 10000 --workers 2
    python bench/load.py --target both --scenario sessions --stations 1000 --meter-interval 10 \
        --duration 60 --server-cpu 0
    python bench/load.py --self-test

See bench/README.md for what each scenario measures and how to read the figures.
Figures are printed, never judged: the exit status is 0 whatever the times are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import orjson
import psutil
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.version import version as websockets_version

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TARGETS = ("evcms", "reference")
SCENARIOS = ("throughput", "meter", "idle", "sessions")
BENCH_ID_TAG = "BENCH-CARD"  # the card every station charges with in the sessions scenario


# ==================================================================================================
# SERVER COMMANDS — the one place that says how each target server is started.
# The integrator adjusts the evcms command line / environment here and nowhere else.
# ==================================================================================================
STATION_URL_TEMPLATE = "ws://127.0.0.1:{port}/ocpp/{station_id}"


@dataclass(frozen=True)
class ServerCommand:
    argv: list[str]
    env: dict[str, str]  # added to (and overriding) the harness's own environment
    url_template: str = STATION_URL_TEMPLATE
    # run in order before the server starts, with the server's environment and working directory
    setup: list[list[str]] = field(default_factory=list)
    # after a sessions run, before the server is stopped: sessions stored, by status (or None)
    session_counts: Callable[[], dict[str, int]] | None = None


def evcms_session_counts(database: Path) -> dict[str, int]:
    """Charging sessions in evcms's SQLite database by status, and their stored events."""
    uri = f"file:{database}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        counts = {
            str(status): int(n)
            for status, n in db.execute(
                "SELECT status, COUNT(*) FROM charging_sessions GROUP BY status"
            )
        }
        counts["events"] = int(db.execute("SELECT COUNT(*) FROM session_events").fetchone()[0])
    return counts


def evcms_server_command(
    ocpp_port: int, http_port: int, workdir: Path, scenario: str
) -> ServerCommand:
    """How the harness starts evcms: a fresh SQLite database per run, unknown stations accepted.

    For the sessions scenario the schema is created first and the stations' card is issued
    (no limit on concurrent sessions), so that every StartTransaction is authorised."""
    cli = [sys.executable, "-m", "evcms.cli"]
    database = workdir / "bench.db"
    setup: list[list[str]] = []
    if scenario == "sessions":
        setup = [
            [*cli, "db", "upgrade"],
            [*cli, "token", "add", BENCH_ID_TAG, "--max-concurrent", "0"],
        ]
    return ServerCommand(
        argv=[
            *cli,
            "serve",
            "--ocpp-port",
            str(ocpp_port),
            "--http-port",
            str(http_port),
            "--host",
            "127.0.0.1",
        ],
        env={
            "EVCMS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "EVCMS_AUTO_ONBOARD": "accept",
            "EVCMS_ALLOW_UNSECURED_STATIONS": "true",
            "EVCMS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
            ),
        },
        setup=setup,
        session_counts=lambda: evcms_session_counts(database),
    )


def reference_server_command(
    ocpp_port: int, http_port: int, workdir: Path, scenario: str
) -> ServerCommand:
    """The stock `ocpp` library pattern (bench/reference_csms.py); it stores nothing."""
    return ServerCommand(
        argv=[
            sys.executable,
            str(BENCH_DIR / "reference_csms.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(ocpp_port),
        ],
        env={},
    )


SERVER_COMMANDS: dict[str, Callable[[int, int, Path, str], ServerCommand]] = {
    "evcms": evcms_server_command,
    "reference": reference_server_command,
}
# ==================================================================================================


# -------------------------------------------------------------------------------------------------
# OCPP-J payloads, hand-built (checked once against the official schemas in self_test()).
# -------------------------------------------------------------------------------------------------
V16 = "1.6"
SUBPROTOCOL_VERSION = {"ocpp1.6": V16, "ocpp2.0.1": "2.0.1", "ocpp2.1": "2.1"}

_ts_cache: list[Any] = [-1, ""]


def utc_timestamp() -> str:
    """RFC 3339 UTC timestamp at one-second resolution, cached per second."""
    now = int(time.time())
    if now != _ts_cache[0]:
        _ts_cache[0] = now
        _ts_cache[1] = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(_ts_cache[1])


@dataclass(frozen=True)
class StationSpec:
    index: int
    station_id: str
    subprotocol: str
    connectors: int
    sampled_values: int  # 6..8 per MeterValue
    heartbeat_sampler: bool = False  # idle scenario: sends a Heartbeat every period

    @property
    def version(self) -> str:
        return SUBPROTOCOL_VERSION[self.subprotocol]


# (measurand, phase, unit, location, value)
Sample = tuple[str, str | None, str, str, float]
SESSION_SAMPLED_VALUES = 8


class StationState:
    """The little state a station needs to produce plausible, schema-valid payloads."""

    __slots__ = (
        "connector_cursor",
        "energy_wh",
        "last_meter",
        "last_register",
        "last_stamp_ms",
        "seq_no",
        "soc",
        "spec",
        "status_flip",
        "transaction_id",
    )

    def __init__(self, spec: StationSpec) -> None:
        self.spec = spec
        self.energy_wh = 1_000_000.0 + spec.index * 1_000.0
        self.soc = 20.0 + spec.index % 50
        self.last_meter = time.monotonic()
        self.connector_cursor = spec.index
        self.status_flip = False
        # sessions scenario
        self.transaction_id: int | str | None = None  # 1.6: from the CSMS; 2.x: the station's
        self.seq_no = 0  # 2.x TransactionEvent seqNo
        self.last_register = 0  # Energy.Active.Import.Register sent last (strictly increasing)
        self.last_stamp_ms = 0  # session timestamps: millisecond resolution, strictly increasing

    def next_connector(self) -> int:
        self.connector_cursor += 1
        return self.connector_cursor % self.spec.connectors + 1

    def boot(self) -> dict[str, Any]:
        serial = f"SN-{self.spec.index:06d}"
        if self.spec.version == V16:
            return {
                "chargePointVendor": "evcms-bench",
                "chargePointModel": "AC22-2",
                "chargePointSerialNumber": serial,
                "firmwareVersion": "1.0.0",
            }
        return {
            "reason": "PowerUp",
            "chargingStation": {
                "model": "AC22-2",
                "vendorName": "evcms-bench",
                "serialNumber": serial,
                "firmwareVersion": "1.0.0",
            },
        }

    def status(self, connector: int | None = None, *, initial: bool = False) -> dict[str, Any]:
        if connector is None:
            connector = self.next_connector()
        if not initial:
            self.status_flip = not self.status_flip
        busy = self.status_flip and not initial
        if self.spec.version == V16:
            return {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": "Preparing" if busy else "Available",
                "timestamp": utc_timestamp(),
            }
        return {
            "timestamp": utc_timestamp(),
            "connectorStatus": "Occupied" if busy else "Available",
            "evseId": connector,
            "connectorId": 1,
        }

    @staticmethod
    def heartbeat() -> dict[str, Any]:
        return {}

    def register_wh(self) -> int:
        """The energy register now: advances with the power drawn, strictly increasing."""
        register = max(round(self.energy_wh), self.last_register + 1)
        self.last_register = register
        return register

    def samples(self, n_values: int) -> list[Sample]:
        now = time.monotonic()
        amps = [16.0 + random.random() for _ in range(3)]
        volts = 228.0 + 4.0 * random.random()
        power_w = volts * sum(amps)
        self.energy_wh += power_w * max(now - self.last_meter, 0.001) / 3600.0
        self.last_meter = now
        self.soc = self.soc + 0.01 if self.soc < 99.0 else 20.0
        samples: list[Sample] = [
            ("Energy.Active.Import.Register", None, "Wh", "Outlet", self.register_wh()),
            ("Power.Active.Import", None, "W", "Outlet", round(power_w, 1)),
            ("Current.Import", "L1", "A", "Outlet", round(amps[0], 2)),
            ("Current.Import", "L2", "A", "Outlet", round(amps[1], 2)),
            ("Current.Import", "L3", "A", "Outlet", round(amps[2], 2)),
            ("Voltage", "L1-N", "V", "Outlet", round(volts, 1)),
            ("SoC", None, "Percent", "EV", round(self.soc, 1)),
            ("Current.Offered", None, "A", "Outlet", 32.0),
        ]
        return samples[:n_values]

    def sampled_values(self, samples: list[Sample], context: str) -> list[dict[str, Any]]:
        """Samples in this station's version's shape (1.6: strings and `unit`; 2.x: numbers)."""
        sampled: list[dict[str, Any]] = []
        v16 = self.spec.version == V16
        for measurand, phase, unit, location, value in samples:
            if v16:
                sv: dict[str, Any] = {
                    "value": str(value),
                    "context": context,
                    "format": "Raw",
                    "measurand": measurand,
                    "location": location,
                    "unit": unit,
                }
            else:
                sv = {
                    "value": value,
                    "context": context,
                    "measurand": measurand,
                    "location": location,
                    "unitOfMeasure": {"unit": unit, "multiplier": 0},
                }
            if phase:
                sv["phase"] = phase
            sampled.append(sv)
        return sampled

    def meter_values(self) -> dict[str, Any]:
        sampled = self.sampled_values(self.samples(self.spec.sampled_values), "Sample.Clock")
        connector = self.next_connector()
        meter_value = [{"timestamp": utc_timestamp(), "sampledValue": sampled}]
        if self.spec.version == V16:
            return {"connectorId": connector, "meterValue": meter_value}
        return {"evseId": connector, "meterValue": meter_value}

    # --- sessions scenario: one transaction on connector (EVSE) 1 ---------------------------
    def session_timestamp(self) -> str:
        """Millisecond UTC timestamp, strictly increasing per station (1.6 MeterValues of one
        transaction are told apart by their timestamp)."""
        ms = max(int(time.time() * 1000), self.last_stamp_ms + 1)
        self.last_stamp_ms = ms
        second = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{second}.{ms % 1000:03d}Z"

    def register_sample(self, context: str) -> dict[str, Any]:
        """A meterValue with only the energy register (2.x Transaction.Begin / .End)."""
        self.samples(1)  # advance the register with the time elapsed
        sampled = self.sampled_values(
            [("Energy.Active.Import.Register", None, "Wh", "Outlet", self.last_register)], context
        )
        return {"timestamp": self.session_timestamp(), "sampledValue": sampled}

    def start_session(self) -> tuple[str, str, dict[str, Any]]:
        """(action, label for the figures, payload) of the CALL that starts the session."""
        if self.spec.version == V16:
            self.samples(1)
            return (
                "StartTransaction",
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": BENCH_ID_TAG,
                    "meterStart": self.last_register,
                    "timestamp": self.session_timestamp(),
                },
            )
        self.seq_no = 0
        self.transaction_id = f"{self.spec.station_id}-TX1"  # unique per station, <= 36 chars
        return (
            "TransactionEvent",
            "TransactionEvent(Started)",
            {
                "eventType": "Started",
                "timestamp": self.session_timestamp(),
                "triggerReason": "Authorized",
                "seqNo": self.seq_no,
                "transactionInfo": {
                    "transactionId": self.transaction_id,
                    "chargingState": "Charging",
                },
                "idToken": {"idToken": BENCH_ID_TAG, "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [self.register_sample("Transaction.Begin")],
            },
        )

    def session_started(self, reply: dict[str, Any]) -> str:
        """Take the start's answer; returns the authorisation status the CSMS gave."""
        if self.spec.version == V16:
            self.transaction_id = int(reply["transactionId"])
            return str(reply["idTagInfo"]["status"])
        return str((reply.get("idTokenInfo") or {}).get("status", "Accepted"))

    def session_meter(self) -> tuple[str, str, dict[str, Any]]:
        """The periodic reading of the session: 8 sampled values, the register increasing."""
        sampled = self.sampled_values(self.samples(SESSION_SAMPLED_VALUES), "Sample.Periodic")
        meter_value = [{"timestamp": self.session_timestamp(), "sampledValue": sampled}]
        if self.spec.version == V16:
            return (
                "MeterValues",
                "MeterValues",
                {"connectorId": 1, "transactionId": self.transaction_id, "meterValue": meter_value},
            )
        self.seq_no += 1
        return (
            "TransactionEvent",
            "TransactionEvent(Updated)",
            {
                "eventType": "Updated",
                "timestamp": meter_value[0]["timestamp"],
                "triggerReason": "MeterValuePeriodic",
                "seqNo": self.seq_no,
                "transactionInfo": {
                    "transactionId": self.transaction_id,
                    "chargingState": "Charging",
                },
                "meterValue": meter_value,
            },
        )

    def stop_session(self) -> tuple[str, str, dict[str, Any]]:
        if self.spec.version == V16:
            self.samples(1)
            return (
                "StopTransaction",
                "StopTransaction",
                {
                    "transactionId": self.transaction_id,
                    "idTag": BENCH_ID_TAG,
                    "meterStop": self.last_register,
                    "timestamp": self.session_timestamp(),
                    "reason": "Local",
                },
            )
        self.seq_no += 1
        return (
            "TransactionEvent",
            "TransactionEvent(Ended)",
            {
                "eventType": "Ended",
                "timestamp": self.session_timestamp(),
                "triggerReason": "StopAuthorized",
                "seqNo": self.seq_no,
                "transactionInfo": {
                    "transactionId": self.transaction_id,
                    "chargingState": "EVConnected",
                    "stoppedReason": "Local",
                },
                "idToken": {"idToken": BENCH_ID_TAG, "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [self.register_sample("Transaction.End")],
            },
        )

    def payload(self, action: str) -> dict[str, Any]:
        if action == "MeterValues":
            return self.meter_values()
        if action == "StatusNotification":
            return self.status()
        if action == "Heartbeat":
            return self.heartbeat()
        if action == "BootNotification":
            return self.boot()
        raise ValueError(f"unsupported action {action!r}")


def self_test(verbose: bool = True) -> None:
    """Validate every payload shape this generator sends against the ocpp package's schemas."""
    import jsonschema

    import ocpp

    schema_root = Path(ocpp.__file__).resolve().parent
    checker = jsonschema.FormatChecker()
    checked = 0
    for subprotocol, version in SUBPROTOCOL_VERSION.items():
        folder = {V16: "v16", "2.0.1": "v201", "2.1": "v21"}[version]
        suffix = "" if version == V16 else "Request"
        for n_values in (6, 7, 8):
            state = StationState(StationSpec(7, "SELFTEST", subprotocol, 2, n_values))
            payloads = [("BootNotification", state.boot()), ("Heartbeat", state.heartbeat())]
            payloads += [("StatusNotification", state.status(1, initial=True))]
            payloads += [("StatusNotification", state.status()) for _ in range(3)]
            payloads += [("MeterValues", state.meter_values()) for _ in range(3)]
            if n_values == SESSION_SAMPLED_VALUES:  # the sessions scenario's CALLs
                payloads += session_self_test(state)
            for action, payload in payloads:
                schema = json.loads(
                    (schema_root / folder / "schemas" / f"{action}{suffix}.json").read_text(
                        encoding="utf-8"
                    )
                )
                validator_cls = jsonschema.validators.validator_for(schema)
                validator_cls(schema, format_checker=checker).validate(
                    json.loads(orjson.dumps(payload))
                )
                # jsonschema checks "date-time" only with an optional package: check here
                for stamp in [payload.get("timestamp")] + [
                    m["timestamp"] for m in payload.get("meterValue", [])
                ]:
                    if stamp is not None:
                        assert datetime.fromisoformat(stamp).tzinfo is not None, stamp
                if action == "MeterValues" and "transactionId" not in payload:
                    for meter_value in payload["meterValue"]:
                        assert len(meter_value["sampledValue"]) == n_values
                checked += 1
    if verbose:
        print(
            f"self-test: {checked} payloads valid against the ocpp {ocpp_version()} schemas "
            f"(1.6, 2.0.1, 2.1)"
        )


def session_self_test(state: StationState) -> list[tuple[str, dict[str, Any]]]:
    """One session's CALLs, with checks the schemas cannot make: one transactionId throughout,
    8 sampled values per reading, seqNo and the energy register strictly increasing."""
    v16 = state.spec.version == V16
    calls = [state.start_session()]
    state.session_started({"transactionId": 42, "idTagInfo": {"status": "Accepted"}} if v16 else {})
    calls += [state.session_meter() for _ in range(3)]
    calls += [state.stop_session()]
    registers: list[float] = []
    transaction_ids = set()
    for _action, label, payload in calls:
        if "meterStart" in payload:
            registers.append(payload["meterStart"])
        for meter_value in payload.get("meterValue", []):
            if label in ("MeterValues", "TransactionEvent(Updated)"):
                assert len(meter_value["sampledValue"]) == SESSION_SAMPLED_VALUES, label
            registers += [
                float(sv["value"])
                for sv in meter_value["sampledValue"]
                if sv["measurand"] == "Energy.Active.Import.Register"
            ]
        if "meterStop" in payload:
            registers.append(payload["meterStop"])
        if not v16:
            transaction_ids.add(payload["transactionInfo"]["transactionId"])
        elif label != "StartTransaction":
            transaction_ids.add(payload["transactionId"])
    assert len(registers) == len(calls) and registers == sorted(set(registers)), registers
    assert transaction_ids in ({42}, {f"{state.spec.station_id}-TX1"}), transaction_ids
    if not v16:
        assert [p["seqNo"] for _, _, p in calls] == list(range(len(calls)))
        assert [p["eventType"] for _, _, p in calls] == ["Started"] + ["Updated"] * 3 + ["Ended"]
    return [(action, payload) for action, _label, payload in calls]


def ocpp_version() -> str:
    from importlib.metadata import version

    return version("ocpp")


# -------------------------------------------------------------------------------------------------
# Load worker (one process; owns a slice of the stations)
# -------------------------------------------------------------------------------------------------
@dataclass
class WorkerConfig:
    worker_index: int
    url_template: str
    port: int
    stations: list[StationSpec]
    scenario: str
    cycle: list[str]
    ramp_batch: int
    connect_concurrency: int
    open_timeout: float
    call_timeout: float
    heartbeat_period: float
    password: str | None
    cpus: list[int] | None
    meter_interval: float = 10.0  # sessions scenario
    total_stations: int = 1  # all workers' stations: spreads the sessions' schedules


@dataclass
class WorkerResult:
    connected: int = 0
    failed: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    boot_latency: array[float] = field(default_factory=lambda: array("d"))
    boot_status: Counter[str] = field(default_factory=Counter)
    ramp_seconds: float = 0.0
    latency: dict[str, array[float]] = field(default_factory=dict)  # seconds, window only
    errors: Counter[str] = field(default_factory=Counter)  # "Action:ErrorCode"
    timeouts: Counter[str] = field(default_factory=Counter)
    disconnects: int = 0
    server_calls: Counter[str] = field(default_factory=Counter)
    loop_lag_max: float = 0.0
    # sessions scenario
    sessions_started: int = 0
    sessions_ended: int = 0
    authorization: Counter[str] = field(default_factory=Counter)  # status of the start's answer
    skipped: int = 0  # readings skipped by stations more than one interval behind schedule
    send_lag: array[float] = field(default_factory=lambda: array("d"))  # sent - scheduled, s
    last_answer: float = 0.0  # monotonic time of the last answer

    def record(self, action: str, seconds: float) -> None:
        samples = self.latency.get(action)
        if samples is None:
            samples = self.latency[action] = array("d")
        samples.append(seconds)


class CallError(Exception):
    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


class StationClient:
    """One station connection: one CALL in flight, answers to server CALLs handled inline."""

    __slots__ = ("result", "seq", "spec", "state", "ws")

    def __init__(self, spec: StationSpec, ws: ClientConnection, result: WorkerResult) -> None:
        self.spec = spec
        self.ws = ws
        self.state = StationState(spec)
        self.seq = 0
        self.result = result

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[float, Any]:
        """Send a CALL, wait for its CALLRESULT; returns (latency seconds, payload)."""
        self.seq += 1
        unique_id = str(self.seq)
        frame = orjson.dumps([2, unique_id, action, payload])
        started = time.perf_counter()
        await self.ws.send(frame, text=True)
        while True:
            message = orjson.loads(await self.ws.recv(decode=False))
            kind = message[0]
            if kind == 2:
                await self.answer_server_call(message)
                continue
            if message[1] != unique_id:
                continue  # a late answer to a CALL that timed out earlier
            elapsed = time.perf_counter() - started
            if kind == 3:
                return elapsed, message[2]
            raise CallError(str(message[2]), str(message[3]) if len(message) > 3 else "")

    async def answer_server_call(self, message: list[Any]) -> None:
        action = str(message[2]) if len(message) > 2 else "?"
        self.result.server_calls[action] += 1
        reply = [4, message[1], "NotSupported", "benchmark station", {}]
        await self.ws.send(orjson.dumps(reply), text=True)

    async def listen(self) -> None:
        """Idle: answer whatever the server sends until cancelled."""
        while True:
            message = orjson.loads(await self.ws.recv(decode=False))
            if message[0] == 2:
                await self.answer_server_call(message)


async def open_station(
    cfg: WorkerConfig,
    spec: StationSpec,
    result: WorkerResult,
) -> StationClient | None:
    """Connect, BootNotification (retried while Pending), StatusNotification per connector."""
    headers: dict[str, str] = {}
    if cfg.password is not None:
        import base64

        token = base64.b64encode(f"{spec.station_id}:{cfg.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    url = cfg.url_template.format(port=cfg.port, station_id=spec.station_id)
    started = time.perf_counter()
    try:
        ws = await connect(
            url,
            subprotocols=[spec.subprotocol],  # type: ignore[list-item]
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            open_timeout=cfg.open_timeout,
            close_timeout=5,
            max_size=2**20,
        )
    except Exception as exc:
        result.failed += 1
        result.connect_errors[f"connect: {type(exc).__name__}: {str(exc)[:80]}"] += 1
        return None
    if ws.subprotocol != spec.subprotocol:
        result.failed += 1
        result.connect_errors[f"subprotocol {spec.subprotocol} not accepted"] += 1
        await ws.close()
        return None
    station = StationClient(spec, ws, result)
    try:
        async with asyncio.timeout(cfg.call_timeout * 6):
            for _attempt in range(5):
                _, reply = await station.call("BootNotification", station.state.boot())
                status = str(reply.get("status"))
                result.boot_status[status] += 1
                if status == "Accepted":
                    break
                await asyncio.sleep(min(float(reply.get("interval") or 1), 1.0))
            else:
                raise CallError("NotAccepted", f"BootNotification status {status}")
            for connector in range(1, spec.connectors + 1):
                await station.call(
                    "StatusNotification", station.state.status(connector, initial=True)
                )
    except Exception as exc:
        result.failed += 1
        result.connect_errors[f"boot: {type(exc).__name__}: {str(exc)[:80]}"] += 1
        with contextlib.suppress(Exception):
            await ws.close()
        return None
    result.boot_latency.append(time.perf_counter() - started)
    result.connected += 1
    return station


async def ramp(cfg: WorkerConfig, result: WorkerResult) -> list[StationClient]:
    semaphore = asyncio.Semaphore(cfg.connect_concurrency)

    async def bounded(spec: StationSpec) -> StationClient | None:
        async with semaphore:
            return await open_station(cfg, spec, result)

    stations: list[StationClient] = []
    started = time.perf_counter()
    for first in range(0, len(cfg.stations), cfg.ramp_batch):
        batch = cfg.stations[first : first + cfg.ramp_batch]
        opened = await asyncio.gather(*(bounded(spec) for spec in batch))
        stations.extend(s for s in opened if s is not None)
    result.ramp_seconds = time.perf_counter() - started
    return stations


async def closed_loop(
    station: StationClient, cycle: Sequence[str], cfg: WorkerConfig, t_measure: float, t_end: float
) -> None:
    """Send the next CALL as soon as the previous answer arrives, until t_end."""
    result = station.result
    position = station.spec.index % len(cycle)
    timeout = cfg.call_timeout
    monotonic = time.monotonic
    while monotonic() < t_end:
        action = cycle[position]
        position = (position + 1) % len(cycle)
        try:
            async with asyncio.timeout(timeout):
                elapsed, _ = await station.call(action, station.state.payload(action))
        except CallError as exc:
            if monotonic() >= t_measure:
                result.errors[f"{action}:{exc.code}"] += 1
            continue
        except TimeoutError:
            result.timeouts[action] += 1
            continue
        except websockets.ConnectionClosed:
            result.disconnects += 1
            return
        done = monotonic()
        if t_measure <= done <= t_end:
            result.record(action, elapsed)


async def session_schedule(
    station: StationClient, cfg: WorkerConfig, t_measure: float, t_end: float
) -> None:
    """Sessions scenario, open loop: start a session, one reading every interval, stop.

    Station k's slots are t_measure + phase_k + j * interval, phase_k = interval * k / N (the
    stations spread evenly over the interval): slot 0 starts the session, the last slot
    before t_end stops it, the slots between send the readings. A station more than one
    interval behind its schedule skips the reading it is late for (counted); start and stop are
    never skipped. Every CALL's latency is recorded (the whole schedule is the window)."""
    result = station.result
    state = station.state
    interval = cfg.meter_interval
    first = t_measure + interval * station.spec.index / cfg.total_stations
    last_slot = max(math.ceil((t_end - first) / interval) - 1, 1)
    monotonic = time.monotonic
    for slot in range(last_slot + 1):
        scheduled = first + slot * interval
        now = monotonic()
        if now < scheduled:
            await asyncio.sleep(scheduled - now)
        elif 0 < slot < last_slot and now > scheduled + interval:
            result.skipped += 1
            continue
        if slot == 0:
            action, label, payload = state.start_session()
        elif slot == last_slot:
            action, label, payload = state.stop_session()
        else:
            action, label, payload = state.session_meter()
        result.send_lag.append(monotonic() - scheduled)
        try:
            async with asyncio.timeout(cfg.call_timeout):
                elapsed, reply = await station.call(action, payload)
        except CallError as exc:
            result.errors[f"{label}:{exc.code}"] += 1
            if slot == 0:
                return  # no session to meter or stop
            continue
        except TimeoutError:
            result.timeouts[label] += 1
            if slot == 0:
                return
            continue
        except websockets.ConnectionClosed:
            result.disconnects += 1
            return
        result.last_answer = monotonic()
        result.record(label, elapsed)
        if slot == 0:
            try:
                result.authorization[state.session_started(reply)] += 1
            except (KeyError, TypeError, ValueError):
                result.errors[f"{label}:unusable answer {str(reply)[:60]}"] += 1
                return
            result.sessions_started += 1
        elif slot == last_slot:
            result.sessions_ended += 1


async def heartbeat_sampler(station: StationClient, cfg: WorkerConfig, t_end: float) -> None:
    """Idle scenario: one Heartbeat per period; its latency reveals server event-loop stalls."""
    result = station.result
    period = cfg.heartbeat_period
    next_at = time.monotonic() + period * random.random()
    while True:
        await asyncio.sleep(max(next_at - time.monotonic(), 0.0))
        if time.monotonic() >= t_end:
            return
        try:
            async with asyncio.timeout(cfg.call_timeout):
                elapsed, _ = await station.call("Heartbeat", {})
            result.record("Heartbeat", elapsed)
        except CallError as exc:
            result.errors[f"Heartbeat:{exc.code}"] += 1
        except TimeoutError:
            result.timeouts["Heartbeat"] += 1
        except websockets.ConnectionClosed:
            result.disconnects += 1
            return
        next_at += period
        if next_at < time.monotonic():  # fell behind (stall): do not burst to catch up
            next_at = time.monotonic() + period


async def idle_listener(station: StationClient) -> None:
    try:
        await station.listen()
    except websockets.ConnectionClosed:
        station.result.disconnects += 1


async def loop_lag_monitor(result: WorkerResult, t_measure: float, t_end: float) -> None:
    """The load side's own event-loop lag: if it is large, latencies include client stalls."""
    tick = 0.05
    while time.monotonic() < t_end:
        before = time.monotonic()
        await asyncio.sleep(tick)
        lag = time.monotonic() - before - tick
        if before >= t_measure:
            result.loop_lag_max = max(result.loop_lag_max, lag)


async def worker_async(cfg: WorkerConfig, pipe: Connection) -> None:
    result = WorkerResult()
    stations = await ramp(cfg, result)
    gc.collect()
    gc.freeze()  # long-lived connection objects out of the collector's way
    pipe.send(("ready", {"connected": result.connected, "failed": result.failed}))
    command, t_go, t_measure, t_end = await asyncio.to_thread(pipe.recv)
    assert command == "go"
    await asyncio.sleep(max(t_go - time.monotonic(), 0.0))
    gc.disable()  # no client-side GC pauses inside the window (the hot path makes no cycles)
    monitor = asyncio.create_task(loop_lag_monitor(result, t_measure, t_end))
    if cfg.scenario == "idle":
        listeners = [
            asyncio.create_task(idle_listener(s)) for s in stations if not s.spec.heartbeat_sampler
        ]
        await asyncio.gather(
            *(heartbeat_sampler(s, cfg, t_end) for s in stations if s.spec.heartbeat_sampler)
        )
        await asyncio.sleep(max(t_end - time.monotonic(), 0.0))
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    elif cfg.scenario == "sessions":
        await asyncio.gather(*(session_schedule(s, cfg, t_measure, t_end) for s in stations))
    else:
        await asyncio.gather(*(closed_loop(s, cfg.cycle, cfg, t_measure, t_end) for s in stations))
    await monitor
    gc.enable()
    pipe.send(("done", result))
    await asyncio.to_thread(pipe.recv)  # "close"
    for first in range(0, len(stations), 1000):
        await asyncio.gather(
            *(s.ws.close() for s in stations[first : first + 1000]), return_exceptions=True
        )
    pipe.send(("closed", None))


def worker_main(cfg: WorkerConfig, pipe: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    raise_nofile_limit()
    if cfg.cpus:
        os.sched_setaffinity(0, cfg.cpus)
    try:
        import uvloop

        uvloop.run(worker_async(cfg, pipe))
    except Exception:
        pipe.send(("error", traceback.format_exc()))


# -------------------------------------------------------------------------------------------------
# Server process management and measurement (parent process)
# -------------------------------------------------------------------------------------------------
def raise_nofile_limit(wanted: int = 1 << 20) -> int:
    """Raise the open-file limit as high as allowed (the hard limit too, if privileged)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        if hard != resource.RLIM_INFINITY and hard < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(processes: Iterable[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent on anything but idle, machine-wide."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def others_busy_seconds() -> float:
    """Machine-wide busy CPU seconds minus this harness process (and its children)."""
    return machine_busy_seconds() - tree_cpu_seconds(process_tree(os.getpid()))


def tree_rss(pid: int) -> int:
    total = 0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class ServerUnderTest:
    def __init__(
        self, target: str, server_cpu: int | None, start_timeout: float, scenario: str
    ) -> None:
        self.target = target
        self.workdir = Path(tempfile.mkdtemp(prefix=f"evcms-bench-{target}-"))
        self.port = free_port()
        self.http_port = free_port()
        self.command = SERVER_COMMANDS[target](self.port, self.http_port, self.workdir, scenario)
        self.log_path = self.workdir / "server.log"
        self.server_cpu = server_cpu
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.command.env}
        cpu = self.server_cpu

        def pin() -> None:  # runs in the child between fork and exec
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        with open(self.log_path, "wb") as log:
            for step in self.command.setup:
                log.write(f"$ {' '.join(step)}\n".encode())
                log.flush()
                done = subprocess.run(
                    step, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
                )
                if done.returncode != 0:
                    raise RuntimeError(
                        f"{self.target} set-up step {' '.join(step[1:])!r} exited with "
                        f"{done.returncode}"
                    )
            self.proc = subprocess.Popen(
                self.command.argv,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=pin,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.target} server exited with {self.proc.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                time.sleep(0.5)  # listening; let start-up work finish
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.target} server did not listen on {self.port} within {self.start_timeout:.0f}s"
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


# -------------------------------------------------------------------------------------------------
# Statistics
# -------------------------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(math.ceil(pct / 100.0 * len(sorted_values)) - 1, 0)
    return sorted_values[min(rank, len(sorted_values) - 1)]


def latency_summary(samples: Iterable[float]) -> dict[str, float]:
    values = sorted(samples)
    return {
        "count": len(values),
        "p50_ms": percentile(values, 50) * 1e3,
        "p99_ms": percentile(values, 99) * 1e3,
        "max_ms": (values[-1] * 1e3) if values else math.nan,
    }


def build_cycle(mix: str) -> list[str]:
    """'MeterValues=4,StatusNotification=2,Heartbeat=1' -> an evenly interleaved cycle."""
    weights: dict[str, int] = {}
    for part in mix.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in ("MeterValues", "StatusNotification", "Heartbeat"):
            raise SystemExit(f"--mix: unsupported action {name!r}")
        weights[name.strip()] = int(weight or 1)
    current = dict.fromkeys(weights, 0)
    cycle: list[str] = []
    for _ in range(sum(weights.values())):  # smooth weighted round robin
        for action, action_weight in weights.items():
            current[action] += action_weight
        chosen = max(current, key=lambda n: current[n])
        current[chosen] -= sum(weights.values())
        cycle.append(chosen)
    return cycle


def make_stations(args: argparse.Namespace) -> list[StationSpec]:
    tag = datetime.now(UTC).strftime("%H%M%S")
    ratio = args.v201_ratio
    sample_every = max(args.stations // max(args.idle_sample, 1), 1)
    stations: list[StationSpec] = []
    for i in range(args.stations):
        is_v2 = math.floor((i + 1) * ratio) > math.floor(i * ratio)
        stations.append(
            StationSpec(
                index=i,
                station_id=f"BENCH-{tag}-{i:05d}",
                subprotocol=args.v2_subprotocol if is_v2 else "ocpp1.6",
                connectors=args.connectors,
                sampled_values=6 + i % 3,
                heartbeat_sampler=args.scenario == "idle"
                and i % sample_every == 0
                and i // sample_every < args.idle_sample,
            )
        )
    return stations


# -------------------------------------------------------------------------------------------------
# One run against one target
# -------------------------------------------------------------------------------------------------
def cpu_plan(args: argparse.Namespace) -> tuple[int | None, list[int] | None]:
    if args.server_cpu is None:
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if args.server_cpu not in available:
        raise SystemExit(f"--server-cpu {args.server_cpu}: not one of {available}")
    load_cpus = [c for c in available if c != args.server_cpu]
    if not load_cpus:
        raise SystemExit("--server-cpu needs at least two CPUs")
    return args.server_cpu, load_cpus


def receive(pipes: list[Connection], expected: str, timeout: float) -> list[Any]:
    """Wait for one `expected` message from every worker."""
    answers: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    while len(answers) < len(pipes):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"workers did not report {expected!r} within {timeout:.0f}s")
        for pipe in wait([p for i, p in enumerate(pipes) if i not in answers], remaining):
            assert isinstance(pipe, Connection)
            kind, payload = pipe.recv()
            if kind == "error":
                raise RuntimeError(f"load worker failed:\n{payload}")
            if kind != expected:
                raise RuntimeError(f"unexpected worker message {kind!r}")
            answers[pipes.index(pipe)] = payload
    return [answers[i] for i in range(len(pipes))]


def run_target(
    target: str, args: argparse.Namespace, stations: list[StationSpec]
) -> dict[str, Any]:
    server_cpu, load_cpus = cpu_plan(args)
    server = ServerUnderTest(target, server_cpu, args.start_timeout, args.scenario)
    print(
        f"\n=== {target}: scenario {args.scenario}, {len(stations)} stations, "
        f"{args.workers} load worker(s)",
        flush=True,
    )
    try:
        server.start()
    except Exception as exc:
        server.stop()
        tail = server.log_tail()
        server.cleanup()
        print(f"  {target} server did not start: {exc}\n{tail}", flush=True)
        return {"target": target, "error": str(exc), "server_log_tail": tail}
    if load_cpus:
        os.sched_setaffinity(0, load_cpus)
    print(
        f"  server pid {server.pid} on ws://127.0.0.1:{server.port}"
        f"{f' (cpu {server_cpu})' if server_cpu is not None else ''}",
        flush=True,
    )
    context = multiprocessing.get_context("spawn")
    cycle = ["MeterValues"] if args.scenario == "meter" else build_cycle(args.mix)
    workers: list[multiprocessing.process.BaseProcess] = []
    pipes: list[Connection] = []
    summary: dict[str, Any] = {"target": target}
    try:
        time.sleep(1.0)
        rss_before = tree_rss(server.pid)
        cpu_start = tree_cpu_seconds(process_tree(server.pid))
        ramp_started = time.monotonic()
        for k in range(args.workers):
            cfg = WorkerConfig(
                worker_index=k,
                url_template=server.command.url_template,
                port=server.port,
                stations=stations[k :: args.workers],
                scenario=args.scenario,
                cycle=cycle,
                ramp_batch=max(args.ramp_batch // args.workers, 1),
                connect_concurrency=max(args.connect_concurrency // args.workers, 1),
                open_timeout=args.open_timeout,
                call_timeout=args.call_timeout,
                heartbeat_period=args.heartbeat_period,
                password=args.password,
                cpus=load_cpus,
                meter_interval=args.meter_interval,
                total_stations=len(stations),
            )
            parent_end, child_end = context.Pipe()
            proc = context.Process(target=worker_main, args=(cfg, child_end), daemon=True)
            proc.start()
            workers.append(proc)
            pipes.append(parent_end)
        ready = receive(pipes, "ready", args.ramp_timeout)
        ramp_seconds = time.monotonic() - ramp_started
        connected = sum(r["connected"] for r in ready)
        print(
            f"  ramp: {connected}/{len(stations)} stations connected and booted in "
            f"{ramp_seconds:.1f}s",
            flush=True,
        )
        cpu_after_ramp = tree_cpu_seconds(process_tree(server.pid))
        if args.scenario == "idle":
            time.sleep(args.settle)
        rss_after_ramp = tree_rss(server.pid)
        worker_procs = [psutil.Process(w.pid) for w in workers if w.pid is not None]
        warmup = 0.0 if args.scenario in ("idle", "sessions") else args.warmup
        t_go = time.monotonic() + 0.3
        t_measure = t_go + warmup
        t_end = t_measure + args.duration
        for pipe in pipes:
            pipe.send(("go", t_go, t_measure, t_end))
        time.sleep(max(t_measure - time.monotonic(), 0.0))
        cpu_measure = tree_cpu_seconds(process_tree(server.pid))
        load_cpu_measure = tree_cpu_seconds(worker_procs)
        busy_measure = others_busy_seconds()
        rss_peak = tree_rss(server.pid)
        while (remaining := t_end - time.monotonic()) > 0:
            time.sleep(min(remaining, 0.5))
            rss_peak = max(rss_peak, tree_rss(server.pid))
        results: list[WorkerResult] = []
        if args.scenario == "sessions":  # the window lasts until the last answer
            results = receive(pipes, "done", args.call_timeout + 60)
        cpu_end = tree_cpu_seconds(process_tree(server.pid))
        load_cpu_end = tree_cpu_seconds(worker_procs)
        busy_end = others_busy_seconds()
        rss_end = tree_rss(server.pid)
        server_alive = server.alive()
        t_done = time.monotonic()
        if not results:
            results = receive(pipes, "done", args.call_timeout + 60)
        window = t_end - t_measure
        stored: dict[str, int] | None = None
        if args.scenario == "sessions":
            last_answer = max((r.last_answer for r in results), default=0.0)
            window = max(t_end, min(last_answer, t_done)) - t_measure
            if server.command.session_counts is not None:
                try:
                    stored = server.command.session_counts()
                except Exception as exc:  # figures first: never fail the run on the check
                    summary["stored_sessions_error"] = f"{type(exc).__name__}: {exc}"
        for pipe in pipes:
            pipe.send(("close", None))
        receive(pipes, "closed", 120)
        summary.update(
            summarise(
                args,
                results,
                len(stations),
                cycle,
                window=window,
                ramp_seconds=ramp_seconds,
                server_cpu_ramp=cpu_after_ramp - cpu_start,
                server_cpu_window=cpu_end - cpu_measure,
                load_cpu_window=load_cpu_end - load_cpu_measure,
                other_cpu_window=max(busy_end - busy_measure - (cpu_end - cpu_measure), 0.0),
                load_cores=len(load_cpus) if load_cpus else os.cpu_count() or 1,
                rss_before=rss_before,
                rss_after_ramp=rss_after_ramp,
                rss_end=rss_end,
                rss_peak=rss_peak,
            )
        )
        summary["server_alive_at_end"] = server_alive
        if stored is not None:
            summary["sessions"]["stored"] = stored
    except Exception as exc:
        summary["error"] = str(exc)
        summary["server_log_tail"] = server.log_tail()
        print(f"  run failed: {exc}\n{server.log_tail()}", flush=True)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
        server.stop()
        server.cleanup()
        if load_cpus:
            os.sched_setaffinity(0, list(range(os.cpu_count() or 1)))
    return summary


def summarise(
    args: argparse.Namespace,
    results: list[WorkerResult],
    n_stations: int,
    cycle: list[str],
    *,
    window: float,
    ramp_seconds: float,
    server_cpu_ramp: float,
    server_cpu_window: float,
    load_cpu_window: float,
    other_cpu_window: float,
    load_cores: int,
    rss_before: int,
    rss_after_ramp: int,
    rss_end: int,
    rss_peak: int,
) -> dict[str, Any]:
    merged: dict[str, list[float]] = {}
    for r in results:
        for action, samples in r.latency.items():
            merged.setdefault(action, []).extend(samples)
    boot = [x for r in results for x in r.boot_latency]
    connected = sum(r.connected for r in results)
    total_calls = sum(len(v) for v in merged.values())
    all_latency = [x for v in merged.values() for x in v]
    per_action = {
        action: {"calls_per_s": len(samples) / window, **latency_summary(samples)}
        for action, samples in sorted(merged.items())
    }

    def add(counters: Iterable[Counter[str]]) -> dict[str, int]:
        total: Counter[str] = Counter()
        for c in counters:
            total.update(c)
        return dict(total)

    summary: dict[str, Any] = {
        "scenario": args.scenario,
        "stations": n_stations,
        "connected": connected,
        "failed": sum(r.failed for r in results),
        "connect_errors": add(r.connect_errors for r in results),
        "boot_status": add(r.boot_status for r in results),
        "ramp_seconds": ramp_seconds,  # wall time in the parent, including worker start-up
        "connections_per_s": connected / max(r.ramp_seconds for r in results),
        "boot": latency_summary(boot),
        "window_s": window,
        "calls": total_calls,
        "calls_per_s": total_calls / window,
        "latency": latency_summary(all_latency),
        "per_action": per_action,
        "errors": add(r.errors for r in results),
        "timeouts": add(r.timeouts for r in results),
        "disconnects": sum(r.disconnects for r in results),
        "server_initiated_calls": add(r.server_calls for r in results),
        "server_cpu_s_ramp": server_cpu_ramp,
        "server_cpu_s": server_cpu_window,
        "server_cpu_pct": 100.0 * server_cpu_window / window,
        "server_cpu_s_per_1000_calls": (
            1000.0 * server_cpu_window / total_calls if total_calls else math.nan
        ),
        "server_rss_before_mib": rss_before / 2**20,
        "server_rss_after_ramp_mib": rss_after_ramp / 2**20,
        "server_rss_end_mib": rss_end / 2**20,
        "server_rss_peak_mib": rss_peak / 2**20,
        "load_cpu_pct_of_load_cores": 100.0 * load_cpu_window / window / load_cores,
        "other_processes_cpu_pct": 100.0 * other_cpu_window / window,
        "load_loop_lag_max_ms": max((r.loop_lag_max for r in results), default=0.0) * 1e3,
        "cycle": cycle if args.scenario not in ("idle", "sessions") else [],
    }
    if args.scenario == "sessions":
        lag = latency_summary(x for r in results for x in r.send_lag)
        summary["cycle"] = ["start", "MeterValues / TransactionEvent(Updated)", "stop"]
        summary["sessions"] = {
            "meter_interval_s": args.meter_interval,
            "offered_calls_per_s": connected / args.meter_interval,
            "started": sum(r.sessions_started for r in results),
            "ended": sum(r.sessions_ended for r in results),
            "authorization": add(r.authorization for r in results),
            "skipped_readings": sum(r.skipped for r in results),
            "send_lag": lag,
            "sends_over_1s_late": sum(1 for r in results for x in r.send_lag if x > 1.0),
        }
    if args.scenario == "idle":
        heartbeat = merged.get("Heartbeat", [])
        summary["idle"] = {
            "rss_per_connection_kib": (
                (rss_after_ramp - rss_before) / connected / 1024 if connected else math.nan
            ),
            "rss_per_connection_end_kib": (
                (rss_end - rss_before) / connected / 1024 if connected else math.nan
            ),
            "heartbeat_samplers": min(args.idle_sample, n_stations),
            "heartbeats_over_100ms": sum(1 for x in heartbeat if x > 0.1),
            "heartbeats_over_1s": sum(1 for x in heartbeat if x > 1.0),
        }
    return summary


# -------------------------------------------------------------------------------------------------
# Printing
# -------------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "-" * len(line)]
    for row in rows:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


def print_summary(s: dict[str, Any]) -> None:
    target = s["target"]
    if "error" in s and "calls" not in s:
        print(f"\n[{target}] no figures: {s['error']}")
        return
    print(
        f"\n[{target}] {s['scenario']}: {s['connected']}/{s['stations']} stations connected "
        f"in {s['ramp_seconds']:.1f}s ({s['connections_per_s']:.0f}/s; connect+boot p50 "
        f"{fmt(s['boot']['p50_ms'])} ms, p99 {fmt(s['boot']['p99_ms'])} ms), "
        f"window {s['window_s']:.1f}s"
    )
    rows = [
        [
            action,
            fmt(a["count"]),
            fmt(a["calls_per_s"]),
            fmt(a["p50_ms"], 2),
            fmt(a["p99_ms"], 2),
            fmt(a["max_ms"], 2),
        ]
        for action, a in s["per_action"].items()
    ]
    rows.append(
        [
            "ALL",
            fmt(s["calls"]),
            fmt(s["calls_per_s"]),
            fmt(s["latency"]["p50_ms"], 2),
            fmt(s["latency"]["p99_ms"], 2),
            fmt(s["latency"]["max_ms"], 2),
        ]
    )
    print(table(["action", "calls", "calls/s", "p50 ms", "p99 ms", "max ms"], rows))
    per_call = (
        "" if "idle" in s else f", {fmt(s['server_cpu_s_per_1000_calls'], 3)} CPU-s per 1,000 CALLs"
    )
    print(
        f"server CPU: {s['server_cpu_s']:.2f}s in window ({s['server_cpu_pct']:.0f}% of a core)"
        f"{per_call}; {s['server_cpu_s_ramp']:.2f}s during ramp"
    )
    print(
        f"server RSS: {s['server_rss_before_mib']:.1f} MiB before, "
        f"{s['server_rss_after_ramp_mib']:.1f} after ramp, {s['server_rss_end_mib']:.1f} at end "
        f"(peak {s['server_rss_peak_mib']:.1f})"
    )
    if "idle" in s:
        idle = s["idle"]
        print(
            f"idle: RSS per connection {fmt(idle['rss_per_connection_kib'])} KiB "
            f"(at end {fmt(idle['rss_per_connection_end_kib'])} KiB); "
            f"Heartbeat from {idle['heartbeat_samplers']} sampled stations every "
            f"{s.get('heartbeat_period', 1.0)}s: max {fmt(s['latency']['max_ms'], 1)} ms "
            f"(server stalls); {idle['heartbeats_over_100ms']} over 100 ms, "
            f"{idle['heartbeats_over_1s']} over 1 s"
        )
    if "sessions" in s:
        print_sessions(s)
    load = s["load_cpu_pct_of_load_cores"]
    print(
        f"load side: {load:.0f}% of its cores, max loop lag "
        f"{s['load_loop_lag_max_ms']:.1f} ms"
        + (
            "  <-- load side saturated: figures are a lower bound for the server"
            if load > 90
            else ""
        )
    )
    other = s["other_processes_cpu_pct"]
    print(
        f"rest of the machine: {other:.0f}% of a core used by other processes and the kernel"
        + ("  <-- busy machine: figures are disturbed, rerun on a quiet box" if other > 25 else "")
    )
    problems = {
        k: s[k] for k in ("connect_errors", "errors", "timeouts", "server_initiated_calls") if s[k]
    }
    if s["disconnects"]:
        problems["disconnects"] = s["disconnects"]
    if not s.get("server_alive_at_end", True):
        problems["server"] = "exited during the run"
    if problems:
        print(f"notes: {json.dumps(problems)[:800]}")


def print_sessions(s: dict[str, Any]) -> None:
    sessions = s["sessions"]
    lag = sessions["send_lag"]
    print(
        f"sessions: {sessions['started']} started, {sessions['ended']} ended of "
        f"{s['connected']} stations; one CALL per station every {sessions['meter_interval_s']:g}s "
        f"(offered {fmt(sessions['offered_calls_per_s'])} CALLs/s); authorisation "
        f"{json.dumps(sessions['authorization'])}"
    )
    print(
        f"schedule: sent after their slot by p50 {fmt(lag['p50_ms'], 2)} ms, p99 "
        f"{fmt(lag['p99_ms'], 2)} ms, max {fmt(lag['max_ms'], 1)} ms; "
        f"{sessions['sends_over_1s_late']} over 1 s late, {sessions['skipped_readings']} readings "
        "skipped (station over an interval behind)"
        + (
            "  <-- the server did not keep up with the schedule"
            if sessions["skipped_readings"]
            else ""
        )
    )
    if "stored" in sessions:
        stored = sessions["stored"]
        in_db = sum(n for status, n in stored.items() if status != "events")
        ended = stored.get("Ended", 0)
        answered = sum(a["count"] for a in s["per_action"].values())
        print(
            f"stored (read from the database after the run): {in_db} sessions, {ended} ended, "
            f"{in_db - ended} not ended; {stored.get('events', 0)} session events for "
            f"{answered} session CALLs answered"
        )
        if in_db != s["stations"] or ended != in_db:
            print(
                f"WARNING: expected {s['stations']} sessions stored, all ended; found {in_db} "
                f"sessions, {ended} ended ({json.dumps(stored)})"
            )
    elif "stored_sessions_error" in s:
        print(f"WARNING: could not count the stored sessions: {s['stored_sessions_error']}")


Metric = tuple[str, Callable[[dict[str, Any]], float]]
COMPARED_LOAD: list[Metric] = [
    ("CALLs/s", lambda s: s["calls_per_s"]),
    ("latency p50 ms", lambda s: s["latency"]["p50_ms"]),
    ("latency p99 ms", lambda s: s["latency"]["p99_ms"]),
    ("latency max ms", lambda s: s["latency"]["max_ms"]),
    ("server CPU-s / 1,000 CALLs", lambda s: s["server_cpu_s_per_1000_calls"]),
    ("server CPU % of a core", lambda s: s["server_cpu_pct"]),
    ("server RSS peak MiB", lambda s: s["server_rss_peak_mib"]),
    ("connect+boot p99 ms", lambda s: s["boot"]["p99_ms"]),
]
COMPARED_SESSIONS: list[Metric] = [
    *COMPARED_LOAD[:6],
    ("send lag behind schedule max ms", lambda s: s["sessions"]["send_lag"]["max_ms"]),
    ("readings skipped (behind schedule)", lambda s: s["sessions"]["skipped_readings"]),
    *COMPARED_LOAD[6:],
]
COMPARED_IDLE: list[Metric] = [
    ("RSS per connection KiB", lambda s: s["idle"]["rss_per_connection_kib"]),
    ("server RSS after ramp MiB", lambda s: s["server_rss_after_ramp_mib"]),
    ("idle Heartbeat p50 ms", lambda s: s["latency"]["p50_ms"]),
    ("idle Heartbeat p99 ms", lambda s: s["latency"]["p99_ms"]),
    ("idle Heartbeat max ms (stall)", lambda s: s["latency"]["max_ms"]),
    ("server CPU % of a core (idle)", lambda s: s["server_cpu_pct"]),
    ("server CPU-s for the ramp", lambda s: s["server_cpu_s_ramp"]),
    ("connections/s (ramp)", lambda s: s["connections_per_s"]),
    ("connect+boot p99 ms", lambda s: s["boot"]["p99_ms"]),
]


def comparison(summaries: dict[str, dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    evcms, reference = summaries.get("evcms", {}), summaries.get("reference", {})
    metrics = {"idle": COMPARED_IDLE, "sessions": COMPARED_SESSIONS}.get(scenario, COMPARED_LOAD)
    rows = []
    for name, getter in metrics:
        values = []
        for s in (evcms, reference):
            try:
                values.append(float(getter(s)))
            except (KeyError, TypeError):
                values.append(math.nan)
        a, b = values
        ratio = a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan
        rows.append({"metric": name, "evcms": a, "reference": b, "ratio": ratio})
    return rows


def print_comparison(rows: list[dict[str, Any]]) -> None:
    print(
        "\n[comparison] ratio = evcms / reference (CALLs/s, connections/s: higher is "
        "better; times, CPU, RSS: lower is better)"
    )
    print(
        table(
            ["metric", "evcms", "reference", "ratio"],
            [
                [r["metric"], fmt(r["evcms"], 2), fmt(r["reference"], 2), fmt(r["ratio"], 2)]
                for r in rows
            ],
        )
    )


def without_nan(value: Any) -> Any:
    """NaN (no samples) becomes null, so the JSON file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nan(v) for v in value]
    return value


# -------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="OCPP-J load generator: evcms vs the reference CSMS",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--target", choices=[*TARGETS, "both"], default="both")
    p.add_argument("--scenario", choices=SCENARIOS, default="throughput")
    p.add_argument("--stations", type=int, default=200)
    p.add_argument("--duration", type=float, default=20.0, help="measurement window, seconds")
    p.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="closed-loop seconds before the window (throughput, meter)",
    )
    p.add_argument(
        "--v201-ratio",
        type=float,
        default=0.5,
        help="fraction of stations speaking OCPP 2.x (the rest speak 1.6)",
    )
    p.add_argument("--v2-subprotocol", choices=["ocpp2.0.1", "ocpp2.1"], default="ocpp2.0.1")
    p.add_argument("--connectors", type=int, default=2, help="connectors (EVSEs) per station")
    p.add_argument(
        "--mix",
        default="MeterValues=4,StatusNotification=2,Heartbeat=1",
        help="throughput scenario: action weights of each station's loop",
    )
    p.add_argument(
        "--workers", type=int, default=0, help="load processes (default: one per load CPU)"
    )
    p.add_argument(
        "--server-cpu",
        type=int,
        default=None,
        help="pin the server to this CPU and the load workers to the others",
    )
    p.add_argument("--ramp-batch", type=int, default=500)
    p.add_argument(
        "--connect-concurrency",
        type=int,
        default=200,
        help="connections being opened and booted at once (all workers)",
    )
    p.add_argument("--open-timeout", type=float, default=30.0)
    p.add_argument("--call-timeout", type=float, default=30.0)
    p.add_argument("--ramp-timeout", type=float, default=900.0)
    p.add_argument("--start-timeout", type=float, default=60.0)
    p.add_argument(
        "--idle-sample",
        type=int,
        default=100,
        help="idle scenario: stations that send a Heartbeat every period",
    )
    p.add_argument("--heartbeat-period", type=float, default=1.0)
    p.add_argument(
        "--meter-interval",
        type=float,
        default=10.0,
        help="sessions scenario: seconds between a station's readings (open loop)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="idle scenario: seconds after the ramp before RSS is read",
    )
    p.add_argument(
        "--password",
        default=None,
        help="send HTTP Basic auth (username = station id) with this password",
    )
    p.add_argument("--json", type=Path, default=None, help="write machine-readable results here")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--self-test",
        action="store_true",
        help="only validate the generated payloads against the OCPP schemas",
    )
    args = p.parse_args(argv)
    if args.scenario == "sessions" and not 0 < 2 * args.meter_interval <= args.duration:
        p.error("--scenario sessions needs --duration of at least twice --meter-interval")
    if args.workers <= 0:
        _, load_cpus = cpu_plan(args)
        args.workers = len(load_cpus) if load_cpus else max((os.cpu_count() or 2) // 2, 1)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    random.seed(args.seed)
    self_test(verbose=True)
    if args.self_test:
        return 0
    nofile = raise_nofile_limit()
    needed = args.stations + 200
    if nofile < needed:
        print(f"warning: RLIMIT_NOFILE is {nofile}; the server needs about {needed}")
    targets = list(TARGETS) if args.target == "both" else [args.target]
    stations = make_stations(args)
    summaries: dict[str, dict[str, Any]] = {}
    for target in targets:
        summary = run_target(target, args, stations)
        summary["heartbeat_period"] = args.heartbeat_period
        summaries[target] = summary
    print("\n" + "=" * 100)
    for summary in summaries.values():
        print_summary(summary)
    rows = comparison(summaries, args.scenario) if len(summaries) == 2 else []
    if rows:
        print_comparison(rows)
    if args.json:
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        document = {
            "config": config,
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "websockets": websockets_version,
                "ocpp": ocpp_version(),
                "nofile": nofile,
            },
            "stations": [asdict(s) for s in stations[:3]] + [{"...": len(stations)}],
            "results": summaries,
            "comparison": rows,
            "finished_at": datetime.now(UTC).isoformat(),
        }
        args.json.write_text(
            json.dumps(without_nan(document), indent=2, default=str), encoding="utf-8"
        )
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
