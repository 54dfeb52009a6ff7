"""An independent implementation of the documented KEY-3 rule (docs/security-module.md), written
from the document and not from ``sscard.security_module``, so the tests check the module against the text.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

C1 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
C2 = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
ROOT = bytes(a ^ b for a, b in zip(C1, C2, strict=True))  # the key a two-custodian ceremony forms


def cipher(suite: str, key: bytes) -> algorithms.AES | algorithms.SM4:
    return algorithms.SM4(key) if suite == "sm" else algorithms.AES(key)


def encrypt(suite: str, key: bytes, block: bytes) -> bytes:
    enc = Cipher(cipher(suite, key), modes.ECB()).encryptor()  # noqa: S305 - one raw block
    return enc.update(block) + enc.finalize()


def kcv(suite: str, key: bytes) -> str:
    return encrypt(suite, key, bytes(16))[:3].hex().upper()


def diversification(suite: str, tag: str, ident: str, version: int) -> bytes:
    message = b"\x1f".join([b"SSCARD-KDF-1", tag.encode(), ident.encode(), str(version).encode()])
    if suite == "sm":
        h = hashes.Hash(hashes.SM3())
        h.update(message)
        return h.finalize()[:16]
    return hashlib.sha256(message).digest()[:16]


def child(suite: str, parent: bytes, tag: str, ident: str, version: int = 1) -> bytes:
    return encrypt(suite, parent, diversification(suite, tag, ident, version))


def chain(suite: str, root: bytes, region: str, terminal_id: str, tmk_version: int = 1) -> dict[str, bytes]:
    """Every key from the root down to one terminal's MAC and PIN keys (district ``region``)."""
    province, city = region[:2] + "0000", region[:4] + "00"
    pmk = child(suite, root, "PROV", province)
    cmk = child(suite, pmk, "CITY", city)
    tmk = child(suite, cmk, "TMK", city, tmk_version)
    crd = child(suite, cmk, "CRD", city)
    tmac = child(suite, tmk, "TMAC", f"{region}/{terminal_id}", tmk_version)
    tpin = child(suite, tmk, "TPIN", f"{region}/{terminal_id}", tmk_version)
    return {"PMK": pmk, "CMK": cmk, "TMK": tmk, "CRD": crd, "TMAC": tmac, "TPIN": tpin}


def mac(suite: str, key: bytes, data: bytes) -> bytes:
    c = cmac.CMAC(cipher(suite, key))
    c.update(data)
    return c.finalize()
