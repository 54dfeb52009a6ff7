"""Benchmark one PIN verify batch in process: its fixed and per-verification CPU (not a test).

    .venv/bin/python bench/pin_batch.py [--batches 600] [--cards 400]

``bench/pin_verify.py`` measures the whole path over HTTP, where the rate moves by ±15 % from run to
run with how the kernel spreads connections over the workers. This one measures only the batch
(``credentials/pin/batch_verify.verify_batch_pg``: three pipelined round trips, the MAC checks, the
PIN blocks, the audit chain, the commit) on one psycopg connection, with no HTTP and no event loop
contention, so a change to the batch shows up in a few seconds and well above the noise:

- the client's CPU (``time.process_time``) and the PostgreSQL backend's CPU (``/proc``) per batch, at
  batch sizes 1, 16 and 32, alternated twice; then the fixed cost per batch and the marginal cost per
  verification (a least-squares line through the sizes);
- the baseline, in the same run: the cryptography a verification cannot do without, with the same
  algorithms and key sizes called straight on ``cryptography`` (the request's CMAC, the two block
  decryptions of an ISO 9564 format-4 PIN block, the PVV's CMAC, the audit chain's HMAC), per
  verification; printed with the ratio of it to the batch's marginal client CPU.

Every verification is a right PIN of an active card (each answer is checked). The schema it creates
is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import pin_verify  # noqa: E402 - the same seeding and signed requests as the HTTP benchmark
from common import PG_URL, print_machine  # noqa: E402

SIZES = (1, 16, 32)
WARM_UP = (16, 50)  # batch size, batches


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the PostgreSQL backend serving our connection."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _attempts(seeded: pin_verify.Seeded, count: int) -> list[object]:
    """``count`` verify attempts as the lane builds them, each with its own nonce."""
    from sscard.api.pin_verify_lane import lane_headers
    from sscard.credentials.pin.batch_verify import PinVerifyAttempt

    attempts: list[object] = []
    for request in pin_verify.prepare_verify_requests(seeded, count):
        fields = request.body.split(b'"')  # {"card_no":"…","pin_block":"…"}
        attempts.append(
            PinVerifyAttempt(
                method="POST",
                target=request.path,
                headers=lane_headers(
                    {"headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]}
                ),
                body=request.body,
                card_no=fields[3].decode(),
                pin_block=bytes.fromhex(fields[7].decode()),
                received_at=time.time(),
            )  # fmt: skip
        )
    return attempts


async def _measure(attempts: list[object], batches: int) -> dict[int, list[tuple[float, float]]]:
    """(client ms, backend ms) per batch, for each size, two rounds of every size."""
    from sscard.credentials.pin.batch_verify import Verified, verify_batch_pg
    from sscard.credentials.pin.rules.threshold import LockoutThresholds
    from sscard.db.session import get_async_engine

    engine = get_async_engine()
    assert engine is not None, "PostgreSQL only"  # noqa: S101 - a benchmark precondition
    connection = await engine.connect()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101
    backend = raw.info.backend_pid
    queue = iter(attempts)
    thresholds = LockoutThresholds()  # the batcher's cache, as pin_verifier() keeps one
    results: dict[int, list[tuple[float, float]]] = {size: [] for size in SIZES}

    async def run(size: int, count: int, *, check: bool = True) -> tuple[float, float]:
        client, server = time.process_time(), _backend_cpu(backend)
        for _ in range(count):
            batch = [next(queue) for _ in range(size)]
            outcomes = await verify_batch_pg(connection, batch, thresholds=thresholds)  # type: ignore[misc]
            if check and not all(isinstance(o, Verified) for o in outcomes):
                wrong = next(o for o in outcomes if not isinstance(o, Verified))
                raise SystemExit(f"a right PIN was not verified by the batch: {type(wrong).__name__}")
        return (time.process_time() - client) * 1e3 / count, (_backend_cpu(backend) - server) * 1e3 / count

    # Warm-up: prepared statements, key caches, and the lockout threshold's cache (the first batch of a
    # region it has not seen hands its attempts to the single path, by design).
    await run(*WARM_UP, check=False)
    for _ in range(2):
        for size in SIZES:
            results[size].append(await run(size, batches))
    await connection.close()
    return results


def _line(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(fixed, per item) of the least-squares line through (size, ms per batch)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return mean_y - slope * mean_x, slope


def _span(ms_per_batch: list[float], size: int) -> str:
    low, high = min(ms_per_batch), max(ms_per_batch)
    return f"{low:6.3f}–{high:6.3f} ms/batch ({low / size:6.3f} ms/verification)"


def _raw_crypto_ms(suite: str, rounds: int = 20000) -> float:
    """ms per verification of the unavoidable cryptography, on ``cryptography`` directly."""
    from cryptography.hazmat.primitives import cmac, hashes, hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    block = algorithms.SM4 if suite == "sm" else algorithms.AES
    digest = hashes.SM3() if suite == "sm" else hashes.SHA256()
    terminal_key, pvk, audit_key = os.urandom(16), os.urandom(16), os.urandom(32)
    request = os.urandom(180)  # a canonical request: method, target, headers, body digest
    pin_block = os.urandom(16)
    decrypt = Cipher(block(terminal_key), modes.ECB()).decryptor().update  # noqa: S305 - one block, as ISO 9564
    request_mac, pvv_mac = cmac.CMAC(block(terminal_key)), cmac.CMAC(block(pvk))
    entry = os.urandom(32 + 230)  # previous hash and an entry's canonical bytes
    started = time.process_time()
    for _ in range(rounds):
        mac = request_mac.copy()
        mac.update(request)
        mac.finalize()
        decrypt(decrypt(pin_block))
        mac = pvv_mac.copy()
        mac.update(b"PVV1\x1f915610000000019\x1f123456")
        mac.finalize()
        chain = hmac.HMAC(audit_key, digest)
        chain.update(entry)
        chain.finalize()
    return (time.process_time() - started) * 1e3 / rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=PG_URL, help="PostgreSQL URL (a fresh schema is created and dropped)")
    ap.add_argument("--batches", type=int, default=600, help="batches per size and round")
    ap.add_argument("--cards", type=int, default=400, help="active cards with an enabled PIN")
    args = ap.parse_args()

    data_dir, schema = pin_verify.bench_environment(args.url, "batch")
    print("bench/pin_batch.py — one PIN verify batch in process: fixed and per-verification CPU")
    print_machine(args.url)
    from sscard.security_module import get_security_module

    module = get_security_module()
    try:
        card_nos, _ = pin_verify.seed_database(args.url, schema, args.cards)
        with pin_verify.uvicorn_server("sscard.api.app:create_app", env=dict(os.environ), factory=True) as base:
            seeded = pin_verify.enable_pins(base, card_nos)  # the PINs are changed over HTTP, as a terminal does
        needed = WARM_UP[0] * WARM_UP[1] + 2 * args.batches * sum(SIZES)  # each attempt has its own nonce
        results = asyncio.run(_measure(_attempts(seeded, needed), args.batches))
    finally:
        import psycopg

        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"load         {args.batches} batches per size and round, sizes {', '.join(map(str, SIZES))}, "
          f"2 rounds, suite {module.suite}, one connection")  # fmt: skip
    print()
    for size in SIZES:
        client = [c for c, _ in results[size]]
        server = [s for _, s in results[size]]
        print(
            f"batch {size:3d}   client {_span(client, size)}   PostgreSQL {_span(server, size)}",
        )
    client_fixed, client_each = _line([(size, c) for size in SIZES for c, _ in results[size]])
    server_fixed, server_each = _line([(size, s) for size in SIZES for _, s in results[size]])
    raw = _raw_crypto_ms(module.suite)
    print()
    print(f"fit          client {client_fixed:.3f} ms per batch + {client_each:.4f} ms per verification; "
          f"PostgreSQL {server_fixed:.3f} ms per batch + {server_each:.4f} ms per verification")  # fmt: skip
    print(f"raw crypto   {raw:.4f} ms per verification (request CMAC, 2 block decryptions, PVV CMAC, audit HMAC)")
    print(f"ratio raw crypto / batch's client CPU per verification   {raw / client_each:5.2f}")


if __name__ == "__main__":
    main()
