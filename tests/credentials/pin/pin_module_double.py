"""A stand-in for the security module's PIN operations, used ONLY while the real ones have not landed.

The PIN package calls four operations of the security module (``credentials/pin/crypto.py``). Until
the module implements them, these tests wrap the real key-file module (same terminal keys, same
audit MAC) with this reference behaviour, so the PIN services, routes and simulator can be tested.
``conftest.py`` installs it only when the real module lacks the operations: once they land, the
tests run against the real module and this file can go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sscard.security.primitives import cmac_digest
from sscard.terminal.pinblock import PinBlockError, decipher_pin_block

PIN_OPERATIONS = ("verify_pin_block", "verify_initial_pin_block", "pin_verification_value", "screen_new_pin_block")


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


def _initial(initial_rule: str, id_number: str, birth_date: date) -> str:
    if initial_rule == "id_last6":
        return id_number[-6:].replace("X", "0")
    if initial_rule == "birth_yymmdd":
        return birth_date.strftime("%y%m%d")
    return "123456"


def _consecutive(pin: str) -> bool:
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({1}, {-1})


class PinModuleDouble:
    def __init__(self, real: Any) -> None:
        self._real = real
        self._pvk = b"\x5a" * 16

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _open(self, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes) -> str | None:
        key = self._real._terminal_key(terminal_id, region_code, key_version)
        try:
            return decipher_pin_block(key, pin_block, pan, cipher="sm4" if self._real.suite == "sm" else "aes")
        except PinBlockError:
            return None

    def _pvv(self, pan: str, pin: str) -> bytes:
        return cmac_digest(self._real.suite, self._pvk, f"{pan}|{pin}".encode())[:8]

    def verify_pin_block(self, *, pvv: bytes, pvk_version: int, pin_block: bytes, pan: str, **src: Any) -> bool:
        pin = self._open(pan=pan, pin_block=pin_block, **src)
        return pin is not None and self._pvv(pan, pin) == pvv

    def verify_initial_pin_block(self, *, pin_block: bytes, pan: str, initial_rule: str, id_number: str,
                                 birth_date: date, **src: Any) -> bool:  # fmt: skip
        return self._open(pan=pan, pin_block=pin_block, **src) == _initial(initial_rule, id_number, birth_date)

    def pin_verification_value(self, *, pin_block: bytes, pan: str, **src: Any) -> tuple[bytes, int]:
        pin = self._open(pan=pan, pin_block=pin_block, **src)
        if pin is None:
            raise ValueError("malformed PIN block")
        return self._pvv(pan, pin), 1

    def screen_new_pin_block(self, *, pin_block: bytes, pan: str, initial_rule: str, id_number: str, birth_date: date,
                             phone: str | None, current_pvv: bytes | None, current_pvk_version: int | None,
                             **src: Any) -> Reason | None:  # fmt: skip
        pin = self._open(pan=pan, pin_block=pin_block, **src)
        if pin is None or len(pin) != 6:
            return Reason("LENGTH", "a PIN is exactly 6 digits")
        if len(set(pin)) == 1:
            return Reason("ALL_SAME", "all six digits are the same")
        if _consecutive(pin):
            return Reason("CONSECUTIVE", "the digits are consecutive")
        forms = {birth_date.strftime(f) for f in ("%y%m%d", "%m%d%y", "%d%m%y")}
        if pin in forms:
            return Reason("BIRTH_DATE", "the PIN is the holder's birth date")
        if phone and pin in phone:
            return Reason("PHONE_NUMBER", "the PIN appears in the holder's phone number")
        if pin == _initial(initial_rule, id_number, birth_date):
            return Reason("INITIAL_PIN", "the PIN is the initial PIN")
        if current_pvv is not None and self._pvv(pan, pin) == current_pvv:
            return Reason("CURRENT_PIN", "the PIN is the current PIN")
        return None
