"""Open the backend that settings select (``SSCARD_HSM=soft|pkcs11``) and the module over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from sscard.config import Settings, get_settings
from sscard.errors import DatabaseNotInitialised
from sscard.files import private_dir, sqlite_path
from sscard.security_module.backend import KeyBackend
from sscard.security_module.device import DeviceGuard
from sscard.security_module.errors import KeystoreTampered, MasterKeyRequired, MasterKeyWrong
from sscard.security_module.hsm import HierarchyModule
from sscard.security_module.keystore import resolve_master_key
from sscard.security_module.soft import SoftBackend

KEYSTORE = "keystore.sealed"
log = structlog.get_logger("sscard.security")


def suite_for(settings: Settings) -> str:
    """SM (national commercial cryptography) by default; ``intl`` on a PKCS#11 token unless asked."""
    if settings.hsm == "pkcs11" and "crypto_suite" not in settings.model_fields_set:
        return "intl"  # SoftHSM2 / most HSMs have no SM4: see docs/security-module.md
    return settings.crypto_suite


def open_soft_module(
    keys_dir: Path, *, suite: str, master_key: str, dev_root: bool = False,
    device_guard: Callable[[KeyBackend], DeviceGuard] | None = None,
) -> HierarchyModule:  # fmt: skip
    """A soft module whose keystore lives in ``keys_dir`` (tests and tools pass the master key)."""
    backend = SoftBackend(keys_dir / KEYSTORE, master_key=master_key, suite=suite)
    module = HierarchyModule(backend, device_guard=device_guard(backend) if device_guard else None)
    if dev_root:
        _ensure_dev_root(module)
    return module


def open_pkcs11_module(
    *, module_path: str, token_label: str, user_pin: str, lock_dir: Path, dev_root: bool = False,
    namespace: str = "sscard", device_guard: Callable[[KeyBackend], DeviceGuard] | None = None,
) -> HierarchyModule:  # fmt: skip
    from sscard.security_module.pkcs11_backend import Pkcs11Backend

    backend = Pkcs11Backend(
        module_path=module_path, token_label=token_label, user_pin=user_pin, suite="intl",
        lock_path=lock_dir / f"pkcs11-{token_label}-{namespace}.lock", namespace=namespace,
    )  # fmt: skip
    try:
        module = HierarchyModule(backend, device_guard=device_guard(backend) if device_guard else None)
    except BaseException:
        backend.close()
        raise
    if dev_root:
        _ensure_dev_root(module)
    return module


def _ensure_dev_root(module: HierarchyModule) -> None:
    if not module.has_root():
        # Outside prod a national root is generated so `make run` works; prod uses init-root or a ceremony.
        module.init_root(origin="generated-dev")
        log.warning(
            "security.root.generated_dev", detail="generated a development national root key (not for production)"
        )


def register_lookup(model: str | None) -> Callable[[str], str | None]:
    """The register of certified devices (``key_register.devices``), read in a short transaction of its own."""

    def lookup(serial: str) -> str | None:
        from sscard.db.session import unit_of_work
        from sscard.key_register.devices import device_problem

        with unit_of_work() as uow:
            return device_problem(uow, serial=serial, model=model)

    return lookup


def device_guard_for(settings: Settings) -> Callable[[KeyBackend], DeviceGuard]:
    """KEY-4: the guard of a module opened from settings: refuses in prod; warns once per process in test
    (an installation that could be a real one); quiet in dev, where no device is the norm: ``sscard serve``
    says it once at start (startup.device_warning), not every command that touches a key."""

    def make(backend: KeyBackend) -> DeviceGuard:
        return DeviceGuard(
            lookup=register_lookup(settings.hsm_device_model),
            configured_serial=settings.hsm_device_serial,
            reported_serial=backend.device_serial(),
            enforce=settings.env == "prod",
            warn=settings.env != "dev",
            check_seconds=settings.hsm_device_check_seconds,
        )

    return make


def _refuse_without_database(settings: Settings) -> None:
    """No keystore for a database that is not there: a command run in the wrong directory would
    otherwise leave a fresh master key and keystore in ``./var/keys`` before failing on the database
    (issue 22 item 5). Only the embedded database can be checked without connecting; a keystore
    that already exists is opened as before."""
    embedded = sqlite_path(settings.effective_database_url)
    if embedded is None or embedded.exists():
        return
    if not (settings.data_dir / "keys" / KEYSTORE).exists():
        raise DatabaseNotInitialised(settings.data_dir)


def open_security_module(settings: Settings | None = None) -> HierarchyModule:
    settings = settings or get_settings()
    _refuse_without_database(settings)
    keys_dir = private_dir(settings.data_dir / "keys")
    private_dir(settings.data_dir)
    # The development root is a convenience of SSCARD_ENV=dev only (`make run`, the demo): in test and
    # prod the root comes from `sscard keys init-root` (two custodians) or a ceremony (KEY-6).
    dev = settings.env == "dev"
    guard = device_guard_for(settings)
    if settings.hsm == "pkcs11":
        if settings.pkcs11_user_pin is None:
            raise MasterKeyRequired("SSCARD_PKCS11_USER_PIN is required for the pkcs11 backend")
        return open_pkcs11_module(
            module_path=settings.pkcs11_module, token_label=settings.pkcs11_token_label,
            user_pin=settings.pkcs11_user_pin.get_secret_value(), lock_dir=keys_dir, dev_root=dev,
            device_guard=guard,
        )  # fmt: skip
    path = keys_dir / KEYSTORE
    configured = settings.master_key.get_secret_value() if settings.master_key else None
    master = resolve_master_key(
        configured=configured, env=settings.env, keys_dir=keys_dir, keystore_exists=path.exists()
    )
    try:
        return open_soft_module(
            keys_dir, suite=suite_for(settings), master_key=master, dev_root=dev, device_guard=guard
        )
    except (KeystoreTampered, MasterKeyWrong) as exc:
        # The audit chain cannot record this (its MAC key is in the refused keystore): log it loudly.
        log.error("security.keystore.refused", code=exc.code, path=str(path))
        raise
