"""Benchmark portal logins against raw Argon2id verifications with the same parameters (not a test).

    .venv/bin/python bench/login.py [--seconds 10] [--holders 64] [--workers 2] [--clients 4] [--threads 2]

1. Creates a fresh schema in the PostgreSQL database ``test`` (``--url``), migrates it, and registers
   ``--holders`` persons, each with a query password set (Argon2id with the policy's parameters).
2. Starts the real server (``sscard serve`` with ``--workers`` processes) on a free loopback port.
3. Times the baseline: raw ``argon2.PasswordHasher.verify`` of one of those hashes with the same
   parameters, in ``--threads`` threads (default: one per core; argon2-cffi releases the GIL), for
   ``--seconds``; measured before and after the logins, the better of the two is kept (stricter ratio).
4. Times portal logins in-process: ``--workers`` processes (default one per core, as the server
   runs) each open a unit of work, call ``login_holder`` with the right password (round-robin over
   the holders) and commit: throttle counters, person and account in one read, the policy read, one
   Argon2id verification, session creation and an audit entry, on PostgreSQL. Ratio to the raw
   baseline: target >= 0.8.
5. Times the same logins over HTTP: ``--clients`` client threads POST ``/api/v1/portal/login`` to the
   real server (each answer must be 200), and, as the HTTP baseline in the same run, the same load
   against a bare FastAPI endpoint that only verifies the hash (``bench/bare_login_app.py``, same
   server settings). Both ratios are printed, with login latency p50/p99.
6. Stops the servers and drops the schema.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SSCARD = ROOT / ".venv" / "bin" / "sscard"
PASSWORD = "lantern fishing at dawn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(url: str, schema: str, holders: int) -> tuple[list[str], str]:
    """Migrate the schema and register holders with a set password; (their ID numbers, one hash)."""
    from sqlalchemy.orm import Session

    from sscard.audit import Actor
    from sscard.audit.service import ensure_streams
    from sscard.credentials.query_password.hashing import hash_password
    from sscard.credentials.query_password.models import QueryPassword
    from sscard.db import migrate
    from sscard.db.base import utcnow
    from sscard.db.session import UnitOfWork, build_engine
    from sscard.imports.synthetic import synthetic_rows
    from sscard.people.service import add_person
    from sscard.policy.service import get_effective_policy

    migrate.upgrade(url, schema)
    engine = build_engine(url, schema=schema)
    numbers: list[str] = []
    a_hash = ""
    with Session(engine) as session:
        uow = UnitOfWork(session)
        ensure_streams(uow)
        policy = get_effective_policy(uow, region_code="000000")
        for row in synthetic_rows(holders, seed=7):
            person = add_person(uow, id_number=row[0], name=row[1], actor=Actor.system())
            a_hash = hash_password(policy, PASSWORD)
            uow.session.add(QueryPassword(person_id=person.id, password_hash=a_hash, changed_at=utcnow()))
            numbers.append(row[0])
        session.commit()
    engine.dispose()
    return numbers, a_hash


def raw_verify_rate(a_hash: str, *, threads: int, seconds: float) -> float:
    """Verifications per second of ``a_hash`` with the policy's parameters, ``threads`` in parallel."""
    from sscard.credentials.query_password.hashing import hasher_for
    from sscard.policy.schemas import RegionalPolicy

    hasher = hasher_for(RegionalPolicy())
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        while time.perf_counter() < stop:
            hasher.verify(a_hash, PASSWORD)
            counts[i] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - started)


def service_login_rate(numbers: list[str], *, threads: int, seconds: float) -> float:
    """Portal logins per second in-process: unit of work + ``login_holder`` + commit, ``threads`` at once."""
    from sscard.credentials.query_password.service import login_holder
    from sscard.db.session import unit_of_work

    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        n = i
        while time.perf_counter() < stop:
            with unit_of_work() as uow:
                login_holder(uow, id_number=numbers[n % len(numbers)], password=PASSWORD, source="127.0.0.1")
            counts[i] += 1
            n += threads

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - started)


def _service_worker(job: tuple[list[str], int, float]) -> float:
    numbers, threads, seconds = job
    return service_login_rate(numbers, threads=threads, seconds=seconds)


def service_login_rate_mp(numbers: list[str], *, processes: int, seconds: float) -> float:
    """``service_login_rate`` in ``processes`` processes at once (one GIL each, like the server's workers)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_service_worker, [(numbers, 1, 1.0)] * processes)  # warm-up: imports, pool, caches
        return sum(pool.map(_service_worker, [(numbers, 1, seconds)] * processes))


def start_server(cmd: list[str], base: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # noqa: S603
    wait_healthy(base, server)
    return server


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


def login_rate(base: str, numbers: list[str], *, clients: int, seconds: float) -> tuple[float, list[float]]:
    """Successful portal logins per second over HTTP, and each login's latency in seconds."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            n = i
            while time.perf_counter() < stop and not errors:
                t0 = time.perf_counter()
                r = client.post(
                    "/api/v1/portal/login", json={"id_number": numbers[n % len(numbers)], "password": PASSWORD}
                )
                latencies[i].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                n += clients

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"a login failed: {errors[0]}")
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument("--holders", type=int, default=64)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server / in-process processes")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="raw verification threads")
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    print_machine(args.url)
    schema = f"bench_login_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="sscard-bench-login-"))
    # One key file shared by this process (set-up) and the server: the blind indexes must agree.
    os.environ.update(
        SSCARD_DATA_DIR=str(work / "var"),
        SSCARD_DATABASE_URL=args.url,
        SSCARD_DATABASE_SCHEMA=schema,
        SSCARD_ENV="test",
    )
    servers: list[subprocess.Popen[bytes]] = []
    try:
        numbers, a_hash = setup(args.url, schema, args.holders)
        print(f"holders      {len(numbers)} with a set password (Argon2id m=19 MiB, t=2, p=1: the national policy)")
        raw_before = raw_verify_rate(a_hash, threads=args.threads, seconds=args.seconds)
        service = service_login_rate_mp(numbers, processes=args.workers, seconds=args.seconds)
        raw_after = raw_verify_rate(a_hash, threads=args.threads, seconds=args.seconds)
        raw = max(raw_before, raw_after)

        port, bare_port = free_port(), free_port()
        base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
        workers = str(args.workers)
        servers.append(start_server([str(SSCARD), "serve", "--port", str(port), "--workers", workers], base))
        login_rate(base, numbers, clients=args.clients, seconds=1.0)  # warm-up
        http, latencies = login_rate(base, numbers, clients=args.clients, seconds=args.seconds)
        stop_server(servers.pop())
        uvicorn = [str(ROOT / ".venv" / "bin" / "uvicorn"), "bare_login_app:app", "--app-dir", str(ROOT / "bench")]
        uvicorn += ["--port", str(bare_port), "--workers", workers, "--loop", "uvloop", "--http", "httptools"]
        uvicorn += ["--no-access-log", "--log-level", "warning"]
        servers.append(start_server(uvicorn, bare_base, env=dict(os.environ, SSCARD_BENCH_HASH=a_hash)))
        login_rate(bare_base, numbers, clients=args.clients, seconds=1.0)  # warm-up
        bare, _ = login_rate(bare_base, numbers, clients=args.clients, seconds=args.seconds)

        q = statistics.quantiles(latencies, n=100)
        print(
            f"raw argon2   {raw:8.1f} verifications/s  ({args.threads} threads; "
            f"{raw_before:.1f} before, {raw_after:.1f} after)"
        )
        print(
            f"logins       {service:8.1f} logins/s         "
            f"(in-process: unit of work + login_holder + commit, {args.workers} processes)"
        )
        print(f"ratio        {service / raw:.3f}  (logins / raw verifications; target >= 0.8)")
        print(
            f"HTTP logins  {http:8.1f} logins/s         "
            f"(sscard serve, {workers} workers, {args.clients} clients; all 200)"
        )
        print(f"HTTP bare    {bare:8.1f} verifications/s  (bare FastAPI endpoint that only verifies, same settings)")
        print(f"latency      p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms (HTTP logins)")
        print(f"HTTP ratios  {http / raw:.3f} of raw verifications, {http / bare:.3f} of the bare endpoint")
    finally:
        for server in servers:
            stop_server(server)
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
