"""PIN-1 (the initial PIN a policy rule derives) and PIN-3 (what a new PIN may not be), over a clear PIN.

Pure functions of the PIN rules (``rules/__init__.py``). Only the security module runs them
(``security_module/pinops.py``): it opens the PIN from its format-4 block, asks these rules and answers with
a reason code, so the clear PIN never leaves the module. This module imports nothing of sscard, so the
security module can use it without depending on the PIN domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

PIN_LENGTH = 6
INITIAL_RULES = ("fixed_123456", "id_last6", "birth_yymmdd")


@dataclass(frozen=True, slots=True)
class SimplicityReason:
    """Why a proposed PIN is refused (PIN-3): a stable ``code`` and a message without the PIN."""

    code: str  # LENGTH | ALL_SAME | CONSECUTIVE | BIRTH_DATE | PHONE_NUMBER | INITIAL_PIN | CURRENT_PIN | EXCLUDED
    message: str


class UnknownInitialRule(ValueError):
    """A policy names an initial PIN rule that does not exist (the module answers ``KeyInputInvalid``)."""


def initial_pin(rule: str, *, id_number: str, birth_date: date) -> str:
    """The initial PIN a policy rule derives (PIN-1): 123456, the ID's last six (X → 0), or YYMMDD."""
    if rule == "fixed_123456":
        return "123456"
    if rule == "id_last6":
        return id_number[-6:].upper().replace("X", "0")
    if rule == "birth_yymmdd":
        return birth_date.strftime("%y%m%d")
    raise UnknownInitialRule(f"unknown initial PIN rule; one of {', '.join(INITIAL_RULES)}")


def birth_date_forms(birth_date: date) -> set[str]:
    """The six-digit forms of a birth date that PIN-3 forbids: YYMMDD, MMDDYY, DDMMYY, MMDD padded."""
    mmdd = birth_date.strftime("%m%d")
    return {
        birth_date.strftime("%y%m%d"),
        birth_date.strftime("%m%d%y"),
        birth_date.strftime("%d%m%y"),
        "00" + mmdd,
        mmdd + "00",
    }


def is_consecutive(pin: str) -> bool:
    """Ascending or descending by one at every step: 123456, 654321, 345678, 987654."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({1}, {-1})


def screen_pin(
    pin: str,
    *,
    birth_date: date,
    phone: str | None,
    initial: str,
    is_current: bool,
    is_excluded: bool = False,
) -> SimplicityReason | None:
    """The first PIN-3 rule ``pin`` breaks, or None."""
    if len(pin) != PIN_LENGTH or not pin.isdigit():
        return SimplicityReason("LENGTH", "a PIN is exactly six digits")
    if len(set(pin)) == 1:
        return SimplicityReason("ALL_SAME", "all six digits are the same")
    if is_consecutive(pin):
        return SimplicityReason("CONSECUTIVE", "the digits are consecutive")
    if pin in birth_date_forms(birth_date):
        return SimplicityReason("BIRTH_DATE", "the PIN is a form of the holder's birth date")
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits and pin in digits:
        return SimplicityReason("PHONE_NUMBER", "the PIN appears in the holder's phone number")
    if pin == initial:
        return SimplicityReason("INITIAL_PIN", "the PIN is the initial PIN")
    if is_current:
        return SimplicityReason("CURRENT_PIN", "the PIN is the current PIN")
    if is_excluded:
        return SimplicityReason("EXCLUDED", "the PIN is one the holder may not reuse")
    return None
