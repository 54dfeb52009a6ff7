"""Benchmark the ledger legs' write on a plain vs a month-partitioned table: PostgreSQL backend CPU (not a test).

    .venv/bin/python bench/partitioned_legs.py [--batches 300] [--size 32] [--rounds 3] [--postings]

Migration 0021 partitions ``ledger_leg`` by ``posted_on`` (docs/partitioning.md). This isolates what that
costs the settlement path: batches shaped like ``settlement/txn_batch.WRITE_PG``'s (``--size`` postings and
two legs each in one statement, a transaction per batch) into a plain legs table (the raw baseline) and
into one partitioned by month (13 partitions), same columns, keys, indexes and foreign keys, alternated
``--rounds`` times on one connection in a scratch schema (dropped at the end). It prints the backend's CPU
(``/proc``) per batch and the ratio partitioned / plain.

``--postings`` (migration 0023): the same batches, postings and legs, in 0022's shape (plain postings with
their unique ``reverses_id`` and its foreign key to themselves; legs partitioned, naming their posting)
against 0023's (postings partitioned by month too, key ``(id, business_date)``; their global keys in
``posting_partitioned_key`` written by 0023's statement trigger; the legs' foreign key to the key table,
deferred to the commit). 28 months attached (the two years ``SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS``
keeps), the batch under ``plan_cache_mode = force_generic_plan`` as the settlement batch runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_URL, print_machine  # noqa: E402

from sscard.db.partition_rebuild import key_sync_sql, key_triggers  # noqa: E402 - 0023's very trigger

_TICK = os.sysconf("SC_CLK_TCK")
_COLUMNS = (
    "posting_id bigint NOT NULL REFERENCES posting (id), account_id bigint NOT NULL REFERENCES account (id), "
    "amount_fen bigint NOT NULL, posted_on date NOT NULL"
)
_DDL = (
    "CREATE TABLE account (id bigserial PRIMARY KEY, balance_fen bigint NOT NULL DEFAULT 0)",
    "CREATE TABLE posting (id bigserial PRIMARY KEY, business_date date NOT NULL, source_ref text NOT NULL)",
    f"CREATE TABLE leg_plain (id bigserial PRIMARY KEY, {_COLUMNS})",
    f"CREATE TABLE leg_partitioned (id bigserial, {_COLUMNS}, PRIMARY KEY (id, posted_on)) "
    "PARTITION BY RANGE (posted_on)",
    "CREATE TABLE leg_partitioned_default PARTITION OF leg_partitioned DEFAULT",
    *(f"CREATE INDEX ON {t} ({c})" for t in ("leg_plain", "leg_partitioned") for c in ("posting_id", "account_id")),
    "INSERT INTO account (balance_fen) SELECT 0 FROM generate_series(1, 400)",
)
# One statement a batch, as WRITE_PG: ids drawn first, the postings, then two legs each (holder −, clearing +).
_WRITE = (
    "WITH ids AS MATERIALIZED (SELECT nextval('posting_id_seq') AS pid, 1 + (g * 7) %% 399 AS a "
    "FROM generate_series(1, %(size)s) g), "
    "p AS (INSERT INTO posting (id, business_date, source_ref) SELECT pid, %(day)s, 'bench' FROM ids) "
    "INSERT INTO {table} (posting_id, account_id, amount_fen, posted_on) "
    "SELECT pid, a, -1, %(day)s FROM ids UNION ALL SELECT pid, 400, 1, %(day)s FROM ids"
)


# --postings: 0022's shape ("plain") and 0023's ("partitioned"), each its own tables; the rest as above.
_LEGS = "amount_fen bigint NOT NULL, account_id bigint NOT NULL REFERENCES account (id), posted_on date NOT NULL"
_POSTING = "business_date date NOT NULL, source_ref text NOT NULL, reverses_id bigint"
_DDL_POSTINGS = (
    "CREATE TABLE account (id bigserial PRIMARY KEY, balance_fen bigint NOT NULL DEFAULT 0)",
    f"CREATE TABLE posting_plain (id bigserial PRIMARY KEY, {_POSTING}, UNIQUE (reverses_id), "
    "FOREIGN KEY (reverses_id) REFERENCES posting_plain (id))",
    f"CREATE TABLE leg_plain (id bigserial, posting_id bigint NOT NULL REFERENCES posting_plain (id), {_LEGS}, "
    "PRIMARY KEY (id, posted_on)) PARTITION BY RANGE (posted_on)",
    "CREATE TABLE posting_partitioned_key (id bigint PRIMARY KEY, reverses_id bigint UNIQUE "
    "REFERENCES posting_partitioned_key (id))",
    f"CREATE TABLE posting_partitioned (id bigserial, {_POSTING}, PRIMARY KEY (id, business_date)) "
    "PARTITION BY RANGE (business_date)",
    f"CREATE TABLE leg_partitioned (id bigserial, posting_id bigint NOT NULL REFERENCES posting_partitioned_key (id) "
    f"DEFERRABLE INITIALLY DEFERRED, {_LEGS}, PRIMARY KEY (id, posted_on)) PARTITION BY RANGE (posted_on)",
    key_sync_sql("posting_partitioned", ("id", "reverses_id")),
    *key_triggers("posting_partitioned"),
    *(f"CREATE TABLE {t}_default PARTITION OF {t} DEFAULT" for t in ("leg_plain", "posting_partitioned",
                                                                    "leg_partitioned")),
    *(f"CREATE INDEX ON {t} ({c})" for t in ("leg_plain", "leg_partitioned") for c in ("posting_id", "account_id")),
    "CREATE INDEX ON posting_partitioned (reverses_id) WHERE reverses_id IS NOT NULL",
    "INSERT INTO account (balance_fen) SELECT 0 FROM generate_series(1, 400)",
)  # fmt: skip
_WRITE_POSTINGS = (
    "WITH ids AS MATERIALIZED (SELECT nextval('posting_{side}_id_seq') AS pid, 1 + (g * 7) %% 399 AS a "
    "FROM generate_series(1, %(size)s) g), "
    "p AS (INSERT INTO posting_{side} (id, business_date, source_ref) SELECT pid, %(day)s, 'bench' FROM ids) "
    "INSERT INTO leg_{side} (posting_id, account_id, amount_fen, posted_on) "
    "SELECT pid, a, -1, %(day)s FROM ids UNION ALL SELECT pid, 400, 1, %(day)s FROM ids"
)


def _cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _month_sql(month: date, table: str = "leg_partitioned") -> str:
    after = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return f"CREATE TABLE {table}_{month:%Y_%m} PARTITION OF {table} FOR VALUES FROM ('{month}') TO ('{after}')"


def main() -> None:
    import psycopg

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=PG_URL)
    ap.add_argument("--batches", type=int, default=300, help="batches per table and round")
    ap.add_argument("--size", type=int, default=32, help="payments per batch (two legs each)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--postings", action="store_true", help="0022's postings and legs against 0023's")
    args = ap.parse_args()
    ddl, partitioned = (_DDL_POSTINGS, ("leg_plain", "posting_partitioned", "leg_partitioned")) if args.postings \
        else (_DDL, ("leg_partitioned",))  # fmt: skip
    print(__doc__.split("\n\n")[0])
    print_machine(args.url)
    today = date.today()
    schema = f"bench_legs_{secrets.token_hex(4)}"
    per_batch: dict[str, list[float]] = {"leg_plain": [], "leg_partitioned": []}
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"SET search_path = {schema}")
            for statement in ddl:
                conn.execute(statement)
            months = range(-24, 4) if args.postings else range(-6, 7)
            for table in partitioned:
                for n in months:
                    index = today.year * 12 + today.month - 1 + n
                    conn.execute(_month_sql(date(index // 12, index % 12 + 1, 1), table))
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            for _round in range(args.rounds):
                for table, results in per_batch.items():
                    side = table.removeprefix("leg_")
                    write = _WRITE_POSTINGS.format(side=side) if args.postings else _WRITE.format(table=table)
                    before = _cpu(pid)
                    for _ in range(args.batches):
                        with conn.transaction():
                            if args.postings:
                                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                            conn.execute(write, {"size": args.size, "day": today})
                    results.append((_cpu(pid) - before) / args.batches * 1000)
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    for table, results in per_batch.items():
        print(f"{table:16s} backend CPU per batch of {args.size}: " + ", ".join(f"{r:.3f} ms" for r in results))
    plain, partitioned = (sorted(r)[len(r) // 2] for r in per_batch.values())
    print(f"ratio partitioned / plain (medians)   {partitioned / plain:5.2f}")


if __name__ == "__main__":
    main()
