"""The one writer of a database: group commit.

Every write of evcms is an *op*: an async function that takes an ``AsyncConnection`` (already
in a transaction) and does its statements. Callers ``await writer.submit(op)``; a single
background task takes what is queued — up to ``max_batch`` ops, waiting at most ``max_wait``
seconds for more after the first — runs them in ONE transaction, commits once and then answers
every caller. Under load the next batch collects while the current one commits, so throughput
grows with the load instead of being bounded by one commit per message.

If an op (or the commit) fails, the batch is rolled back and its ops re-run one by one, each in
its own transaction, so only the failing caller sees the exception and nobody else's write is
lost. Ops must therefore be *database-only and re-runnable*: no side effects outside the
connection, no swallowing of database errors (on PostgreSQL a failed statement poisons the
transaction).

Hot single-statement writes use ``await writer.execute(statement, params)`` instead: consecutive
calls with the same statement object in a batch become one ``executemany`` (~40x the rows/s of
a commit per row on SQLite, ~20x on PostgreSQL; see ``bench/storage_writes.py``).

The queue is bounded: when it is full ``submit`` waits (back-pressure on the callers, e.g. the
station connections) instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from evcms.storage.database import SQLITE_BEGIN_OPTION

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[AsyncConnection], Awaitable[T]]


class WriterClosed(RuntimeError):
    """The writer is not running (not started yet, or closed)."""


@dataclass(slots=True)
class _Item:
    op: Op[Any] | None  # None: a statement run by ``execute``
    future: asyncio.Future[Any]
    statement: Executable | None = None
    params: dict[str, Any] | None = None


@dataclass(slots=True)
class WriterStats:
    """Counters for tests, benchmarks and metrics."""

    ops: int = 0  # ops completed (successfully or not)
    batches: int = 0  # batches taken from the queue
    commits: int = 0  # transactions committed
    failed_batches: int = 0  # batches that had to be re-run one op at a time
    largest_batch: int = 0
    transaction_seconds: float = 0.0  # time inside committed transactions (begin .. commit)
    last_transaction_seconds: float = 0.0
    batch_sizes: list[int] = field(default_factory=list, repr=False)  # the last few


class Writer:
    """Serialises and groups the writes to one database (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 500,
        max_wait: float = 0.002,
        queue_size: int = 10_000,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or max_wait < 0:
            raise ValueError("max_batch and queue_size must be >= 1, max_wait >= 0")
        self.engine = engine
        # Same pool; on SQLite its transactions BEGIN IMMEDIATE (ignored by other databases).
        self._write_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue_size = queue_size
        self.stats = WriterStats()
        self._queue: asyncio.Queue[_Item | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stopped = False

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._closing

    @property
    def commits(self) -> int:
        return self.stats.commits

    @property
    def queued(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("writer already started")
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._closing = False
        self._stopped = False
        self._task = asyncio.create_task(self._run(), name="evcms-storage-writer")

    async def close(self) -> None:
        """Stop accepting ops, write everything already queued, then stop."""
        if self._task is None or self._queue is None:
            return
        self._closing = True
        if not self._stopped:
            await self._queue.put(None)  # after everything queued before it
        try:
            await self._task
        finally:
            self._task = None
            self._queue = None

    async def __aenter__(self) -> Writer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- submitting ---------------------------------------------------------------------------

    async def submit(self, op: Op[T]) -> T:
        """Run ``op`` in a transaction; return its result once that transaction is committed.

        Waits while the queue is full. If the caller is cancelled before the op's batch starts,
        the op is skipped; once the batch runs it will be committed regardless.
        """
        if self._queue is None or self._closing:
            raise WriterClosed("the storage writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        queue = self._queue
        await queue.put(_Item(op, future))
        if self._stopped:  # we got in after the writer drained its queue and stopped
            self._fail_pending(queue)
        return await future

    async def execute(self, statement: Executable, params: dict[str, Any]) -> None:
        """Run one parameterised statement (an insert, upsert, update...) in a transaction.

        The fast path for hot writes: consecutive ``execute`` calls of a batch with the *same
        statement object* are sent as one ``executemany`` (one round trip on PostgreSQL, one
        prepared statement on SQLite). Build the statement once and reuse it.
        """
        if self._queue is None or self._closing:
            raise WriterClosed("the storage writer is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queue
        await queue.put(_Item(None, future, statement, params))
        if self._stopped:
            self._fail_pending(queue)
        await future

    # -- the background task ------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        stopping = False
        try:
            while True:
                if stopping:  # closing: write what is still queued, then stop
                    try:
                        first = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                else:
                    first = await queue.get()
                if first is None:
                    stopping = True
                    continue
                batch = [first]
                stopping = await self._collect(queue, batch, stopping) or stopping
                try:
                    await self._run_batch(batch)
                except BaseException as exc:  # cancelled, or a bug: never leave a caller hanging
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(WriterClosed("the storage writer stopped"))
                    if not isinstance(exc, Exception):
                        raise
                    log.exception("storage writer: unexpected error")
        finally:
            self._stopped = True
            self._fail_pending(queue)

    async def _collect(
        self, queue: asyncio.Queue[_Item | None], batch: list[_Item], stopping: bool
    ) -> bool:
        """Add queued ops to ``batch``; True when the stop marker was taken."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if stopping:
                    return True
                if remaining <= 0:
                    return False
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    return False
            if item is None:
                return True
            batch.append(item)
        return False

    async def _run_batch(self, batch: list[_Item]) -> None:
        live = [item for item in batch if not item.future.done()]  # skip cancelled callers
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        self.stats.batch_sizes.append(len(live))
        del self.stats.batch_sizes[:-100]
        if not live:
            return
        if len(live) == 1:
            await self._run_alone(live[0])
            return
        results: list[Any] = []
        started = time.perf_counter()
        try:
            async with self._write_engine.begin() as conn:
                start = 0
                while start < len(live):
                    item = live[start]
                    if item.op is not None:
                        results.append(await item.op(conn))
                        start += 1
                        continue
                    end = start + 1  # a run of the same statement: one executemany
                    while end < len(live) and live[end].statement is item.statement:
                        end += 1
                    params = [run.params for run in live[start:end]]
                    await conn.execute(item.statement, params[0] if end - start == 1 else params)  # type: ignore[arg-type]
                    results.extend([None] * (end - start))
                    start = end
        except Exception:
            self.stats.failed_batches += 1
            await self._run_isolated(live)
            return
        self._committed(started)
        self.stats.ops += len(live)
        for item, result in zip(live, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _run_isolated(self, live: list[_Item]) -> None:
        """A batch failed and was rolled back: run it again in one transaction with a SAVEPOINT
        per op, so only the failing callers get their errors and the rest still share one
        commit (instead of one commit each). If even that fails, each op runs alone."""
        outcomes: list[tuple[bool, Any]] = []
        started = time.perf_counter()
        try:
            async with self._write_engine.begin() as conn:
                for item in live:
                    try:
                        async with conn.begin_nested():
                            if item.op is not None:
                                result = await item.op(conn)
                            else:
                                await conn.execute(item.statement, item.params)  # type: ignore[arg-type]
                                result = None
                        outcomes.append((True, result))
                    except Exception as exc:
                        outcomes.append((False, exc))
        except Exception:
            for item in live:
                await self._run_alone(item)
            return
        self._committed(started)
        self.stats.ops += len(live)
        for item, (ok, value) in zip(live, outcomes, strict=True):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    def _committed(self, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.stats.commits += 1
        self.stats.transaction_seconds += elapsed
        self.stats.last_transaction_seconds = elapsed

    async def _run_alone(self, item: _Item) -> None:
        started = time.perf_counter()
        try:
            async with self._write_engine.begin() as conn:
                if item.op is not None:
                    result = await item.op(conn)
                else:
                    await conn.execute(item.statement, item.params)  # type: ignore[arg-type]
                    result = None
        except Exception as exc:
            self.stats.ops += 1
            if not item.future.done():
                item.future.set_exception(exc)
            return
        self._committed(started)
        self.stats.ops += 1
        if not item.future.done():
            item.future.set_result(result)

    def _fail_pending(self, queue: asyncio.Queue[_Item | None]) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                item = queue.get_nowait()
                if item is not None and not item.future.done():
                    item.future.set_exception(WriterClosed("the storage writer stopped"))
