"""Algorithm suites over the ``cryptography`` package: ``sm`` (SM4/SM3) and ``intl`` (AES/SHA-256)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sscard.security_module.errors import ProtectedDataInvalid

NONCE_LEN = 12
TAG_LEN = 16


def hash_algorithm(suite: str) -> hashes.HashAlgorithm:
    return hashes.SM3() if suite == "sm" else hashes.SHA256()


def hmac_digest(suite: str, key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hash_algorithm(suite))
    mac.update(data)
    return mac.finalize()


def aead_encrypt(suite: str, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Return nonce ‖ ciphertext ‖ tag (SM4-GCM or AES-GCM)."""
    nonce = os.urandom(NONCE_LEN)
    if suite == "sm":
        enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return nonce + enc.update(plaintext) + enc.finalize() + enc.tag
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_encrypt_many(suite: str, key: bytes, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """``aead_encrypt`` of many ``(plaintext, aad)`` pairs: the key schedule once, a fresh nonce each."""
    out = []
    if suite == "sm":
        sm4 = algorithms.SM4(key)
        for plaintext, aad in items:
            nonce = os.urandom(NONCE_LEN)
            enc = Cipher(sm4, modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            out.append(nonce + enc.update(plaintext) + enc.finalize() + enc.tag)
        return out
    aes = AESGCM(key)
    for plaintext, aad in items:
        nonce = os.urandom(NONCE_LEN)
        out.append(nonce + aes.encrypt(nonce, plaintext, aad))
    return out


def aead_decrypt(suite: str, key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_LEN + TAG_LEN:
        raise ProtectedDataInvalid("protected value is truncated")
    nonce, body = blob[:NONCE_LEN], blob[NONCE_LEN:]
    try:
        if suite == "sm":
            dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, body[-TAG_LEN:])).decryptor()
            dec.authenticate_additional_data(aad)
            return dec.update(body[:-TAG_LEN]) + dec.finalize()
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise ProtectedDataInvalid() from exc


def block_cipher(suite: str, key: bytes) -> algorithms.SM4 | algorithms.AES:
    return algorithms.SM4(key) if suite == "sm" else algorithms.AES(key)


def encrypt_block(suite: str, key: bytes, block: bytes) -> bytes:
    """One raw block encryption (ECB of a single block): key diversification and KCVs only."""
    enc = Cipher(block_cipher(suite, key), modes.ECB()).encryptor()  # noqa: S305 - single-block primitive
    return enc.update(block) + enc.finalize()


def decrypt_block(suite: str, key: bytes, block: bytes) -> bytes:
    dec = Cipher(block_cipher(suite, key), modes.ECB()).decryptor()  # noqa: S305 - single-block primitive
    return dec.update(block) + dec.finalize()


def key_check_value(suite: str, key: bytes) -> str:
    return encrypt_block(suite, key, b"\x00" * 16)[:3].hex().upper()


def hmac_check_value(suite: str, key: bytes) -> str:
    return hmac_digest(suite, key, b"\x00" * 16)[:3].hex().upper()


# --- RFC 3394 key wrap over any 128-bit block cipher (AES-KW in intl, the same construction with SM4) ---

KW_IV = bytes.fromhex("A6A6A6A6A6A6A6A6")


def key_wrap(encrypt: Callable[[bytes], bytes], key: bytes) -> bytes:
    """RFC 3394 §2.2.1 wrapping of ``key`` (a multiple of 8 bytes, at least 16)."""
    if len(key) < 16 or len(key) % 8:
        raise ValueError("a wrapped key is a multiple of 8 bytes, at least 16")
    a, r = KW_IV, [key[i : i + 8] for i in range(0, len(key), 8)]
    n = len(r)
    for j in range(6):
        for i in range(n):
            b = encrypt(a + r[i])
            t = (n * j + i + 1).to_bytes(8, "big")
            a, r[i] = bytes(x ^ y for x, y in zip(b[:8], t, strict=True)), b[8:]
    return a + b"".join(r)


def key_unwrap(decrypt: Callable[[bytes], bytes], blob: bytes) -> bytes:
    """RFC 3394 §2.2.2 unwrapping; ``ValueError`` when the integrity check fails."""
    if len(blob) < 24 or len(blob) % 8:
        raise ValueError("a wrapped key is a multiple of 8 bytes, at least 24")
    a, r = blob[:8], [blob[i : i + 8] for i in range(8, len(blob), 8)]
    n = len(r)
    for j in reversed(range(6)):
        for i in reversed(range(n)):
            t = (n * j + i + 1).to_bytes(8, "big")
            b = decrypt(bytes(x ^ y for x, y in zip(a, t, strict=True)) + r[i])
            a, r[i] = b[:8], b[8:]
    if not hmac_compare(a, KW_IV):
        raise ValueError("the wrapped key does not unwrap under this transport key")
    return b"".join(r)


def hmac_compare(a: bytes, b: bytes) -> bool:
    import hmac as std_hmac

    return std_hmac.compare_digest(a, b)
