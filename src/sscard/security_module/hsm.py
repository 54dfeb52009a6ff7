"""The security module: one implementation of ``SecurityModule`` over either key backend."""

from __future__ import annotations

from sscard.security_module.management import KeyManagement
from sscard.security_module.pinops import PinOperations


class HierarchyModule(PinOperations, KeyManagement):
    """Key hierarchy (KEY-1..3), fields, blind index, audit MAC, terminals and PINs over a backend."""

    def __repr__(self) -> str:  # never a key
        return f"HierarchyModule(backend={self.backend.name}, suite={self.suite})"
