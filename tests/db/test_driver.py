"""The pipelined transaction on psycopg's libpq handle (db/driver.py), which every terminal PIN batch runs on.

What a caller relies on: the rows of each statement in order, statements prepared once per connection,
a database error raised as psycopg's exception for its SQLSTATE without PostgreSQL's detail (which can
quote a row's values), nothing committed unless asked, and the connection left idle and out of pipeline
mode, or closed when its state cannot be known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql

from sscard.db.driver import BEGIN, COMMIT, DriverStatement, PipelinedTransaction

_META = MetaData()
_ITEMS = Table("driver_item", _META, Column("id", Integer, primary_key=True), Column("label", String(20)))
_DIALECT = postgresql.dialect(paramstyle="pyformat")  # as the psycopg dialect compiles
_INSERT = DriverStatement(insert(_ITEMS).values(id=bindparam("id"), label=bindparam("label")), _DIALECT)
_BY_IDS = DriverStatement(
    select(_ITEMS.c.id, _ITEMS.c.label)
    .where(_ITEMS.c.id == text("ANY(CAST(:ids AS integer[]))"))
    .order_by(_ITEMS.c.id),
    _DIALECT,
)


@pytest.fixture
def pg(db: Any) -> Iterator[str]:
    """A table of its own in the test schema; the connection string to reach it."""
    conninfo = f"{db.url.replace('postgresql+psycopg://', 'postgresql://')}?options=-csearch_path%3D{db.schema}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS driver_item")
        conn.execute("CREATE TABLE driver_item (id integer PRIMARY KEY, label varchar(20))")
    yield conninfo
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE driver_item")


# The pipelined transaction is psycopg's: PostgreSQL only.
postgresql_only = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _run(conninfo: str, body: Any) -> Any:
    async def main() -> Any:
        connection = await psycopg.AsyncConnection.connect(conninfo)
        try:
            return await body(connection)
        finally:
            await connection.close()

    return asyncio.run(main())


def _labels(conninfo: str) -> list[tuple[int, str]]:
    with psycopg.connect(conninfo) as conn:
        return [(i, label) for i, label in conn.execute("SELECT id, label FROM driver_item ORDER BY id")]


def _prepared(connection: psycopg.AsyncConnection[Any]) -> Any:
    async def names() -> list[str]:
        cursor = await connection.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'sscard_%'")
        names = [row[0] for row in await cursor.fetchall()]
        await connection.rollback()
        return names

    return names()


def test_statement_sql_is_numbered_once_per_name_and_keeps_literal_percent() -> None:
    statement = DriverStatement(
        text("SELECT id FROM driver_item WHERE label LIKE 'a%' AND id > :low AND id < :high AND id <> :low"),
        _DIALECT,
    )
    assert statement.param_names == ["low", "high"]
    assert statement.sql == b"SELECT id FROM driver_item WHERE label LIKE 'a%' AND id > $1 AND id < $2 AND id <> $1"


@postgresql_only
def test_round_trips_give_each_statements_rows_in_order_and_commit(pg: str) -> None:
    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        transaction = PipelinedTransaction(connection)
        first = await transaction.round_trip(BEGIN, (_INSERT, {"id": 1, "label": "one"}),
                                             (_INSERT, {"id": 2, "label": "two, 'quoted'"}))  # fmt: skip
        second = await transaction.round_trip((_BY_IDS, {"ids": [2, 1, 9]}), (_BY_IDS, {"ids": []}), COMMIT)
        await transaction.finish()
        state = (connection.pgconn.transaction_status, connection.pgconn.pipeline_status)
        return first, second, state, await _prepared(connection)

    first, second, state, prepared = _run(pg, body)
    assert first == [[], []]  # an INSERT without RETURNING has no rows; BEGIN and COMMIT give none
    assert [_BY_IDS.rows(rows) for rows in second] == [[(1, "one"), (2, "two, 'quoted'")], []]
    assert state == (pq.TransactionStatus.IDLE, pq.PipelineStatus.OFF)
    assert sorted(prepared) == sorted([_INSERT.name.decode(), _BY_IDS.name.decode()])  # each prepared once
    assert _labels(pg) == [(1, "one"), (2, "two, 'quoted'")]


@postgresql_only
def test_finish_commits_what_no_round_trip_committed(pg: str) -> None:
    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        transaction = PipelinedTransaction(connection)
        await transaction.round_trip(BEGIN, (_INSERT, {"id": 3, "label": "three"}))
        await transaction.finish()
        return connection.pgconn.transaction_status, connection.pgconn.pipeline_status

    assert _run(pg, body) == (pq.TransactionStatus.IDLE, pq.PipelineStatus.OFF)
    assert _labels(pg) == [(3, "three")]


@postgresql_only
def test_a_database_error_raises_its_class_without_the_rows_values_and_commits_nothing(pg: str) -> None:
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("INSERT INTO driver_item VALUES (7, 'kept')")

    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        transaction = PipelinedTransaction(connection)
        try:
            await transaction.round_trip(BEGIN, (_INSERT, {"id": 8, "label": "new"}),
                                         (_INSERT, {"id": 7, "label": "110101199003077777"}), COMMIT)  # fmt: skip
        except psycopg.Error as exc:
            await transaction.abandon()
            return exc, connection.closed
        raise AssertionError("the duplicate key was not reported")

    error, closed = _run(pg, body)
    assert isinstance(error, psycopg.errors.UniqueViolation)
    assert "110101199003077777" not in str(error) and "(7)" not in str(error)  # no DETAIL quoting the key
    assert closed  # its state mid-trip cannot be known: not used again
    assert _labels(pg) == [(7, "kept")]  # the COMMIT after the error did not commit the first insert


@postgresql_only
def test_an_error_of_the_caller_between_round_trips_rolls_back_and_leaves_the_connection_usable(pg: str) -> None:
    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        transaction = PipelinedTransaction(connection)
        try:
            await transaction.round_trip(BEGIN, (_INSERT, {"id": 4, "label": "four"}))
            raise RuntimeError("a decision failed")
        except RuntimeError:
            await transaction.abandon()
        state = (connection.closed, connection.pgconn.transaction_status, connection.pgconn.pipeline_status)
        again = PipelinedTransaction(connection)  # the same connection serves the next batch
        (rows,) = await again.round_trip(BEGIN, (_BY_IDS, {"ids": [4]}), COMMIT)
        await again.finish()
        return state, rows

    state, rows = _run(pg, body)
    assert state == (False, pq.TransactionStatus.IDLE, pq.PipelineStatus.OFF)
    assert rows == []
    assert _labels(pg) == []


@postgresql_only
def test_a_cancelled_round_trip_closes_the_connection(pg: str) -> None:
    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        transaction = PipelinedTransaction(connection)
        trip = asyncio.ensure_future(transaction.round_trip(BEGIN, (_INSERT, {"id": 5, "label": "five"}),
                                                            (_BY_IDS, {"ids": [5]}),
                                                            (_INSERT, {"id": 6, "label": "six"})))  # fmt: skip
        await asyncio.sleep(0)  # sent, its results not read yet
        trip.cancel()
        try:
            await trip
        except asyncio.CancelledError:
            await transaction.abandon()
            return connection.closed
        return None  # the round trip finished before the cancel landed: nothing was cancelled, try again

    # A fast server can answer the whole round trip within the one loop turn: only a run where the cancel
    # landed mid-trip says anything (its transaction is rolled back when the connection closes either way).
    closed = next((c for c in (_run(pg, body) for _ in range(20)) if c is not None), None)
    assert closed is True
    assert _labels(pg) == []


@postgresql_only
def test_the_socket_is_left_unwatched_after_finish_and_abandon(pg: str) -> None:
    """The driver's reader lives from a transaction's first wait to its end: left behind, a connection idle in
    the pool would keep the loop calling it once the server closes the socket (the selector is level-triggered)."""

    async def body(connection: psycopg.AsyncConnection[Any]) -> Any:
        loop, fd = asyncio.get_running_loop(), connection.pgconn.socket
        transaction = PipelinedTransaction(connection)
        await transaction.round_trip(BEGIN, (_BY_IDS, {"ids": [1]}))
        await transaction.round_trip((_BY_IDS, {"ids": [2]}))
        await transaction.finish()
        after_finish = loop.remove_reader(fd)  # True only if a reader was still registered
        await (await connection.execute("SELECT 1")).close()  # psycopg's own waits work on the connection again
        failed = PipelinedTransaction(connection)
        await failed.round_trip(BEGIN, (_BY_IDS, {"ids": [3]}))
        await failed.abandon()
        after_abandon = loop.remove_reader(fd)
        return after_finish, after_abandon, connection.closed

    assert _run(pg, body) == (False, False, False)
