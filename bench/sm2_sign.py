"""SM2 signatures of the audit (audit/signatures.py) vs. the raw Tongsuo calls, in the same run.

    .venv/bin/python bench/sm2_sign.py                 # 3 alternating rounds of 1 s
    .venv/bin/python bench/sm2_sign.py --seconds 2 --rounds 5

Real path: ``sm2_sign(d, message)`` (the private key derived from the scalar, as ``sign_entry`` does
with the unsealed one: one point multiplication; the signature; DER to r ‖ s), ``sm2_verify`` (lengths,
ranges, the curve equation in Python; the point loaded; r ‖ s to DER; the verification) and
``generate_key_pair`` (a scalar from ``secrets``, its public point). Baseline: the bare ``tongsuopy``
calls on keys loaded before the clock (``key.sign``, ``public_key.verify`` of a DER signature,
``ec.generate_private_key``). When gmssl is importable (``pip install gmssl``; no longer a dependency)
the former implementation is timed too, for the record, and signatures are checked both ways: gmssl's
verify with ours and ours with gmssl's. A message is a 300-byte record, about a signed audit entry's.
No database.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import print_machine  # noqa: E402

MESSAGE_BYTES = 300


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn()`` over about ``seconds`` of CPU."""
    n, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(16):
            fn()
        n += 16
    return n / elapsed


def _gmssl_paths(d: int, public: bytes, message: bytes) -> dict[str, Callable[[], object]] | None:
    """gmssl's sign and verify as the former audit/signatures.py called them, or None without gmssl."""
    try:
        from gmssl import sm2  # type: ignore[import-untyped]
    except ImportError:
        return None
    from sscard.audit.signatures import _N, sm2_sign, sm2_verify

    def crypt(private_key: str | None = None) -> sm2.CryptSM2:
        signer = sm2.CryptSM2(private_key=private_key, public_key="")
        signer.public_key = public.hex()  # past the constructor, as the former code did
        return signer

    def sign() -> bytes:
        while True:
            sig = crypt(f"{d:064x}").sign_with_sm3(message, f"{secrets.randbelow(_N - 1) + 1:064x}")
            if sig:
                return bytes.fromhex(sig)

    def verify(signature: bytes) -> bool:
        return bool(crypt().verify_with_sm3(signature.hex(), message))

    ours_by_gmssl = all(verify(sm2_sign(d, message)) for _ in range(50))
    gmssl_by_ours = all(sm2_verify(public, message, sign()) for _ in range(50))
    print(
        f"interop      50 of ours verified by gmssl: {ours_by_gmssl}; 50 of gmssl's verified by ours: {gmssl_by_ours}"
    )

    def key_pair() -> bytes:
        scalar = secrets.randbelow(_N - 2) + 1
        return bytes.fromhex(crypt(f"{scalar:064x}")._kg(scalar, sm2.default_ecc_table["g"]))

    theirs = sign()
    return {"sign": sign, "verify": lambda: verify(theirs), "key pair": key_pair}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, real and baseline alternated; best kept")
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from tongsuopy.crypto import hashes
    from tongsuopy.crypto.asymciphers import ec

    from sscard.audit.signatures import generate_key_pair, sm2_sign, sm2_verify

    print_machine(None)
    print(f"params       {args.rounds} rounds x {args.seconds} s CPU each, message {MESSAGE_BYTES} bytes")
    message = secrets.token_bytes(MESSAGE_BYTES)
    d, public = generate_key_pair()
    signature = sm2_sign(d, message)
    algorithm = ec.ECDSA(hashes.SM3())
    raw_private = ec.derive_private_key(d, ec.SM2())
    raw_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), b"\x04" + public)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    assert sm2_verify(public, message, signature)
    raw_public.verify(der, message, algorithm)

    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "sign": (lambda: sm2_sign(d, message), lambda: raw_private.sign(message, algorithm)),
        "verify": (lambda: sm2_verify(public, message, signature), lambda: raw_public.verify(der, message, algorithm)),
        "key pair": (generate_key_pair, lambda: ec.generate_private_key(ec.SM2()).public_key().public_numbers()),
    }
    best: dict[str, list[float]] = {name: [0.0, 0.0] for name in pairs}
    for _ in range(args.rounds):
        for name, (ours, raw) in pairs.items():
            best[name][0] = max(best[name][0], rate(ours, args.seconds))
            best[name][1] = max(best[name][1], rate(raw, args.seconds))
    gmssl = _gmssl_paths(d, public, message)
    gmssl_rates = {name: rate(fn, args.seconds) for name, fn in gmssl.items()} if gmssl else {}

    print(f"{'':10} {'ours':>20} {'raw tongsuopy':>20} {'ratio':>6} {'gmssl (former)':>20}")
    for name, (ours_rate, raw_rate) in best.items():
        former = f"{gmssl_rates[name]:9,.0f} /s ({1e3 / gmssl_rates[name]:5.2f} ms)" if name in gmssl_rates else "—"
        print(
            f"{name:10} {ours_rate:9,.0f} /s ({1e3 / ours_rate:5.3f} ms) {raw_rate:9,.0f} /s ({1e3 / raw_rate:5.3f} ms)"
            f" {ours_rate / raw_rate:6.2f} {former:>20}"
        )


if __name__ == "__main__":
    main()
