"""Fixtures of the security-module suite: ONE suite over every backend and suite.

``module`` is a fresh module per test, parametrized over soft/sm, soft/intl and pkcs11/intl
(SoftHSM2 has no SM4). The PKCS#11 token is created by ``softhsm2-util`` in a temporary
SOFTHSM2_CONF directory; each test gets its own object namespace on it. Locally a missing SoftHSM2
library skips the pkcs11 cases; under CI=true it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sscard.audit import Actor, Channel
from sscard.security_module.hsm import HierarchyModule

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
USER_PIN = "246810"
BACKENDS = [("soft", "sm"), ("soft", "intl"), ("pkcs11", "intl")]
IDS = [f"{b}-{s}" for b, s in BACKENDS]


@dataclass(frozen=True)
class Token:
    label: str
    pin: str


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    """A SoftHSM2 token in a private configuration (created once: SoftHSM2 sees tokens at load)."""
    if not (os.path.exists(SOFTHSM_LIB) and shutil.which("softhsm2-util")):
        message = f"SoftHSM2 is not installed ({SOFTHSM_LIB}); apt-get install softhsm2"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read when the PKCS#11 library is first loaded, i.e. after this
    label = f"sscard-test-{secrets.token_hex(3)}"
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "13579", "--pin", USER_PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    return Token(label, USER_PIN)


def make_module(request: pytest.FixtureRequest, tmp_path: Path, backend: str, suite: str) -> HierarchyModule:
    from sscard.security_module.factory import open_pkcs11_module, open_soft_module

    if backend == "soft":
        return open_soft_module(tmp_path / "keys", suite=suite, master_key=secrets.token_hex(16))
    token: Token = request.getfixturevalue("softhsm_token")
    return open_pkcs11_module(
        module_path=SOFTHSM_LIB, token_label=token.label, user_pin=token.pin, lock_dir=tmp_path,
        namespace=f"t{secrets.token_hex(6)}",
    )  # fmt: skip


@pytest.fixture(params=BACKENDS, ids=IDS)
def module(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HierarchyModule]:
    """A fresh module without a national root (tests form or generate it as they need)."""
    backend, suite = request.param
    mod = make_module(request, tmp_path, backend, suite)
    yield mod
    mod.backend.close()


@pytest.fixture
def installed(module: HierarchyModule) -> Iterator[HierarchyModule]:
    """``module`` as the process-wide module (the audit chain and services use it) for one test."""
    from sscard.security_module import get_security_module, set_security_module

    before = get_security_module()
    # The audit chain of the session's databases is MACed under the session module's AUDIT key: entries
    # written while this module is installed must keep verifying after it is gone (other tests check
    # the whole chain). The module's own audit MAC is tested directly (test_fields).
    module.audit_mac = before.audit_mac  # type: ignore[method-assign]
    module.audit_chains = before.audit_chains  # type: ignore[method-assign]  # a batch's links, the same key
    set_security_module(module)
    try:
        yield module
    finally:
        set_security_module(before)
        del module.audit_mac, module.audit_chains


def staff(name: str, role: str = "key_custodian") -> Actor:
    return Actor(kind="staff", id=name, channel=Channel.CLI, role=role, region="110000")


@pytest.fixture(params=["sqlite", "postgresql"])
def isolated_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A database of its own: rotations and committed CLI runs touch whole tables (and the audit chain)."""
    from tests.conftest import fresh_database

    yield from fresh_database(request.param, tmp_path_factory)


@pytest.fixture
def isolated_env(isolated_db: object, installed: HierarchyModule, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Settings and the global engine pointed at ``isolated_db``, with ``module`` installed (CLI tests)."""
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", isolated_db.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", isolated_db.schema)  # type: ignore[attr-defined]
    reset_settings_cache()
    reset_engine_cache()
    yield isolated_db
    reset_settings_cache()
    reset_engine_cache()
