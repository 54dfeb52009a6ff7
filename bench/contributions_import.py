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
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one PostgreSQL backend (the server runs on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One measured side: wall seconds, the client's CPU seconds, its PostgreSQL backends' CPU seconds."""

    wall: float
    client_cpu: float
    server_cpu: float
    ends: list[float]  # each batch's end, seconds from the start

    def pace(self, batch: int) -> str:
        """Lines/s over the first fifth of the batches and over the last fifth (does it slow as tables grow?)."""
        fifth = len(self.ends) // 5
        if fifth < 2:
            return ""
        first, last = self.ends[fifth - 1], self.ends[-1] - self.ends[-1 - fifth]
        rates = fifth * batch / first, fifth * batch / last
        return f"first fifth of the batches {rates[0]:,.0f} lines/s, last fifth {rates[1]:,.0f} lines/s"

    def line(self, name: str, lines: int, note: str) -> str:
        cpu = (self.client_cpu + self.server_cpu) / lines * 1e3
        return (
            f"{name:<12} {self.wall:8.2f} s  {lines / self.wall:>10,.0f} lines/s  CPU/line {cpu:.3f} ms "
            f"(client {self.client_cpu / lines * 1e3:.3f}, PostgreSQL {self.server_cpu / lines * 1e3:.3f})  {note}"
        )


def precompute(csv_path: Path, rows: list[tuple], batch: int) -> list[tuple]:
    """Per batch: (sealed document, size, SHA-256, lines' rows, their parts) — done before any clock."""
    from sscard.insurance.documents import sealed_document

    raw = csv_path.read_bytes().split(b"\n")
    header, data = raw[0] + b"\n", raw[1:]
    batches = []
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        content = header + b"\n".join(data[i : i + batch]) + b"\n"
        # The stored bytes are sealed (INS-7, ID-5): sealed here, before the clock, as a precomputed row.
        batches.append((sealed_document(content), len(content), hashlib.sha256(content).hexdigest(), part,
                        [_parts(r[3]) for r in part]))  # fmt: skip
    return batches


def _system_accounts(conn: psycopg.Connection, now: datetime) -> tuple[int, int]:
    clearing = conn.execute(
        "INSERT INTO ledger_account (kind, region_code, balance_fen, may_go_negative, opened_at) VALUES "
        "('contribution_clearing','110000',0,true,%s), ('pooling_fund','110000',0,true,%s) RETURNING id",
        (now, now),
    ).fetchall()
    conn.commit()
    return clearing[0][0], clearing[1][0]


def _legs(
    pid: int, r: tuple, ps: list, accounts: dict, pooling_id: int, clearing_id: int, day: date
) -> list[tuple[int, int, int, date]]:
    total = sum(p[1] + p[2] for p in ps)
    pension, medical = ps[0][3], ps[1][3]
    a, b = accounts["pension_personal", r[0]], accounts["medical_personal", r[0]]
    return [
        (pid, a, pension, day),  # posted_on: the legs' partition key (0022), the posting's business date
        (pid, b, medical, day),
        (pid, pooling_id, total - pension - medical, day),
        (pid, clearing_id, -total, day),
    ]


def _truncate(conn: psycopg.Connection) -> None:
    conn.execute(
        "TRUNCATE contribution_part, contribution_declaration, ledger_leg, ledger_posting, ledger_account, "
        "declaration_document RESTART IDENTITY CASCADE"
    )
    conn.commit()


def bare_rows(url: str, schema: str, batches: list[tuple]) -> Side:
    """The same declarations' rows straight into the same tables, one row per statement (pipelined
    ``executemany``, RETURNING where ids are needed), as before the fourteenth session."""
    now = datetime.now(UTC)
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        reg_of = dict(conn.execute("SELECT person_id, id FROM insurance_registration").fetchall())
        clearing_id, pooling_id = _system_accounts(conn, now)
        backend = conn.info.backend_pid
        seen: set[int] = set()
        accounts: dict[tuple[str, int], int] = {}
        balances: dict[int, int] = {}
        ends: list[float] = []
        t0, c0, s0 = time.perf_counter(), time.process_time(), _backend_cpu(backend)
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
                legs = []
                for pid, r, ps in zip(posting_ids, part, parts, strict=True):
                    legs += _legs(pid, r, ps, accounts, pooling_id, clearing_id, now.date())
                for _, acc, amount, _ in legs:
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
            ends.append(time.perf_counter() - t0)
        side = Side(time.perf_counter() - t0, time.process_time() - c0, _backend_cpu(backend) - s0, ends)
        _truncate(conn)
    return side


def _ids(cur: psycopg.Cursor, table: str, n: int) -> list[int]:
    sequence = f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)"  # noqa: S608
    cur.execute(sequence, (n,))  # the table names are the constants below
    return [r[0] for r in cur.fetchall()]


def bare_sets(url: str, schema: str, batches: list[tuple]) -> Side:
    """The same rows written in sets: ids taken from the sequences in one query per table, then one COPY
    per table (accounts, postings, legs, declarations with their posting ids, parts) and one UPDATE of
    the touched accounts' balances from arrays, after locking them."""
    now = datetime.now(UTC)
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        reg_of = dict(conn.execute("SELECT person_id, id FROM insurance_registration").fetchall())
        clearing_id, pooling_id = _system_accounts(conn, now)
        backend = conn.info.backend_pid
        seen: set[int] = set()
        accounts: dict[tuple[str, int], int] = {}
        balances: dict[int, int] = {}
        ends: list[float] = []
        t0, c0, s0 = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        for sealed, size, digest, part, parts in batches:
            with conn.cursor() as cur:
                doc = cur.execute(
                    "INSERT INTO declaration_document (source, sha256, size, content_enc, received_at, actor, channel) "
                    "VALUES ('csv', %s, %s, %s, %s, 'bench', 'cli') RETURNING id",
                    (digest, size, sealed, now),
                ).fetchone()[0]
                new = sorted({r[0] for r in part} - seen)
                if new:
                    keys = [(k, p) for p in new for k in ("pension_personal", "medical_personal")]
                    ids = _ids(cur, "ledger_account", len(keys))
                    columns = "id, kind, person_id, region_code, balance_fen, may_go_negative, opened_at"
                    with cur.copy(f"COPY ledger_account ({columns}) FROM STDIN") as copy:
                        for aid, (k, p) in zip(ids, keys, strict=True):
                            copy.write_row((aid, k, p, "110000", 0, False, now))
                            accounts[k, p] = aid
                    seen.update(new)
                decl_ids = _ids(cur, "contribution_declaration", len(part))
                posting_ids = _ids(cur, "ledger_posting", len(part))
                with cur.copy("COPY ledger_posting (id, kind, business_date, created_at, actor, channel, source_ref, "
                              "memo) FROM STDIN") as copy:  # fmt: skip
                    for pid, d, r in zip(posting_ids, decl_ids, part, strict=True):
                        copy.write_row((pid, "contribution", now.date(), now, "bench", "cli", f"declaration:{d}",
                                        f"{r[2]:%Y-%m}"))  # fmt: skip
                legs = []
                for pid, r, ps in zip(posting_ids, part, parts, strict=True):
                    legs += _legs(pid, r, ps, accounts, pooling_id, clearing_id, now.date())
                with cur.copy("COPY ledger_leg (posting_id, account_id, amount_fen, posted_on) FROM STDIN") as copy:
                    for leg in legs:
                        copy.write_row(leg)
                with cur.copy("COPY contribution_declaration (id, employer_id, person_id, registration_id, period, "
                              "revision, declared_base_fen, base_fen, document_id, late, corrected, superseded, "
                              "posting_id, created_at) FROM STDIN") as copy:  # fmt: skip
                    for d, pid, r in zip(decl_ids, posting_ids, part, strict=True):
                        copy.write_row((d, r[1], r[0], reg_of[r[0]], r[2], 1, r[3], r[3], doc, True, False, False,
                                        pid, now))  # fmt: skip
                with cur.copy("COPY contribution_part (declaration_id, period, insurance_type, employer_fen, "
                              "individual_fen, personal_account_fen) FROM STDIN") as copy:  # fmt: skip
                    for d, r, ps in zip(decl_ids, part, parts, strict=True):
                        for p in ps:
                            copy.write_row((d, r[2], *p))
                for _, acc, amount, _ in legs:
                    balances[acc] = balances.get(acc, 0) + amount
                touched = sorted({leg[1] for leg in legs})
                cur.execute("SELECT id FROM ledger_account WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (touched,))
                cur.execute("UPDATE ledger_account a SET balance_fen = v.balance FROM unnest(%s::bigint[], "
                            "%s::bigint[]) AS v(id, balance) WHERE a.id = v.id AND a.id = ANY(%s::bigint[])",
                            (touched, [balances[acc] for acc in touched], touched))  # fmt: skip
            conn.commit()
            ends.append(time.perf_counter() - t0)
        side = Side(time.perf_counter() - t0, time.process_time() - c0, _backend_cpu(backend) - s0, ends)
        _truncate(conn)
    return side


class BackendWatch:
    """The CPU of the PostgreSQL backends of the connections named ``application_name`` (libpq's
    PGAPPNAME in the command's environment), read from /proc every half second while they live; a
    backend's last half second before it exits can be missed (an under-count, never an over-count)."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.seen: dict[int, float] = {}
        self.start: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                                   (self.name,))]  # fmt: skip
                for pid in pids:
                    cpu = _backend_cpu(pid)
                    if cpu:
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                self._stop.wait(0.5)

    @property
    def cpu(self) -> float:
        return sum(self.seen.values())


def table_scans(url: str, schema: str) -> dict[str, tuple[int, int, int, int]]:
    """(sequential scans, rows they read, index scans, analyses) per table of the schema, so far."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname, coalesce(seq_scan, 0), coalesce(seq_tup_read, 0), coalesce(idx_scan, 0), "
            "analyze_count + autoanalyze_count "
            "FROM pg_stat_user_tables WHERE schemaname = %s",
            (schema,),
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="declaration lines (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=2000, help="lines per batch (both sides)")
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--baselines", default="sets,rows", help="bare sides to measure: sets, rows or both")
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

        batches = precompute(csv_path, rows, args.batch_size)
        del rows
        sides: dict[str, Side] = {}
        for name in args.baselines.split(","):
            sides[name] = (bare_sets if name == "sets" else bare_rows)(args.url, schema, batches)
            print(sides[name].line(f"bare {name}", lines, "(measured before the import)"), flush=True)
        del batches

        cmd = (
            [str(SSCARD)]
            if not os.environ.get("BENCH_PROFILE")
            else [sys.executable, "-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], "-m", "sscard.cli.main"]
        )
        cmd += ["contributions", "import", str(csv_path), "--json", "--batch-size", str(args.batch_size)]
        scans_before = table_scans(args.url, schema)
        app_name = f"bench-import-{secrets.token_hex(4)}"
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        with BackendWatch(args.url, app_name) as watch:
            import_s, summary = timed_json(cmd, dict(env, PGAPPNAME=app_name), "import")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        imported = Side(import_s, client_cpu, watch.cpu, [])
        assert summary["imported"] == lines, summary  # every line posted: the set-up is what the import expects
        scans_after = table_scans(args.url, schema)
        check = subprocess.run([str(SSCARD), "ledger", "check", "--json"], env=env, capture_output=True, text=True,
                               check=False)  # fmt: skip
        ledger_ok = json.loads(check.stdout)["ok"] if check.returncode in (0, 1) else "?"
        with psycopg.connect(args.url, options=f"-csearch_path={schema}") as conn:
            stamps = [r[0] for r in conn.execute(
                "SELECT at FROM audit_entry WHERE action = 'insurance.import_batch' ORDER BY at")]  # fmt: skip

        print(f"lines        {lines:,}; batch size {args.batch_size:,}; load avg now {os.getloadavg()[0]:.2f}")
        print(imported.line("import", lines, "(sscard contributions import, wall clock, start-up included)"))
        for name, side in sides.items():
            print(side.line(f"bare {name}", lines, ""))
        for name, side in sides.items():
            cpu = (side.client_cpu + side.server_cpu) / (imported.client_cpu + imported.server_cpu)
            print(
                f"ratio {name:<6} {side.wall / import_s:.3f} wall  {cpu:.3f} CPU  (import / bare {name}; target >= 0.3)"
            )
        if len(stamps) >= 10:
            fifth = len(stamps) // 5
            first = (stamps[fifth] - stamps[0]).total_seconds()
            last = (stamps[-1] - stamps[-1 - fifth]).total_seconds()
            print(
                f"pace import  first fifth of the batches {fifth * args.batch_size / first:,.0f} lines/s, "
                f"last fifth {fifth * args.batch_size / last:,.0f} lines/s"
            )
        for name, side in sides.items():
            print(f"pace {name:<7} {side.pace(args.batch_size)}")
        print("import scans (table: sequential scans, rows they read, index scans; ANALYZE runs), by the import alone:")
        for table, now in sorted(scans_after.items()):
            seq, read, idx, analyses = (a - b for a, b in zip(now, scans_before.get(table, (0, 0, 0, 0)), strict=True))
            if (seq, read, idx) != (0, 0, 0):
                print(f"  {table:<28} {seq:>8,} {read:>14,} {idx:>10,}  analysed {analyses}x")
        print(f"ledger check {'ok' if ledger_ok is True else ledger_ok}")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
