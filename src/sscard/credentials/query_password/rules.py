"""The query-password rules that need no database: initial password, strength, temporary password.

QPW-1: the initial password is the last 8 characters of the 18-character ID with X → 0, derived when
needed and never stored. QPW-6: a new password has the policy's length and is not common or built
from what an attacker may know of the holder (ID digits, birth date, name pinyin, phone, e-mail);
there are deliberately no composition rules (NIST SP 800-63B 5.1.1.2). QPW-5: a temporary password
is random, never derived from personal data.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources

from sscard.credentials.query_password.errors import PasswordWeak
from sscard.credentials.query_password.hashing import normalise
from sscard.policy.schemas import InitialQueryPasswordRule, RegionalPolicy

# No look-alikes (0/O, 1/l/I): a temporary password is read off a phone and typed by hand, in three
# groups of four (``Ab3d-Ef5h-Jk7m``). The shape is the temporary password's own: no password a holder
# chooses may have it, so a login can tell from what was typed which one credential to check (one
# Argon2id verification per login, whatever the account holds: service._verify_current).
TEMP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
TEMP_GROUPS, TEMP_GROUP_LENGTH = 3, 4  # 12 × log2(55) ≈ 69 bits
_TEMP_SHAPE = re.compile(
    rf"[{TEMP_ALPHABET}]{{{TEMP_GROUP_LENGTH}}}(?:-[{TEMP_ALPHABET}]{{{TEMP_GROUP_LENGTH}}}){{{TEMP_GROUPS - 1}}}"
)

_KEYBOARD_ROWS = (
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb",
    "abcdefghijklmnopqrstuvwxyz",
)


def initial_query_password(
    id_number: str, rule: InitialQueryPasswordRule = InitialQueryPasswordRule.ID_LAST8_X0
) -> str:
    """QPW-1: the initial password of an 18-character (already validated) ID number."""
    if rule is InitialQueryPasswordRule.ID_LAST8_X0:
        return id_number.upper()[-8:].replace("X", "0")
    raise ValueError(f"unknown initial password rule {rule}")  # pragma: no cover - one rule so far


def new_temporary_password() -> str:
    """QPW-5: a random temporary password (never derived from personal data), in its own shape."""
    groups = ("".join(secrets.choice(TEMP_ALPHABET) for _ in range(TEMP_GROUP_LENGTH)) for _ in range(TEMP_GROUPS))
    return "-".join(groups)


def looks_temporary(password: str) -> bool:
    """Whether ``password`` has the temporary password's shape (which no chosen password may have)."""
    return _TEMP_SHAPE.fullmatch(password.strip()) is not None


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped blocklist of common passwords (lower case)."""
    text = resources.files("sscard.credentials.query_password").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def name_pinyin(name: str) -> list[str]:
    """The syllables of a Chinese name in pinyin, without tones (``张伟`` → ``["zhang", "wei"]``)."""
    from pypinyin import lazy_pinyin

    return [s.lower() for s in lazy_pinyin(name.strip()) if s.strip().isascii() and s.strip().isalpha()]


@dataclass(frozen=True)
class HolderContext:
    """What an attacker may know of the holder: refused as (part of) a new password."""

    id_number: str
    birth_date: date | None = None
    name: str = ""
    phone: str | None = None
    email: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)

    def initial_password(self) -> str:
        return initial_query_password(self.id_number)


def _birth_forms(born: date) -> set[str]:
    y, yy, m, d = f"{born:%Y}", f"{born:%y}", f"{born:%m}", f"{born:%d}"
    return {y + m + d, yy + m + d, m + d + yy, d + m + yy, m + d + y, d + m + y}


def _is_repetitive(pw: str) -> bool:
    if len(set(pw)) <= 2:
        return True
    # A short unit repeated: "abcabcabc", "12121212", "woaiwoai".
    return any(len(pw) % n == 0 and pw == pw[:n] * (len(pw) // n) for n in range(1, 5))


def _is_sequence(pw: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(pw, pw[1:], strict=False)}
    if steps in ({1}, {-1}):
        return True
    for row in _KEYBOARD_ROWS:
        doubled, backwards = row + row, (row + row)[::-1]
        if pw in doubled or pw in backwards:
            return True
    return False


def _strip_ends(pw: str) -> str:
    return re.sub(r"^[\d\W_]+|[\d\W_]+$", "", pw)


def check_new_password(password: str, *, policy: RegionalPolicy, context: HolderContext) -> None:
    """QPW-6: raise ``PASSWORD_WEAK`` with a ``reason`` when the new password breaks a rule."""
    pw = normalise(password)
    if len(pw) < policy.password_min_length:
        raise PasswordWeak(f"use at least {policy.password_min_length} characters", reason="too_short")
    if len(pw) > policy.password_max_length:
        raise PasswordWeak(f"use at most {policy.password_max_length} characters", reason="too_long")
    if looks_temporary(pw):
        raise PasswordWeak("choose a password of your own, not one shaped like a temporary password",
                           reason="temporary_shape")  # fmt: skip
    low = pw.lower()
    digits = re.sub(r"\D", "", low)
    letters = re.sub(r"[^a-z]", "", low)

    initial = context.initial_password()
    if initial in low or initial in digits:
        raise PasswordWeak("the password must not contain the initial password", reason="initial_password")
    number = context.id_number.lower()
    id_parts = {number, number[:17], number[-8:], number[-6:], number[-6:].replace("x", "0")}
    if any(part in low for part in id_parts) or number[:17] in digits:
        raise PasswordWeak("the password must not contain your ID number", reason="id_number")
    if context.birth_date is not None and any(form in digits for form in _birth_forms(context.birth_date)):
        raise PasswordWeak("the password must not contain your birth date", reason="birth_date")
    if context.phone:
        phone = re.sub(r"\D", "", context.phone)
        if phone and (phone in digits or (len(phone) >= 8 and phone[-8:] in digits)):
            raise PasswordWeak("the password must not contain your phone number", reason="phone")
    syllables = name_pinyin(context.name) if context.name else []
    if syllables:
        full = "".join(syllables)
        forms = {full, "".join(syllables[1:]) + syllables[0], syllables[0], "".join(syllables[1:])}
        forms.add("".join(s[0] for s in syllables))
        if (len(full) >= 5 and full in low) or (letters and letters in forms):
            raise PasswordWeak("the password must not be made of your name", reason="name")
    if context.email:
        local = context.email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in low:
            raise PasswordWeak("the password must not contain your e-mail address", reason="email")
    words = common_passwords()
    stripped = _strip_ends(low)
    if low in words or (len(stripped) >= 4 and stripped in words):
        raise PasswordWeak("this password is too common", reason="common")
    if _is_repetitive(low):
        raise PasswordWeak("the password repeats too few characters", reason="repetitive")
    if _is_sequence(low):
        raise PasswordWeak("the password is a sequence of consecutive characters or keys", reason="sequence")
    for word in context.extra:
        if len(word) >= 4 and word.lower() in low:
            raise PasswordWeak("the password must not contain words of this site", reason="context")
