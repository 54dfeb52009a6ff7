"""Open the backend that settings select."""

from __future__ import annotations

from sscard.config import get_settings
from sscard.security.keyfile import KeyFileModule
from sscard.security.module import SecurityModule


def open_security_module() -> SecurityModule:
    settings = get_settings()
    return KeyFileModule(settings.data_dir / "keys" / "sscard-keys.json", suite=settings.crypto_suite)
