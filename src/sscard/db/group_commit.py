"""Group commit: many concurrent requests of one kind share one transaction (and one WAL flush).

Why: a terminal PIN verification does a few microseconds of cryptography and then waits on the
database: a nonce, two reads, an audit entry and a commit. One transaction per request spends almost
all of its time in round trips and commits, and PostgreSQL's per-transaction work on the same two
cores. A ``GroupCommitter`` hands every request that arrives while a batch is in the database to the
next batch: at low load a batch is one request (no added latency, no timer), under load the batch
grows by itself and the statements and the commit are shared.

The batch function is ordinary synchronous SQLAlchemy code and returns one outcome per item, in
order; a committer may also be given an ``in_loop`` function, an asyncio batch that runs its own
transaction on the connection (the PIN verify batch uses it for libpq's pipeline mode, db/driver.py). Where a
batch runs depends on the driver:
- PostgreSQL: inside the caller's event loop, on psycopg's asyncio connection (the ``in_loop``
  function, or SQLAlchemy's ``run_sync`` bridging the synchronous code to it). No thread, so no
  hand-off of the GIL between the event loop and a batcher on every round trip; measured, those
  hand-offs kept both workers waiting with a third of the CPU idle.
- SQLite (no asyncio driver here): in a thread of its own.
Either way each batch has a connection of its own, kept open between batches (a pool checkout pings
the server each time, which cost as much as a statement per batch).

Linger (in the event loop): with a batch always in the database, the requests in flight split into
two cohorts that take turns (those answered by one batch come back during the next), so batches hold
half of what is in flight. Under load, when the last batch had at least ``LINGER_FROM`` requests, the
next one waits up to ``linger`` seconds for as many as the last one had; at low load it never waits
(no timer for a lone request). The same idea as PostgreSQL's ``commit_delay``, which applies only
when ``commit_siblings`` other transactions are active. Measured: batches of 5–7 became 17–20 at 32
requests in flight, with higher throughput and a lower p99 (bench/README.md).

If a batch fails as a whole (a deadlock, a lost connection), it is rolled back and every item gets
``on_failure``: callers then take the one-request path, so a failed batch costs time, never a request.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg
import structlog
from prometheus_client import Counter
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from sscard.config import get_settings
from sscard.db.session import UnitOfWork, get_async_engine, get_engine, unit_of_work_on

In = TypeVar("In")
Out = TypeVar("Out")
log = structlog.get_logger("sscard.db.group_commit")
# items / batches is the mean batch size: how much the shared transactions are saving.
BATCHES = Counter("sscard_group_commit_batches_total", "Committed group-commit batches.", ["name"])
ITEMS = Counter("sscard_group_commit_items_total", "Requests decided in committed group-commit batches.", ["name"])
FAILED = Counter("sscard_group_commit_failed_total", "Batches rolled back (their requests went one by one).", ["name"])
# The smallest last batch that counts as load (below it, a batch never lingers).
LINGER_FROM = 4


@dataclass(slots=True)
class _Job(Generic[In, Out]):
    item: In
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Out]


def _resolve(future: asyncio.Future[Out], outcome: Out) -> None:
    if not future.done():  # the client may have gone away meanwhile
        future.set_result(outcome)


class GroupCommitter(Generic[In, Out]):
    """Run ``batch(uow, items)`` for everything submitted meanwhile, one transaction per batch,
    at most ``connections`` batches in the database at once (per event loop, or per process).
    ``linger``: seconds a batch in the event loop may wait to fill under load (module docstring)."""

    def __init__(
        self,
        name: str,
        batch: Callable[[UnitOfWork, list[In]], list[Out]],
        on_failure: Callable[[In], Out],
        *,
        max_batch: int = 64,
        connections: int = 1,
        linger: float = 0.0,
        in_loop: Callable[[AsyncConnection, list[In]], Awaitable[list[Out]]] | None = None,
    ) -> None:
        self.name = name
        self._batch = batch
        self._in_loop = in_loop
        self._on_failure = on_failure
        self._max_batch = max_batch
        self._connections = connections
        self._linger = linger
        self._in_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InLoop[In, Out]] = (
            weakref.WeakKeyDictionary()
        )
        self._in_threads = _InThreads(self)
        self.batches = 0  # counted for the tests and the metrics, not for decisions
        self.items = 0

    async def submit(self, item: In) -> Out:
        """The item's outcome once its batch has committed (or failed)."""
        loop = asyncio.get_running_loop()
        if get_async_engine() is None:
            return await self._in_threads.submit(item, loop)
        runner = self._in_loops.get(loop)
        if runner is None:
            runner = self._in_loops[loop] = _InLoop(self, loop)
        return await runner.submit(item)

    async def close(self) -> None:
        """Close the connections kept open for this event loop's batches (the server's shutdown)."""
        runner = self._in_loops.pop(asyncio.get_running_loop(), None)
        if runner is not None:
            await runner.close()

    def decide(self, connection: Connection, items: list[In]) -> tuple[list[Out], bool]:
        """One batch in one transaction on ``connection``: the outcomes (on failure, rolled back and every
        item's fallback) and whether the connection is fit for the next batch (not after a database error)."""
        try:
            with unit_of_work_on(connection) as uow:
                outcomes = self._checked(items, self._batch(uow, items))
        except Exception as exc:  # noqa: BLE001 - rolled back; every item takes the one-request path
            return self.fallbacks(items, exc), not _database_error(exc)
        return outcomes, True

    async def decide_in_loop(self, connection: AsyncConnection, items: list[In]) -> tuple[list[Out], bool]:
        """``decide`` for an ``in_loop`` batch function, which runs (and rolls back) its own transaction."""
        try:
            outcomes = self._checked(items, await self._in_loop(connection, items))  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - rolled back; every item takes the one-request path
            return self.fallbacks(items, exc), not _database_error(exc)
        return outcomes, True

    def _checked(self, items: list[In], outcomes: list[Out]) -> list[Out]:
        if len(outcomes) != len(items):
            raise RuntimeError(f"{len(outcomes)} outcomes for {len(items)} items")
        self.batches += 1
        self.items += len(items)
        BATCHES.labels(self.name).inc()
        ITEMS.labels(self.name).inc(len(items))
        return outcomes

    def fallbacks(self, items: list[In], exc: Exception) -> list[Out]:
        """A batch that failed (or found no connection): every item takes the one-request path."""
        log.warning("group_commit.batch_failed", name=self.name, size=len(items), error_type=type(exc).__name__)
        FAILED.labels(self.name).inc()
        return [self._on_failure(item) for item in items]


def _database_error(exc: Exception) -> bool:
    """An error from the database or the connection, or a wait on it that ran out (its connection was
    cut off mid-protocol): the connection is not used for another batch."""
    return isinstance(exc, DBAPIError | psycopg.Error | TimeoutError)


class _InLoop(Generic[In, Out]):
    """Batches as tasks of one event loop, each on a kept-open asyncio connection."""

    def __init__(self, committer: GroupCommitter[In, Out], loop: asyncio.AbstractEventLoop) -> None:
        self._committer = committer
        self._loop = loop
        self._pending: deque[tuple[In, asyncio.Future[Out]]] = deque()
        self._running = 0
        self._idle: list[AsyncConnection] = []
        self._last_size = 0  # of the last batch taken: what "as many as the last one" means
        self._filled: asyncio.Future[None] | None = None  # set while a batch lingers

    def submit(self, item: In) -> asyncio.Future[Out]:
        future: asyncio.Future[Out] = self._loop.create_future()
        self._pending.append((item, future))
        if self._filled is not None and len(self._pending) >= self._last_size:
            _resolve(self._filled, None)
        if self._running < self._committer._connections:
            # The task starts on the loop's next turn: everything submitted until then joins its batch.
            self._running += 1
            self._loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._linger()
                size = self._last_size = min(len(self._pending), self._committer._max_batch)
                jobs = [self._pending.popleft() for _ in range(size)]
                outcomes = await self._outcomes([item for item, _ in jobs])
                for (_, future), outcome in zip(jobs, outcomes, strict=True):
                    _resolve(future, outcome)
        finally:
            self._running -= 1

    async def _linger(self) -> None:
        """Under load, give the next batch up to ``linger`` seconds to fill to the last one's size."""
        linger = self._committer._linger
        if linger <= 0 or self._filled is not None or self._last_size < LINGER_FROM:
            return
        if len(self._pending) >= self._last_size:
            return
        self._filled = filled = self._loop.create_future()
        timer = self._loop.call_later(linger, _resolve, filled, None)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None

    async def _outcomes(self, items: list[In]) -> list[Out]:
        # A frozen server answers nothing and cancels nothing: waits on it end after the same deadline
        # as any other (db/deadline.py), and the requests go one by one. An ``in_loop`` batch bounds
        # each of its own round trips (db/driver.py), so a deadline never cuts off work it did after
        # its COMMIT; a batch run through ``run_sync`` is bounded as a whole here.
        deadline = get_settings().timeouts.answer_deadline_s
        try:
            async with asyncio.timeout(deadline):
                connection = await self._connection()
        except Exception as exc:  # noqa: BLE001 - the database is unreachable: no request may hang on it
            return self._committer.fallbacks(items, exc)
        if self._committer._in_loop is not None:
            outcomes, reusable = await self._committer.decide_in_loop(connection, items)
        else:
            try:
                async with asyncio.timeout(deadline):
                    outcomes, reusable = await connection.run_sync(self._committer.decide, items)
            except TimeoutError as exc:
                await connection.invalidate()
                return self._committer.fallbacks(items, exc)
        if reusable:
            self._idle.append(connection)
        else:
            await connection.invalidate()  # whatever state it is in, it is not used again
        return outcomes

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()

    async def _connection(self) -> AsyncConnection:
        engine = get_async_engine()
        while self._idle:
            connection = self._idle.pop()
            if connection.engine is engine and not connection.closed and not connection.invalidated:
                return connection
            await connection.close()
        assert engine is not None  # noqa: S101 - only PostgreSQL runs batches in the loop
        return await engine.connect()


class _InThreads(Generic[In, Out]):
    """Batches in threads of their own (drivers without asyncio), each thread on a kept-open connection."""

    def __init__(self, committer: GroupCommitter[In, Out]) -> None:
        self._committer = committer
        self._queue: queue.SimpleQueue[_Job[In, Out]] = queue.SimpleQueue()
        self._started_in: int | None = None  # pid: threads do not survive a fork
        self._lock = threading.Lock()
        self._local = threading.local()

    async def submit(self, item: In, loop: asyncio.AbstractEventLoop) -> Out:
        self._ensure_started()
        job: _Job[In, Out] = _Job(item, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    def _ensure_started(self) -> None:
        pid = os.getpid()
        if self._started_in == pid:
            return
        with self._lock:
            if self._started_in == pid:
                return
            for i in range(self._committer._connections):
                threading.Thread(target=self._run, name=f"{self._committer.name}-{i}", daemon=True).start()
            self._started_in = pid

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < self._committer._max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for job, outcome in zip(jobs, self._outcomes([j.item for j in jobs]), strict=True):
                try:
                    job.loop.call_soon_threadsafe(_resolve, job.future, outcome)
                except RuntimeError:  # the caller's event loop has closed: nobody is waiting
                    continue

    def _outcomes(self, items: list[In]) -> list[Out]:
        try:
            connection = self._connection()
        except Exception as exc:  # noqa: BLE001 - the database is unreachable: the thread must live on
            return self._committer.fallbacks(items, exc)
        outcomes, reusable = self._committer.decide(connection, items)
        if not reusable:
            self._local.connection = None
            if not connection.closed:
                connection.invalidate()  # whatever state it is in, it is not used again
        return outcomes

    def _connection(self) -> Connection:
        engine = get_engine()
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.engine is not engine or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            connection = self._local.connection = engine.connect()
        return connection
