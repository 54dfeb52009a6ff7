"""Bootstrap backend: keys in a 0600 file under the data dir, created on first run.

This is the foundation's interim key store (the sealed keystore and PKCS#11 backends replace it);
the file is never committed (``var/`` is git-ignored) and its contents never logged.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from sscard.security.envelope import seal_envelope
from sscard.security.module import ProtectedDataInvalid, SecurityModule
from sscard.security.primitives import (
    aead_decrypt,
    aead_encrypt,
    cmac_digest,
    data_key_length,
    hmac_digest,
    key_check_value,
)

FORMAT_VERSION = 1


class KeyFileModule(SecurityModule):
    def __init__(self, path: Path, suite: str = "sm") -> None:
        self.suite = suite
        self._path = path
        keys = self._load_or_create(path)
        self._data_key = bytes.fromhex(keys["data_key"])
        self._index_key = bytes.fromhex(keys["index_key"])
        self._audit_key = bytes.fromhex(keys["audit_key"])
        self._key_version = int(keys.get("data_key_version", 1))
        self._terminal_master = bytes.fromhex(keys["terminal_master_key"])

    def _load_or_create(self, path: Path) -> dict[str, str]:
        if path.exists():
            data: dict[str, str] = json.loads(path.read_text())
            if data.get("suite", self.suite) != self.suite:
                raise ProtectedDataInvalid(f"key file {path} was made for suite {data.get('suite')}")
            return data
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = {
            "format": str(FORMAT_VERSION),
            "suite": self.suite,
            "data_key_version": "1",
            "data_key": secrets.token_hex(data_key_length(self.suite)),
            "index_key": secrets.token_hex(32),
            "audit_key": secrets.token_hex(32),
            "terminal_master_key": secrets.token_hex(16),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(keys, fh)
        return keys

    def encrypt_field(self, plaintext: bytes, *, context: bytes) -> bytes:
        header = self._key_version.to_bytes(2, "big")
        return header + aead_encrypt(self.suite, self._data_key, plaintext, header + context)

    def decrypt_field(self, token: bytes, *, context: bytes) -> bytes:
        header = token[:2]
        if int.from_bytes(header, "big") != self._key_version:
            raise ProtectedDataInvalid("protected value uses an unknown data-key version")
        return aead_decrypt(self.suite, self._data_key, token[2:], header + context)

    def blind_index(self, value: bytes, *, purpose: str) -> bytes:
        return hmac_digest(self.suite, self._index_key, purpose.encode() + b"\x00" + value)

    def audit_mac(self, data: bytes) -> bytes:
        return hmac_digest(self.suite, self._audit_key, data)

    def _terminal_key(self, terminal_id: str, region_code: str, key_version: int) -> bytes:
        # Diversification: CMAC(master, region ‖ terminal ‖ version) — one 16-byte block cipher key.
        data = f"{region_code}|{terminal_id}|{key_version}".encode()
        return cmac_digest(self.suite, self._terminal_master, data)

    def terminal_mac(self, *, terminal_id: str, region_code: str, key_version: int, data: bytes) -> bytes:
        return cmac_digest(self.suite, self._terminal_key(terminal_id, region_code, key_version), data)

    def export_terminal_key(
        self, *, terminal_id: str, region_code: str, key_version: int, recipient_public_key: bytes
    ) -> bytes:
        key = self._terminal_key(terminal_id, region_code, key_version)
        return seal_envelope(recipient_public_key, key, terminal_id.encode())

    def terminal_key_check_value(self, *, terminal_id: str, region_code: str, key_version: int) -> str:
        return key_check_value(self.suite, self._terminal_key(terminal_id, region_code, key_version))
