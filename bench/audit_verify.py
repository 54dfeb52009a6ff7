"""``sscard audit verify`` walk rate vs. a bare SELECT of the same rows, on PostgreSQL.

Builds N audit entries (spread over the configured streams, as real subjects are) in a fresh schema,
then measures, alternating rounds and keeping the best of each:

- **walk**: ``verify_chain(uow)``, the full walk (every entry read, its canonical bytes rebuilt and its
  chain MAC recomputed in the security module), plus whatever checks the walk adds (checkpoints, anchors);
- **audit verify**: the command itself (``sscard audit verify --json`` in process: the walk, the
  checkpoints, and where the code has them, the anchor), committed;
- **bare SELECT**: the walk's columns of the same rows, one psycopg query ordered by (stream, seq),
  fetched to the client: what reading the log costs before any checking.

The schema and the data directory it creates are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from common import PG_URL, print_machine  # noqa: E402

_COLUMNS = (
    "id, stream, seq, at, actor_kind, actor_id, role, channel, region, subject, action, result, details, "
    "prev_hash, hash"
)


def _build(url: str, schema: str, n: int, batch: int = 2000) -> None:
    from sscard.audit import Actor, AuditEvent, Channel, record_events
    from sscard.audit.service import ensure_streams
    from sscard.db import migrate
    from sscard.db.session import build_engine, unit_of_work

    migrate.upgrade(url, schema)
    engine = build_engine(url, schema=schema)
    clerk = Actor(kind="staff", id="bench-clerk", channel=Channel.COUNTER, role="counter_clerk", region="110100")
    with unit_of_work(engine) as uow:
        ensure_streams(uow)
        uow.commit()
    for start in range(0, n, batch):
        events = [
            AuditEvent(clerk, "card.activate", f"card:bench{i}", details={"i": i, "channel": "counter"})
            for i in range(start, min(n, start + batch))
        ]
        with unit_of_work(engine) as uow:
            record_events(uow, events)
            uow.commit()
    engine.dispose()


def _walk(url: str, schema: str) -> tuple[float, int]:
    from sscard.audit.service import verify_chain
    from sscard.db.session import build_engine, unit_of_work

    engine = build_engine(url, schema=schema)
    try:
        with unit_of_work(engine) as uow:
            t = time.perf_counter()
            report = verify_chain(uow)
            elapsed = time.perf_counter() - t
    finally:
        engine.dispose()
    assert report.ok, report  # noqa: S101 - a benchmark precondition
    return elapsed, report.entries


def _command() -> tuple[float, int]:
    import json

    from typer.testing import CliRunner

    from sscard.cli.main import app

    t = time.perf_counter()
    result = CliRunner().invoke(app, ["audit", "verify", "--json"])
    elapsed = time.perf_counter() - t
    assert result.exit_code == 0, result.output  # noqa: S101
    return elapsed, int(json.loads(result.stdout)["entries"])


def _bare_select(url: str, schema: str) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        t = time.perf_counter()
        rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_entry ORDER BY stream, seq").fetchall()  # noqa: S608
        elapsed = time.perf_counter() - t
    return elapsed, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="audit entries to build")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (best of each kept)")
    ap.add_argument("--url", default=PG_URL, help="PostgreSQL URL (a fresh schema is created and dropped)")
    args = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="auditbench-data-")
    schema = f"bench_audit_{secrets.token_hex(4)}"
    os.environ.update(SSCARD_DATA_DIR=data_dir, SSCARD_DATABASE_URL=args.url, SSCARD_DATABASE_SCHEMA=schema,
                      SSCARD_LOG_LEVEL="WARNING", SSCARD_ENV="test")  # fmt: skip
    from sscard.security_module import set_security_module
    from sscard.security_module.factory import open_soft_module

    master = os.environ["SSCARD_MASTER_KEY"] = secrets.token_hex(32)
    # The audit chain needs only the module's AUDIT key: no national root (KEY-6: a development root is
    # generated only with SSCARD_ENV=dev).
    set_security_module(open_soft_module(Path(data_dir) / "keys", suite="sm", master_key=master))

    print("bench/audit_verify.py — audit chain walk (sscard audit verify) vs. a bare SELECT of the same rows")
    print_machine(args.url)
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    try:
        t = time.perf_counter()
        _build(args.url, schema, args.n)
        print(f"built        {args.n:,} entries in {time.perf_counter() - t:.1f} s")
        for _ in range(args.rounds):
            for name, run in (
                ("bare SELECT", lambda: _bare_select(args.url, schema)),
                ("walk", lambda: _walk(args.url, schema)),
                ("audit verify", _command),
            ):
                elapsed, entries = run()
                best[name] = min(best.get(name, elapsed), elapsed)
                counts[name] = entries
    finally:
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)
    print()
    for name in ("bare SELECT", "walk", "audit verify"):
        rate = counts[name] / best[name]
        print(f"{name:<13} {best[name]:7.3f} s  {counts[name]:>9,} entries  {rate:>10,.0f} entries/s")
    ratio = (counts["walk"] / best["walk"]) / (counts["bare SELECT"] / best["bare SELECT"])
    print(f"\nratio walk / bare SELECT  {ratio:.3f}")


if __name__ == "__main__":
    main()
