"""Run a storage benchmark on a throwaway SQLite file and a throwaway PostgreSQL database."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

Bench = Callable[[str, str], Awaitable[None]]  # (database URL, label)


async def on_each_database(bench: Bench) -> None:
    with tempfile.TemporaryDirectory() as directory:
        await bench(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", "SQLite")

    name = f"evcms_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL  not reachable on 127.0.0.1:5432 ({exc}); skipped", file=sys.stderr)
        return
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await bench(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", "PostgreSQL")
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
