"""The sscard terminal SDK: what a terminal vendor embeds to talk to the platform.

Depends on ``cryptography`` and ``httpx`` only — never on the server's modules — so it can be copied
into a terminal's software as is. See docs/terminal-protocol.md for the wire protocol.
"""

from sscard.terminal.client import (
    TerminalClient,
    TerminalError,
    enroll,
    generate_enrollment_key,
    split_terminal_keys,
    staff_login,
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
]
