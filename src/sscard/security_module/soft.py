"""Soft backend: key objects in process memory, held keys persisted only in the sealed keystore file.

Derived keys are never written: they are recomputed from their held ancestor when first used.
Each key has one usage (``backend.Usage``), checked before every primitive as the token's attributes
are on the PKCS#11 backend: a parent only derives, a MAC key only MACs, and so on.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives import cmac, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from sscard.files import private_dir
from sscard.security_module import primitives as p
from sscard.security_module.backend import BlockFunction, KeyBackend, KeyKind, Usage, key_length, usage_of
from sscard.security_module.errors import KeyNotFound, KeyUsageInvalid
from sscard.security_module.keystore import SealedFile


@dataclass(slots=True)
class _Key:
    kind: KeyKind
    value: bytes
    exportable: bool
    held: bool
    usage: Usage


class SoftBackend(KeyBackend):
    name: ClassVar[str] = "soft"

    def __init__(self, path: Path, *, master_key: str, suite: str) -> None:
        self.suite = suite
        self.path = path
        self._file = SealedFile(path, master_key, suite)
        self._keys: dict[str, _Key] = {}
        self._blocks: dict[str, tuple[BlockFunction, BlockFunction]] = {}
        self._cmacs: dict[str, cmac.CMAC] = {}
        self._hmacs: dict[str, hmac.HMAC] = {}

    # --- directory and persistence --------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        private_dir(self.path.parent)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def read_directory(self) -> dict[str, Any] | None:
        payload = self._file.load()
        if payload is None:
            return None
        purposes = {label: entry["purpose"] for label, entry in payload["directory"].get("keys", {}).items()}
        held = {
            # Keystores written before usages were stored: the usage follows from the key's purpose.
            ref: _Key(k["kind"], bytes.fromhex(k["value"]), bool(k["exportable"]), True,
                      k.get("usage") or usage_of(purposes[ref.rpartition("@")[0]]))
            for ref, k in payload["keys"].items()
        }  # fmt: skip
        # Keep derived keys already computed; drop held keys that another process destroyed.
        self._keys = {ref: key for ref, key in self._keys.items() if not key.held} | held
        self._blocks.clear()
        self._cmacs.clear()
        self._hmacs.clear()
        directory: dict[str, Any] = payload["directory"]
        return directory

    def write_directory(self, directory: dict[str, Any]) -> None:
        keys = {
            ref: {"kind": k.kind, "value": k.value.hex(), "exportable": k.exportable, "usage": k.usage}
            for ref, k in self._keys.items()
            if k.held
        }
        self._file.save({"keys": keys, "directory": directory})

    def stamp(self) -> object:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    # --- key objects ------------------------------------------------------------------------------

    def _get(self, ref: str, kind: KeyKind | None = None, usage: tuple[Usage, ...] = ()) -> _Key:
        key = self._keys.get(ref)
        if key is None:
            raise KeyNotFound(f"key {ref} is not loaded")
        if kind is not None and key.kind != kind:
            raise KeyUsageInvalid(f"key {ref} is a {key.kind} key, not a {kind} key")
        if usage and key.usage not in usage:
            raise KeyUsageInvalid(f"key {ref} is a {key.usage} key: not for this use")
        return key

    def has(self, ref: str) -> bool:
        return ref in self._keys

    def generate(self, ref: str, kind: KeyKind, *, usage: Usage, exportable: bool) -> None:
        self._keys[ref] = _Key(kind, secrets.token_bytes(key_length(self.suite, kind)), exportable, True, usage)

    def import_clear(self, ref: str, kind: KeyKind, value: bytes, *, usage: Usage, exportable: bool) -> None:
        if len(value) != key_length(self.suite, kind):
            raise KeyUsageInvalid(f"a {kind} key of this suite is {key_length(self.suite, kind)} bytes")
        self._keys[ref] = _Key(kind, bytes(value), exportable, True, usage)

    def derive(self, parent: str, ref: str, data: bytes, *, usage: Usage, exportable: bool) -> None:
        value = p.encrypt_block(self.suite, self._get(parent, "block", ("derive",)).value, data)
        self._keys[ref] = _Key("block", value, exportable, False, usage)

    def destroy(self, ref: str) -> None:
        self._keys.pop(ref, None)
        self._cmacs.pop(ref, None)
        self._hmacs.pop(ref, None)
        self._blocks.pop(ref, None)

    def _wrap_functions(self, transport: str) -> tuple[BlockFunction, BlockFunction]:
        self._get(transport, "block", ("wrap",))
        return self._block_pair(transport)

    def wrap(self, transport: str, ref: str) -> bytes:
        encrypt, _ = self._wrap_functions(transport)
        return p.key_wrap(encrypt, self._get(ref).value)

    def unwrap(self, transport: str, ref: str, kind: KeyKind, blob: bytes, *, usage: Usage, exportable: bool) -> None:
        _, decrypt = self._wrap_functions(transport)
        self.import_clear(ref, kind, p.key_unwrap(decrypt, blob), usage=usage, exportable=exportable)

    # --- primitives -----------------------------------------------------------------------------

    def block_functions(self, ref: str) -> tuple[BlockFunction, BlockFunction]:
        self._get(ref, "block", ("pin", "data"))  # never a parent: E(parent, data) would be a child key
        return self._block_pair(ref)

    def _block_pair(self, ref: str) -> tuple[BlockFunction, BlockFunction]:
        pair = self._blocks.get(ref)
        if pair is None:
            # One ECB context per key, reused: ECB of single blocks is the raw block cipher. Sharing it
            # across threads is safe because ``cryptography`` holds the GIL for the whole update.
            primitive = Cipher(p.block_cipher(self.suite, self._get(ref, "block").value), modes.ECB())  # noqa: S305
            pair = self._blocks[ref] = (primitive.encryptor().update, primitive.decryptor().update)
        return pair

    def cmac(self, ref: str, data: bytes) -> bytes:
        template = self._cmacs.get(ref)
        if template is None:
            key = self._get(ref, "block", ("mac",))
            template = self._cmacs[ref] = cmac.CMAC(p.block_cipher(self.suite, key.value))
        mac = template.copy()
        mac.update(data)
        return mac.finalize()

    def hmac(self, ref: str, data: bytes) -> bytes:
        # A keyed template per key, copied per call (as the CMACs above): the key schedule is done once,
        # which halves the cost of an audit chain link or a blind index.
        template = self._hmacs.get(ref)
        if template is None:
            key = self._get(ref, "hmac", ("mac",))
            template = self._hmacs[ref] = hmac.HMAC(key.value, p.hash_algorithm(self.suite))
        mac = template.copy()
        mac.update(data)
        return mac.finalize()

    def aead_encrypt(self, ref: str, plaintext: bytes, aad: bytes) -> bytes:
        return p.aead_encrypt(self.suite, self._get(ref, "data", ("data",)).value, plaintext, aad)

    def aead_encrypt_many(self, ref: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        return p.aead_encrypt_many(self.suite, self._get(ref, "data", ("data",)).value, items)

    def hmac_many(self, ref: str, items: Sequence[bytes]) -> list[bytes]:
        self.hmac(ref, b"")  # builds (and checks) the keyed template once
        template = self._hmacs[ref]
        out = []
        for data in items:
            mac = template.copy()
            mac.update(data)
            out.append(mac.finalize())
        return out

    def hmac_chain(self, ref: str, prev: bytes, items: Sequence[bytes]) -> list[bytes]:
        self.hmac(ref, b"")  # builds (and checks) the keyed template once
        template = self._hmacs[ref]
        links = []
        for data in items:
            mac = template.copy()
            mac.update(prev + data)
            prev = mac.finalize()[:32]
            links.append(prev)
        return links

    def aead_decrypt(self, ref: str, blob: bytes, aad: bytes) -> bytes:
        return p.aead_decrypt(self.suite, self._get(ref, "data", ("data",)).value, blob, aad)

    def kcv(self, ref: str, kind: KeyKind) -> str:
        key = self._get(ref, kind)
        if kind == "hmac":
            return p.hmac_check_value(self.suite, key.value)
        return p.key_check_value(self.suite, key.value)  # AES-256 data keys: the same zero-block rule

    def reveal_derived(self, parent: str, data: bytes) -> bytes:
        return p.encrypt_block(self.suite, self._get(parent, "block", ("derive",)).value, data)
