"""Algorithm suites over the ``cryptography`` package: ``sm`` (SM4/SM3) and ``intl`` (AES/SHA-256)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import cmac, hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sscard.security.module import ProtectedDataInvalid

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


def data_key_length(suite: str) -> int:
    return 16 if suite == "sm" else 32


def block_cipher(suite: str, key: bytes) -> algorithms.SM4 | algorithms.AES:
    return algorithms.SM4(key) if suite == "sm" else algorithms.AES(key)


def cmac_digest(suite: str, key: bytes, data: bytes) -> bytes:
    mac = cmac.CMAC(block_cipher(suite, key))
    mac.update(data)
    return mac.finalize()


def encrypt_block(suite: str, key: bytes, block: bytes) -> bytes:
    """One raw block encryption (ECB of a single block): key diversification and KCVs only."""
    enc = Cipher(block_cipher(suite, key), modes.ECB()).encryptor()  # noqa: S305 - single-block primitive
    return enc.update(block) + enc.finalize()


def key_check_value(suite: str, key: bytes) -> str:
    return encrypt_block(suite, key, b"\x00" * 16)[:3].hex().upper()
