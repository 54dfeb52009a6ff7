"""Benchmark ``sscard contributions import`` against the bare database work of the same postings (not a test).

    .venv/bin/python bench/contributions_import.py [--lines 1000000] [--batch-size 2000]

1. Set-up (not timed), in a fresh schema of the PostgreSQL database ``test``: lines/12 synthetic persons
   (``sscard import persons``), 100 employers in region 110000, one employee registration each (the five
   employee insurance types), and a CSV of 12 monthly declarations per person (2024-01 … 2024-12).
2. The baseline, in the same run: the same declarations written with no validation and no
   computation, from rows precomputed in memory before the clock starts, through psycopg into the
   same indexed tables the import writes, batch by batch (same batch size, one transaction each): the
   batch's document row, personal accounts of persons first seen, declarations (RETURNING id), their
   5 parts, one posting each (RETURNING id) with its 4 legs, the accounts' balances, the
   declarations' posting ids. Then those tables are emptied again (TRUNCATE).
3. The real command, ``sscard contributions import FILE --json`` in a subprocess (wall clock, start-up
   included): CSV parsing, credit-code and ID checks, the person look-up by blind index, registration
   and policy checks, clamping, the parts, balanced postings under row locks, the job's bookkeeping,
   the documents and one audit entry per batch.
4. Prints the machine, lines/s for both and the ratio (target >= 0.3), then drops the schema.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine, timed_json  # noqa: E402

from sscard.employers.uscc import ALPHABET, check_character  # noqa: E402
from sscard.imports.synthetic import synthetic_id, write_persons_csv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SSCARD = ROOT / ".venv" / "bin" / "sscard"
EMPLOYERS = 100
MONTHS = 12
TYPES = ("basic_pension", "employee_medical", "unemployment", "work_injury", "maternity")


def uscc(i: int) -> str:
    body = "91110105" + "".join(ALPHABET[(i // 31**k) % 31] for k in range(8)) + "0"
    return body + check_character(body)


def set_up(url: str, schema: str, env: dict[str, str], persons: int, work: Path) -> tuple[Path, list[tuple]]:
    """Persons, employers, registrations; the CSV; the rows of each line (person id, employer id, base)."""
    persons_csv = write_persons_csv(work / "persons.csv", persons, start=0, seed=1)
    done = subprocess.run([str(SSCARD), "import", "persons", str(persons_csv), "--json"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"person import failed: {done.stderr.strip()}")
    now = datetime.now(UTC)
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        conn.execute(
            "INSERT INTO region (code, name_zh, name_en, level, parent_code, created_at) VALUES "
            "('000000','全国','China','national',NULL,%s), ('110000','北京市','Beijing','province','000000',%s) "
            "ON CONFLICT DO NOTHING",
            (now, now),
        )
        employer_ids = []
        for i in range(EMPLOYERS):
            row = conn.execute(
                "INSERT INTO employer (uscc, name, region_code, created_at) VALUES (%s, %s, '110000', %s) RETURNING id",
                (uscc(i), f"基准测试公司{i}", now),
            ).fetchone()
            employer_ids.append(row[0])
        # The person ids by their ID number's blind index, computed with the key file the import made.
        os.environ["SSCARD_DATA_DIR"] = env["SSCARD_DATA_DIR"]
        from sscard.config import reset_settings_cache
        from sscard.identity.protected import ID_NUMBER

        reset_settings_cache()
        by_index = {ID_NUMBER.index(synthetic_id(i)): synthetic_id(i) for i in range(persons)}
        number_of = {pid: by_index[bidx] for pid, bidx in conn.execute("SELECT id, id_number_bidx FROM person")}
        ids = sorted(number_of)
        start = date(2023, 1, 1)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO insurance_registration (person_id, employer_id, kind, region_code, employment_start, "
                "registered_on, deadline, days_late, created_at) "
                "VALUES (%s, %s, 'employee', '110000', %s, %s, %s, 0, %s) RETURNING id",
                [(pid, employer_ids[pid % EMPLOYERS], start, start, date(2023, 1, 31), now) for pid in ids],
                returning=True,
            )
            reg_ids = []
            while True:
                reg_ids.append(cur.fetchone()[0])
                if not cur.nextset():
                    break
            cur.executemany(
                "INSERT INTO insurance_participation (registration_id, person_id, insurance_type, start_date) "
                "VALUES (%s, %s, %s, %s)",
                [(rid, pid, t, start) for rid, pid in zip(reg_ids, ids, strict=True) for t in TYPES],
            )
        conn.commit()
    rnd = random.Random(7)  # noqa: S311 - reproducible bench data
    lines: list[tuple] = []
    csv_path = work / "contributions.csv"
    with csv_path.open("w", encoding="utf-8") as fh:
        fh.write("uscc,id_number,period,base_fen\n")
        for pid in ids:
            employer = pid % EMPLOYERS
            for month in range(1, MONTHS + 1):
                base = rnd.randrange(500_000, 2_000_000)
                fh.write(f"{uscc(employer)},{number_of[pid]},2024-{month:02d},{base}\n")
                lines.append((pid, employer_ids[employer], date(2024, month, 1), base))
    return csv_path, lines


def _parts(base: int) -> list[tuple[str, int, int, int]]:
    def r(bp: int) -> int:
        return (base * bp + 5000) // 10000

    return [("basic_pension", r(1600), r(800), r(800)), ("employee_medical", r(800), r(200), r(200)),
            ("unemployment", r(50), r(50), 0), ("work_injury", r(20), 0, 0), ("maternity", r(80), 0, 0)]  # fmt: skip


def bare(url: str, schema: str, csv_path: Path, rows: list[tuple], batch: int) -> float:
    """The same declarations' rows straight into the same tables (no checks, no computation in the clock)."""
    from sscard.insurance.documents import sealed_document

    raw = csv_path.read_bytes().split(b"\n")
    header, data = raw[0] + b"\n", raw[1:]
    now = datetime.now(UTC)
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        reg_of = dict(conn.execute("SELECT person_id, id FROM insurance_registration").fetchall())
        clearing = conn.execute(
            "INSERT INTO ledger_account (kind, region_code, balance_fen, may_go_negative, opened_at) VALUES "
            "('contribution_clearing','110000',0,true,%s), ('pooling_fund','110000',0,true,%s) RETURNING id",
            (now, now),
        ).fetchall()
        conn.commit()
        clearing_id = clearing[0][0]
        batches = []  # precomputed: (document, new persons, declaration rows, parts, legs, totals)
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            content = header + b"\n".join(data[i : i + batch]) + b"\n"
            # The stored bytes are sealed (INS-7, ID-5): sealed here, before the clock, as a precomputed row.
            batches.append((sealed_document(content), len(content), hashlib.sha256(content).hexdigest(), part,
                            [_parts(r[3]) for r in part]))  # fmt: skip
        seen: set[int] = set()
        accounts: dict[tuple[str, int], int] = {}
        balances: dict[int, int] = {}
        t0 = time.perf_counter()
        pooling_id = clearing_id + 1
        for sealed, size, digest, part, parts in batches:
            with conn.cursor() as cur:
                doc = cur.execute(
                    "INSERT INTO declaration_document (source, sha256, size, content_enc, received_at, actor, channel) "
                    "VALUES ('csv', %s, %s, %s, %s, 'bench', 'cli') RETURNING id",
                    (digest, size, sealed, now),
                ).fetchone()[0]
                new = sorted({r[0] for r in part} - seen)
                if new:
                    cur.executemany(
                        "INSERT INTO ledger_account (kind, person_id, region_code, balance_fen, may_go_negative, "
                        "opened_at) VALUES (%s, %s, '110000', 0, false, %s) RETURNING id",
                        [(k, p, now) for p in new for k in ("pension_personal", "medical_personal")],
                        returning=True,
                    )
                    for p in new:
                        for k in ("pension_personal", "medical_personal"):
                            accounts[k, p] = cur.fetchone()[0]
                            cur.nextset()
                    seen.update(new)
                cur.executemany(
                    "INSERT INTO contribution_declaration (employer_id, person_id, registration_id, period, revision, "
                    "declared_base_fen, base_fen, document_id, late, corrected, superseded, created_at) VALUES "
                    "(%s, %s, %s, %s, 1, %s, %s, %s, true, false, false, %s) RETURNING id",
                    [(r[1], r[0], reg_of[r[0]], r[2], r[3], r[3], doc, now) for r in part],
                    returning=True,
                )
                decl_ids = []
                while True:
                    decl_ids.append(cur.fetchone()[0])
                    if not cur.nextset():
                        break
                cur.executemany(
                    "INSERT INTO contribution_part (declaration_id, period, insurance_type, employer_fen, "
                    "individual_fen, personal_account_fen) VALUES (%s, %s, %s, %s, %s, %s)",
                    [(d, r[2], *p) for d, r, ps in zip(decl_ids, part, parts, strict=True) for p in ps],
                )
                cur.executemany(
                    "INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, source_ref, memo) "
                    "VALUES ('contribution', %s, %s, 'bench', 'cli', %s, %s) RETURNING id",
                    [
                        (now.date(), now, f"declaration:{d}", f"{r[2]:%Y-%m}")
                        for d, r in zip(decl_ids, part, strict=True)
                    ],
                    returning=True,
                )
                posting_ids = []
                while True:
                    posting_ids.append(cur.fetchone()[0])
                    if not cur.nextset():
                        break
                legs, day = [], now.date()
                for pid, r, ps in zip(posting_ids, part, parts, strict=True):
                    total = sum(p[1] + p[2] for p in ps)
                    pension, medical = ps[0][3], ps[1][3]
                    a, b = accounts["pension_personal", r[0]], accounts["medical_personal", r[0]]
                    legs += [(pid, a, pension, day), (pid, b, medical, day),
                             (pid, pooling_id, total - pension - medical, day),
                             (pid, clearing_id, -total, day)]  # fmt: skip
                    for acc, amount in ((a, pension), (b, medical), (pooling_id, total - pension - medical),
                                        (clearing_id, -total)):  # fmt: skip
                        balances[acc] = balances.get(acc, 0) + amount
                cur.executemany(
                    "INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (%s, %s, %s, %s)",
                    legs,
                )
                touched = sorted({leg[1] for leg in legs})
                cur.execute("SELECT id FROM ledger_account WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (touched,))
                cur.executemany("UPDATE ledger_account SET balance_fen = %s WHERE id = %s",
                                [(balances[acc], acc) for acc in touched])  # fmt: skip
                cur.executemany("UPDATE contribution_declaration SET posting_id = %s WHERE id = %s",
                                list(zip(posting_ids, decl_ids, strict=True)))  # fmt: skip
            conn.commit()
        elapsed = time.perf_counter() - t0
        conn.execute(
            "TRUNCATE contribution_part, contribution_declaration, ledger_leg, ledger_posting, ledger_account, "
            "declaration_document RESTART IDENTITY CASCADE"
        )
        conn.commit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="declaration lines (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=2000, help="lines per batch (both sides)")
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    from sscard.audit.service import ensure_streams
    from sscard.db import migrate
    from sscard.db.session import UnitOfWork, build_engine

    print_machine(args.url)
    persons = max(1, args.lines // MONTHS)
    lines = persons * MONTHS
    schema = f"bench_contrib_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-"))
    try:
        migrate.upgrade(args.url, schema)
        engine = build_engine(args.url, schema=schema)
        with engine.begin() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                ensure_streams(UnitOfWork(session))
        engine.dispose()
        env = dict(os.environ, SSCARD_DATABASE_URL=args.url, SSCARD_DATABASE_SCHEMA=schema)
        env["SSCARD_DATA_DIR"] = str(work / "var")
        t0 = time.perf_counter()
        csv_path, rows = set_up(args.url, schema, env, persons, work)
        print(f"set-up       {persons:,} persons, {EMPLOYERS} employers, {lines:,} lines "
              f"({csv_path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")  # fmt: skip

        bare_s = bare(args.url, schema, csv_path, rows, args.batch_size)
        del rows
        print(f"bare         {bare_s:8.2f} s  {lines / bare_s:>10,.0f} lines/s  (measured first)", flush=True)

        cmd = (
            [str(SSCARD)]
            if not os.environ.get("BENCH_PROFILE")
            else [sys.executable, "-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], "-m", "sscard.cli.main"]
        )
        cmd += ["contributions", "import", str(csv_path), "--json", "--batch-size", str(args.batch_size)]
        import_s, summary = timed_json(cmd, env, "import")
        assert summary["imported"] == lines, summary  # every line posted: the set-up is what the import expects
        check = subprocess.run([str(SSCARD), "ledger", "check", "--json"], env=env, capture_output=True, text=True,
                               check=False)  # fmt: skip
        ledger_ok = json.loads(check.stdout)["ok"] if check.returncode in (0, 1) else "?"

        import_rate, bare_rate = lines / import_s, lines / bare_s
        print(f"lines        {lines:,}; batch size {args.batch_size:,}")
        print(
            f"import       {import_s:8.2f} s  {import_rate:>10,.0f} lines/s  (sscard contributions import, wall clock)"
        )
        print(f"bare         {bare_s:8.2f} s  {bare_rate:>10,.0f} lines/s  (same rows into the same indexed tables)")
        print(f"ratio        {import_rate / bare_rate:.3f}  (import / bare; target >= 0.3)")
        print(f"ledger check {'ok' if ledger_ok is True else ledger_ok}")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
