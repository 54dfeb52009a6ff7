"""Benchmark terminal PIN verification over HTTP against two baselines from the same run (not a test).

    .venv/bin/python bench/pin_verify.py [--concurrency 32] [--duration 10] [--cards 200] [--load auto|wrk|httpx]

What is measured, each at the same concurrency, one after the other on this machine:
1. ``pin verify``: ``POST /api/v1/terminal/pin/verify`` on the real app — terminal MAC check and replay
   guard, ISO 9564 format-4 PIN block opened in the security module, verification value compared,
   the card's failure counter updated atomically, one audit entry — on PostgreSQL, served by uvicorn
   (uvloop + httptools, 2 workers) on 127.0.0.1. Every request is signed with a fresh nonce.
2. ``bare endpoint``: a bare FastAPI JSON endpoint (pydantic body in, JSON out, no database) on the
   same server settings, sent the very same request bytes.
3. ``bare DB work``: what one verification must at least do in the database, with no HTTP and no
   framework: one CMAC in the security module, one single-row UPDATE, one INSERT, one commit per
   transaction (psycopg, 2 processes like the 2 workers, the same total concurrency).

The load generator is wrk (Debian package) with pre-signed requests when installed, else a bounded
async httpx loop; both only target 127.0.0.1 and stop by themselves (duration and request budget).
Prints the machine, requests/s, p50/p99 latency and the ratios against the targets (≥ 0.5 of the
bare endpoint, ≥ 0.6 of the bare DB work). The schema it creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_BIN = ROOT / ".venv" / "bin"

# --- the bare endpoint (baseline 2), imported by uvicorn's workers as ``pin_verify:bare_app`` -------

bare_app = FastAPI()


class _BareIn(BaseModel):
    card_no: str
    pin_block: str | None = None


@bare_app.post("/bare")
async def bare(body: _BareIn) -> dict[str, object]:
    return {"ok": True, "pin_enabled": True, "code": None, "tries_left": 6}


# --- results ----------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    failures: int  # non-2xx answers or failed transactions
    p50_ms: float
    p99_ms: float
    server_cpu: float = 0.0  # CPU seconds of the server's processes during the run (0: not measured)
    postgres_cpu: float = 0.0
    # Requests wrk sent again after the pre-signed ones ran out: same nonce, so refused as replays (CH-3)
    # and counted in ``failures``. Not the product's failures: the budget (--max-rate) was too small.
    resent: int = 0
    backend_cpu: float = 0.0  # of the server's own PostgreSQL backends (postgres_cpu: every PostgreSQL process)

    @property
    def rate(self) -> float:
        """Requests answered ok per second (a refused replay is quick and would flatter the rate)."""
        return (self.requests - self.failures) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        text = (
            f"{self.name:<15} {self.rate:>9.0f} ok/s    p50 {self.p50_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms"
            f"   ({self.requests} in {self.seconds:.1f} s, {self.failures} failed)"
        )
        if self.resent:
            text += (
                f"\n{'':<15} WARNING: the pre-signed requests ran out and wrk sent up to {self.resent} again "
                f"(replayed nonces, refused: in 'failed'): raise --max-rate"
            )
        if self.server_cpu and self.requests:
            # CPU per request is steadier than the rate: it does not move with how the kernel happened
            # to spread the connections over the two workers, or with what else the host was running.
            text += (
                f"\n{'':<15} CPU per request: server {self.server_cpu / self.requests * 1000:.3f} ms, "
                f"PostgreSQL {self.postgres_cpu / self.requests * 1000:.3f} ms "
                f"(the server's backends {self.backend_cpu / self.requests * 1000:.3f} ms)"
            )
        return text


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


# --- servers ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(
    app: str, *, env: dict[str, str], factory: bool = False, app_dir: Path | None = None
) -> Iterator[str]:
    """Run ``app`` under uvicorn (2 workers, uvloop, httptools) on 127.0.0.1 until the block ends."""
    port = _free_port()
    cmd = [
        str(VENV_BIN / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        cmd.append("--factory")
    if app_dir is not None:
        cmd += ["--app-dir", str(app_dir)]
    log = tempfile.TemporaryFile()
    env = {**env, "PGAPPNAME": BACKEND_APP}  # libpq names the server's connections: their backends' CPU
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    SERVER_GROUPS[base] = proc.pid  # start_new_session: the server's pid is its workers' process group
    try:
        _wait_listening(port, proc, log)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


SERVER_GROUPS: dict[str, int] = {}
_TICK = os.sysconf("SC_CLK_TCK")
# The application name of the benchmark servers' database connections (PGAPPNAME), so that the CPU of
# their own backends can be told from that of other sessions' on a shared PostgreSQL.
BACKEND_APP = f"sscard-bench-{os.getpid()}"


def _backend_pids() -> set[int]:
    import psycopg
    from common import PG_URL

    with psycopg.connect(os.environ.get("SSCARD_DATABASE_URL", PG_URL)) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (BACKEND_APP,))
        return {int(pid) for (pid,) in rows}


def _cpu_seconds(server_group: int, backends: set[int]) -> tuple[float, float, dict[int, float]]:
    """CPU time (user + system) so far of the server's processes, of all PostgreSQL processes on the host,
    and of each of ``backends`` (by ``/proc``)."""
    server = postgres = 0
    own: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # the process has gone
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if int(fields[2]) == server_group:
            server += ticks
        elif comm == "postgres":
            postgres += ticks
            if int(entry.name) in backends:
                own[int(entry.name)] = ticks / _TICK
    return server / _TICK, postgres / _TICK, own


def measured(run: Callable[[], Result], base: str) -> Result:
    """``run()``, with the CPU its server, PostgreSQL and the server's own backends spent meanwhile."""
    server0, postgres0, own0 = _cpu_seconds(SERVER_GROUPS[base], _backend_pids())
    result = run()
    server1, postgres1, own1 = _cpu_seconds(SERVER_GROUPS[base], _backend_pids() | set(own0))
    result.server_cpu, result.postgres_cpu = server1 - server0, postgres1 - postgres0
    # A backend opened during the run counts from zero; one closed during it is lost (the pools keep theirs).
    result.backend_cpu = sum(cpu - own0.get(pid, 0.0) for pid, cpu in own1.items())
    return result


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: object) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)  # type: ignore[attr-defined]
            raise SystemExit(f"server exited: {log.read().decode(errors='replace')[-2000:]}")  # type: ignore[attr-defined]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(1.0)  # both workers up
                return
        time.sleep(0.2)
    raise SystemExit("server did not start within 60 s")


# --- load generators --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One request, signed in advance (the clock stays out of the measured loop)."""

    path: str
    headers: dict[str, str]
    body: bytes


WRK_LUA = r"""
local next_tid, threads = 0, {}
function setup(thread) thread:set("tid", next_tid); next_tid = next_tid + 1; threads[#threads + 1] = thread end
local reqs, i = {}, 0
count, sent = 0, 0  -- globals: done() reads them from each thread
function init(args)
  for line in io.lines(args[1] .. "." .. tid) do
    local parts = {}
    for field in string.gmatch(line, "[^\t]+") do parts[#parts + 1] = field end
    local headers = {}
    for k = 2, #parts - 1 do
      local name, value = string.match(parts[k], "^([^:]+): (.*)$")
      headers[name] = value
    end
    count = count + 1
    reqs[count] = wrk.format("POST", parts[1], headers, parts[#parts])
  end
end
function request()
  sent = sent + 1
  i = i + 1
  if i > count then i = 1 end  -- out of pre-signed requests: sent again, refused as replays (counted)
  return reqs[i]
end
function done(summary, latency, requests)
  local e, again = summary.errors, 0
  for _, thread in ipairs(threads) do again = again + math.max(0, thread:get("sent") - thread:get("count")) end
  io.write(string.format("WRKRESULT %d %d %d %d %f %f %d\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), again))
end
"""


def run_wrk(name: str, base: str, path: str, reqs: list[Prepared], *, concurrency: int, duration: int) -> Result:
    """wrk with ``reqs`` (each at most once per run if the budget suffices), 2 threads, ``concurrency`` connections."""
    threads = 2
    with tempfile.TemporaryDirectory(prefix="pinbench-") as tmp:
        script = Path(tmp) / "reqs.lua"
        script.write_text(WRK_LUA)
        for t in range(threads):
            with (Path(tmp) / f"reqs.{t}").open("w") as fh:
                for r in reqs[t::threads]:
                    headers = "\t".join(f"{k}: {v}" for k, v in r.headers.items())
                    fh.write(f"{path}\t{headers}\t{r.body.decode()}\n")
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base,
                "--",
                str(Path(tmp) / "reqs"),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 120,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKRESULT"))
    n, micros, status_errors, socket_errors, p50, p99, resent = line.split()[1:]
    return Result(
        name,
        int(n),
        int(micros) / 1e6,
        int(status_errors) + int(socket_errors),
        float(p50) / 1000,
        float(p99) / 1000,
        resent=int(resent),
    )


def run_httpx(name: str, base: str, path: str, reqs: list[Prepared], *, concurrency: int, duration: int) -> Result:
    """A bounded async httpx loop: ``concurrency`` workers until ``duration`` or the requests run out."""
    import httpx

    async def go() -> Result:
        latencies: list[float] = []
        failures = 0
        it = iter(reqs)
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal failures
            # One client (one connection) per worker: a shared httpx pool serialises on its lock.
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                for r in it:
                    if time.perf_counter() >= deadline:
                        return
                    t0 = time.perf_counter()
                    resp = await client.post(path, content=r.body, headers=r.headers)
                    latencies.append(time.perf_counter() - t0)
                    failures += resp.status_code >= 300

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        latencies.sort()
        p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
        return Result(name, len(latencies), elapsed, failures, p50, p99)

    return asyncio.run(go())


# --- baseline 3: the bare database work -------------------------------------------------------------

BARE_EVENT_DDL = (
    "CREATE TABLE bench_event (id bigserial PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL, "
    "subject text NOT NULL, action text NOT NULL, details text NOT NULL, mac bytea NOT NULL)"
)


def _db_work_thread(
    url: str,
    schema: str,
    card_ids: list[int],
    mac_args: dict[str, object],
    stop_at: float,
    out: list[float],
    failed: list[int],
) -> None:
    import psycopg

    from sscard.security_module import get_security_module

    module = get_security_module()
    payload = secrets.token_bytes(180)  # about the size of a signed verify request
    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        i = secrets.randbelow(len(card_ids))
        while (t0 := time.perf_counter()) < stop_at:
            card_id = card_ids[i % len(card_ids)]
            i += 1
            try:
                mac = module.terminal_mac(data=payload, **mac_args)  # type: ignore[arg-type]
                with conn.transaction():
                    conn.execute("UPDATE card_pin SET failures = 0, updated_at = now() WHERE card_id = %s", (card_id,))
                    conn.execute(
                        "INSERT INTO bench_event (at, actor, subject, action, details, mac) "
                        "VALUES (now(), 'terminal:T', %s, 'pin.verify', '{\"pin_entered\":true}', %s)",
                        (f"card:{card_id}", mac),
                    )
            except psycopg.Error:
                failed[0] += 1
                continue
            out.append(time.perf_counter() - t0)


def _db_work_process(
    url: str,
    schema: str,
    card_ids: list[int],
    mac_args: dict[str, object],
    threads: int,
    duration: int,
    queue: mp.Queue,
) -> None:  # type: ignore[type-arg]
    stop_at = time.perf_counter() + duration
    out: list[float] = []
    failed = [0]
    workers = [
        threading.Thread(target=_db_work_thread, args=(url, schema, card_ids, mac_args, stop_at, out, failed))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put((out, failed[0]))


def run_bare_db(
    url: str, schema: str, card_ids: list[int], mac_args: dict[str, object], *, concurrency: int, duration: int
) -> Result:
    """Two processes (like the two workers) × concurrency/2 threads, each its own connection."""
    import psycopg

    with psycopg.connect(url, options=f"-csearch_path={schema}", autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_event")
        conn.execute(BARE_EVENT_DDL)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_db_work_process, args=(url, schema, card_ids, mac_args, max(1, concurrency // 2), duration, queue)
        )
        for _ in range(2)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    latencies: list[float] = []
    failed = 0
    for _ in procs:
        out, f = queue.get(timeout=duration + 120)
        latencies += out
        failed += f
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return Result(
        "bare DB work",
        len(latencies),
        min(elapsed, float(duration)),
        failed,
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.99) * 1000,
    )


# --- the data: a region, a pharmacy terminal, N active cards with enabled PINs ----------------------

REGION = "110105"
STAFF_PASSWORD = "bench-" + secrets.token_hex(8)
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the benchmark officer's second factor


@dataclass
class Seeded:
    terminal_profile: object  # sscard.terminal.profile.TerminalProfile
    cards: list[tuple[str, str]]  # (card number, PIN)
    card_ids: list[int]


def _new_id(n: int) -> str:
    from datetime import date, timedelta

    from sscard.identity.citizen_id import check_character

    born = date(1950, 1, 1) + timedelta(days=n * 7 % 20000)
    body = f"{REGION}{born:%Y%m%d}{(n % 499) * 2 + 1:03d}"
    return body + check_character(body)


def seed_database(url: str, schema: str, n_cards: int) -> tuple[list[str], list[int]]:
    """Migrate, then add the region, a security officer and ``n_cards`` active cards (in process)."""
    from sscard.audit import Actor
    from sscard.audit.service import ensure_streams
    from sscard.cards.service import activate_card, issue_card
    from sscard.db import migrate
    from sscard.db.base import utcnow
    from sscard.db.session import build_engine, unit_of_work
    from sscard.people.service import add_person
    from sscard.regions.codes import parent_code_of
    from sscard.regions.service import add_region
    from sscard.staff.roles import Role
    from sscard.staff.service import create_staff
    from sscard.staff.totp import set_secret

    migrate.upgrade(url, schema)
    engine = build_engine(url, schema=schema)
    actor = Actor.system()
    card_nos: list[str] = []
    card_ids: list[int] = []
    with unit_of_work(engine) as uow:
        ensure_streams(uow)
        chain = [REGION]
        while (parent := parent_code_of(chain[-1])) is not None:
            chain.append(parent)
        for code in reversed(chain):
            add_region(uow, code=code, name_zh=f"区{code}", name_en=f"Region {code}", actor=actor)
        officer = create_staff(uow, username="bench_security", password=STAFF_PASSWORD, role=Role.SECURITY_OFFICER,
                               region_code="110000", actor=actor)  # fmt: skip
        set_secret(officer, STAFF_TOTP_SECRET, confirmed_at=utcnow())  # a security officer signs in with a code
        for n in range(n_cards):
            person = add_person(uow, id_number=_new_id(n), name="测试", actor=actor)
            card = issue_card(uow, person_id=person.id, actor=actor)
            activate_card(uow, card_no=card.card_no, actor=actor)
            card_nos.append(card.card_no)
            card_ids.append(card.id)
    engine.dispose()
    return card_nos, card_ids


def enable_pins(base: str, card_nos: list[str]) -> Seeded:
    """Enroll a pharmacy terminal over HTTP and change every card's PIN from the initial one."""
    import pyotp

    from sscard.terminal.client import TerminalClient, TerminalError, enroll, staff_login

    token = staff_login(base, "bench_security", STAFF_PASSWORD, otp=pyotp.TOTP(STAFF_TOTP_SECRET).now())
    profile = enroll(base, staff_token=token, institution="基准测试药房", institution_type="pharmacy",
                     region_code=REGION)  # fmt: skip
    cards: list[tuple[str, str]] = []
    with TerminalClient(base, profile) as client:
        for card_no in card_nos:
            while True:
                pin = f"{secrets.randbelow(10**6):06d}"
                body = {"card_no": card_no, "old_pin_block": client.pin_block(card_no, "123456"),
                        "new_pin_block": client.pin_block(card_no, pin)}  # fmt: skip
                try:
                    client.request("POST", "/terminal/pin/change", json_body=body)
                except TerminalError as exc:
                    if exc.code == "PIN_TOO_SIMPLE":
                        continue  # a random PIN can be too simple (ascending, birth date ...): draw again
                    raise
                cards.append((card_no, pin))
                break
    return Seeded(terminal_profile=profile, cards=cards, card_ids=[])


def prepare_verify_requests(seeded: Seeded, count: int) -> list[Prepared]:
    """``count`` signed verify requests over the cards, each with its own nonce, timestamped now."""
    from sscard.terminal.pinblock import encipher_pin_block, pin_block_pan
    from sscard.terminal.protocol import sign_request

    profile = seeded.terminal_profile
    path = "/api/v1/terminal/pin/verify"
    now = int(time.time())
    out: list[Prepared] = []
    for i in range(count):
        card_no, pin = seeded.cards[i % len(seeded.cards)]
        block = encipher_pin_block(profile.pin_key, pin, pin_block_pan(card_no), cipher=profile.pin_cipher)  # type: ignore[attr-defined]
        body = f'{{"card_no":"{card_no}","pin_block":"{block.hex()}"}}'.encode()
        signed = sign_request(key=profile.mac_key, suite=profile.suite, method="POST", target=path,  # type: ignore[attr-defined]
                              terminal_id=profile.terminal_id, key_version=profile.key_version,  # type: ignore[attr-defined]
                              body=body, timestamp=now)  # fmt: skip
        out.append(Prepared(path, {"Content-Type": "application/json", **signed.as_dict()}, body))
    return out


# --- the run ----------------------------------------------------------------------------------------


def _count_verifications(url: str, schema: str) -> tuple[int, int]:
    """(audit entries of successful verifications, cards with a non-zero failure count) after the run."""
    import psycopg

    with psycopg.connect(url, options=f"-csearch_path={schema}") as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_entry WHERE action = 'pin.verify' AND result = 'ok'"
        ).fetchone()
        failing = conn.execute("SELECT count(*) FROM card_pin WHERE failures > 0").fetchone()
    return int(audited[0] if audited else 0), int(failing[0] if failing else 0)


def _batch_sizes(base: str, name: str = "pin-verify") -> str:
    """Mean group-commit batch size from ``/metrics`` (one worker's counters: no multiprocess registry)."""
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=10).text
    counts = {}
    for kind in ("items", "batches", "failed"):
        prefix = f'sscard_group_commit_{kind}_total{{name="{name}"}} '
        counts[kind] = next((float(x.removeprefix(prefix)) for x in text.splitlines() if x.startswith(prefix)), 0.0)
    mean = counts["items"] / counts["batches"] if counts["batches"] else 0.0
    return (f"one worker: {counts['items']:.0f} verifications in {counts['batches']:.0f} batches "
            f"(mean {mean:.1f}), {counts['failed']:.0f} batches failed")  # fmt: skip


def _chain_verdict(url: str, schema: str) -> str:
    """``sscard audit verify`` on the benchmark's schema: every stream's hash chain walked."""
    from sscard.audit.service import verify_chain
    from sscard.db.session import build_engine, unit_of_work

    engine = build_engine(url, schema=schema)
    try:
        with unit_of_work(engine) as uow:
            report = verify_chain(uow)
    finally:
        engine.dispose()
    return f"audit chain {'intact' if report.ok else 'BROKEN: ' + str(report.problem)} ({report.entries} entries)"


def bench_environment(url: str, name: str) -> tuple[str, str]:
    """A fresh data directory and schema name for one run, set as SSCARD_* for this process and the
    servers it starts: (data directory, schema)."""
    data_dir = tempfile.mkdtemp(prefix=f"{name}bench-data-")
    schema = f"bench_{name}_{secrets.token_hex(4)}"
    os.environ.update(SSCARD_DATA_DIR=data_dir, SSCARD_DATABASE_URL=url, SSCARD_DATABASE_SCHEMA=schema,
                      SSCARD_LOG_LEVEL="WARNING")  # fmt: skip
    return data_dir, schema


def main() -> None:
    sys.path.insert(0, str(BENCH_DIR))
    from common import PG_URL, print_machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=PG_URL, help="PostgreSQL URL (a fresh schema is created and dropped)")
    ap.add_argument("--concurrency", type=int, default=32, help="connections / transactions in flight")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    # A card is not used at two terminals at once: few cards would make requests queue on one card's row.
    ap.add_argument("--cards", type=int, default=1000, help="active cards with an enabled PIN")
    ap.add_argument("--max-rate", type=int, default=12000, help="budget of pre-signed requests per second")
    ap.add_argument("--load", choices=("auto", "wrk", "httpx"), default="auto")
    args = ap.parse_args()
    load = "wrk" if args.load == "wrk" or (args.load == "auto" and shutil.which("wrk")) else "httpx"
    runner = run_wrk if load == "wrk" else run_httpx

    data_dir, schema = bench_environment(args.url, "pin")
    print("bench/pin_verify.py — terminal PIN verification over HTTP vs. bare endpoint vs. bare DB work")
    print_machine(args.url)
    print(f"load         {load}, concurrency {args.concurrency}, {args.duration} s per measurement, "
          f"{args.cards} cards; server: uvicorn, 2 workers, uvloop + httptools, 127.0.0.1")  # fmt: skip
    from sscard.security_module import get_security_module

    get_security_module()  # creates the key file once, before two workers could race to create it
    results: dict[str, Result] = {}
    try:
        card_nos, card_ids = seed_database(args.url, schema, args.cards)
        env = dict(os.environ)
        with uvicorn_server("sscard.api.app:create_app", env=env, factory=True) as base:
            seeded = enable_pins(base, card_nos)
            runner("warm-up", base, "/api/v1/terminal/pin/verify", prepare_verify_requests(seeded, 2000),
                   concurrency=args.concurrency, duration=2)  # fmt: skip
            before, _ = _count_verifications(args.url, schema)
            reqs = prepare_verify_requests(seeded, args.duration * args.max_rate)
            results["pin"] = measured(
                lambda: runner(
                    "pin verify",
                    base,
                    "/api/v1/terminal/pin/verify",
                    reqs,
                    concurrency=args.concurrency,
                    duration=args.duration,
                ),
                base,
            )
            after, failing = _count_verifications(args.url, schema)
            batching = _batch_sizes(base)
        print(f"check        {after - before} verifications audited as ok, {failing} cards with failures counted, "
              f"{_chain_verdict(args.url, schema)}")  # fmt: skip
        print(f"batches      {batching}")
        with uvicorn_server("pin_verify:bare_app", env=env, app_dir=BENCH_DIR) as base:
            bare_reqs = reqs[:20000]
            runner("warm-up", base, "/bare", bare_reqs, concurrency=args.concurrency, duration=2)
            results["endpoint"] = measured(
                lambda: runner(
                    "bare endpoint", base, "/bare", bare_reqs, concurrency=args.concurrency, duration=args.duration
                ),
                base,
            )
        profile = seeded.terminal_profile
        mac_args = {"terminal_id": profile.terminal_id, "region_code": profile.region_code,  # type: ignore[attr-defined]
                    "key_version": profile.key_version}  # type: ignore[attr-defined]  # fmt: skip
        results["db"] = run_bare_db(args.url, schema, card_ids, mac_args, concurrency=args.concurrency,
                                    duration=args.duration)  # fmt: skip
    finally:
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)
    print()
    for key in ("pin", "endpoint", "db"):
        print(results[key].line())
    pin = results["pin"].rate
    print()
    print(f"ratio pin verify / bare endpoint  {pin / results['endpoint'].rate:5.2f}   (target >= 0.50)")
    print(f"ratio pin verify / bare DB work   {pin / results['db'].rate:5.2f}   (target >= 0.60)")


if __name__ == "__main__":
    main()
