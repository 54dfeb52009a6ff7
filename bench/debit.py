"""Benchmark debit consumption against the bare database work of one double-entry posting (not a test).

    .venv/bin/python bench/debit.py [--concurrency 32] [--duration 10] [--cards 1000] [--outlets 8]
                                    [--bare-concurrency 4] [--single-concurrency 4]

Over PostgreSQL (a fresh schema, dropped afterwards): N active cards issued through one bank, each with its
PIN enabled (changed over HTTP), its debit account opened and funded. Then, one after the other:

1. ``consume`` (the real path, as the terminal uses it): ``POST /api/v1/terminal/debit/consumption`` on the
   real app (uvicorn, 2 workers, uvloop + httptools, 127.0.0.1) with pre-signed requests (wrk when installed,
   else an httpx loop) at ``--concurrency`` in flight, round-robin over the cards and ``--outlets`` bank POS
   terminals (one bank, so one ``bank_clearing`` row for all of them): MAC and nonce (CH-3), the transaction
   store, the debit account locked, the card's PIN block opened and compared (PIN-2, PIN-5), the posting
   against the bank's clearing account, the PIN's and the consumption's audit entries, the notice threshold,
   COMMIT before the answer. The common case is decided in batches (``api/debit_lane.py``,
   ``debit/batch.py``: group commit on libpq's pipeline); the rest by the route's single path. 1 fen, a
   fresh transaction id each.
2. ``bare posting`` (the baseline), in process, threads, the server stopped: the database work of one
   double-entry posting on the same tables, everything precomputed, no validation: lock the two accounts
   (FOR UPDATE, id order), INSERT the ``ledger_posting`` row, INSERT its two ``ledger_leg`` rows, UPDATE the
   two cached balances, COMMIT — one posting per transaction. Run at ``--bare-concurrency`` (4) and at
   ``--concurrency`` threads; the higher rate is the baseline.
3. ``bare, grouped`` (for information, not the baseline): the same bare work, ``--per-commit`` postings per
   COMMIT at ``--bare-concurrency`` threads, still one round trip per statement (the batch sends its
   statements on libpq's pipeline, a few round trips a batch): how much of the gain is the shared COMMIT.
4. ``single path`` (for information, not the target): ``sscard.debit.service.consume`` in process, one
   transaction per consumption, at ``--single-concurrency`` threads (the route's path; what the target was
   measured on before the batch).

Target (issue 20): consume / bare posting ≥ 0.5. After the run: every consumption answered ok stored and
posted once, and ``ledger check`` must pass.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import pin_verify as pv  # noqa: E402  (servers, seeding, environment, load generators)
from common import PG_URL, print_machine  # noqa: E402

import settlement  # noqa: E402  (terminals of institutions, pre-signed payment requests)

CONSUME_PATH = "/api/v1/terminal/debit/consumption"

BANK = "BENCHBANK"


def open_debit_accounts(url: str, schema: str, card_nos: list[str], fen: int) -> tuple[list[int], int]:
    """Make the cards financial (issued through ``BANK``), open and fund their debit accounts; (debit
    ledger account ids, the bank's clearing account id)."""
    from sqlalchemy import update

    from sscard.audit import Actor, Channel
    from sscard.cards.models import Card
    from sscard.db.session import build_engine, unit_of_work
    from sscard.debit.service import _bank_account, debit_account_of, deposit, open_debit_account
    from sscard.ledger.models import AccountKind

    engine = build_engine(url, schema=schema)
    actor = Actor(kind="staff", id="bench_bank", channel=Channel("bank"), role="bank_clerk", region="110000")
    accounts = []
    with unit_of_work(engine) as uow:
        uow.session.execute(update(Card).where(Card.card_no.in_(card_nos)).values(financial=True, bank_code=BANK))
        for card_no in card_nos:
            open_debit_account(uow, card_no=card_no, actor=actor)
            deposit(uow, card_no=card_no, amount_fen=fen, actor=actor, source_ref="bench:fund")
        for card in uow.session.query(Card).where(Card.card_no.in_(card_nos)):
            accounts.append(debit_account_of(uow, card).ledger_account_id)
        clearing = _bank_account(uow, bank_code=BANK, kind=AccountKind.BANK_CLEARING)
    engine.dispose()
    return accounts, clearing


def _bare_worker(
    url: str, schema: str, accounts: list[int], clearing: int, per_commit: int, until: float, out: list[int]
) -> None:
    """The baseline's worker: one posting per transaction (``per_commit`` 1), or for information several."""
    from datetime import date

    from sqlalchemy import text

    from sscard.db.session import build_engine

    engine = build_engine(url, schema=schema)
    lock = text("SELECT id FROM ledger_account WHERE id IN (:a, :b) ORDER BY id FOR UPDATE")
    ins_posting = text(
        "INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, source_ref, memo) "
        "VALUES ('debit_consumption', :d, now(), 'bench', 'terminal', :ref, NULL) RETURNING id"
    )
    ins_legs = text(
        "INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) "
        "VALUES (:p, :a, -1, :d), (:p, :b, 1, :d)"
    )
    upd = text(
        "UPDATE ledger_account SET balance_fen = balance_fen + CASE WHEN id = :a THEN -1 ELSE 1 END "
        "WHERE id IN (:a, :b)"
    )
    today, n, i = date.today(), 0, 0
    with engine.connect() as conn:
        while time.perf_counter() < until:
            with conn.begin():
                for _ in range(per_commit):
                    a = accounts[i % len(accounts)]
                    i += 1
                    conn.execute(lock, {"a": a, "b": clearing})
                    p = conn.execute(ins_posting, {"d": today, "ref": f"bench:{a}:{i}"}).scalar_one()
                    conn.execute(ins_legs, {"p": p, "a": a, "b": clearing, "d": today})
                    conn.execute(upd, {"a": a, "b": clearing})
            n += per_commit
    engine.dispose()
    out.append(n)


def _consume_worker(url: str, schema: str, card_nos: list[str], worker: int, until: float, out: list[int]) -> None:
    from sscard.db.session import build_engine, unit_of_work
    from sscard.debit.service import consume
    from sscard.terminal_registry.auth import AuthenticatedTerminal
    from sscard.terminal_registry.models import InstitutionType

    engine = build_engine(url, schema=schema)
    ref = AuthenticatedTerminal(f"BENCHPOS{worker}", "基准银行网点", InstitutionType.BANK_OUTLET, pv.REGION, 1, "")
    n = 0
    while time.perf_counter() < until:
        with unit_of_work(engine) as uow:
            consume(uow, terminal=ref, card_no=card_nos[n % len(card_nos)], amount_fen=1, txn_id=f"B{n}",
                    pin_block=None, actor=ref.actor())  # fmt: skip
        n += 1
    engine.dispose()
    out.append(n)


class InProcess(NamedTuple):
    rate: float
    client_cpu_ms: float  # this process's CPU per operation (threads only; 0 with --processes)
    postgres_cpu_ms: float  # PostgreSQL's CPU per operation (all of its processes: the host's other work too)

    def cpu(self) -> str:
        client = f"this process {self.client_cpu_ms:.3f} ms, " if self.client_cpu_ms else ""
        return f"CPU per operation: {client}PostgreSQL {self.postgres_cpu_ms:.3f} ms"


def _run(target, slices: list[tuple], duration: float, processes: bool) -> InProcess:  # type: ignore[no-untyped-def]
    client0, postgres0 = time.process_time(), pv._cpu_seconds(-1, set())[1]
    until = time.perf_counter() + 1.0 + duration
    start = until - duration
    if processes:
        ctx = multiprocessing.get_context("fork")
        with ctx.Manager() as manager:
            shared = manager.list()
            procs = [ctx.Process(target=target, args=(*s, until, shared)) for s in slices]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            total = sum(shared)
    else:
        out: list[int] = []
        threads = [threading.Thread(target=target, args=(*s, until, out)) for s in slices]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = sum(out)
    elapsed = max(time.perf_counter() - start, 1e-9)
    client, postgres = time.process_time() - client0, pv._cpu_seconds(-1, set())[1] - postgres0
    per = 1000 / max(total, 1)
    return InProcess(total / min(elapsed, duration + 0.5), 0.0 if processes else client * per, postgres * per)


def _consumed(url: str, schema: str) -> tuple[int, int, bool]:
    """(stored consumptions, consumption postings, ledger check ok)."""
    from sqlalchemy import func, select

    from sscard.db.session import build_engine, unit_of_work
    from sscard.debit.service import CONSUME
    from sscard.ledger.models import LedgerPosting, PostingKind
    from sscard.ledger.service import check
    from sscard.settlement.models import TerminalTxn

    engine = build_engine(url, schema=schema)
    try:
        with unit_of_work(engine) as uow:
            count = select(func.count())
            txns = uow.session.scalar(count.select_from(TerminalTxn).where(TerminalTxn.purpose == CONSUME)) or 0
            kind = LedgerPosting.kind == PostingKind.DEBIT_CONSUMPTION.value
            postings = uow.session.scalar(count.select_from(LedgerPosting).where(kind)) or 0
            return int(txns), int(postings), check(uow).ok
    finally:
        engine.dispose()


def _batching(base: str) -> str:
    """One worker's consumption batches from ``/metrics`` (one scrape: both figures from the same worker)."""
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=10).text

    def counter(prefix: str) -> float:
        return next((float(x.removeprefix(prefix)) for x in text.splitlines() if x.startswith(prefix)), 0.0)

    items, batches, failed = (counter(f'sscard_group_commit_{k}_total{{name="debit-consume"}} ')
                              for k in ("items", "batches", "failed"))  # fmt: skip
    paid, handed_on = (counter(f'sscard_debit_batch_total{{outcome="{k}"}} ') for k in ("paid", "handed_on"))
    mean = items / batches if batches else 0.0
    return (f"one worker: {items:.0f} consumptions in {batches:.0f} batches (mean {mean:.1f}), {failed:.0f} failed; "
            f"paid in batches {paid:.0f}, handed on to the single path {handed_on:.0f}")  # fmt: skip


def _http(args: argparse.Namespace, schema: str, card_nos: list[str]) -> tuple[pv.Result, str, tuple[int, int]]:
    """The consumption over HTTP (the server runs only for this); (result, batching, stored/posted before)."""
    load = "wrk" if args.load == "wrk" or (args.load == "auto" and shutil.which("wrk")) else "httpx"
    runner = pv.run_wrk if load == "wrk" else pv.run_httpx
    print(f"load         {load}, concurrency {args.concurrency}, {args.duration:.0f} s; server: uvicorn, 2 workers")
    from sscard.security_module import get_security_module

    get_security_module()  # creates the key file once, before two workers could race to create it
    with pv.uvicorn_server("sscard.api.app:create_app", env=dict(os.environ), factory=True) as base:
        seeded = pv.enable_pins(base, card_nos)
        outlets = settlement.enroll_institutions(base, args.outlets, kind="bank_outlet", name="基准银行网点")
        # Each outlet's first consumption makes its institution row (the single path's), then the warm-up.
        runner("warm-up", base, CONSUME_PATH,
               settlement.prepare_settlements(outlets, seeded.cards, 1000, "W", CONSUME_PATH),
               concurrency=args.concurrency, duration=2)  # fmt: skip
        requests = settlement.prepare_settlements(
            outlets, seeded.cards, int(args.duration * args.max_rate), f"C{secrets.token_hex(2)}-", CONSUME_PATH
        )
        before = _consumed(args.url, schema)[:2]
        result = pv.measured(
            lambda: runner(
                "consume (HTTP)",
                base,
                CONSUME_PATH,
                requests,
                concurrency=args.concurrency,
                duration=int(args.duration),
            ),  # fmt: skip
            base,
        )
        return result, _batching(base), before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=PG_URL)
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight over HTTP")
    ap.add_argument(
        "--bare-concurrency", type=int, default=4, help="threads of the baseline (also run at --concurrency)"
    )
    ap.add_argument("--per-commit", type=int, default=16, help="postings per COMMIT of the grouped bare run")
    ap.add_argument("--single-concurrency", type=int, default=4, help="threads of the in-process single path")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--cards", type=int, default=1000)
    ap.add_argument("--outlets", type=int, default=8, help="bank POS terminals (one outlet each, one bank)")
    ap.add_argument("--max-rate", type=int, default=4000, help="budget of pre-signed requests per second")
    ap.add_argument("--load", choices=("auto", "wrk", "httpx"), default="auto")
    ap.add_argument("--processes", action="store_true", help="in-process runs: one process per worker")
    args = ap.parse_args()

    data_dir, schema = pv.bench_environment(args.url, "debit")
    try:
        print("bench/debit.py — debit consumption over HTTP vs. the bare database work of one posting, same run")
        print_machine(args.url)
        card_nos, _ = pv.seed_database(args.url, schema, args.cards)
        accounts, clearing = open_debit_accounts(args.url, schema, card_nos, 10_000_000)
        mode = "processes" if args.processes else "threads"
        # The single path first, while the PINs are not enabled yet (its workers send no PIN block).
        c = args.single_concurrency
        single = _run(_consume_worker, [(args.url, schema, card_nos[w::c], w) for w in range(c)], args.duration,
                      args.processes)  # fmt: skip
        http, batching, before = _http(args, schema, card_nos)
        txns, postings, _ = _consumed(args.url, schema)
        bare: dict[int, InProcess] = {}
        for c in sorted({args.bare_concurrency, args.concurrency}):
            slices = [(args.url, schema, accounts[w::c], clearing, 1) for w in range(c)]
            bare[c] = _run(_bare_worker, slices, args.duration, args.processes)
        c = args.bare_concurrency
        slices = [(args.url, schema, accounts[w::c], clearing, args.per_commit) for w in range(c)]
        grouped = _run(_bare_worker, slices, args.duration, args.processes)
        _, _, ledger_ok = _consumed(args.url, schema)
        baseline = max(r.rate for r in bare.values())
        print()
        print(http.line())
        answered = http.requests - http.failures
        print(f"{'':<15} {txns - before[0]} consumptions stored and {postings - before[1]} posted for {answered} "
              "answered ok (more: requests in flight when the load stopped, committed, not counted)")  # fmt: skip
        print(f"{'':<15} batches: {batching}")
        for n, r in bare.items():
            print(f"{'bare posting':<15} {r.rate:>9.0f} /s      ({n} {mode}, one posting per transaction, in process)")
            print(f"{'':<15} {r.cpu()}")
        print(f"{'bare, grouped':<15} {grouped.rate:>9.0f} /s      ({args.bare_concurrency} {mode}, {args.per_commit} "
              "postings per COMMIT, statement by statement; information, not the baseline)")  # fmt: skip
        print(f"{'':<15} {grouped.cpu()}")
        print(f"{'single path':<15} {single.rate:>9.0f} /s      ({args.single_concurrency} {mode}, service.consume "
              "in process, PIN not enabled; information)")  # fmt: skip
        print()
        print(f"ratio consume (HTTP) / bare posting   {http.rate / baseline:5.2f}   (target >= 0.50; baseline "
              f"{baseline:.0f} /s, the better of the bare runs)")  # fmt: skip
        print(f"ratio consume (HTTP) / bare, grouped  {http.rate / grouped.rate:5.2f}   (information)")
        print(f"ratio single path / bare posting      {single.rate / baseline:5.2f}   (information)")
        print(f"ledger check {'ok' if ledger_ok else 'FAILED'}")
    finally:
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
