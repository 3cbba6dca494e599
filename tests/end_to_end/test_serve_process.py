"""`evcms serve` as a process: it starts, serves stations, and shuts down gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import websockets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_closes_stations_with_going_away(tmp_path: Path):
    http_port, ocpp_port = free_port(), free_port()
    env = {
        **os.environ,
        "EVCMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "EVCMS_AUTO_ONBOARD": "accept",
        "EVCMS_ALLOW_UNSECURED_STATIONS": "true",
        "EVCMS_LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evcms.cli", "serve",
        "--http-port", str(http_port), "--ocpp-port", str(ocpp_port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        banner = b""
        while b"stations:" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, (await process.stderr.read()).decode()
            banner += line
        assert f"ws://127.0.0.1:{ocpp_port}/ocpp/{{station_id}}".encode() in banner

        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{http_port}/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"

        url = f"ws://127.0.0.1:{ocpp_port}/ocpp/PROC-1"
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:
            await ws.send('[2,"1","Heartbeat",{}]')
            assert json.loads(await ws.recv())[:2] == [3, "1"]
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(ws.wait_closed(), 20)
            assert ws.close_code == 1001
        assert await asyncio.wait_for(process.wait(), 30) == 0
        logs = (await process.stderr.read()).decode().splitlines()
        records = [json.loads(line) for line in logs if line.startswith("{")]
        assert any(r["message"] == "shutting down" for r in records)  # structured logs
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
