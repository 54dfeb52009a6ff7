"""The terminal's local profile: its id, suite, key version and its two terminal keys.

A terminal holds two keys of one use each (KEY-3): the MAC key signs its requests, the PIN key
enciphers PIN blocks. Profiles written before the split held one key used for both; they are refused
(``ProfileError``), not read: that key enciphered PINs and MACed requests alike, so it must not live
on as either. The terminal is enrolled again (the demo terminal is re-keyed by ``sscard demo``), which
delivers both keys (docs/terminal-protocol.md, "Terminals keyed before the MAC/PIN split").

On a real terminal the key lives in the secure element (or the PIN pad's tamper-responsive memory)
and never leaves it; the simulator keeps it in a 0600 JSON file under
``$SSCARD_DATA_DIR/terminals/<terminal_id>.json`` so it can play a terminal on a development machine.
Treat that file like a key: don't copy it, back it up or commit it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class ProfileError(ValueError):
    """No usable profile for this terminal (missing, unreadable or malformed)."""


def key_check_value(key: bytes, suite: str) -> str:
    """KCV: the first 3 bytes of E(key, 16 zero bytes), upper-case hex (SM4 for ``sm``, AES for ``intl``)."""
    algorithm = algorithms.SM4(key) if suite == "sm" else algorithms.AES(key)
    encryptor = Cipher(algorithm, modes.ECB()).encryptor()  # noqa: S305 - one block: the KCV definition
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()


@dataclass(frozen=True)
class TerminalProfile:
    terminal_id: str
    suite: str  # "sm" or "intl"
    key_version: int
    mac_kcv: str
    pin_kcv: str
    region_code: str
    institution: str
    institution_type: str
    api_url: str
    mac_key: bytes = field(repr=False)  # never printed: signs requests only
    pin_key: bytes = field(repr=False)  # never printed: enciphers PIN blocks only

    @property
    def pin_cipher(self) -> str:
        """The PIN-block cipher of this terminal's suite: "sm4" or "aes"."""
        return "sm4" if self.suite == "sm" else "aes"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mac_key"] = self.mac_key.hex()
        data["pin_key"] = self.pin_key.hex()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TerminalProfile:
        if "key" in data and "mac_key" not in data:
            raise ProfileError(
                f"terminal profile {data.get('terminal_id', '?')} holds one key for MAC and PIN (before the "
                "MAC/PIN key split): re-key the terminal to load its two keys"
            )
        try:
            profile = cls(**{
                **data, "mac_key": bytes.fromhex(data["mac_key"]), "pin_key": bytes.fromhex(data["pin_key"]),
                "key_version": int(data["key_version"]),
            })  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"malformed terminal profile: {type(exc).__name__}") from None
        if key_check_value(profile.mac_key, profile.suite) != profile.mac_kcv:
            raise ProfileError(f"terminal profile {profile.terminal_id}: MAC key does not match its check value")
        if key_check_value(profile.pin_key, profile.suite) != profile.pin_kcv:
            raise ProfileError(f"terminal profile {profile.terminal_id}: PIN key does not match its check value")
        if profile.mac_key == profile.pin_key:
            raise ProfileError(f"terminal profile {profile.terminal_id}: the MAC and PIN keys must differ")
        return profile


def profiles_dir() -> Path:
    """``$SSCARD_DATA_DIR/terminals`` (``./var/terminals`` when the variable is unset)."""
    return Path(os.environ.get("SSCARD_DATA_DIR") or "./var") / "terminals"


def _path(terminal_id: str, directory: Path | None) -> Path:
    if not _ID.match(terminal_id):
        raise ProfileError("a terminal id is 1 to 32 letters, digits, '.', '_' or '-'")
    return (directory or profiles_dir()) / f"{terminal_id}.json"


def save_profile(profile: TerminalProfile, directory: Path | None = None) -> Path:
    """Write the profile readable by its owner only (0600), replacing any older one atomically."""
    path = _path(profile.terminal_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)  # owner-only even when it existed (the profile holds the terminal's keys)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(profile.to_json(), fh, indent=2)
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode under O_CREAT
    os.replace(tmp, path)
    return path


def load_profile(terminal_id: str, directory: Path | None = None) -> TerminalProfile:
    """Read the profile of ``terminal_id``; ``ProfileError`` if there is none or it is damaged."""
    path = _path(terminal_id, directory)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"no profile for terminal {terminal_id} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read the profile of terminal {terminal_id}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ProfileError("malformed terminal profile")
    return TerminalProfile.from_json(data)
