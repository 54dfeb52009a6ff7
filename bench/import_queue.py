"""Benchmark ``sscard import persons`` over the queue against the in-process path (not a test).

    .venv/bin/python bench/import_queue.py [--n 20000] [--batch-size 2000] [--rounds 1]

In a fresh schema, each run imports its own N synthetic persons (a file of fresh IDs, so every row is
inserted): in process (``--in-process --workers 0``: parse, validate, seal and write in one process),
then over the queue with ``sscard worker --processes 1`` and ``--processes 2`` already running (the
command scans the file, copies it to the data directory, queues the ranges, waits, and does the last
range itself). Wall clock of the command, start-up included. Prints rows/s and each queue run's ratio
to the in-process run, and ``uptime``: the machine is shared, the figures are noisy.
Needs RabbitMQ at SSCARD_BENCH_BROKER_URL (default amqp://guest:guest@127.0.0.1:5672/).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine  # noqa: E402
from statements_queue import queue_bench, start_workers, stop_workers  # noqa: E402

from statements import SSCARD  # noqa: E402


def _import(env: dict[str, str], path: Path, *extra: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run([str(SSCARD), "import", "persons", str(path), "--json", *extra], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr.strip()[-2000:]}")
    return seconds, int(json.loads(done.stdout.strip().splitlines()[-1])["imported"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    from sscard.imports.synthetic import write_persons_csv

    print_machine(args.url)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())
    batch = ["--batch-size", str(args.batch_size)]
    with queue_bench(args.url, "bench_iqueue", "imports") as (env, queued, work):
        rates: dict[str, list[float]] = {}
        files = (write_persons_csv(work / f"p{i}.csv", args.n, start=i * args.n, seed=i) for i in range(99))
        for _ in range(args.rounds):
            seconds, imported = _import(env, next(files), "--in-process", "--workers", "0", *batch)
            assert imported == args.n, imported
            rates.setdefault("in process", []).append(args.n / seconds)
            for processes in (1, 2):
                worker = start_workers(queued, processes, kind="imports")
                try:
                    seconds, imported = _import(queued, next(files), *batch)
                finally:
                    stop_workers(worker)
                assert imported == args.n, imported
                rates.setdefault(f"queue, {processes} worker(s)", []).append(args.n / seconds)
        print(f"N {args.n:,}; batch {args.batch_size}; rounds {args.rounds} (best of them below)")
        local = max(rates["in process"])
        for mode, values in rates.items():
            print(f"{mode:22s} {max(values):8.0f} rows/s  ratio to in process {max(values) / local:5.2f}")
        print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())


if __name__ == "__main__":
    main()
