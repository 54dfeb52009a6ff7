"""PIN operations of the module (PIN-11): format-4 blocks are opened, checked and re-enciphered here.

The block cipher runs in the backend (inside the token for ``pkcs11``); the format-4 unmasking
(XOR with the PAN field) and the field checks are ``sscard.terminal.pinblock``'s pure functions run
with the backend's block functions, so the same code serves both backends and every terminal.

The rules a clear PIN is checked against (PIN-1 initial PIN, PIN-3 simplicity) are not the module's:
they live with the other PIN rules in ``credentials/pin/rules/simplicity.py``; the module opens the
block and asks them, so the clear PIN never leaves it.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from sscard.credentials.pin.rules.simplicity import SimplicityReason, UnknownInitialRule, initial_pin, screen_pin
from sscard.security_module.backend import key_ref
from sscard.security_module.core import ModuleCore
from sscard.security_module.directory import ACTIVE
from sscard.security_module.errors import KeyInputInvalid, KeyUsageInvalid, PinBlockInvalid
from sscard.terminal.pinblock import (
    BLOCK_LEN,
    PinBlockError,
    decode_pin_field,
    encipher_pin_block_with,
    encode_pan_field,
)

PVK = "PVK"
PVV_LEN = 8
PVV_DOMAIN = b"PVV1\x1f"


@lru_cache(maxsize=65536)
def _card_fields(pan: str) -> tuple[int, bytes]:
    """(format-4 PAN field as an integer, PVV message prefix) of a card: cached; invalid PANs raise."""
    return int.from_bytes(encode_pan_field(pan), "big"), PVV_DOMAIN + pan.encode("ascii") + b"\x1f"


def _initial_pin(rule: str, id_number: str, birth_date: date) -> str:
    try:
        return initial_pin(str(rule), id_number=id_number, birth_date=birth_date)
    except UnknownInitialRule as exc:
        raise KeyInputInvalid(str(exc)) from None


class PinOperations(ModuleCore):
    def _open_pin_block(self, terminal_id: str, region_code: str, key_version: int, pan: str, block: bytes) -> str:
        if (type(block) is not bytes and not isinstance(block, bytearray)) or len(block) != BLOCK_LEN:
            raise PinBlockInvalid("a format-4 PIN block is 16 bytes", reason="length")
        decrypt = self._terminal(terminal_id, region_code, key_version)[3][1]
        try:
            # ISO 9564-1 format 4 as ``pinblock.decipher_pin_block_with`` (same checks, same fields from
            # that module), with the XOR on integers and the PAN field cached: this is the PIN hot path.
            pan_field = _card_fields(pan)[0]
            intermediate = (int.from_bytes(decrypt(bytes(block)), "big") ^ pan_field).to_bytes(BLOCK_LEN, "big")
            return decode_pin_field(decrypt(intermediate))
        except PinBlockError as exc:
            raise PinBlockInvalid(str(exc), reason=exc.reason) from None

    def _pvv(self, pan: str, pin: str, pvk_version: int) -> bytes:
        ref = f"{PVK}@{pvk_version}"
        if self._states.get(ref) != ACTIVE:  # cached after the first full check; cleared on any change
            self._usable(PVK, pvk_version)
            self._load(PVK, pvk_version)
        return self.backend.cmac(ref, _card_fields(pan)[1] + pin.encode("ascii"))[:PVV_LEN]

    def _pvv_matches(self, pan: str, pin: str, pvv: bytes | None, pvk_version: int | None) -> bool:
        if pvv is None or pvk_version is None:
            return False
        return hmac.compare_digest(self._pvv(pan, pin, pvk_version), bytes(pvv))

    def pin_verification_value(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes
    ) -> tuple[bytes, int]:
        pin = self._open_pin_block(terminal_id, region_code, key_version, pan, pin_block)
        version = self._usable(PVK).current
        return self._pvv(pan, pin, version), version

    def verify_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        pvv: bytes, pvk_version: int,
    ) -> bool:  # fmt: skip
        pin = self._open_pin_block(terminal_id, region_code, key_version, pan, pin_block)
        ref = f"{PVK}@{pvk_version}"
        if self._states.get(ref) != ACTIVE:  # the PVV check of ``_pvv``, inlined: the PIN hot path
            self._usable(PVK, pvk_version)
            self._load(PVK, pvk_version)
        mac = self.backend.cmac(ref, _card_fields(pan)[1] + pin.encode("ascii"))
        return hmac.compare_digest(mac[:PVV_LEN], bytes(pvv))

    def verify_initial_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        initial_rule: str, id_number: str, birth_date: date,
    ) -> bool:  # fmt: skip
        pin = self._open_pin_block(terminal_id, region_code, key_version, pan, pin_block)
        expected = _initial_pin(initial_rule, id_number, birth_date)
        return hmac.compare_digest(pin.encode(), expected.encode())

    def screen_new_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        initial_rule: str, id_number: str, birth_date: date, phone: str | None,
        current_pvv: bytes | None, current_pvk_version: int | None,
        excluded_pvvs: Sequence[tuple[bytes, int]] = (),
    ) -> SimplicityReason | None:  # fmt: skip
        pin = self._open_pin_block(terminal_id, region_code, key_version, pan, pin_block)
        return screen_pin(
            pin,
            birth_date=birth_date,
            phone=phone,
            initial=_initial_pin(initial_rule, id_number, birth_date),
            is_current=self._pvv_matches(pan, pin, current_pvv, current_pvk_version),
            is_excluded=any(self._pvv_matches(pan, pin, pvv, version) for pvv, version in excluded_pvvs),
        )

    def translate_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        zone_key: str, zone_key_version: int | None = None,
    ) -> tuple[bytes, int]:  # fmt: skip
        pin = self._open_pin_block(terminal_id, region_code, key_version, pan, pin_block)
        entry = self._usable(zone_key, zone_key_version)
        if entry.purpose != "zone_pin":
            raise KeyUsageInvalid(f"{zone_key} is not a zone PIN key")
        version = entry.current if zone_key_version is None else zone_key_version
        self._load(zone_key, version)
        encrypt, _ = self.backend.block_functions(key_ref(zone_key, version))
        return encipher_pin_block_with(encrypt, pin, pan), version
