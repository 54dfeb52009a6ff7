"""Benchmark ``sscard import persons`` against a bare COPY of the same rows (not a test).

    .venv/bin/python bench/import_persons.py [--n 100000] [--batch-size 5000] [--workers N]

1. Generates N synthetic valid persons as a CSV (not timed).
2. Creates a fresh schema in the PostgreSQL database ``test`` and migrates it.
3. Times the real command, ``sscard import persons FILE`` in a subprocess (wall clock, start-up
   included): validation, AEAD sealing and blind indexes, staging COPY, ``INSERT … ON CONFLICT``,
   job bookkeeping and audit, one transaction per batch.
4. Times the baseline in the same run: one bare binary COPY (the format the importer uses) of the
   same N rows — same columns, bytea values of the sizes the importer writes — into an unindexed
   table with no constraints, in one transaction. The rows are built in memory before the clock starts;
   best of 3 runs (which only makes the ratio stricter).
5. Prints the machine, persons/s for both and the ratio, then drops the schema.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine  # noqa: E402

from sscard.imports.synthetic import write_persons_csv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SSCARD = ROOT / ".venv" / "bin" / "sscard"
# Sizes of what the importer writes: AEAD token = 2-byte key version + 12-byte nonce + text + 16-byte tag.
AEAD_OVERHEAD = 2 + 12 + 16
INDEX_LEN = 32
BARE_COLUMNS = (
    "id_number_enc bytea, id_number_bidx bytea, name_enc bytea, name_bidx bytea, gender text, birth_date date, "
    "region_code text, "
    "phone_enc bytea, phone_bidx bytea, email_enc bytea, email_bidx bytea, status text, "
    "created_at timestamptz, updated_at timestamptz"
)
BARE_TYPES = ["bytea", "bytea", "bytea", "bytea", "text", "date", "text", "bytea", "bytea", "bytea", "bytea", "text"]
BARE_TYPES += ["timestamptz", "timestamptz"]
BARE_REPEAT = 3


def _sized(text: str) -> bytes | None:
    return os.urandom(len(text.encode()) + AEAD_OVERHEAD) if text else None


def bare_rows(path: Path) -> list[tuple[object, ...]]:
    """The same persons as person-table rows with random bytes of the sealed/indexed sizes."""
    now = datetime.now(UTC)
    rows: list[tuple[object, ...]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for id_number, name, phone, email in reader:
            born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
            gender = "M" if int(id_number[16]) % 2 else "F"
            rows.append(
                (
                    _sized(id_number),
                    os.urandom(INDEX_LEN),
                    _sized(name),
                    os.urandom(INDEX_LEN),
                    gender,
                    born,
                    id_number[:6],
                    _sized(phone),
                    os.urandom(INDEX_LEN) if phone else None,
                    _sized(email),
                    os.urandom(INDEX_LEN) if email else None,
                    "employed",
                    now,
                    now,
                )
            )
    return rows


def time_bare_copy(url: str, schema: str, rows: list[tuple[object, ...]], *, repeat: int = BARE_REPEAT) -> float:
    """Best of ``repeat`` runs, each into a new table: a short measurement is the most noise-prone one."""
    best = float("inf")
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        for i in range(repeat):
            conn.execute(f"CREATE TABLE bare_person_{i} ({BARE_COLUMNS})")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY bare_person_{i} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(BARE_TYPES)
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            best = min(best, time.perf_counter() - t0)
            conn.execute(f"DROP TABLE bare_person_{i}")
            conn.commit()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="persons to generate (default 100,000)")
    parser.add_argument("--batch-size", type=int, default=None, help="importer batch size (default: its own)")
    parser.add_argument("--workers", type=int, default=None, help="importer worker processes (default: its own)")
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    from sscard.audit.service import ensure_streams
    from sscard.db import migrate
    from sscard.db.session import UnitOfWork, build_engine
    from sscard.imports.service import DEFAULT_BATCH_SIZE

    print_machine(args.url)
    schema = f"bench_import_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-"))
    csv_path = work / "persons.csv"
    t0 = time.perf_counter()
    write_persons_csv(csv_path, args.n, start=0, seed=1)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated    {args.n:,} persons, {size_mb:.1f} MB in {time.perf_counter() - t0:.1f} s")
    try:
        migrate.upgrade(args.url, schema)
        engine = build_engine(args.url, schema=schema)
        with engine.begin() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                ensure_streams(UnitOfWork(session))
        engine.dispose()

        env = dict(os.environ, SSCARD_DATABASE_URL=args.url, SSCARD_DATABASE_SCHEMA=schema)
        env["SSCARD_DATA_DIR"] = str(work / "var")  # a fresh key file for this run
        cmd = [str(SSCARD), "import", "persons", str(csv_path), "--json"]
        if args.batch_size:
            cmd += ["--batch-size", str(args.batch_size)]
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        import_s = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip()}")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["imported"] == args.n, summary

        rows = bare_rows(csv_path)
        bare_s = time_bare_copy(args.url, schema, rows)
        del rows

        import_rate, bare_rate = args.n / import_s, args.n / bare_s
        print(f"N            {args.n:,}")
        workers = args.workers if args.workers is not None else "auto"
        print(f"batch size   {args.batch_size or DEFAULT_BATCH_SIZE:,}; workers {workers}")
        print(f"import       {import_s:8.2f} s  {import_rate:>10,.0f} persons/s  (sscard import persons, wall clock)")
        print(f"bare COPY    {bare_s:8.2f} s  {bare_rate:>10,.0f} persons/s  (binary COPY, unindexed table, best of 3)")
        print(f"ratio        {import_rate / bare_rate:.3f}  (import / bare COPY; target >= 0.25)")
        print(f"1M estimate  {1_000_000 / import_rate:.0f} s at this rate (target < 300 s)")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
