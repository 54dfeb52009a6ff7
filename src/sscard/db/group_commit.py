"""Group commit: many concurrent requests of one kind share one transaction (and one WAL flush).

Why: a terminal PIN verification does a few microseconds of cryptography and then waits on the
database: a nonce, two reads, an audit entry and a commit. One transaction per request spends almost
all of its time in round trips and commits, and PostgreSQL's per-transaction work on the same two
cores. A ``GroupCommitter`` hands every request that arrives while a batch is in the database to the
next batch: at low load a batch is one request (no added latency, no timer), under load the batch
grows by itself and the statements and the commit are shared.

The batch function runs in a thread of its own (the database API here is synchronous) and returns
one outcome per item, in order. If the batch fails as a whole (a deadlock, a lost connection), it
is rolled back and every item gets ``on_failure``: callers then take the one-request path, so a
failed batch costs time, never a request.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog
from prometheus_client import Counter
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from sscard.db.session import UnitOfWork, get_engine, unit_of_work_on

In = TypeVar("In")
Out = TypeVar("Out")
log = structlog.get_logger("sscard.db.group_commit")
# items / batches is the mean batch size: how much the shared transactions are saving.
BATCHES = Counter("sscard_group_commit_batches_total", "Committed group-commit batches.", ["name"])
ITEMS = Counter("sscard_group_commit_items_total", "Requests decided in committed group-commit batches.", ["name"])
FAILED = Counter("sscard_group_commit_failed_total", "Batches rolled back (their requests went one by one).", ["name"])


@dataclass(slots=True)
class _Job(Generic[In, Out]):
    item: In
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Out]


def _resolve(future: asyncio.Future[Out], outcome: Out) -> None:
    if not future.done():  # the client may have gone away meanwhile
        future.set_result(outcome)


class GroupCommitter(Generic[In, Out]):
    """Run ``batch(uow, items)`` for everything submitted meanwhile, one transaction per batch."""

    def __init__(
        self,
        name: str,
        batch: Callable[[UnitOfWork, list[In]], list[Out]],
        on_failure: Callable[[In], Out],
        *,
        max_batch: int = 64,
        threads: int = 1,
    ) -> None:
        self.name = name
        self._batch = batch
        self._on_failure = on_failure
        self._max_batch = max_batch
        self._threads = threads
        self._queue: queue.SimpleQueue[_Job[In, Out]] = queue.SimpleQueue()
        self._started_in: int | None = None  # pid: threads do not survive a fork
        self._lock = threading.Lock()
        self._local = threading.local()
        self.batches = 0  # counted for the tests and the metrics, not for decisions
        self.items = 0

    async def submit(self, item: In) -> Out:
        """The item's outcome once its batch has committed (or failed)."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
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
            for i in range(self._threads):
                threading.Thread(target=self._run, name=f"{self.name}-{i}", daemon=True).start()
            self._started_in = pid

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < self._max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for job, outcome in zip(jobs, self._outcomes([j.item for j in jobs]), strict=True):
                try:
                    job.loop.call_soon_threadsafe(_resolve, job.future, outcome)
                except RuntimeError:  # the caller's event loop has closed: nobody is waiting
                    continue

    def _connection(self) -> Connection:
        """This thread's own connection, kept between batches: a pool checkout pings the server each
        time, which cost as much as a statement per batch. Replaced when it broke or the engine changed."""
        engine = get_engine()
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.engine is not engine or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            connection = self._local.connection = engine.connect()
        return connection

    def _drop_connection(self) -> None:
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None and not connection.closed:
            connection.invalidate()  # whatever state it is in, it is not used again

    def _outcomes(self, items: list[In]) -> list[Out]:
        try:
            with unit_of_work_on(self._connection()) as uow:
                outcomes = self._batch(uow, items)
                if len(outcomes) != len(items):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(items)} items")
        except Exception as exc:  # noqa: BLE001 - rolled back; every item takes the one-request path
            log.warning("group_commit.batch_failed", name=self.name, size=len(items), error_type=type(exc).__name__)
            FAILED.labels(self.name).inc()
            if isinstance(exc, DBAPIError):
                self._drop_connection()  # a lost or broken connection: the next batch opens a new one
            return [self._on_failure(item) for item in items]
        self.batches += 1
        self.items += len(items)
        BATCHES.labels(self.name).inc()
        ITEMS.labels(self.name).inc(len(items))
        return outcomes
