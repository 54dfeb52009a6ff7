"""What a key backend does: hold key objects by reference and run primitives with them.

A backend never decides policy (states, versions, hierarchy); ``hsm.HierarchyModule`` does, over
either backend. Key references are ``"<label>@<version>"``. Kinds of key:

- ``block``: a 16-byte block-cipher key (SM4 or AES-128): hierarchy, terminal, card, PVK, zone and
  transport keys — raw block encryption, CMAC, child derivation, key wrapping.
- ``data``: the field AEAD key (SM4-GCM with 16 bytes, AES-256-GCM with 32 bytes).
- ``hmac``: a 32-byte HMAC key (HMAC-SM3 / HMAC-SHA-256): blind index and audit chain.

Every key also has exactly one usage (KEY-3, PCI PIN 18-3): ``derive`` (a parent of the hierarchy:
child derivation only), ``mac`` (CMAC / HMAC only), ``pin`` (PIN-block encipherment only),
``data`` (data encryption only) or ``wrap`` (key wrapping only). Both backends refuse any other use:
the PKCS#11 backend through the key object's attributes, the soft backend in software.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Literal

KeyKind = Literal["block", "data", "hmac"]
Usage = Literal["derive", "mac", "pin", "data", "wrap"]
# The single usage of each key purpose (``diversify`` lists the purposes).
USAGE_OF_PURPOSE: dict[str, Usage] = {
    "root": "derive", "region": "derive", "terminal_master": "derive", "card_master": "derive",
    "terminal_mac": "mac", "terminal_pin": "pin", "card": "mac",
    "pvk": "mac", "index": "mac", "audit": "mac", "audit_anchor": "mac",
    "zone_pin": "pin", "data": "data", "local": "data", "transport": "wrap",
}  # fmt: skip


def usage_of(purpose: str) -> Usage:
    return USAGE_OF_PURPOSE[purpose]


BlockFunction = Callable[[bytes], bytes]
ZERO_BLOCK = b"\x00" * 16


def key_ref(label: str, version: int) -> str:
    return f"{label}@{version}"


def key_length(suite: str, kind: KeyKind) -> int:
    if kind == "hmac":
        return 32
    if kind == "data":
        return 16 if suite == "sm" else 32
    return 16


class KeyBackend(ABC):
    """Key storage and primitives; soft (sealed file) or PKCS#11 (token objects)."""

    name: ClassVar[str]
    suite: str

    # --- the directory: key metadata and states, stored with the keys -------------------------

    def device_serial(self) -> str | None:
        """The serial number the device itself reports (a PKCS#11 token's), or None (KEY-4)."""
        return None

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Exclusive lock across processes for a read-modify-write of the directory."""

    @abstractmethod
    def read_directory(self) -> dict[str, Any] | None:
        """The stored directory (re-read from storage); None for a new, empty store."""

    @abstractmethod
    def write_directory(self, directory: dict[str, Any]) -> None:
        """Store the directory together with every held key (atomically where the store allows)."""

    @abstractmethod
    def stamp(self) -> object:
        """A cheap value that changes when another process rewrote the store."""

    # --- key objects ----------------------------------------------------------------------------

    @abstractmethod
    def has(self, ref: str) -> bool:
        """True when the key object is loaded (held, or derived in this process)."""

    @abstractmethod
    def generate(self, ref: str, kind: KeyKind, *, usage: Usage, exportable: bool) -> None:
        """Create a random held key inside the backend."""

    @abstractmethod
    def import_clear(self, ref: str, kind: KeyKind, value: bytes, *, usage: Usage, exportable: bool) -> None:
        """Load a held key formed from ceremony components (the only clear key input)."""

    @abstractmethod
    def derive(self, parent: str, ref: str, data: bytes, *, usage: Usage, exportable: bool) -> None:
        """child = E(parent, data) inside the backend (``parent`` must be a ``derive`` key)."""

    @abstractmethod
    def destroy(self, ref: str) -> None:
        """Remove a key object (idempotent)."""

    @abstractmethod
    def wrap(self, transport: str, ref: str) -> bytes:
        """``ref`` wrapped under the transport key (RFC 3394 key wrap with the suite's block cipher)."""

    @abstractmethod
    def unwrap(self, transport: str, ref: str, kind: KeyKind, blob: bytes, *, usage: Usage, exportable: bool) -> None:
        """Load a held key from a wrapped blob; ``ValueError`` when it does not unwrap."""

    # --- primitives -----------------------------------------------------------------------------

    @abstractmethod
    def block_functions(self, ref: str) -> tuple[BlockFunction, BlockFunction]:
        """(encrypt, decrypt) of one 16-byte block under a ``block`` key."""

    @abstractmethod
    def cmac(self, ref: str, data: bytes) -> bytes:
        """16-byte CMAC (SM4 or AES)."""

    @abstractmethod
    def hmac(self, ref: str, data: bytes) -> bytes:
        """32-byte HMAC (SM3 or SHA-256)."""

    @abstractmethod
    def aead_encrypt(self, ref: str, plaintext: bytes, aad: bytes) -> bytes:
        """nonce (12) ‖ ciphertext ‖ tag (16) under a ``data`` key."""

    def aead_encrypt_many(self, ref: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """``aead_encrypt`` of many ``(plaintext, aad)`` pairs under one key (a backend may batch)."""
        return [self.aead_encrypt(ref, plaintext, aad) for plaintext, aad in items]

    def hmac_many(self, ref: str, items: Sequence[bytes]) -> list[bytes]:
        """``hmac`` of many messages under one key (a backend may batch)."""
        return [self.hmac(ref, data) for data in items]

    def hmac_chain(self, ref: str, prev: bytes, items: Sequence[bytes]) -> list[bytes]:
        """Chained ``hmac``s under one key: link i = ``hmac(link i-1 ‖ items[i])[:32]``, link -1 = ``prev``."""
        links = []
        for data in items:
            prev = self.hmac(ref, prev + data)[:32]
            links.append(prev)
        return links

    @abstractmethod
    def aead_decrypt(self, ref: str, blob: bytes, aad: bytes) -> bytes:
        """Reverse ``aead_encrypt``; ``ProtectedDataInvalid`` on any tampering."""

    @abstractmethod
    def kcv(self, ref: str, kind: KeyKind) -> str:
        """Key check value: E(key, 0¹²⁸)[0:3] for cipher keys, HMAC(key, 0¹²⁸)[0:3] for HMAC keys, hex."""

    @abstractmethod
    def reveal_derived(self, parent: str, data: bytes) -> bytes:
        """E(parent, data) in clear, only to seal it at once in an ECIES envelope (remote key loading).

        The one place a derived key passes through host memory (docs/security-module.md).
        """

    def close(self) -> None:  # noqa: B027 - optional hook: the soft backend holds nothing to release
        """Release sessions and handles."""
