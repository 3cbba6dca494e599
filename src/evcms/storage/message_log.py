"""The raw OCPP message log in SQL, written in batches.

``append`` is synchronous and only puts the frame in a bounded in-memory buffer: it never
blocks and never does I/O on the station's path. A background task flushes the buffer every
``flush_interval`` seconds as one multi-row insert per chunk, through the :class:`Writer` (one
op per chunk). If the database cannot keep up the buffer drops its *oldest* frames and counts
them in ``dropped`` — losing log lines is better than slowing down stations.

Retention: with ``retention`` set, a background task deletes frames older than that every
``retention_interval`` seconds (in short chunks, so the writer is never held for long);
``apply_retention()`` does one pass on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from evcms.domain.ids import StationId
from evcms.services.clock import SystemClock
from evcms.services.ports import Clock, Direction, LoggedMessage
from evcms.storage._sql import utc
from evcms.storage.tables import message_log
from evcms.storage.writer import Writer

log = logging.getLogger(__name__)

_Entry = tuple[StationId, Direction, str, datetime]



class SqlMessageLog:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        *,
        flush_interval: float = 0.5,
        max_buffer: int = 50_000,
        chunk_size: int = 2_000,
        retention: timedelta | None = None,
        retention_interval: float = 3600.0,
        purge_chunk: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        if max_buffer < 1 or chunk_size < 1 or purge_chunk < 1 or flush_interval <= 0:
            raise ValueError("max_buffer, chunk_size, purge_chunk and flush_interval must be > 0")
        self._engine = engine
        self._writer = writer
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.chunk_size = chunk_size
        self.retention = retention
        self.retention_interval = retention_interval
        self.purge_chunk = purge_chunk
        self._clock: Clock = clock or SystemClock()
        self._buffer: deque[_Entry] = deque()
        self._flush_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0  # frames lost because the buffer was full
        self.written = 0  # frames stored

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- the caller's path --------------------------------------------------------------------

    def append(self, station_id: StationId, direction: Direction, frame: str, at: datetime) -> None:
        """Buffer one frame (never blocks; drops the oldest buffered frame when full)."""
        entry = (station_id, Direction(direction), frame, utc(at))
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(entry)

    # -- writing ------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything buffered so far; raises (keeping the frames buffered) on failure."""
        async with self._flush_lock:
            while self._buffer:
                chunk = [
                    self._buffer.popleft() for _ in range(min(self.chunk_size, len(self._buffer)))
                ]
                rows = [
                    {"station_id": s, "direction": d.value, "frame": f, "at": at}
                    for s, d, f, at in chunk
                ]

                async def op(conn: AsyncConnection, rows: list[dict[str, Any]] = rows) -> None:
                    await conn.execute(insert(message_log), rows)

                try:
                    await self._writer.submit(op)
                except Exception:
                    self._rebuffer(chunk)
                    raise
                self.written += len(chunk)

    def _rebuffer(self, chunk: list[_Entry]) -> None:
        """Put a chunk that could not be written back in front, keeping the newest frames."""
        entries = chunk + list(self._buffer)
        overflow = len(entries) - self.max_buffer
        if overflow > 0:
            self.dropped += overflow
            entries = entries[overflow:]
        self._buffer = deque(entries)

    # -- reading and purging ------------------------------------------------------------------

    async def recent(
        self, station_id: StationId, limit: int = 100, before_id: int | None = None
    ) -> list[LoggedMessage]:
        """The station's frames, newest first; page on with ``before_id`` = the last id seen."""
        if limit <= 0:
            return []
        query = (
            select(message_log)
            .where(message_log.c.station_id == station_id)
            .order_by(message_log.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(message_log.c.id < before_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            LoggedMessage(
                id=row.id,
                station_id=StationId(row.station_id),
                at=row.at,
                direction=Direction(row.direction),
                frame=row.frame,
            )
            for row in rows
        ]

    async def purge(self, older_than: datetime) -> int:
        """Delete frames logged before ``older_than``; returns how many (in short chunks)."""
        cutoff = utc(older_than)
        doomed = (
            select(message_log.c.id)
            .where(message_log.c.at < cutoff)
            .order_by(message_log.c.id)
            .limit(self.purge_chunk)
        )

        async def op(conn: AsyncConnection) -> int:
            result = await conn.execute(delete(message_log).where(message_log.c.id.in_(doomed)))
            return int(result.rowcount)

        removed = 0
        while True:
            count = await self._writer.submit(op)
            removed += count
            if count < self.purge_chunk:
                return removed

    async def apply_retention(self) -> int:
        """One retention pass: purge what is older than ``retention`` (0 if none is set)."""
        if self.retention is None:
            return 0
        return await self.purge(self._clock.now() - self.retention)

    # -- background tasks ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the periodic flush (and retention, when set). The writer must be running."""
        if self._tasks:
            raise RuntimeError("message log already started")
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="evcms-message-log-flush"))
        if self.retention is not None:
            self._tasks.append(
                asyncio.create_task(self._retention_loop(), name="evcms-message-log-retention")
            )

    async def close(self) -> None:
        """Stop the background tasks and write what is buffered (before closing the writer)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _flush_loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                # Shielded: close() cancels this loop, but a flush under way runs to its end
                # (close then waits for it on the lock and flushes the rest).
                await asyncio.shield(self.flush())
            except Exception:
                if not failing:
                    log.warning("message log: flush failed; frames stay buffered", exc_info=True)
                failing = True
            else:
                if failing:
                    log.info("message log: flushing again (%d frames dropped so far)", self.dropped)
                failing = False

    async def _retention_loop(self) -> None:
        while True:
            try:
                removed = await self.apply_retention()
                if removed:
                    log.info("message log: purged %d frames older than %s", removed, self.retention)
            except Exception:
                log.warning("message log: retention pass failed", exc_info=True)
            await asyncio.sleep(self.retention_interval)
