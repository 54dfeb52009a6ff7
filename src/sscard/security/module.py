"""The ``SecurityModule`` interface. Backends implement it; callers never see key bytes."""

from __future__ import annotations

from abc import ABC, abstractmethod

from sscard.errors import DomainError


class SecurityModuleError(DomainError):
    code = "SECURITY_MODULE_ERROR"
    status = 500
    title = "The security module refused the operation."
    title_zh = "安全模块拒绝了该操作。"


class ProtectedDataInvalid(SecurityModuleError):
    code = "PROTECTED_DATA_INVALID"
    title = "A protected field failed its integrity check."
    title_zh = "受保护字段完整性校验失败。"


class SecurityModule(ABC):
    """Field encryption, blind indexes and audit MACs (more operations arrive with the key system)."""

    suite: str = "sm"

    @abstractmethod
    def encrypt_field(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt with an AEAD under the current data key; ``context`` is bound as associated data."""

    @abstractmethod
    def decrypt_field(self, token: bytes, *, context: bytes) -> bytes:
        """Reverse ``encrypt_field``; raise ``ProtectedDataInvalid`` on any tampering."""

    @abstractmethod
    def blind_index(self, value: bytes, *, purpose: str) -> bytes:
        """Keyed, deterministic 32-byte index so equal values can be looked up without decryption."""

    @abstractmethod
    def audit_mac(self, data: bytes) -> bytes:
        """MAC that chains audit entries; its key never leaves the module."""

    # --- terminals (CH-3, KEY-3): per-terminal keys never leave the module in clear -------------

    @abstractmethod
    def terminal_mac(self, *, terminal_id: str, region_code: str, key_version: int, data: bytes) -> bytes:
        """CMAC (SM4 or AES, 16 bytes) of ``data`` under the terminal's derived key."""

    @abstractmethod
    def export_terminal_key(
        self, *, terminal_id: str, region_code: str, key_version: int, recipient_public_key: bytes
    ) -> bytes:
        """Remote key loading: the terminal key sealed to the terminal's P-256 public key
        (ECIES: ephemeral ECDH → HKDF-SHA256 → AES-256-GCM); see ``sscard.security.envelope``."""

    @abstractmethod
    def terminal_key_check_value(self, *, terminal_id: str, region_code: str, key_version: int) -> str:
        """KCV of the terminal key (first 3 bytes of E(key, zero block), hex)."""
