"""Prebuilt statements sent straight down psycopg's libpq handle, for the one batch that runs on every
terminal PIN check.

Why: a group-commit batch (``credentials/pin/batch_verify.py``) runs a handful of prebuilt statements
whatever its size, so what it costs is per statement, not per row. SQLAlchemy's execution and result
machinery (plus the greenlet bridge to the asyncio driver) cost as much CPU a batch as the statements
themselves; psycopg's own pipeline, under it, then cost as much again: it flushes and waits on the
event loop once per statement and per Sync (12 writes to the socket a batch), and runs its query
conversion and cursor bookkeeping on each (the figures: bench/README.md, "Figures moved out of the code").

So a batch is a ``PipelinedTransaction``: each round trip queues its statements and one Sync on the
libpq connection (pipeline mode) and sends them in one write; the statements are prepared once per
connection under names of their own. Everything else stays psycopg's, through its documented
interfaces: ``psycopg.pq`` for the protocol, a ``Transformer`` for the parameters and rows (the same
dumpers and loaders its cursors use), ``psycopg.errors.lookup`` for the exception of a SQLSTATE. A
database error raises a ``psycopg.Error``, after which the caller does not reuse the connection.

The SQL is still the Core statement's own, compiled once for the engine's dialect, so the tables'
definitions stay in one place; the rows come back as named tuples with each column processed by its
SQLAlchemy type (an enum column gives the enum, a UTC timestamp the aware datetime), as a SQLAlchemy
``Row`` would give them.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg
from psycopg import abc as psycopg_abc
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement

# ``%(name)s`` placeholders and ``%%`` (a literal %) in SQL compiled for psycopg's ``pyformat``.
_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


class DriverStatement:
    """A Core statement compiled for ``dialect`` (a psycopg dialect): its SQL with ``$n`` parameters and a
    prepared-statement name of its own, and its rows as named tuples processed by the columns' types."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled_sql = statement.compile(dialect=dialect).string
        self.param_names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "%"
            if match.group(1) not in self.param_names:
                self.param_names.append(match.group(1))
            return f"${self.param_names.index(match.group(1)) + 1}"

        self.sql = _PYFORMAT.sub(number, compiled_sql).encode()
        self.name = b"sscard_" + hashlib.sha256(self.sql).hexdigest()[:16].encode()
        self._formats = [PyFormat.TEXT] * len(self.param_names)  # every parameter is cast in the SQL
        columns = list(getattr(statement, "selected_columns", ()))
        self._row_type: Callable[..., Any] = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]
        self._processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self._plain = not any(self._processors)

    def values(self, transformer: psycopg_abc.Transformer, params: Mapping[str, Any]) -> list[Any]:
        """The parameters as text, in ``$n`` order, by psycopg's own dumpers."""
        return list(transformer.dump_sequence([params[name] for name in self.param_names], self._formats))

    def rows(self, raw: Iterable[tuple[Any, ...]]) -> list[Any]:
        """The driver's rows as named tuples, each column processed by its type."""
        row_type = self._row_type
        if self._plain:
            return [row_type(*values) for values in raw]
        processors = self._processors
        return [
            row_type(*(p(v) if p is not None else v for p, v in zip(processors, values, strict=True))) for values in raw
        ]


def compiled(statements: Mapping[str, ClauseElement], dialect: Dialect) -> dict[str, DriverStatement]:
    """Each of ``statements`` compiled for ``dialect``, by name."""
    return {name: DriverStatement(statement, dialect) for name, statement in statements.items()}


BEGIN = b"BEGIN"
COMMIT = b"COMMIT"
ROLLBACK = b"ROLLBACK"
Command = bytes | tuple[DriverStatement, Mapping[str, Any]]  # a plain command, or a statement and its parameters

# The statements prepared on each connection, by the connection (forgotten with it).
_prepared: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], set[bytes]] = weakref.WeakKeyDictionary()


class PipelinedTransaction:
    """One transaction on ``connection``'s libpq handle in pipeline mode; see the module docstring.

    The caller owns the connection for the duration (the batcher's connection is never shared), starts
    with ``BEGIN``, may end with ``COMMIT`` in its last round trip, and then calls ``finish()``; on any
    error ``abandon()`` (a clean rollback when nothing is in flight, else the connection is closed)."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], *, deadline_s: float | None = None) -> None:
        self._connection = connection
        # Each round trip's bound (db/deadline.py): a frozen server answers nothing and cancels nothing.
        self._deadline_s = deadline_s
        self._pgconn = connection.pgconn
        self._prepared = _prepared.setdefault(connection, set())
        self._transformer: psycopg_abc.Transformer = Transformer.from_context(connection)
        self._in_flight = False
        # The socket's reader stays registered from the first wait to ``finish``/``abandon`` (one add and one
        # remove a transaction, not one of each per wait: a batch waits a few times a round trip), and wakes
        # whichever wait is current (``_waiter``; a readiness with nobody waiting is dropped, the next wait
        # reads what came). Removed before the connection is psycopg's again: its own waits register theirs.
        self._reading: tuple[asyncio.AbstractEventLoop, int] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._pgconn.enter_pipeline_mode()

    async def round_trip(self, *commands: Command) -> list[list[tuple[Any, ...]]]:
        """Send ``commands`` and a Sync in one write; the rows of each statement, in order (plain
        commands have none). Raises the first database error (the rest of the trip is then skipped)."""
        pgconn, wanted = self._pgconn, []
        self._in_flight = True
        for command in commands:
            if isinstance(command, bytes):
                pgconn.send_query_params(command, None)
                wanted.append(False)
                continue
            statement, params = command
            if statement.name not in self._prepared:
                pgconn.send_prepare(statement.name, statement.sql)
                wanted.append(False)
                self._prepared.add(statement.name)  # a failure closes the connection, and this set with it
            pgconn.send_query_prepared(statement.name, statement.values(self._transformer, params))
            wanted.append(True)
        pgconn.pipeline_sync()
        async with asyncio.timeout(self._deadline_s):
            while pgconn.flush():
                await self._ready(writable=True)
            rows = await self._read(wanted)
        self._in_flight = False
        return rows

    async def _read(self, wanted: list[bool]) -> list[list[tuple[Any, ...]]]:
        pgconn, transformer = self._pgconn, self._transformer
        rows: list[list[tuple[Any, ...]]] = []
        error: psycopg.Error | None = None
        index = 0
        while True:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of one command's results
                    index += 1
                    continue
                status = result.status
                if status == pq.ExecStatus.PIPELINE_SYNC:
                    if error is not None:
                        raise error
                    return rows
                if status == pq.ExecStatus.FATAL_ERROR:
                    error = error or _error_of(result)
                elif status == pq.ExecStatus.TUPLES_OK and wanted[index]:
                    transformer.set_pgresult(result)
                    rows.append(transformer.load_rows(0, result.ntuples, tuple))
                elif wanted[index] and status != pq.ExecStatus.PIPELINE_ABORTED:
                    rows.append([])  # a statement without rows (an INSERT without RETURNING)
            await self._ready(writable=False)

    async def _ready(self, *, writable: bool) -> None:
        """Wait until the socket can be written to (or read from)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        if writable:  # rare (a round trip larger than the socket's buffer): registered for this wait only
            # (the reader, if registered, wakes nobody meanwhile: ``_readable`` removes it when it fires)
            fd = self._pgconn.socket
            loop.add_writer(fd, _set_once, ready)
            try:
                await ready
            finally:
                loop.remove_writer(fd)
            return
        if self._reading is None:
            self._reading = (loop, self._pgconn.socket)
            loop.add_reader(self._reading[1], self._readable)
        self._waiter = ready
        try:
            await ready
        finally:
            self._waiter = None

    def _readable(self) -> None:
        if self._waiter is not None:
            _set_once(self._waiter)
        else:  # nobody waits (the selector is level-triggered: it would call again at every turn of the loop,
            # e.g. after the server closed the connection): removed until the next wait adds it again
            self._stop_reading()

    def _stop_reading(self) -> None:
        if self._reading is not None:
            loop, fd = self._reading
            self._reading = None
            loop.remove_reader(fd)

    async def finish(self) -> None:
        """Commit unless a round trip already did, and leave pipeline mode: the connection idle."""
        try:
            if self._pgconn.transaction_status != pq.TransactionStatus.IDLE:
                await self.round_trip(COMMIT)
        finally:
            self._stop_reading()
        self._pgconn.exit_pipeline_mode()

    async def abandon(self) -> None:
        """Roll back after an error: cleanly when nothing is in flight, else by closing the connection
        (its results can no longer be told apart); a database error has closed it for reuse anyway."""
        try:
            if not self._in_flight and self._pgconn.status == pq.ConnStatus.OK:
                try:
                    await self.round_trip(ROLLBACK)
                    self._pgconn.exit_pipeline_mode()
                    return
                except (psycopg.Error, OSError):
                    pass
        finally:
            self._stop_reading()
        await self._connection.close()


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _error_of(result: pq.abc.PGresult) -> psycopg.Error:
    """The psycopg exception of a failed statement, with PostgreSQL's primary message only (its detail
    can quote the row's values, which may be personal data)."""
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"database error").decode(errors="replace")
    try:
        error_class = psycopg.errors.lookup(sqlstate)
    except KeyError:
        error_class = psycopg.DatabaseError
    return error_class(message)
