"""Argon2id hashing for staff passwords (OWASP parameters: m=19 MiB, t=2, p=1)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sscard.staff.errors import PasswordTooWeak

MIN_LENGTH = 12
MAX_LENGTH = 128


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    # Verified against when the account is unknown, so both paths take the same time.
    return hasher().hash("sscard-no-such-account-placeholder")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def check_password_policy(password: str, *, username: str) -> None:
    """Length bounds and no username inside; composition rules are deliberately absent (NIST 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise PasswordTooWeak(f"a staff password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordTooWeak(f"a staff password has at most {MAX_LENGTH} characters")
    if username and username.lower() in password.lower():
        raise PasswordTooWeak("the password must not contain the username")
    if len(set(password)) < 4:
        raise PasswordTooWeak("the password repeats too few distinct characters")
