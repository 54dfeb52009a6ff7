"""The ``SecurityModule`` interface. Callers never see key bytes, and never a clear PIN.

One implementation (``hsm.HierarchyModule``) runs over two backends (``soft``, ``pkcs11``); this
class is the contract other packages code against. Every method is keyword-only past its first
data argument, and every refusal is a ``DomainError`` with a stable code (``security_module.errors``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import date

from sscard.credentials.pin.rules.simplicity import SimplicityReason
from sscard.security_module.errors import ProtectedDataInvalid, SecurityModuleError

__all__ = ["ProtectedDataInvalid", "SecurityModule", "SecurityModuleError"]


class SecurityModule(ABC):
    """Field AEAD, blind index, audit MAC, the key hierarchy's terminal keys and PIN operations."""

    suite: str = "sm"

    # --- protected fields (ID-5) ------------------------------------------------------------------

    @abstractmethod
    def encrypt_field(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt with an AEAD under the current data key; ``context`` is bound as associated data."""

    def encrypt_fields(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """``encrypt_field`` of many ``(plaintext, context)`` pairs at once, tokens in the same order.

        For bulk work (person import): an implementation checks and loads the data key once per call
        instead of once per value. The tokens are exactly those ``encrypt_field`` makes."""
        return [self.encrypt_field(plaintext, context=context) for plaintext, context in items]

    @abstractmethod
    def decrypt_field(self, token: bytes, *, context: bytes) -> bytes:
        """Reverse ``encrypt_field`` (any data-key version not retired); ``ProtectedDataInvalid`` on tampering."""

    @abstractmethod
    def blind_index(self, value: bytes, *, purpose: str) -> bytes:
        """Keyed, deterministic 32-byte index so equal values can be looked up without decryption."""

    def blind_indexes(self, items: Sequence[tuple[bytes, str]]) -> list[bytes]:
        """``blind_index`` of many ``(value, purpose)`` pairs at once, in the same order (bulk work)."""
        return [self.blind_index(value, purpose=purpose) for value, purpose in items]

    @abstractmethod
    def audit_mac(self, data: bytes) -> bytes:
        """MAC that chains audit entries; its key never leaves the module."""

    def audit_chains(self, chains: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[list[bytes]]:
        """The links of audit chains: for each ``(prev, contents)``, link i is
        ``audit_mac(link i-1 ‖ contents[i])[:32]``, link -1 being ``prev``. The same bytes as one
        ``audit_mac`` per link; an implementation checks and loads the key once per call (a batch's append)."""
        links: list[list[bytes]] = []
        for prev, contents in chains:
            out = []
            for content in contents:
                prev = self.audit_mac(prev + content)[:32]
                out.append(prev)
            links.append(out)
        return links

    @abstractmethod
    def anchor_mac(self, data: bytes) -> bytes:
        """MAC of an audit anchor (``audit/anchors.py``) under a key used for nothing else."""

    # --- terminals (CH-3, KEY-3): per-terminal keys never leave the module in clear -------------

    @abstractmethod
    def terminal_mac(self, *, terminal_id: str, region_code: str, key_version: int, data: bytes) -> bytes:
        """CMAC (SM4 or AES, 16 bytes) of ``data`` under the terminal's derived MAC key.

        ``key_version`` is the version of the region's terminal master key ``TMK/<city>``.
        """

    @abstractmethod
    def export_terminal_key(
        self, *, terminal_id: str, region_code: str, key_version: int, recipient_public_key: bytes
    ) -> bytes:
        """Remote key loading: the terminal's MAC key ‖ PIN key (32 bytes) sealed to its P-256 public key
        (ECIES: ephemeral ECDH → HKDF-SHA256 → AES-256-GCM); see ``sscard.security_module.envelope``."""

    @abstractmethod
    def terminal_key_check_values(self, *, terminal_id: str, region_code: str, key_version: int) -> tuple[str, str]:
        """KCVs of the terminal's (MAC key, PIN key): first 3 bytes of E(key, zero block), hex."""

    @abstractmethod
    def terminal_key_version(self, *, region_code: str) -> int:
        """Current version of the terminal master key serving ``region_code`` (new terminals use it)."""

    # --- PINs (PIN-1, PIN-3, PIN-11): format-4 blocks are opened only inside the module -----------
    # ``pan`` is the PAN the block is bound to (``sscard.terminal.pinblock.pin_block_pan(card_no)``).
    # Errors: ``PIN_BLOCK_MALFORMED`` (truncated / not format 4 / wrong PAN or key), ``KEY_VERSION_UNKNOWN``,
    # ``KEY_REVOKED``, ``KEY_RETIRED``. A well-formed block with the wrong PIN is not an error: False.

    @abstractmethod
    def pin_verification_value(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes
    ) -> tuple[bytes, int]:
        """(PVV, PVK version) of the PIN in the block: PVV = CMAC(PVK, "PVV1" ‖ pan ‖ PIN)[0:8]."""

    @abstractmethod
    def verify_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        pvv: bytes, pvk_version: int,
    ) -> bool:  # fmt: skip
        """True when the block holds the PIN whose PVV (under PVK ``pvk_version``) is ``pvv``; constant time."""

    @abstractmethod
    def verify_initial_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        initial_rule: str, id_number: str, birth_date: date,
    ) -> bool:  # fmt: skip
        """True when the block holds the initial PIN that ``initial_rule`` derives (PIN-1; never stored)."""

    @abstractmethod
    def screen_new_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        initial_rule: str, id_number: str, birth_date: date, phone: str | None,
        current_pvv: bytes | None, current_pvk_version: int | None,
        excluded_pvvs: Sequence[tuple[bytes, int]] = (),
    ) -> SimplicityReason | None:  # fmt: skip
        """PIN-3 inside the module: None when the proposed PIN is acceptable, else the rule it breaks
        (the rules are ``credentials/pin/rules/simplicity.py``; the module only opens the block)."""

    @abstractmethod
    def translate_pin_block(
        self, *, terminal_id: str, region_code: str, key_version: int, pan: str, pin_block: bytes,
        zone_key: str, zone_key_version: int | None = None,
    ) -> tuple[bytes, int]:  # fmt: skip
        """Re-encipher a format-4 block from the terminal key to zone key ``zone_key``: (block, zone version)."""
