"""Benchmark one settlement batch in process: its fixed and per-settlement CPU (not a test).

    .venv/bin/python bench/settle_batch.py [--batches 300] [--cards 400] [--institutions 8] [--explain]

``bench/settlement.py`` measures the whole path over HTTP; this one measures only the batch
(``settlement/batch.settle_batch_pg``: three pipelined round trips, the MAC checks, the PIN blocks, the
payments, the audit chain, the commit) on one psycopg connection, with no HTTP and no other process
competing for the batch's locks, so a change to the batch's SQL shows up in seconds and well above the
host's noise:

- the client's CPU (``time.process_time``) and the PostgreSQL backend's CPU (``/proc``) per batch, at batch
  sizes 1, 16 and 32, alternated twice; then the fixed cost per batch and the marginal cost per settlement
  (a least-squares line through the sizes);
- the baseline, in the same run: ``credentials/pin/batch_verify.verify_batch_pg``, the PIN verify batch the
  settlement lane is compared with over HTTP, measured the same way on the same cards;
- ``--explain``: afterwards, one batch of 32 with every statement first run under
  ``EXPLAIN (ANALYZE, BUFFERS)`` in a savepoint that is rolled back (the plans, the rows and the triggers:
  foreign-key checks), then for real. PostgreSQL here has no ``pg_stat_statements`` preloaded.

Every settlement is 1 fen from an account that holds enough, with the right PIN (each answer is checked).
The terminal transaction store grows over the run as it does under load. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import pin_verify  # noqa: E402 - the same seeding and signed requests as the HTTP benchmarks
from common import PG_URL, print_machine  # noqa: E402
from pin_batch import _attempts as verify_attempts  # noqa: E402
from pin_batch import _backend_cpu, _line, _span  # noqa: E402

import settlement  # noqa: E402

SIZES = (1, 16, 32)
WARM_UP = (16, 30)  # batch size, batches


def _settle_attempts(profiles: list[object], cards: list[tuple[str, str]], count: int, tag: str) -> list[object]:
    """``count`` settlement attempts as the lane builds them, each with its own nonce and transaction id."""
    import json

    from sscard.api.pin_verify_lane import lane_headers
    from sscard.settlement.batch import SettleAttempt

    attempts: list[object] = []
    for request in settlement.prepare_settlements(profiles, cards, count, tag):
        fields = json.loads(request.body)
        attempts.append(
            SettleAttempt(
                method="POST",
                target=request.path,
                headers=lane_headers(
                    {"headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]}
                ),
                body=request.body,
                card_no=fields["card_no"],
                amount_fen=fields["amount_fen"],
                txn_id=fields["txn_id"],
                pin_block=bytes.fromhex(fields["pin_block"]),
                partial=False,
                received_at=time.time(),
            )  # fmt: skip
        )
    return attempts


def _explaining(raw: Any, out: list[str]) -> Any:
    """A ``PipelinedTransaction.round_trip`` that first runs each statement under EXPLAIN ANALYZE in a
    savepoint rolled back (outside pipeline mode, on the same connection and transaction)."""
    from psycopg import pq

    from sscard.db.driver import PipelinedTransaction

    real = PipelinedTransaction.round_trip

    async def round_trip(self: PipelinedTransaction, *commands: Any) -> Any:
        if commands and commands[0] == b"BEGIN":
            await real(self, b"BEGIN")
            commands = commands[1:]
        pgconn = self._pgconn
        for command in commands:
            if isinstance(command, bytes):
                if command.startswith(b"SET LOCAL"):  # the plans explained are the ones the batch gets
                    pgconn.exit_pipeline_mode()
                    pgconn.exec_(command)
                    pgconn.enter_pipeline_mode()
                continue
            statement, params = command
            values = statement.values(self._transformer, params)
            pgconn.exit_pipeline_mode()
            try:
                pgconn.exec_(b"SAVEPOINT explain")
                result = pgconn.exec_params(b"EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, values)
                if result.status != pq.ExecStatus.TUPLES_OK:
                    raise SystemExit(f"EXPLAIN failed: {result.error_message.decode()}\n{statement.sql.decode()}")
                plan = "\n".join(result.get_value(i, 0).decode() for i in range(result.ntuples))
                pgconn.exec_(b"ROLLBACK TO SAVEPOINT explain")
            finally:
                pgconn.enter_pipeline_mode()
            out.append(f"--- {statement.sql.decode()[:300]}\n{plan}")
        return await real(self, *commands)

    return round_trip


async def _measure(
    settle: list[object], verify: list[object], batches: int, explain: list[object] | None, analyze: Any
) -> tuple[dict[str, dict[int, list[tuple[float, float]]]], list[str]]:
    from sscard.credentials.pin.batch_verify import Verified, verify_batch_pg
    from sscard.credentials.pin.rules.threshold import LockoutThresholds
    from sscard.db.driver import PipelinedTransaction
    from sscard.db.session import get_async_engine
    from sscard.settlement.batch import Settled, settle_batch_pg

    engine = get_async_engine()
    assert engine is not None, "PostgreSQL only"  # noqa: S101 - a benchmark precondition
    connection = await engine.connect()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101
    backend = raw.info.backend_pid
    paths = {
        "settle": (iter(settle), settle_batch_pg, Settled, LockoutThresholds()),
        "verify": (iter(verify), verify_batch_pg, Verified, LockoutThresholds()),
    }
    results: dict[str, dict[int, list[tuple[float, float]]]] = {k: {s: [] for s in SIZES} for k in paths}

    async def run(path: str, size: int, count: int, *, check: bool = True) -> tuple[float, float]:
        queue, batch_fn, ok, thresholds = paths[path]
        client, server = time.process_time(), _backend_cpu(backend)
        for _ in range(count):
            outcomes = await batch_fn(connection, [next(queue) for _ in range(size)], thresholds=thresholds)  # type: ignore[operator]
            if check and not all(isinstance(o, ok) for o in outcomes):  # type: ignore[arg-type]
                wrong = next(o for o in outcomes if not isinstance(o, ok))  # type: ignore[arg-type]
                raise SystemExit(f"{path}: a common case was not decided by the batch: {wrong!r}")
        return (time.process_time() - client) * 1e3 / count, (_backend_cpu(backend) - server) * 1e3 / count

    for path in paths:
        await run(path, *WARM_UP, check=False)  # prepared statements, caches, each region's threshold
    # Statistics as a live database has them once it has stored transactions: the set-up's ANALYZE saw a
    # handful in ``terminal_txn_key``, and the look-up of the stored ids, planned once per connection, then
    # scanned the whole table per id until autovacuum's first analysis (at a moment of its own in the run).
    analyze()
    for _ in range(2):
        for size in SIZES:
            for path in paths:
                results[path][size].append(await run(path, size, batches))
    plans: list[str] = []
    if explain:
        PipelinedTransaction.round_trip = _explaining(raw, plans)  # type: ignore[method-assign]
        for start in range(0, len(explain), 32):
            plans.append(f"=== batch {start // 32 + 1}")
            outcomes = await settle_batch_pg(connection, explain[start : start + 32], thresholds=paths["settle"][3])  # type: ignore[arg-type]
            assert all(isinstance(o, Settled) for o in outcomes), outcomes  # noqa: S101
    cursor = await raw.execute(
        "SELECT generic_plans, custom_plans, left(regexp_replace(statement, '\\s+', ' ', 'g'), 90) "
        "FROM pg_prepared_statements ORDER BY custom_plans DESC, statement"
    )
    plans.extend(f"prepared     generic {g:>5}  custom {c:>5}  {sql}" for g, c, sql in await cursor.fetchall())
    await connection.close()
    return results, plans


def _table_stats(url: str, schema: str) -> list[str]:
    """Rows inserted and updated (HOT or not) per table, and each table's indexes: what a settlement touches."""
    import psycopg

    time.sleep(1.5)  # the backends' statistics reach the shared counters within a second
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, "
            "(SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid) FROM pg_stat_user_tables s "
            "WHERE s.schemaname = %s AND (s.n_tup_ins > 0 OR s.n_tup_upd > 0) ORDER BY s.n_tup_ins DESC",
            (schema,),
        ).fetchall()
    return [f"{r[0]:<22} inserted {r[1]:>7}  updated {r[2]:>7} (HOT {r[3]:>7})  indexes {r[4]}" for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=PG_URL, help="PostgreSQL URL (a fresh schema is created and dropped)")
    ap.add_argument("--batches", type=int, default=300, help="batches per size, path and round")
    ap.add_argument("--cards", type=int, default=400, help="active cards with an enabled PIN and a funded account")
    ap.add_argument("--institutions", type=int, default=8, help="pharmacies (one terminal and clearing account each)")
    ap.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="EXPLAIN (ANALYZE, BUFFERS) each statement of N batches of 32 (the last one's plans in full)",
    )
    args = ap.parse_args()

    data_dir, schema = pin_verify.bench_environment(args.url, "sbatch")
    print("bench/settle_batch.py — one settlement batch in process vs. one PIN verify batch: CPU per batch")
    print_machine(args.url)
    from sscard.security_module import get_security_module

    get_security_module()
    try:
        card_nos, _ = pin_verify.seed_database(args.url, schema, args.cards)
        settlement.fund_cards(args.url, schema, card_nos, 10_000_000)
        with pin_verify.uvicorn_server("sscard.api.app:create_app", env=dict(os.environ), factory=True) as base:
            seeded = pin_verify.enable_pins(base, card_nos)
            profiles = settlement.enroll_institutions(base, args.institutions)
            # Each institution's first settlement goes the single path (it opens the clearing account).
            for request in settlement.prepare_settlements(profiles, seeded.cards, args.institutions, "F"):
                import httpx

                httpx.post(base + request.path, content=request.body, headers=request.headers).raise_for_status()
        settlement.analyze(args.url, schema)
        needed = WARM_UP[0] * WARM_UP[1] + 2 * args.batches * sum(SIZES)
        settle = _settle_attempts(profiles, seeded.cards, needed, "B")
        verify = verify_attempts(seeded, needed)
        explain = _settle_attempts(profiles, seeded.cards, 32 * args.explain, "X") if args.explain else None
        results, plans = asyncio.run(
            _measure(settle, verify, args.batches, explain, lambda: settlement.analyze(args.url, schema))
        )
        stats = _table_stats(args.url, schema)
    finally:
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"load         {args.batches} batches per size, path and round, sizes {', '.join(map(str, SIZES))}, "
          f"2 rounds, {args.cards} cards, {args.institutions} institutions, one connection")  # fmt: skip
    last = max((i for i, p in enumerate(plans) if p.startswith("=== ")), default=len(plans))
    for i, plan in enumerate(plans):
        if i >= last or plan.startswith("prepared"):
            print(plan)
        else:  # earlier batches: each statement's time and triggers only
            lines = plan.splitlines()
            print("\n".join([lines[0][:100], *(x for x in lines if x.startswith(("Trigger", "Execution")))]))
    print()
    print("tables (whole run, set-up included):")
    for line in stats:
        print(f"  {line}")
    print()
    fits = {}
    for path in ("settle", "verify"):
        for size in SIZES:
            client = [c for c, _ in results[path][size]]
            server = [s for _, s in results[path][size]]
            print(f"{path:<6} {size:3d}   client {_span(client, size)}   PostgreSQL {_span(server, size)}")
        fits[path] = (
            _line([(size, c) for size in SIZES for c, _ in results[path][size]]),
            _line([(size, s) for size in SIZES for _, s in results[path][size]]),
        )
    print()
    for path, ((cf, ce), (sf, se)) in fits.items():
        print(f"fit {path:<6} client {cf:.3f} ms per batch + {ce:.4f} ms each; "
              f"PostgreSQL {sf:.3f} ms per batch + {se:.4f} ms each")  # fmt: skip
    (_, ce), (_, se) = fits["settle"]
    (_, ve), (_, vs) = fits["verify"]
    print(f"per item, settle / verify: client {ce / ve:.2f}x, PostgreSQL {se / vs:.2f}x, "
          f"both {(ce + se) / (ve + vs):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
