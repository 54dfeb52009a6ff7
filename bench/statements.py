"""Benchmark ``sscard statements generate`` against rendering the same PDFs with reportlab alone (not a test).

    .venv/bin/python bench/statements.py [--n 2000] [--workers N] [--batch-size 100]

1. Imports N synthetic persons (``sscard import persons``, a fresh key file), and gives each both personal
   accounts, 12 monthly declarations of last year with their contribution postings, and a year-end
   interest posting (ledger service, bulk; not timed).
2. Times the real command, ``sscard statements generate --year Y --json`` in a subprocess (wall clock,
   start-up included): contributor query, batch loading, name and ID unsealing, rendering in worker
   processes, atomic file writes, rows with sealed codes, one outbox notice per contact, audit entries,
   one transaction per batch.
3. Times the baseline in the same run: the same N statements (data and holders loaded into memory
   before the clock starts, same codes' shape) laid out and written to PDF bytes by reportlab alone,
   in the same number of worker processes (fork, the font parsed before the fork as the real run does),
   nothing else: no database, no file, no sealing. Best of 2.
4. Steps 2 and 3 are repeated ``--rounds`` times (default 3; the statements, their notices and files
   are removed before each generation, the audit entries stay); ``--compare-src DIR`` also times the
   command from another checkout's ``src`` in every round (e.g. the code before a change), the
   two taking turns at running first.
5. Prints the machine, each round's statements/s and ratios (wall clock and CPU), the median, and the
   time a 100,000-person region would take at the best rate, then drops the schema.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine, timed_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SSCARD = ROOT / ".venv" / "bin" / "sscard"
REGION = "110105"
BASELINE_REPEAT = 2


def populate(n: int, year: int) -> None:
    """Accounts, declarations and postings for every person in the database (in-process, not timed)."""
    from sqlalchemy import insert, select

    from sscard.audit import Actor, Channel
    from sscard.db.session import unit_of_work
    from sscard.employers.models import Employer
    from sscard.insurance.models import (
        ContributionDeclaration,
        DeclarationDocument,
        DocumentSource,
        InsuranceRegistration,
        RegistrationKind,
    )
    from sscard.ledger.models import AccountKind, PostingKind
    from sscard.ledger.rules import Leg
    from sscard.ledger.service import NewPosting, ensure_personal_accounts, open_account, post_many
    from sscard.people.models import Person

    actor = Actor.system(Channel.CLI)
    with unit_of_work() as uow:
        ids = list(uow.session.scalars(select(Person.id).order_by(Person.id)))
        assert len(ids) == n, (len(ids), n)
        regions = dict.fromkeys(ids, REGION)
        pension = ensure_personal_accounts(uow, kind=AccountKind.PENSION_PERSONAL, person_regions=regions)
        medical = ensure_personal_accounts(uow, kind=AccountKind.MEDICAL_PERSONAL, person_regions=regions)
        clearing = open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING, region_code=REGION).id
        expense = open_account(uow, kind=AccountKind.INTEREST_EXPENSE, region_code=REGION).id
        employers = [
            uow.session.scalar(
                insert(Employer).returning(Employer.id),
                {"uscc": f"91110105BENCH{i:05d}", "name": f"北京基准测试第{i}有限公司", "region_code": REGION},
            )
            for i in range(20)
        ]
        document = DeclarationDocument(
            source=DocumentSource.CSV, sha256="0" * 64, size=1, content_enc=b"-", actor="bench", channel="cli"
        )
        uow.session.add(document)
        uow.flush()
        registrations = list(
            uow.session.scalars(
                insert(InsuranceRegistration).returning(InsuranceRegistration.id, sort_by_parameter_order=True),
                [
                    {
                        "person_id": pid,
                        "employer_id": employers[i % 20],
                        "kind": RegistrationKind.EMPLOYEE,
                        "region_code": REGION,
                        "employment_start": date(year - 3, 1, 1),
                        "registered_on": date(year - 3, 1, 5),
                        "deadline": date(year - 3, 1, 31),
                        "days_late": 0,
                    }
                    for i, pid in enumerate(ids)
                ],  # fmt: skip
            )
        )
    chunk = 250
    for start in range(0, n, chunk):
        with unit_of_work() as uow:
            part = list(enumerate(ids))[start : start + chunk]
            postings, declarations = [], []
            for i, pid in part:
                for month in range(1, 13):
                    p, m = 60_000 + (i % 50) * 1_000, 15_000 + (i % 50) * 250
                    postings.append(
                        NewPosting(
                            PostingKind.CONTRIBUTION,
                            [Leg(pension[pid], p), Leg(medical[pid], m), Leg(clearing, -(p + m))],
                            date(year, month, 15),
                            "declaration:bench",
                        )  # fmt: skip
                    )
                    declarations.append((i, pid, month, p))
                postings.append(
                    NewPosting(
                        PostingKind.INTEREST,
                        [Leg(pension[pid], 3_000 + i % 97), Leg(expense, -(3_000 + i % 97))],
                        date(year, 12, 31),
                        f"interest:{year}:{pension[pid]}",
                    )  # fmt: skip
                )
            posted = post_many(uow, postings=postings, actor=actor)
            contribution_ids = [
                pid for pid, new in zip(posted, postings, strict=True) if new.kind == PostingKind.CONTRIBUTION
            ]
            uow.session.execute(
                insert(ContributionDeclaration),
                [
                    {
                        "employer_id": employers[i % 20],
                        "person_id": pid,
                        "registration_id": registrations[i],
                        "period": date(year, month, 1),
                        "revision": 1,
                        "declared_base_fen": p * 100 // 8,
                        "base_fen": p * 100 // 8,
                        "document_id": document.id,
                        "late": False,
                        "corrected": False,
                        "superseded": False,
                        "posting_id": posting_id,
                    }
                    for (i, pid, month, p), posting_id in zip(declarations, contribution_ids, strict=True)
                ],  # fmt: skip
            )


def load_inputs(year: int) -> list[tuple[object, object]]:
    """The statement data and holders of everyone, in memory (what the baseline renders)."""
    from sscard.db.session import unit_of_work
    from sscard.jobs.statements import prepare_batch
    from sscard.statements.loading import contributors

    with unit_of_work() as uow:
        everyone = contributors(uow.session, year=year)
    out: list[tuple[object, object]] = []
    for start in range(0, len(everyone), 500):
        out.extend(prepare_batch(everyone[start : start + 500], year))
    return out


def _render_chunk(chunk: list[tuple[object, object]]) -> int:
    from sscard.statements.codes import new_code
    from sscard.statements.render import render_statement

    total = 0
    for data, holder in chunk:
        total += len(render_statement(data, holder, code=new_code()))  # type: ignore[arg-type]
    return total


def time_baseline(inputs: list[tuple[object, object]], workers: int, batch: int) -> float:
    import multiprocessing

    from sscard.jobs.statements import split_batches
    from sscard.statements.fonts import register_font

    register_font()  # parsed once before the fork, as the real run does
    chunks = split_batches(inputs, batch, parallel=max(workers, 1))  # cut as the real run cuts them
    best = float("inf")
    for _ in range(BASELINE_REPEAT):
        t0 = time.perf_counter()
        if workers <= 0:
            for chunk in chunks:
                _render_chunk(chunk)
        else:
            gc.freeze()  # as the real run forks (jobs/statements.py): the workers' collector skips our heap
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    assert sum(pool.map(_render_chunk, chunks)) > 0
            finally:
                gc.unfreeze()
        best = min(best, time.perf_counter() - t0)
    return best


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (subprocesses, pool workers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def forget_statements(url: str, schema: str, year: int, data_dir: Path) -> None:
    """Undo a generation (rows, their notices, files) so the next round issues every statement again;
    audit entries stay (append-only)."""
    with psycopg.connect(url, autocommit=True, options=f"-csearch_path={schema}") as conn:
        conn.execute("DELETE FROM outbox_message WHERE topic = 'statements.available'")
        conn.execute("DELETE FROM statement WHERE year = %s", (year,))
    for p in sorted((data_dir / "statements" / str(year)).rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()


def time_generate(cmd: list[str], env: dict[str, str], src: str | None, n: int) -> tuple[float, float]:
    """Wall clock and CPU (the command and its workers) of one generation; ``src``: another source tree."""
    if src:
        env = dict(env, PYTHONPATH=src)
    cpu0 = _children_cpu()
    real_s, summary = timed_json(cmd, env, "generate")
    assert summary["issued"] == n, summary
    return real_s, _children_cpu() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--rounds", type=int, default=3, help="generate + reportlab, this many times (default 3)")
    parser.add_argument("--compare-src", default="", help="also time the command from another checkout's src/ "
                        "(PYTHONPATH) in every round, e.g. the code before a change")  # fmt: skip
    args = parser.parse_args()

    from sscard.audit.service import ensure_streams
    from sscard.config import reset_settings_cache
    from sscard.db import migrate
    from sscard.db.session import UnitOfWork, build_engine, reset_engine_cache
    from sscard.imports.synthetic import write_persons_csv

    print_machine(args.url)
    year = date.today().year - 1
    schema = f"bench_statements_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-"))
    env = dict(os.environ, SSCARD_DATABASE_URL=args.url, SSCARD_DATABASE_SCHEMA=schema)
    env["SSCARD_DATA_DIR"] = str(work / "var")  # a fresh key file and statement directory for this run
    os.environ.update(env)
    reset_settings_cache()
    reset_engine_cache()
    try:
        migrate.upgrade(args.url, schema)
        engine = build_engine(args.url, schema=schema)
        with engine.begin() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                ensure_streams(UnitOfWork(session))
        engine.dispose()
        t0 = time.perf_counter()
        csv_path = write_persons_csv(work / "persons.csv", args.n, start=0, seed=3)
        done = subprocess.run([str(SSCARD), "import", "persons", str(csv_path), "--json"], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr.strip()}")
        populate(args.n, year)
        print(f"populated    {args.n:,} contributors, 13 postings and 12 declarations each, "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        with psycopg.connect(args.url, autocommit=True, options=f"-csearch_path={schema}") as conn:
            conn.execute("ANALYZE")  # the planner's statistics, as a live database has them (not timed)

        cmd = [str(SSCARD), "statements", "generate", "--year", str(year), "--region", REGION, "--json",
               "--workers", str(args.workers), "--batch-size", str(args.batch_size)]  # fmt: skip
        inputs = load_inputs(year)
        assert len(inputs) == args.n
        variants = [("generate", None)] + ([("base", args.compare_src)] if args.compare_src else [])
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in variants}
        bare: list[tuple[float, float]] = []
        print(f"N            {args.n:,}; workers {args.workers}; batch {args.batch_size}; rounds {args.rounds}")
        for rnd in range(1, args.rounds + 1):
            for name, src in variants if rnd % 2 else variants[::-1]:  # alternate which runs first
                forget_statements(args.url, schema, year, work / "var")
                results[name].append(time_generate(cmd, env, src, args.n))
            cpu0 = _children_cpu()
            bare_s = time_baseline(inputs, args.workers, args.batch_size)
            bare.append((bare_s, (_children_cpu() - cpu0) / BASELINE_REPEAT))
            line = f"round {rnd}    reportlab {args.n / bare_s:7.1f}/s"
            for name, _ in variants:
                real_s, real_cpu = results[name][-1]
                line += (f" | {name} {args.n / real_s:7.1f}/s ratio {bare_s / real_s:.3f} "
                         f"(CPU {real_cpu / args.n * 1000:.1f} vs {bare[-1][1] / args.n * 1000:.1f} ms, "
                         f"ratio {bare[-1][1] / real_cpu:.3f})")  # fmt: skip
            print(line, flush=True)
        best_bare = min(b[0] for b in bare)
        for name, src in variants:
            runs = results[name]
            ratios = sorted(b[0] / r[0] for b, r in zip(bare, runs, strict=True))
            cpu_ratios = sorted(b[1] / r[1] for b, r in zip(bare, runs, strict=True))
            best = min(r[0] for r in runs)
            label = f"{name} ({src})" if src else "generate (sscard statements generate, wall clock)"
            print(f"{name:<12} best {args.n / best:7.1f} statements/s  {label}")
            median = ratios[len(ratios) // 2]
            print(f"{'':<12} ratio per round (same round's reportlab): {', '.join(f'{x:.3f}' for x in ratios)}; "
                  f"median {median:.3f}; best/best {best_bare / best:.3f} (target >= 0.7)")  # fmt: skip
            print(f"{'':<12} CPU ratio per round: {', '.join(f'{x:.3f}' for x in cpu_ratios)} "
                  f"(user+sys of the processes; PostgreSQL's not counted)")  # fmt: skip
            print(f"{'':<12} 100k region {100_000 / (args.n / best) / 60:.1f} min at the best rate (target < 30 min)")
        print(f"reportlab    best {args.n / best_bare:7.1f} statements/s  (same PDFs, reportlab alone, "
              f"best of {BASELINE_REPEAT} per round)")  # fmt: skip
        print(f"load avg     {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
