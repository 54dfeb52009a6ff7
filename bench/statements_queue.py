"""Benchmark statements over the queue against the in-process path (not a test).

    .venv/bin/python bench/statements_queue.py [--n 1000] [--batch-size 50] [--rounds 2]

Populates N contributors once (as bench/statements.py does), then, in each round and for 1 and 2
worker processes, times ``sscard statements generate --year Y --region R --json`` (wall clock, start-up
included) twice over the same data, the statements deleted in between:

- in process (the baseline, the path without a broker), with as many processes: ``--in-process
  --workers W-1``: with W = 1 the command reads, renders and records by itself; with W = 2 it reads and
  records while one forked process renders;
- over the queue: with SSCARD_BROKER_URL set and ``sscard worker --processes W`` already running (the
  workers are started and connected before the clock), the command queues the batches and waits until
  the statement rows say all are issued; each worker loads, renders and records its batches.

Prints statements/s for each, and the queue's overhead (1 - queue / in process; target ≤ 10 %).
Needs RabbitMQ at SSCARD_BENCH_BROKER_URL (default amqp://guest:guest@127.0.0.1:5672/).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine  # noqa: E402

from statements import REGION, SSCARD, populate  # noqa: E402

BROKER_URL = os.environ.get("SSCARD_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _generate(env: dict[str, str], year: int, *extra: str) -> tuple[float, int]:
    cmd = [str(SSCARD), "statements", "generate", "--year", str(year), "--region", REGION, "--json", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"generate failed: {done.stderr.strip()[-2000:]}")
    return seconds, int(json.loads(done.stdout.strip().splitlines()[-1])["issued"])


def _forget_statements(url: str, schema: str, data: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}.statement").format(sql.Identifier(schema)))
    for pdf in sorted((data / "statements").rglob("*"), reverse=True):
        pdf.unlink() if pdf.is_file() else pdf.rmdir()


def start_workers(env: dict[str, str], processes: int, kind: str = "statements") -> subprocess.Popen[bytes]:
    """``sscard worker --processes N``, returned once every process consumes the ``kind`` queue."""
    worker = subprocess.Popen([str(SSCARD), "worker", "--processes", str(processes)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    import pika

    queue = f"{env['SSCARD_BROKER_NAMESPACE']}.{kind}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ready once every process consumes the queue
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        try:
            consumers = connection.channel().queue_declare(queue, passive=True).method.consumer_count
        except Exception:
            consumers = 0
        finally:
            if connection.is_open:
                connection.close()
        if consumers >= processes:
            return worker
        time.sleep(0.3)
    raise SystemExit("the workers did not start")


def stop_workers(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)


@contextmanager
def queue_bench(url: str, prefix: str, kind: str) -> Iterator[tuple[dict[str, str], dict[str, str], Path]]:
    """A fresh migrated schema and data directory; (environment in process, over the queue, work dir).
    Dropped, with the ``kind`` queues of its namespace, at the end."""
    from sqlalchemy.orm import Session

    from sscard.audit.service import ensure_streams
    from sscard.config import reset_settings_cache
    from sscard.db import migrate
    from sscard.db.session import UnitOfWork, build_engine, reset_engine_cache

    schema = f"{prefix}_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-"))
    env = dict(os.environ, SSCARD_DATABASE_URL=url, SSCARD_DATABASE_SCHEMA=schema)
    env["SSCARD_DATA_DIR"] = str(work / "var")
    os.environ.update(env)
    reset_settings_cache()
    reset_engine_cache()
    queued = dict(env, SSCARD_BROKER_URL=BROKER_URL, SSCARD_BROKER_NAMESPACE=f"bench{secrets.token_hex(4)}")
    try:
        migrate.upgrade(url, schema)
        engine = build_engine(url, schema=schema)
        with engine.begin() as conn, Session(bind=conn) as session:
            ensure_streams(UnitOfWork(session))
        engine.dispose()
        yield env, queued, work
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        for suffix in ("", ".DQ", ".XQ"):
            connection.channel().queue_delete(f"{queued['SSCARD_BROKER_NAMESPACE']}.{kind}{suffix}")
        connection.close()
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    from sscard.imports.synthetic import write_persons_csv

    print_machine(args.url)
    year = date.today().year - 1
    with queue_bench(args.url, "bench_squeue", "statements") as (env, queued, work):
        schema = env["SSCARD_DATABASE_SCHEMA"]
        csv_path = write_persons_csv(work / "persons.csv", args.n, start=0, seed=3)
        subprocess.run([str(SSCARD), "import", "persons", str(csv_path), "--json"], env=env, capture_output=True,
                       check=True)  # fmt: skip
        populate(args.n, year)
        rates: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for processes in (1, 2):
                _forget_statements(args.url, schema, work / "var")
                seconds, issued = _generate(env, year, "--in-process", "--workers", str(processes - 1))
                assert issued == args.n, issued
                rates.setdefault(("in process", processes), []).append(args.n / seconds)
                _forget_statements(args.url, schema, work / "var")
                worker = start_workers(queued, processes)
                try:
                    seconds, issued = _generate(queued, year)
                finally:
                    stop_workers(worker)
                assert issued == args.n, issued
                rates.setdefault(("queue", processes), []).append(args.n / seconds)
        print(f"N {args.n:,}; batch {args.batch_size}; rounds {args.rounds} (best of them below)")
        for processes in (1, 2):
            local, queue = max(rates[("in process", processes)]), max(rates[("queue", processes)])
            print(f"{processes} process(es): in process {local:7.1f} statements/s; over the queue {queue:7.1f} "
                  f"statements/s; overhead {100 * (1 - queue / local):5.1f} % (target <= 10 %)")  # fmt: skip
        print("all rounds:", {f"{mode} {p}": [round(r, 1) for r in v] for (mode, p), v in rates.items()})


if __name__ == "__main__":
    main()
