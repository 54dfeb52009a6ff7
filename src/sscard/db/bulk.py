"""Rows written in sets on PostgreSQL: ids taken from a table's sequence in one query, rows sent by COPY.

Why: a contributions batch of 2,000 lines is 2,000 declarations, 10,000 parts, 2,000 postings and
8,000 legs. Sent one row per statement (``executemany``) that was ~12 statements a line, each parsed,
planned and executed by the server and built by the client (bench/README.md, "Fourteenth session").
COPY sends a table's rows as one stream; the ids the rows need of each other (a part names its
declaration, a declaration its posting, a posting's ``source_ref`` its declaration) are taken from the
sequences beforehand, so nothing needs ``RETURNING`` and nothing is updated afterwards.

The rows go down the session's own psycopg connection, inside its transaction. A constraint violation
is raised as SQLAlchemy's ``IntegrityError``, as an ``INSERT`` through the session would be, so
callers that retry a lost race on a unique key (``declare_contribution``) see no difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Table, text
from sqlalchemy.exc import IntegrityError

from sscard.db.session import UnitOfWork

_NEXT_IDS = text("SELECT nextval(s) FROM pg_get_serial_sequence(:table, 'id') AS s, generate_series(1, :n)")


def _driver(uow: UnitOfWork) -> Any:
    return uow.session.connection().connection.driver_connection


def writes_in_sets(uow: UnitOfWork) -> bool:
    """PostgreSQL through a synchronous psycopg connection (COPY is there); SQLite writes row by row."""
    return uow.session.get_bind().dialect.name == "postgresql" and isinstance(_driver(uow), psycopg.Connection)


def next_ids(uow: UnitOfWork, table: Table, n: int) -> list[int]:
    """``n`` ids from the sequence of ``table.id`` (one statement, whatever ``n``)."""
    if n == 0:
        return []
    return list(uow.session.scalars(_NEXT_IDS, {"table": table.name, "n": n}))


def copy_rows(uow: UnitOfWork, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ``rows`` (values in the order of ``columns``) into ``table`` in the session's transaction."""
    unknown = [name for name in columns if name not in table.c]
    if unknown:  # the statement is built from the table's own column names, never from other text
        raise ValueError(f"{table.name} has no column {unknown[0]!r}")
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    uow.session.flush()  # the session's pending rows first: COPY goes round the ORM
    try:
        with _driver(uow).cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


# How far each table is from its statistics: rows changed since the last ANALYZE against the rows it had then.
# A partitioned table counts no changes of its own (its rows are its partitions': its n_mod_since_analyze
# stays 0) and autovacuum never analyzes it: for it, how far its partitions' live rows now are from the
# count its last ANALYZE saw (none: reltuples -1).
_STALENESS = text(
    "SELECT c.relname, c.reltuples, s.n_mod_since_analyze FROM pg_class AS c "
    "JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
    "WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND c.relkind <> 'p' "
    "UNION ALL "
    "SELECT c.relname, c.reltuples, abs(sum(s.n_live_tup) - greatest(c.reltuples, 0)) FROM pg_class AS c "
    "JOIN pg_inherits AS i ON i.inhparent = c.oid JOIN pg_stat_user_tables AS s ON s.relid = i.inhrelid "
    "WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND c.relkind = 'p' GROUP BY c.relname, c.reltuples"
)


def keep_statistics(uow: UnitOfWork, tables: Sequence[Table], *, floor: int = 1000) -> list[str]:
    """ANALYZE each of ``tables`` (PostgreSQL) that changed by more rows since its last analysis than it had
    then (and by more than ``floor``); the names analyzed.

    Why: a bulk load outruns autovacuum. A table loaded and never analyzed has no statistics, and the
    planner then takes a key list of a batch (``person_id IN (…167 ids…)``) to match most of the table
    and reads it whole: one sequential scan per batch, so the import slowed as its tables grew
    (bench/README.md, "Fourteenth session"). Doubling since the last analysis keeps the analyses to
    a logarithmic few over a load. A table the role does not own is skipped by PostgreSQL with a warning.

    A partitioned table (``contribution_declaration``) is measured by its partitions' rows and analyzed
    whole: its own statistics (the planner's estimate of a query it cannot prune to one month) and each
    partition's, which a bulk load outruns as it does any table's.
    """
    if uow.session.get_bind().dialect.name != "postgresql":
        return []
    rows = uow.session.execute(_STALENESS, {"tables": [t.name for t in tables]}).all()
    stale = [name for name, tuples, changed in rows if changed > max(tuples, floor)]
    for name in stale:
        uow.session.execute(text(f'ANALYZE "{name}"'))  # a name from pg_class of our own tables
    return stale
