"""PIN verification through the security module vs. a bare CMAC loop, in the same run.

    .venv/bin/python bench/security_module.py                # soft/sm, soft/intl, pkcs11/intl
    .venv/bin/python bench/security_module.py --seconds 2 --rounds 5

Real path: ``verify_pin_block`` — revocation/version checks, the format-4 block deciphered under
the derived terminal key (two raw block decryptions + PAN unmasking + field checks), the PVV
(CMAC under the PVK over "PVV1" ‖ PAN ‖ PIN, truncated) and a constant-time compare.
Baseline: ``cryptography``'s CMAC (same cipher, same key size, 32-byte message) created, fed and
finalised in a loop — the same library the soft backend uses. For pkcs11 a second baseline is a bare
C_Sign(CKM_AES_CMAC) loop on a token key through python-pkcs11. Rounds alternate real and baseline;
the best of each is reported.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import print_machine  # noqa: E402

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
TID, REGION = "T440304BENCH1", "440304"


def rate(fn: Callable[[int], None], seconds: float) -> float:
    """Calls per second of ``fn(i)`` over about ``seconds``."""
    n, batch, start = 0, 256, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for i in range(batch):
            fn(n + i)
        n += batch
    return n / elapsed


def workload(module, cipher: str):  # type: ignore[no-untyped-def]
    """Terminal PIN key (as remote key loading hands it out), 512 PIN blocks of distinct cards and their PVVs."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from sscard.security_module.envelope import open_envelope, public_key_bytes
    from sscard.terminal.pinblock import encipher_pin_block, pin_block_pan

    private = ec.generate_private_key(ec.SECP256R1())
    envelope = module.export_terminal_key(
        terminal_id=TID, region_code=REGION, key_version=1, recipient_public_key=public_key_bytes(private)
    )
    key = open_envelope(private, envelope, TID.encode())[16:]  # MAC key ‖ PIN key: PIN blocks use the PIN key
    cases = []
    for i in range(512):
        pan = pin_block_pan(f"A{i:08d}")
        pin = f"{secrets.randbelow(10**6):06d}"
        block = encipher_pin_block(key, pin, pan, cipher=cipher)
        pvv, version = module.pin_verification_value(
            terminal_id=TID, region_code=REGION, key_version=1, pan=pan, pin_block=block
        )
        cases.append({"pan": pan, "pin_block": block, "pvv": pvv, "pvk_version": version})
    return cases


def measure(name: str, module, cipher: str, seconds: float, rounds: int, extra_baseline=None) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    cases = workload(module, cipher)
    verify = module.verify_pin_block
    ok = [verify(terminal_id=TID, region_code=REGION, key_version=1, **c) for c in cases]
    assert all(ok), "every prepared block must verify"

    def real(i: int) -> None:
        verify(terminal_id=TID, region_code=REGION, key_version=1, **cases[i & 511])

    key, message = secrets.token_bytes(16), secrets.token_bytes(32)
    algorithm = algorithms.SM4 if cipher == "sm4" else algorithms.AES

    def bare(_: int) -> None:
        mac = cmac.CMAC(algorithm(key))
        mac.update(message)
        mac.finalize()

    reals, bares, extras = [], [], []
    for _ in range(rounds):
        reals.append(rate(real, seconds))
        bares.append(rate(bare, seconds))
        if extra_baseline is not None:
            extras.append(rate(extra_baseline, seconds))
    best_real, best_bare = max(reals), max(bares)
    line = (
        f"{name:<12} PIN verify {best_real:>9,.0f} /s ({1e6 / best_real:6.1f} µs)   "
        f"bare CMAC ({'SM4' if cipher == 'sm4' else 'AES'}, cryptography) {best_bare:>9,.0f} /s   "
        f"ratio {best_real / best_bare:.2f}"
    )
    if extras:
        line += f"   bare C_Sign CMAC on the token {max(extras):,.0f} /s, ratio {best_real / max(extras):.2f}"
    print(line)


def softhsm_token(root: Path) -> tuple[str, str] | None:
    if not (os.path.exists(SOFTHSM_LIB) and shutil.which("softhsm2-util")):
        return None
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # before the library is loaded
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "1111", "--pin", "2222"],
        check=True, capture_output=True,
    )  # fmt: skip
    return "bench", "2222"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    from sscard.security_module.factory import open_pkcs11_module, open_soft_module

    print_machine(None)
    print(f"cryptography {cryptography.__version__} ({backend.openssl_version_text()})")
    print(f"timing       best of {args.rounds} alternating rounds of {args.seconds:g} s each\n")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for suite in ("sm", "intl"):
            module = open_soft_module(root / suite, suite=suite, master_key="bench", dev_root=True)
            measure(f"soft/{suite}", module, "sm4" if suite == "sm" else "aes", args.seconds, args.rounds)
        token = softhsm_token(root / "hsm")
        if token is None:
            print("pkcs11/intl  skipped: SoftHSM2 is not installed (apt-get install softhsm2)")
            return
        module = open_pkcs11_module(
            module_path=SOFTHSM_LIB, token_label=token[0], user_pin=token[1], lock_dir=root, dev_root=True
        )
        pvk = module.backend._obj(f"PVK@{module.describe('PVK').current}")  # noqa: SLF001 - the bare token call
        from pkcs11 import Mechanism

        message = secrets.token_bytes(32)

        def token_cmac(_: int) -> None:
            pvk.sign(message, mechanism=Mechanism.AES_CMAC)

        measure("pkcs11/intl", module, "aes", args.seconds, args.rounds, extra_baseline=token_cmac)


if __name__ == "__main__":
    main()
