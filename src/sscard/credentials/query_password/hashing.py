"""Argon2id for query passwords and temporary passwords (QPW-6), with the policy's parameters.

Defaults m=19 MiB, t=2, p=1 (OWASP). A hash made with other parameters still verifies (they are in
the hash string); ``needs_rehash`` says when login should upgrade it to the policy's current ones.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sscard.policy.schemas import RegionalPolicy


def normalise(password: str) -> str:
    """NFKC, so the same password typed on another keyboard or input method is the same string."""
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=16)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
    )


def hasher_for(policy: RegionalPolicy) -> PasswordHasher:
    """The Argon2id hasher with the policy's parameters (cached per parameter set)."""
    return _hasher(policy.password_hash_memory_kib, policy.password_hash_time_cost, policy.password_hash_parallelism)


@lru_cache(maxsize=16)
def _dummy(memory_kib: int, time_cost: int, parallelism: int) -> str:
    return _hasher(memory_kib, time_cost, parallelism).hash("sscard-no-such-credential")


# Argon2id verifications every portal login spends, whatever the account (service._verify_current):
# the one credential the typed password's shape selects, or a dummy hash when there is none.
LOGIN_VERIFICATIONS = 1


def burn_verification(policy: RegionalPolicy, *, times: int = 1) -> None:
    """Spend ``times`` verifications' time for nothing, so every login path costs the same (no timing oracle)."""
    params = (policy.password_hash_memory_kib, policy.password_hash_time_cost, policy.password_hash_parallelism)
    for _ in range(times):
        verify(hasher_for(policy), _dummy(*params), "sscard-timing-equaliser")


def hash_password(policy: RegionalPolicy, password: str) -> str:
    return hasher_for(policy).hash(normalise(password))


def verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_password(policy: RegionalPolicy, password_hash: str, password: str) -> bool:
    return verify(hasher_for(policy), password_hash, password)


def needs_rehash(policy: RegionalPolicy, password_hash: str) -> bool:
    try:
        return hasher_for(policy).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
