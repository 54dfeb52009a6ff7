"""Benchmark ``sscard import persons`` against the bare database work of the same rows (not a test).

    .venv/bin/python bench/import_persons.py [--n 100000] [--batch-size 5000] [--workers N]

1. Generates N synthetic valid persons as a CSV (not timed).
2. Creates a fresh schema in the PostgreSQL database ``test`` and migrates it.
3. Times the real command, ``sscard import persons FILE`` in a subprocess (wall clock, start-up
   included, and its CPU time): validation, AEAD sealing and blind indexes, staging COPY,
   ``INSERT … ON CONFLICT``, job bookkeeping and audit, one transaction per batch.
4. Times the baseline in the same run: the same bare database work, precomputed — the same N rows as
   the importer's binary COPY encoding (bytea values of the sizes the importer writes, built in memory
   before the clock starts), per batch of the same size: COPY into the importer's temporary staging
   table and its ``INSERT … SELECT … ON CONFLICT (id_number_bidx) DO NOTHING`` into the indexed
   ``person`` table of a second freshly migrated schema (every index and constraint of the real one),
   one transaction per batch — the importer's own statements (``imports.writers``), nothing else. No
   validation, no sealing, no job bookkeeping, no audit. Best of 3 runs, the table emptied between them.
   The former denominator (one binary COPY into an unindexed table) is printed too, for comparison
   with older results.
5. Times the sealing alone in process, for 20,000 of the rows: one security-module call per field
   (``seal_person``, as before the batch API) against the chunk's two batch calls (``seal_persons``).
6. Prints the machine, persons/s and the ratios, then drops the schemas.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
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
SEAL_ROWS = 20_000


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


def time_bare_indexed(
    url: str, schema: str, rows: list[tuple[object, ...]], batch: int, *, repeat: int = BARE_REPEAT
) -> float:
    """The importer's database statements alone, per batch, into the indexed ``person`` table of
    ``schema`` (migrated): best of ``repeat`` runs, the table emptied before each."""
    from sscard.imports.writers import _copy_insert, encode_copy_row

    # The importer's staging rows (the first 11 columns), encoded as its workers do, before the clock.
    encoded = [encode_copy_row(row[:11]) for row in rows]  # type: ignore[arg-type]
    batches = [encoded[i : i + batch] for i in range(0, len(encoded), batch)]
    best = float("inf")
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        for _ in range(repeat):
            conn.execute("TRUNCATE person CASCADE")
            conn.commit()
            t0 = time.perf_counter()
            inserted = 0
            for records in batches:
                inserted += _copy_insert(conn, records)
                conn.commit()
            best = min(best, time.perf_counter() - t0)
            assert inserted == len(rows), inserted
    return best


def time_sealing(csv_path: Path, n: int, batch: int, *, repeat: int = BARE_REPEAT) -> tuple[float, float]:
    """Seconds to seal ``n`` validated rows one field call at a time, and with the batch API (best of each)."""
    from sscard.imports import rows as import_rows
    from sscard.people.validation import prepare_person

    seal_person, seal_persons = import_rows.seal_person, getattr(import_rows, "seal_persons", None)
    if seal_persons is None:  # the code before the batch API (a "before" run): nothing to compare
        return float("nan"), float("nan")

    with csv_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = itertools.islice(reader, n)
        persons = [prepare_person(id_number=i, name=m, phone=p, email=e) for i, m, p, e in rows]
    single = batched = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for person in persons:
            seal_person(person)
        single = min(single, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, len(persons), batch):
            seal_persons(persons[i : i + batch])
        batched = min(batched, time.perf_counter() - t0)
    return single, batched


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
    bare_schema = f"{schema}_bare"
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
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        import_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        import_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip()}")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["imported"] == args.n, summary

        batch = args.batch_size or DEFAULT_BATCH_SIZE
        rows = bare_rows(csv_path)
        migrate.upgrade(args.url, bare_schema)
        bare_s = time_bare_indexed(args.url, bare_schema, rows, batch)
        copy_s = time_bare_copy(args.url, schema, rows)
        del rows
        seal_n = min(args.n, SEAL_ROWS)
        single_s, batched_s = time_sealing(csv_path, seal_n, batch)

        import_rate, bare_rate, copy_rate = args.n / import_s, args.n / bare_s, args.n / copy_s
        print(f"N            {args.n:,}")
        workers = args.workers if args.workers is not None else "auto"
        print(f"batch size   {batch:,}; workers {workers}")
        print(
            f"import       {import_s:8.2f} s  {import_rate:>10,.0f} persons/s  (sscard import persons, wall clock; "
            f"CPU {import_cpu:.2f} s = {import_cpu / args.n * 1e6:.1f} µs/person)"
        )
        print(f"bare DB work {bare_s:8.2f} s  {bare_rate:>10,.0f} persons/s  (staging COPY + INSERT … ON CONFLICT "
              "into the indexed person table, per batch, best of 3)")  # fmt: skip
        print(f"ratio        {import_rate / bare_rate:.3f}  (import / bare database work)")
        print(f"1M estimate  {1_000_000 / import_rate:.0f} s at this rate (target < 300 s)")
        print(f"former base  {copy_s:8.2f} s  {copy_rate:>10,.0f} persons/s  (one binary COPY, unindexed table, best "
              f"of 3): ratio {import_rate / copy_rate:.3f}")  # fmt: skip
        change = (batched_s / single_s - 1) * 100
        print(f"sealing      {seal_n:,} persons in process, best of 3: per field {single_s / seal_n * 1e6:.1f} "
              f"µs/person, batch API {batched_s / seal_n * 1e6:.1f} µs/person ({change:+.0f} %)")  # fmt: skip
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{bare_schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
