"""Algorithm suites over the ``cryptography`` package: ``sm`` (SM4/SM3) and ``intl`` (AES/SHA-256)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
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
