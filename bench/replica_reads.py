"""Portal reads per second with and without a streaming read replica (issue 23 item 1; not a test).

    .venv/bin/python bench/replica_reads.py [--seconds 10] [--holders 200] [--clients 4] [--workers 2] [--rounds 2]

1. Starts a private PostgreSQL primary and a streaming replica of it (tests/reliability/servers.py:
   initdb, pg_basebackup -R, under a temp dir on free ports; never the shared server on 5432), migrates
   the primary and registers ``--holders`` persons, each with twelve months declared by one employer and
   an open portal session; waits until the replica has replayed it all.
2. Per round, the same server twice (``sscard serve``, ``--workers`` processes): without a replica
   (the baseline, everything on the primary) and with ``SSCARD_DATABASE_REPLICA_URL`` (the records read
   on the replica, the session check on the primary). ``--clients`` threads GET
   ``/api/v1/portal/insurance/declarations?year=2025`` round-robin over the holders for ``--seconds``;
   every answer must be 200 with the twelve months.
3. Prints reads per second of each, the ratio (replica / baseline), and per read on each cluster the
   committed transactions and the rows fetched (``pg_stat_database.xact_commit`` / ``tup_fetched`` from
   before the server starts to after it stops, warm-up included): where the reads actually ran.
4. Destroys both clusters.

On one machine the replica adds no CPU: what it changes here is where the work runs (the primary's
share per read); the throughput gain needs the replica on hosts of its own (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))
from common import print_machine  # noqa: E402
from tests.reliability.servers import PrivatePostgres, Server, primary_and_replica, wait_until  # noqa: E402

PATH = "/api/v1/portal/insurance/declarations?year=2025"


def setup(holders: int) -> list[str]:
    """Migrate the primary; holders with a year declared and an open portal session: their tokens."""
    from tests.insurance_accounts.factories import declare, make_employer, register
    from tests.people.factories import add_test_person, new_id_number
    from tests.staff.factories import ensure_region

    from sscard.audit.service import ensure_streams
    from sscard.credentials.query_password.sessions import open_session
    from sscard.db import migrate
    from sscard.db.base import utcnow
    from sscard.db.session import get_engine, unit_of_work

    migrate.upgrade(os.environ["SSCARD_DATABASE_URL"], "")
    tokens = []
    with unit_of_work() as uow:
        ensure_streams(uow)
        ensure_region(uow, "110105")
        employer = make_employer(uow, region="110105")
        for _ in range(holders):
            person = add_test_person(uow, id_number=new_id_number(region="110105"))
            reg = register(uow, person_id=person.id, employer=employer, start=date(2025, 1, 1), region="110105")
            for month in range(1, 13):
                declare(uow, reg=reg, period=date(2025, month, 1))
            token, _, _ = open_session(uow, person_id=person.id, must_change=False, via_temporary=False, now=utcnow())
            tokens.append(token)
    get_engine().dispose()
    return tokens


def activity(cluster: PrivatePostgres) -> tuple[int, int]:
    """The cluster's committed transactions and rows read (``tup_fetched``: index and table fetches)."""
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        row = conn.execute("SELECT sum(xact_commit), sum(tup_fetched) FROM pg_stat_database").fetchone()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


def caught_up(primary: PrivatePostgres, replica: PrivatePostgres) -> None:
    with psycopg.connect(primary.url, autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]

    def replayed() -> bool:
        with psycopg.connect(replica.url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
        return bool(row and row[0])

    wait_until(replayed, 60, "the replica to replay the set-up")


def read_rate(base: str, tokens: list[str], *, clients: int, seconds: float) -> tuple[float, int]:
    """Reads per second over ``clients`` threads; every answer checked. (rate, reads)"""
    counts = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            n = i
            while time.monotonic() < stop:
                r = client.get(PATH, headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"})
                if r.status_code != 200 or r.json()["total"] != 12:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                counts[i] += 1
                n += clients

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a read failed: {errors[0]}")
    return sum(counts) / (time.monotonic() - started), sum(counts)


def measure(
    env: dict[str, str], tokens: list[str], clusters: tuple[PrivatePostgres, PrivatePostgres], args: argparse.Namespace
) -> tuple[float, float, float, float, float]:
    """Of one server run: reads/s; commits per read on the primary, on the replica; rows fetched per
    read on the primary, on the replica."""
    primary, replica = clusters
    before = activity(primary), activity(replica)
    with Server(env).start() as server:
        _, warm = read_rate(server.url, tokens, clients=args.clients, seconds=1.0)  # warm-up: pools, caches
        rate, reads = read_rate(server.url, tokens, clients=args.clients, seconds=args.seconds)
    time.sleep(1.5)  # backends flush their statistics as they exit
    after = activity(primary), activity(replica)
    n = warm + reads
    per_read = [(after[c][k] - before[c][k]) / n for k in (0, 1) for c in (0, 1)]
    return rate, per_read[0], per_read[1], per_read[2], per_read[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument("--holders", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server processes")
    parser.add_argument("--rounds", type=int, default=2, help="baseline and replica runs, alternated")
    args = parser.parse_args()

    print_machine(None)
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-replica-"))
    try:
        run(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the development keys of the run


def run(work: Path, args: argparse.Namespace) -> None:
    with primary_and_replica() as (primary, replica):
        os.environ.update(
            SSCARD_DATA_DIR=str(work / "var"),  # one key file for the set-up and the servers
            SSCARD_DATABASE_URL=primary.url,
            SSCARD_DATABASE_SCHEMA="",
            SSCARD_ENV="test",
            SSCARD_WORKERS=str(args.workers),
            SSCARD_LOG_REQUESTS="false",
        )
        with psycopg.connect(primary.url) as conn:
            print(f"postgresql   {conn.execute('SHOW server_version').fetchone()[0]} (private primary + replica)")  # type: ignore[index]
        tokens = setup(args.holders)
        caught_up(primary, replica)
        print(f"holders      {len(tokens)}, 12 months declared each; {args.clients} clients, {args.workers} workers")
        baseline_env = {k: v for k, v in os.environ.items() if k != "SSCARD_DATABASE_REPLICA_URL"}
        replica_env = {**baseline_env, "SSCARD_DATABASE_REPLICA_URL": replica.url}
        results: dict[str, list[tuple[float, float, float, float, float]]] = {"primary only": [], "with replica": []}
        for _ in range(args.rounds):
            results["primary only"].append(measure(baseline_env, tokens, (primary, replica), args))
            results["with replica"].append(measure(replica_env, tokens, (primary, replica), args))
        for name, runs in results.items():
            rates = ", ".join(f"{r[0]:.1f}" for r in runs)
            best = max(runs)
            print(
                f"{name:13s}{best[0]:8.1f} reads/s (best of {rates}); per read: commits primary {best[1]:.2f}, "
                f"replica {best[2]:.2f}; rows fetched primary {best[3]:.1f}, replica {best[4]:.1f}"
            )
        ratio = max(results["with replica"])[0] / max(results["primary only"])[0]
        print(f"ratio        {ratio:.3f}  (with replica / primary only, same run, same host)")


if __name__ == "__main__":
    main()
