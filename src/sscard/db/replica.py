"""Read-only units of work, on a streaming read replica when one is configured (issue 23 item 1).

Where work reads and writes (docs/scaling.md, "Read replicas"):

- ``unit_of_work()`` is the primary, always: everything that decides or writes (PIN checks,
  settlements, logins, session checks, audit entries) and any read that must see the caller's own write.
- ``read_unit_of_work()`` is the replica when ``SSCARD_DATABASE_REPLICA_URL`` is set and answers. Its
  transaction is read-only: PostgreSQL is asked for ``BEGIN READ ONLY``, and an ORM insert, update or
  delete raises before it reaches any database. Without a replica (always with the embedded SQLite of
  ``make run``), or while it is down, a request's read runs in the request's own primary transaction,
  exactly as before; a read-only unit of work is opened on the primary only for a caller without one.

Read-your-writes is decided by marking, not by timing: only the routes marked as reads take this unit
of work (``READS`` in web/transaction.py), and a route is marked only when what it shows is written by
someone else (declarations by employers, postings by settlement, statements by the batch) or long
before (a holder's history). A route that shows what its own caller just wrote (a discrepancy report
and its list, a password change, a login) keeps the primary. A time window after the caller's write
would need the caller's last write known to every app process behind the proxy; the marking needs
nothing shared and is checked where the route is written.

The replica is a convenience, never a dependency: when a connection to it cannot be had (it is
stopped, refuses, or does not answer within the connect bound) the read runs on the primary, with a
warning logged once per outage and ``sscard_replica_fallbacks_total`` counted per read; the replica is
tried again ``database_replica_retry_s`` later. A replica lost in the middle of a read fails that one
request with 503 (the read cannot be replayed behind the route's back) and sends the next to the primary.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import structlog
from prometheus_client import Counter
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import ORMExecuteState, Session

from sscard.config import get_settings
from sscard.db.session import UnitOfWork, get_engine, get_replica_engine, unit_of_work_on

log = structlog.get_logger("sscard.db.replica")

READ_UNITS = Counter("sscard_db_reads_total", "Read-only units of work by where they ran.", ["target"])
FALLBACKS = Counter(
    "sscard_replica_fallbacks_total", "Read-only units of work sent to the primary because the replica failed."
)


class WriteInReadOnlyWork(RuntimeError):
    """A read-only unit of work tried to change a row: a programming error (the route is mis-marked)."""


class _Breaker:
    """After a failure the replica is left alone for ``retry_s``; one read then tries it again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0

    def closed(self) -> bool:
        return time.monotonic() >= self._down_until

    def trip(self, retry_s: float, error: BaseException) -> None:
        with self._lock:
            first = self.closed()  # log once per outage, not once per read
            self._down_until = time.monotonic() + retry_s
        if first:
            log.warning("replica_unavailable", error_type=type(error).__name__, retry_s=retry_s, reads_go_to="primary")

    def reset(self) -> None:
        with self._lock:
            self._down_until = 0.0


_breaker = _Breaker()


def reset_replica_state() -> None:
    """Forget a recorded outage (tests, and settings reloaded)."""
    _breaker.reset()


@contextmanager
def read_unit_of_work(primary: UnitOfWork | None = None) -> Iterator[UnitOfWork]:
    """A read-only transaction: the replica's when one is configured and answers, else the primary's.

    ``primary`` is the caller's own unit of work on the primary (a request's ``TRANSACTION``): when the
    read runs on the primary it runs there, in the caller's transaction, rather than on a second
    primary connection. A pool that lends every request two connections at once runs dry at half its
    size, each request holding one and waiting for another until the pool's timeout.
    """
    replica = get_replica_engine()
    if replica is not None and replica not in _watched:
        _watch(replica)
    connection = _replica_connection(replica) if replica is not None and _breaker.closed() else None
    if connection is None:
        READ_UNITS.labels("primary").inc()
        if replica is not None:
            FALLBACKS.inc()
        if primary is not None:
            yield primary
            return
        with _on_primary() as uow:
            yield uow
        return
    READ_UNITS.labels("replica").inc()
    with connection, unit_of_work_on(connection) as uow:
        _refuse_writes(uow.session)
        yield uow


def _replica_connection(replica: Engine) -> Connection | None:
    """A live connection to the replica (the pool's liveness ping included), or None after a failure."""
    try:
        return _read_only(replica.connect())
    except (DBAPIError, PoolTimeout) as exc:  # down, refusing, silent, or every pooled connection busy
        _breaker.trip(get_settings().database_replica_retry_s, exc)
        return None


@contextmanager
def _on_primary() -> Iterator[UnitOfWork]:
    with _read_only(get_engine().connect()) as connection, unit_of_work_on(connection) as uow:
        _refuse_writes(uow.session)
        yield uow


def _read_only(connection: Connection) -> Connection:
    """PostgreSQL begins the transaction READ ONLY (the embedded SQLite has no replica: as it was)."""
    if connection.dialect.name == "postgresql":
        return connection.execution_options(postgresql_readonly=True)
    return connection


_watched: weakref.WeakSet[Engine] = weakref.WeakSet()


def _watch(replica: Engine) -> None:
    """A replica lost in the middle of a read (only its own engine's errors count) sends the next reads
    to the primary; the read it happened in fails (503)."""
    _watched.add(replica)

    @event.listens_for(replica, "handle_error")
    def _lost(context: ExceptionContext) -> None:
        if context.is_disconnect or isinstance(context.original_exception, psycopg.OperationalError):
            _breaker.trip(get_settings().database_replica_retry_s, context.original_exception)


def _refuse_writes(session: Session) -> None:
    """Any backend: an ORM insert, update or delete in a read-only unit of work raises here."""

    @event.listens_for(session, "do_orm_execute")
    def _statement(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise WriteInReadOnlyWork("a read-only unit of work cannot change rows")

    @event.listens_for(session, "before_flush")
    def _flush(flushing: Session, _context: Any, _instances: Any) -> None:
        if flushing.new or flushing.deleted or any(flushing.is_modified(o) for o in flushing.dirty):
            raise WriteInReadOnlyWork("a read-only unit of work cannot change rows")
