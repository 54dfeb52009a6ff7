"""Bounded waits on PostgreSQL: a request fails in a known time when the database does not answer.

Three layers, because each covers what the others cannot:
- ``connect_timeout`` (libpq): a server that accepts no new connection;
- ``statement_timeout`` (the server): a live server cancels a statement that runs too long (a lock
  wait included), and the connection stays usable;
- a client deadline on every wait for the server's answer (``DeadlineConnection``): a frozen server
  (SIGSTOP, a hung host or disk) cancels nothing, and its kernel still acknowledges our packets, so
  neither TCP timeouts nor keep-alives fire; only the client can give up. It gives the server's own
  timeout a head start (``GRACE_S``) and then closes the connection, whose state is unknown; the
  error is an ``OperationalError`` on a closed connection, which SQLAlchemy's pool discards and the
  error boundary answers with 503 ``DATABASE_UNAVAILABLE``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from psycopg.abc import PQGen

from sscard.config import DatabaseTimeouts

# What psycopg raises (a private subclass of OperationalError) when a wait's ``timeout`` passes.
_WAIT_TIMEOUT: type[errors.OperationalError] = errors._WaitTimeout


class DatabaseDidNotAnswer(psycopg.OperationalError):
    """The server sent no answer within the client deadline; the connection was closed."""


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends by ``answer_deadline_s``.

    psycopg routes each round trip (execute, fetch, COPY, commit, rollback) through ``wait``; its
    ``timeout`` argument is the one hook it offers for a bound, and it raises a private
    ``_WaitTimeout`` (an ``OperationalError``) when it passes.
    """

    answer_deadline_s: float | None = None

    def wait(self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(gen, interval, timeout if timeout is not None else self.answer_deadline_s)
        except _WAIT_TIMEOUT:
            self.pgconn.finish()  # mid-protocol: the connection cannot be trusted with another statement
            raise DatabaseDidNotAnswer(f"the database did not answer within {self.answer_deadline_s:g} s") from None


def connect_with_deadline(timeouts: DatabaseTimeouts, cargs: Any, cparams: dict[str, Any]) -> DeadlineConnection:
    """What SQLAlchemy's ``do_connect`` runs instead of ``psycopg.connect``."""
    connection = DeadlineConnection.connect(*cargs, **cparams)
    connection.answer_deadline_s = timeouts.answer_deadline_s
    return connection
