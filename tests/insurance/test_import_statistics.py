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
