"""Verification codes (INS-4): 20 Crockford base32 characters, 100 random bits, printed in groups of four.

The database keeps only the code's SHA-256 for the lookup (a 100-bit random code cannot be recovered
from its hash) and the code sealed for reprinting; a code is never logged. Input is forgiving the way
Crockford's alphabet intends: case, dashes and spaces are ignored, O reads as 0, I and L as 1.
"""

from __future__ import annotations

import hashlib
import secrets

from sscard.statements.errors import StatementCodeInvalid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH = 20  # 20 x 5 = 100 bits (the brief asks for at least 80)
BITS = LENGTH * 5
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh code from the operating system's CSPRNG, grouped ``XXXX-XXXX-XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return group(raw)


def group(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


def normalise(text: str) -> str:
    """The 20 characters of a code as typed; ``StatementCodeInvalid`` when it cannot be one."""
    raw = "".join((text or "").split()).replace("-", "").upper().translate(_READ_AS)
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        raise StatementCodeInvalid()
    return raw


def code_digest(text: str) -> bytes:
    """The lookup key of a code (SHA-256 of its normalised form)."""
    return hashlib.sha256(b"sscard/statement-code/" + normalise(text).encode()).digest()
