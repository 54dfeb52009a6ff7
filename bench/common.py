"""Shared benchmark helpers: describe the machine so every result line says where it was measured."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("SSCARD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def postgres_version(url: str = PG_URL) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def machine_lines(pg_url: str | None = PG_URL) -> list[str]:
    """Cores, CPU model, Python and (when given) PostgreSQL version, and the load when the run started."""
    lines = [
        f"cores        {os.cpu_count()}",
        f"cpu          {cpu_model()}",
        f"python       {platform.python_version()} ({platform.python_implementation()})",
    ]
    if pg_url:
        lines.append(f"postgresql   {postgres_version(pg_url)}")
    load = os.getloadavg()
    lines.append(f"load avg     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine skews results)")
    return lines


def print_machine(pg_url: str | None = PG_URL) -> None:
    for line in machine_lines(pg_url):
        print(line)


def timed_json(cmd: list[str], env: dict[str, str], what: str) -> tuple[float, dict[str, Any]]:
    """Run a ``--json`` command; its wall clock (start-up included) and the JSON of its last line."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{what} failed: {done.stderr.strip()[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])
