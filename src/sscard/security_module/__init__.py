"""The security module: the only place where keys exist in clear and where protected data is
encrypted, indexed, MACed or (for PINs) verified. Everything else calls ``get_security_module()``.
"""

from __future__ import annotations

from sscard.security_module.errors import ProtectedDataInvalid, SecurityModuleError
from sscard.security_module.module import SecurityModule

_module: SecurityModule | None = None


def get_security_module() -> SecurityModule:
    """Return the process-wide security module selected by ``SSCARD_HSM``."""
    global _module
    if _module is None:
        from sscard.security_module.factory import open_security_module

        _module = open_security_module()
    return _module


def set_security_module(module: SecurityModule | None) -> None:
    """Install a module (tests, CLI with explicit options); ``None`` re-opens from settings."""
    global _module
    _module = module


__all__ = [
    "ProtectedDataInvalid",
    "SecurityModule",
    "SecurityModuleError",
    "get_security_module",
    "set_security_module",
]
