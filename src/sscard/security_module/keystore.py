"""The sealed keystore file of the soft backend, and where its master key comes from.

File layout (text, so an operator can see what it is without seeing any key)::

    SSCARD-KEYSTORE-1
    {"suite": "sm", "kdf": "scrypt", "n": 16384, "r": 8, "p": 1, "salt": "<hex>", "check": "<hex>", "nonce": "<hex>"}
    <base64 of AEAD(KEK, nonce, payload JSON, aad = the two lines above)>

KEK = scrypt(master key, salt)[0:32]; AEAD is SM4-GCM (KEK[0:16]) in the ``sm`` suite and AES-256-GCM
in ``intl``. ``check`` = HMAC-SHA-256(KEK, "sscard-keystore-check")[0:6] tells a wrong master key
(``MASTER_KEY_WRONG``) from an altered file (``KEYSTORE_TAMPERED``): any change to any byte of the
file fails one or the other, and the file is then refused, never half-read.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sscard.files import private_dir
from sscard.security_module.errors import KeystoreTampered, MasterKeyRequired, MasterKeyWrong, SuiteUnsupported

MAGIC = b"SSCARD-KEYSTORE-1"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
log = structlog.get_logger("sscard.security")


def derive_kek(master_key: str, salt: bytes, params: dict[str, int] | None = None) -> bytes:
    p = params or SCRYPT
    return Scrypt(salt=salt, length=32, n=p["n"], r=p["r"], p=p["p"]).derive(master_key.encode("utf-8"))


def _check(kek: bytes) -> str:
    return hmac.new(kek, b"sscard-keystore-check", hashlib.sha256).digest()[:6].hex()


def _aead(suite: str, kek: bytes, nonce: bytes, data: bytes, aad: bytes, *, encrypt: bool) -> bytes:
    if suite == "sm":
        if encrypt:
            enc = Cipher(algorithms.SM4(kek[:16]), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            return enc.update(data) + enc.finalize() + enc.tag
        dec = Cipher(algorithms.SM4(kek[:16]), modes.GCM(nonce, data[-16:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(data[:-16]) + dec.finalize()
    gcm = AESGCM(kek)
    return gcm.encrypt(nonce, data, aad) if encrypt else gcm.decrypt(nonce, data, aad)


class SealedFile:
    """One keystore file: the KEK is derived once per process (scrypt is deliberately slow)."""

    def __init__(self, path: Path, master_key: str, suite: str) -> None:
        self.path = path
        self.suite = suite
        self._master = master_key
        self._kek: bytes | None = None
        self._salt: bytes | None = None
        self._params: dict[str, int] | None = None

    def _kek_for(self, salt: bytes, params: dict[str, int]) -> bytes:
        # Keyed by the parameters too: a file sealed under other scrypt parameters (an older SCRYPT) is
        # re-sealed under the current ones with a KEK derived under them, never the one its load derived.
        if self._kek is None or self._salt != salt or self._params != params:
            self._kek, self._salt, self._params = derive_kek(self._master, salt, params), salt, dict(params)
        return self._kek

    def load(self) -> dict[str, Any] | None:
        """The payload, or None when the file does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            magic, header_line, body = raw.split(b"\n", 2)
            header = json.loads(header_line)
            params = {k: int(header[k]) for k in ("n", "r", "p")}
            salt, nonce = bytes.fromhex(header["salt"]), bytes.fromhex(header["nonce"])
            check = str(header["check"])
            sealed = base64.b64decode(body.strip(), validate=True)
        except (ValueError, KeyError, TypeError) as exc:
            raise KeystoreTampered(f"keystore {self.path.name} is not a sealed keystore") from exc
        if magic != MAGIC or header.get("kdf") != "scrypt":
            raise KeystoreTampered(f"keystore {self.path.name} has a wrong header")
        if header.get("suite") != self.suite:
            raise SuiteUnsupported(f"this keystore was made for the {header.get('suite')} suite, not {self.suite}")
        kek = self._kek_for(salt, params)
        if not hmac.compare_digest(_check(kek), check):
            raise MasterKeyWrong()
        try:
            plain = _aead(self.suite, kek, nonce, sealed, magic + b"\n" + header_line, encrypt=False)
            payload: dict[str, Any] = json.loads(plain)
        except (InvalidTag, ValueError) as exc:
            raise KeystoreTampered(f"keystore {self.path.name} failed its integrity check") from exc
        return payload

    def save(self, payload: dict[str, Any]) -> None:
        """Seal and replace atomically (write a 0600 temporary file, fsync, rename)."""
        salt = self._salt or secrets.token_bytes(16)
        kek = self._kek_for(salt, SCRYPT)
        nonce = secrets.token_bytes(12)
        header = {"suite": self.suite, "kdf": "scrypt", **SCRYPT, "salt": salt.hex(), "check": _check(kek)}
        header_line = json.dumps({**header, "nonce": nonce.hex()}, separators=(",", ":")).encode()
        aad = MAGIC + b"\n" + header_line
        sealed = _aead(self.suite, kek, nonce, json.dumps(payload, separators=(",", ":")).encode(), aad, encrypt=True)
        private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(aad + b"\n" + base64.b64encode(sealed) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def resolve_master_key(*, configured: str | None, env: str, keys_dir: Path, keystore_exists: bool) -> str:
    """The master key: from settings, else (dev/test) ``<data>/keys/master.key``, else a hidden prompt.

    In ``prod`` a master key file is never created: the key comes from settings or an operator.
    """
    if configured:
        return configured
    if env != "prod":
        path = keys_dir / "master.key"
        if path.exists():
            return path.read_text().strip()
        if keystore_exists:
            raise MasterKeyRequired(f"the keystore exists but {path} is missing: set SSCARD_MASTER_KEY")
        private_dir(keys_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        # Visible on purpose (one warning line on stderr): a generated master key next to the data is a
        # development convenience only.
        log.warning("security.master_key.generated", path=str(path), env=env,
                    detail="created a development master key next to the keystore; never do this in prod")  # fmt: skip
        return path.read_text().strip()
    if sys.stdin is not None and sys.stdin.isatty():
        entered = getpass.getpass("Keystore master key: ")
        if entered:
            return entered
    raise MasterKeyRequired()
