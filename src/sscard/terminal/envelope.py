"""ECIES key envelope for remote key loading: a key sealed to a terminal's P-256 public key.

Layout (bytes): ephemeral public key (65, uncompressed point 04‖X‖Y) ‖ nonce (12) ‖ AES-256-GCM
ciphertext ‖ tag (16). KEK = HKDF-SHA256(ikm = ECDH shared secret (X coordinate, 32 bytes), salt =
none, info = b"sscard-key-envelope-v1" ‖ label, length 32). The ``label`` (the terminal id, ASCII) is
also the GCM associated data, so an envelope made for one terminal does not open as another's.

The server seals (inside its security module), the terminal opens. Imports only ``cryptography``, so
the SDK and the server share this one implementation.
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
NONCE_LEN = 12
TAG_LEN = 16


class EnvelopeError(ValueError):
    """The envelope is malformed or was not made for this recipient."""


def _kek(shared: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + label).derive(shared)


def public_key_bytes(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed point of ``private_key``'s public key."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def load_public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its 65-byte uncompressed point; ``EnvelopeError`` if it is not one."""
    if len(point) != POINT_LEN or point[0] != 4:
        raise EnvelopeError("the public key must be a 65-byte uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise EnvelopeError("the public key is not a point on P-256") from exc


def seal_envelope(recipient_public_key: bytes, secret: bytes, label: bytes) -> bytes:
    """Seal ``secret`` so that only the holder of the private key for ``recipient_public_key`` opens it."""
    recipient = load_public_key(recipient_public_key)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    kek = _kek(ephemeral.exchange(ec.ECDH(), recipient), label)
    nonce = os.urandom(NONCE_LEN)
    return public_key_bytes(ephemeral) + nonce + AESGCM(kek).encrypt(nonce, secret, label)


def open_envelope(private_key: ec.EllipticCurvePrivateKey, envelope: bytes, label: bytes) -> bytes:
    """The secret inside ``envelope``; ``EnvelopeError`` if it is truncated, altered or not for us."""
    if len(envelope) < POINT_LEN + NONCE_LEN + TAG_LEN:
        raise EnvelopeError("envelope is truncated")
    try:
        ephemeral = load_public_key(envelope[:POINT_LEN])
        kek = _kek(private_key.exchange(ec.ECDH(), ephemeral), label)
        nonce = envelope[POINT_LEN : POINT_LEN + NONCE_LEN]
        return AESGCM(kek).decrypt(nonce, envelope[POINT_LEN + NONCE_LEN :], label)
    except (ValueError, InvalidTag) as exc:
        raise EnvelopeError("envelope does not open with this key") from exc
