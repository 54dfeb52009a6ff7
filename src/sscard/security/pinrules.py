"""PIN-1 and PIN-3 over a clear PIN — run only inside the security module, never by a caller.

The module opens the proposed PIN from its format-4 block, checks it here and answers with a
reason code, so the clear PIN never leaves the module.
"""

from __future__ import annotations

from datetime import date

from sscard.security.errors import KeyInputInvalid
from sscard.security.module import PinScreenReason

PIN_LENGTH = 6
INITIAL_RULES = ("fixed_123456", "id_last6", "birth_yymmdd")


def initial_pin(rule: str, *, id_number: str, birth_date: date) -> str:
    """The initial PIN a policy rule derives (PIN-1): 123456, the ID's last six (X → 0), or YYMMDD."""
    if rule == "fixed_123456":
        return "123456"
    if rule == "id_last6":
        return id_number[-6:].upper().replace("X", "0")
    if rule == "birth_yymmdd":
        return birth_date.strftime("%y%m%d")
    raise KeyInputInvalid(f"unknown initial PIN rule; one of {', '.join(INITIAL_RULES)}")


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
) -> PinScreenReason | None:
    """The first PIN-3 rule ``pin`` breaks, or None."""
    if len(pin) != PIN_LENGTH or not pin.isdigit():
        return PinScreenReason("LENGTH", "a PIN is exactly six digits")
    if len(set(pin)) == 1:
        return PinScreenReason("ALL_SAME", "all six digits are the same")
    if is_consecutive(pin):
        return PinScreenReason("CONSECUTIVE", "the digits are consecutive")
    if pin in birth_date_forms(birth_date):
        return PinScreenReason("BIRTH_DATE", "the PIN is a form of the holder's birth date")
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits and pin in digits:
        return PinScreenReason("PHONE_NUMBER", "the PIN appears in the holder's phone number")
    if pin == initial:
        return PinScreenReason("INITIAL_PIN", "the PIN is the initial PIN")
    if is_current:
        return PinScreenReason("CURRENT_PIN", "the PIN is the current PIN")
    if is_excluded:
        return PinScreenReason("EXCLUDED", "the PIN is one the holder may not reuse")
    return None
