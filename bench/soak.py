"""Soak: a mixed workload against the real server for minutes, with zero errors, stable memory and
the latency tail recorded (not a test; ``make soak`` runs it for 10 minutes).

    .venv/bin/python bench/soak.py [--seconds 600] [--clients 8] [--workers 2] [--url postgresql://...]

1. Creates a fresh schema in the PostgreSQL database ``test``, migrates it, and registers (through the
   services) a district, a security officer and a counter clerk, ``--cards`` persons with active
   cards, ``--issued`` persons with issued cards, and enrolls a pharmacy terminal through the SDK.
2. Starts ``sscard serve`` (``--workers`` processes) on a free loopback port.
3. ``--clients`` threads each own a share of the cards and loop over a weighted mix for
   ``--seconds``: terminal PIN verify with the right PIN (the baseline-relative hot path), terminal
   PIN change (old → next), counter card activation (until the issued cards run out, then a card
   read), counter card read, portal login (Argon2id), and ``GET /api/v1/health`` — the baseline
   measured in the same run: the same server and connection pool, one ``SELECT 1``, no business rule.
   Every answer must be the expected one; any other status or a transport error is an error.
4. Samples the server's memory (RSS of every process of its session) every 5 s.
5. Prints per operation: count, errors, p50 / p95 / p99 latency and p99 as a ratio of the health
   baseline's p99; throughput; memory at 20 % of the run, at the end, the peak, and the growth
   from the 20 % mark (the first minutes fill caches and pools). Exit status 1 when there was any
   error, or the memory grew by more than ``--max-growth`` (default 15 %) after the 20 % mark.
6. Stops the server and drops the schema.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_URL, print_machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SSCARD = ROOT / ".venv" / "bin" / "sscard"
DISTRICT = "150102"
PINS = ["802461", "935172", "470395", "618204", "357091", "729460"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]
MIX = {"pin_verify": 55, "pin_change": 8, "card_read": 12, "activate": 5, "portal_login": 5, "health": 15}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_numbers(count: int, seed: int) -> list[str]:
    from sscard.identity.citizen_id import check_character

    rng = random.Random(seed)
    numbers = set()
    while len(numbers) < count:
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
        body = f"{DISTRICT}{born:%Y%m%d}{rng.randrange(1000):03d}"
        numbers.add(body + check_character(body))
    return sorted(numbers)


def initial_password(number: str) -> str:
    return number[-8:].replace("X", "0")  # QPW-1


@dataclass
class Setup:
    terminal: object
    clerk_token: str
    active: list[str]
    issued: list[str]
    holders: list[str]


def setup(url: str, schema: str, cards: int, issued: int) -> Setup:
    """The data, through the services; the terminal through the SDK against the app in process."""
    os.environ["SSCARD_DATABASE_URL"], os.environ["SSCARD_DATABASE_SCHEMA"] = url, schema
    import pyotp
    from fastapi.testclient import TestClient

    from sscard.api.app import create_app
    from sscard.audit import Actor
    from sscard.audit.service import ensure_streams
    from sscard.cards.service import activate_card, issue_card
    from sscard.db import migrate
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.people.service import add_person
    from sscard.regions.service import add_region
    from sscard.staff.roles import Role
    from sscard.staff.service import create_staff
    from sscard.staff.sessions import authenticate_staff
    from sscard.staff.totp import requires_second_factor, set_secret
    from sscard.terminal import enroll

    migrate.upgrade(url, schema)
    system = Actor.system()
    password = secrets.token_urlsafe(16)
    numbers = id_numbers(cards + issued, seed=11)
    with unit_of_work() as uow:
        ensure_streams(uow)
        regions = [("000000", "全国", "China"), ("150000", "内蒙古", "Inner Mongolia"),
                   ("150100", "呼和浩特", "Hohhot"), (DISTRICT, "新城区", "Xincheng")]  # fmt: skip
        for code, zh, en in regions:
            add_region(uow, code=code, name_zh=zh, name_en=en, actor=system)
        tokens = {}
        for role in (Role.SECURITY_OFFICER, Role.COUNTER_CLERK):
            name = f"soak_{role.value}"
            account = create_staff(uow, username=name, password=password, role=role, region_code="150000", actor=system)
            otp = None
            if requires_second_factor(role):  # issue 17 item 8: enrolled, and the login gives its code
                secret = pyotp.random_base32()
                set_secret(account, secret, confirmed_at=utcnow())
                uow.flush()
                otp = pyotp.TOTP(secret).now()
            tokens[role] = authenticate_staff(uow, username=name, password=password, otp=otp).access_token
    active, not_active = [], []
    for i, number in enumerate(numbers):
        with unit_of_work() as uow:
            person = add_person(uow, id_number=number, name=NAMES[i % len(NAMES)], actor=system)
            card = issue_card(uow, person_id=person.id, card_type="social", actor=system)
            if i < cards:
                activate_card(uow, card_no=card.card_no, actor=system)
                active.append(card.card_no)
            else:
                not_active.append(card.card_no)
    with TestClient(create_app()) as client:
        terminal = enroll(
            "http://testserver",
            staff_token=tokens[Role.SECURITY_OFFICER],
            institution="耐久测试药房",
            institution_type="pharmacy",
            region_code=DISTRICT,
            http=client,
        )
    return Setup(terminal, tokens[Role.COUNTER_CLERK], active, not_active, numbers[:cards])


@dataclass
class Record:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[op].append(seconds)
            if error:
                self.errors[op].append(error)


def client_loop(
    base: str, s: Setup, mine: list[str], issued: list[str], record: Record, stop: float, seed: int
) -> None:
    from sscard.terminal.client import TerminalClient, TerminalError

    rng = random.Random(seed)
    current = dict.fromkeys(mine, "123456")
    ops, weights = list(MIX), list(MIX.values())
    clerk = {"Authorization": f"Bearer {s.clerk_token}"}
    with TerminalClient(base, s.terminal, timeout=30) as terminal, httpx.Client(base_url=base, timeout=30) as http:
        while time.monotonic() < stop:
            op = rng.choices(ops, weights)[0]
            card = rng.choice(mine)
            started = time.perf_counter()
            error = None
            try:
                if op == "pin_verify":
                    body = {"card_no": card, "pin_block": terminal.pin_block(card, current[card])}
                    terminal.request("POST", "/terminal/pin/verify", json_body=body)
                elif op == "pin_change":
                    new = next(p for p in rng.sample(PINS, len(PINS)) if p != current[card])
                    body = {
                        "card_no": card,
                        "old_pin_block": terminal.pin_block(card, current[card]),
                        "new_pin_block": terminal.pin_block(card, new),
                    }
                    terminal.request("POST", "/terminal/pin/change", json_body=body)
                    current[card] = new
                elif op == "activate" and issued:
                    r = http.post(f"/api/v1/counter/cards/{issued.pop()}/activate", headers=clerk)
                    error = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
                elif op in ("activate", "card_read"):
                    r = http.get(f"/api/v1/counter/cards/{card}", headers=clerk)
                    error = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
                elif op == "portal_login":
                    number = rng.choice(s.holders)
                    r = http.post(
                        "/api/v1/portal/login", json={"id_number": number, "password": initial_password(number)}
                    )
                    error = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
                else:
                    r = http.get("/api/v1/health")
                    error = None if r.status_code == 200 else f"{r.status_code} {r.text[:120]}"
            except TerminalError as exc:
                error = f"{exc.status} {exc.code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            record.add(op, time.perf_counter() - started, error)


def session_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the server's session (its workers included), in MiB."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != pgid:  # field 5 of stat: the process group
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cards", type=int, default=400)
    parser.add_argument("--issued", type=int, default=2000)
    parser.add_argument("--max-growth", type=float, default=0.15)
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()

    print("soak: mixed workload against sscard serve")
    print_machine(args.url)
    print(f"mix          {MIX} (weights), {args.clients} clients, {args.workers} server workers, {args.seconds:g} s")
    schema = f"soak_{secrets.token_hex(4)}"
    data_dir = Path(tempfile.mkdtemp(prefix="sscard-soak-"))
    os.environ.update(
        SSCARD_DATA_DIR=str(data_dir), SSCARD_MASTER_KEY=secrets.token_hex(32), SSCARD_LOG_LEVEL="WARNING"
    )
    started = time.perf_counter()
    s = setup(args.url, schema, args.cards, args.issued)
    print(f"setup        {time.perf_counter() - started:.1f} s ({args.cards} active cards, {args.issued} issued)")
    port = free_port()
    env = {**os.environ, "SSCARD_PORT": str(port), "SSCARD_WORKERS": str(args.workers)}
    log = data_dir / "serve.log"
    server = subprocess.Popen([str(SSCARD), "serve", "--no-dispatch"], env=env, stdout=log.open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        record = Record()
        stop = time.monotonic() + args.seconds
        shares = [s.active[i :: args.clients] for i in range(args.clients)]
        issued_shares = [s.issued[i :: args.clients] for i in range(args.clients)]
        threads = [
            threading.Thread(target=client_loop, args=(base, s, shares[i], issued_shares[i], record, stop, i))
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        memory: list[tuple[float, float]] = []
        t0 = time.monotonic()
        while any(t.is_alive() for t in threads):
            memory.append((time.monotonic() - t0, session_rss_mb(server.pid)))
            time.sleep(5)
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    baseline_p99 = percentile(record.latencies["health"], 0.99)
    total = sum(len(v) for v in record.latencies.values())
    errors = sum(len(v) for v in record.errors.values())
    print(f"\n{'operation':<14}{'count':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p99/health':>12}")
    for op in MIX:
        lat = record.latencies.get(op) or [0.0]
        p99 = percentile(lat, 0.99)
        print(f"{op:<14}{len(record.latencies.get(op, [])):>9}{len(record.errors.get(op, [])):>8}"
              f"{percentile(lat, 0.5) * 1000:>9.1f}{percentile(lat, 0.95) * 1000:>9.1f}{p99 * 1000:>9.1f}"
              f"{p99 / baseline_p99:>12.2f}")  # fmt: skip
    print(f"total        {total} requests in {elapsed:.0f} s = {total / elapsed:.0f} /s, {errors} errors")
    for op, messages in record.errors.items():
        print(f"  {op}: {len(messages)} errors, first: {messages[:3]}")
    settled = next((mb for t, mb in memory if t >= 0.2 * elapsed), memory[-1][1])
    end, peak = memory[-1][1], max(mb for _, mb in memory)
    growth = (end - settled) / settled if settled else 0.0
    print(f"memory (RSS) at 20 %: {settled:.0f} MiB, end: {end:.0f} MiB, peak: {peak:.0f} MiB, "
          f"growth after 20 %: {growth * 100:+.1f} % (limit {args.max_growth * 100:.0f} %)")  # fmt: skip
    if "Traceback" in log.read_text(errors="replace"):
        print(f"server log has a traceback: {log}")
        errors += 1
    ok = errors == 0 and growth <= args.max_growth
    print("soak " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
