"""ECIES envelope for remote key loading: a key sealed to a recipient's P-256 public key.

Layout: ephemeral public key (65 bytes, uncompressed point) ‖ nonce (12) ‖ AES-256-GCM(ciphertext ‖ tag).
KEK = HKDF-SHA256(ECDH shared secret, info = b"sscard-key-envelope-v1" ‖ label). The ``label`` (e.g.
the terminal id) is also the AEAD associated data, so an envelope made for one terminal does not
open as another's. The terminal SDK opens envelopes with ``open_envelope``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"sscard-key-envelope-v1"
POINT_LEN = 65


class EnvelopeError(ValueError):
    """The envelope is malformed or was not made for this recipient."""


def _kek(shared: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + label).derive(shared)


def public_key_bytes(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def seal_envelope(recipient_public_key: bytes, secret: bytes, label: bytes) -> bytes:
    try:
        recipient = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), recipient_public_key)
    except ValueError as exc:
        raise EnvelopeError("recipient public key is not a P-256 point") from exc
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    kek = _kek(ephemeral.exchange(ec.ECDH(), recipient), label)
    nonce = os.urandom(12)
    return public_key_bytes(ephemeral) + nonce + AESGCM(kek).encrypt(nonce, secret, label)


def open_envelope(private_key: ec.EllipticCurvePrivateKey, envelope: bytes, label: bytes) -> bytes:
    if len(envelope) < POINT_LEN + 12 + 16:
        raise EnvelopeError("envelope is truncated")
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), envelope[:POINT_LEN])
        kek = _kek(private_key.exchange(ec.ECDH(), ephemeral), label)
        nonce = envelope[POINT_LEN : POINT_LEN + 12]
        return AESGCM(kek).decrypt(nonce, envelope[POINT_LEN + 12 :], label)
    except (ValueError, InvalidTag) as exc:
        raise EnvelopeError("envelope does not open with this key") from exc
