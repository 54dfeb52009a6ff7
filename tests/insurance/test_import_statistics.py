"""A long import keeps the tables it looks lines up in analyzed (db/bulk.py ``keep_statistics``).

Without statistics PostgreSQL takes a batch's list of 167 person ids to match most of a table and reads
it whole, once per batch: the import slowed as its tables grew (bench/README.md, fourteenth session).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, select, text

from sscard.db.bulk import keep_statistics
from sscard.db.session import unit_of_work
from sscard.insurance.models import DeclarationDocument

_CHANGED = text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = CAST(:t AS regclass)")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_table_changed_beyond_its_statistics_is_analyzed(db_env) -> None:
    table = DeclarationDocument.__table__
    with unit_of_work() as uow:
        uow.session.execute(insert(table), [{"source": "csv", "sha256": f"{i:064x}", "size": 0, "content_enc": b"",
                                             "actor": "test", "channel": "cli"} for i in range(60)])  # fmt: skip
    deadline = time.monotonic() + 30
    while True:  # a backend reports its counters when idle, at most once a second: poll between transactions
        with unit_of_work() as uow:
            if (uow.session.scalar(_CHANGED, {"t": table.name}) or 0) >= 60:
                break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    with unit_of_work() as uow:
        assert keep_statistics(uow, [table], floor=10_000) == []  # below the floor: left to autovacuum
        assert keep_statistics(uow, [table], floor=10) == [table.name]
        tuples = uow.session.scalar(select(text("reltuples")).select_from(text("pg_class"))
                                    .where(text("oid = CAST(:t AS regclass)")), {"t": table.name})  # fmt: skip
        assert tuples >= 60


_LIVE = text(
    "SELECT coalesce(sum(s.n_live_tup), 0) FROM pg_inherits AS i JOIN pg_stat_user_tables AS s "
    "ON s.relid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
)
_TUPLES = text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)")


# rule (bulk statistics): a partitioned table (contribution_declaration on PostgreSQL) counts no changes of
# its own and autovacuum never analyzes it: it is measured by its partitions' rows, and analyzed with them
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_partitioned_table_is_measured_by_its_partitions(db) -> None:
    import secrets

    from sqlalchemy import Column, Integer, MetaData, Table
    from sqlalchemy.orm import Session

    from sscard.db.session import UnitOfWork, build_engine

    schema = f"stats_{secrets.token_hex(4)}"  # a table of its own: the session database's others are shared
    parent = Table("monthly", MetaData(), Column("month", Integer))
    with db.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = build_engine(db.url, schema=schema)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE monthly (month int) PARTITION BY RANGE (month)"))
            for m in (1, 2):
                conn.execute(text(f"CREATE TABLE monthly_{m} PARTITION OF monthly FOR VALUES FROM ({m}) TO ({m + 1})"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO monthly SELECT 1 + g % 2 FROM generate_series(1, 100) AS g"))
        deadline = time.monotonic() + 30
        while True:  # the partitions' counters arrive when the writing backend reports (at most once a second)
            with engine.connect() as conn:
                if conn.scalar(_LIVE, {"t": "monthly"}) >= 100:
                    assert conn.scalar(_CHANGED, {"t": "monthly"}) == 0  # what the parent alone was judged by
                    break
            assert time.monotonic() < deadline
            time.sleep(0.3)
        with Session(engine) as session:
            uow = UnitOfWork(session)
            assert keep_statistics(uow, [parent], floor=1000) == []  # below the floor: left as it is
            assert keep_statistics(uow, [parent], floor=10) == ["monthly"]
            assert keep_statistics(uow, [parent], floor=10) == []  # its statistics now count its rows
            assert [session.scalar(_TUPLES, {"t": t}) for t in ("monthly", "monthly_1", "monthly_2")] == [100, 50, 50]
    finally:
        engine.dispose()
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
