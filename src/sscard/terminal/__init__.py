"""The sscard terminal SDK: what a terminal vendor embeds to talk to the platform.

Depends on ``cryptography`` and ``httpx`` only — never on the server's modules — so it can be copied
into a terminal's software as is. See docs/terminal-protocol.md for the wire protocol.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is loaded from its module on first use (PEP 562): the server imports only the protocol and
# PIN block modules, and a CLI start does not pay for httpx (the client), which it rarely needs.
_WHERE = {
    "TerminalClient": "client",
    "TerminalError": "client",
    "enroll": "client",
    "generate_enrollment_key": "client",
    "split_terminal_keys": "client",
    "staff_login": "client",
    "staff_logout": "client",
    "EnvelopeError": "envelope",
    "open_envelope": "envelope",
    "PIN_BLOCK_MALFORMED": "pinblock",
    "PinBlockError": "pinblock",
    "decipher_pin_block": "pinblock",
    "decipher_pin_block_with": "pinblock",
    "encipher_pin_block": "pinblock",
    "encipher_pin_block_with": "pinblock",
    "pin_block_pan": "pinblock",
    "ProfileError": "profile",
    "TerminalProfile": "profile",
    "load_profile": "profile",
    "profiles_dir": "profile",
    "save_profile": "profile",
    "ProtocolError": "protocol",
    "canonical_request": "protocol",
    "sign_request": "protocol",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found once; later uses are a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:
    from sscard.terminal.client import (
        TerminalClient,
        TerminalError,
        enroll,
        generate_enrollment_key,
        split_terminal_keys,
        staff_login,
        staff_logout,
    )
    from sscard.terminal.envelope import EnvelopeError, open_envelope
    from sscard.terminal.pinblock import (
        PIN_BLOCK_MALFORMED,
        PinBlockError,
        decipher_pin_block,
        decipher_pin_block_with,
        encipher_pin_block,
        encipher_pin_block_with,
        pin_block_pan,
    )
    from sscard.terminal.profile import ProfileError, TerminalProfile, load_profile, profiles_dir, save_profile
    from sscard.terminal.protocol import ProtocolError, canonical_request, sign_request

__all__ = [
    "PIN_BLOCK_MALFORMED",
    "EnvelopeError",
    "PinBlockError",
    "ProfileError",
    "ProtocolError",
    "TerminalClient",
    "TerminalError",
    "TerminalProfile",
    "canonical_request",
    "decipher_pin_block",
    "decipher_pin_block_with",
    "encipher_pin_block",
    "encipher_pin_block_with",
    "enroll",
    "generate_enrollment_key",
    "load_profile",
    "open_envelope",
    "pin_block_pan",
    "profiles_dir",
    "save_profile",
    "split_terminal_keys",
    "sign_request",
    "staff_login",
    "staff_logout",
]
