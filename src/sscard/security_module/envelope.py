"""ECIES envelope for remote key loading: one implementation, shared with the terminal SDK.

The security module seals keys to a recipient's P-256 public key; the terminal opens them. The layout and
KDF are documented in ``sscard.terminal.envelope``, which imports only ``cryptography`` so the SDK can be
shipped alone; the server re-exports it here so the two can never drift apart.
"""

from sscard.terminal.envelope import (
    INFO,
    POINT_LEN,
    EnvelopeError,
    load_public_key,
    open_envelope,
    public_key_bytes,
    seal_envelope,
)

__all__ = [
    "INFO",
    "POINT_LEN",
    "EnvelopeError",
    "load_public_key",
    "open_envelope",
    "public_key_bytes",
    "seal_envelope",
]
