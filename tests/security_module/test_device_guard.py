"""KEY-4 in the security module: keys are held and used only on a registered, certified, unexpired
device. Prod refuses (DEVICE_NOT_CERTIFIED naming the condition), dev and test warn once; the verdict is
cached and asked again, so a certificate lapsing or revoked while the module runs is honoured."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sscard.audit import Actor, Channel
from sscard.config import Settings
from sscard.security_module.device import DeviceGuard
from sscard.security_module.errors import DeviceNotCertified
from sscard.security_module.factory import device_guard_for, open_soft_module


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guarded(tmp_path: Path, guard: DeviceGuard) -> Any:
    master = secrets.token_hex(16)
    return open_soft_module(tmp_path / "keys", suite="sm", master_key=master, device_guard=lambda b: guard)


# rule KEY-4: prod, a device missing from the register: the module does not even open
def test_prod_refuses_an_unregistered_device(tmp_path) -> None:
    guard = DeviceGuard(lookup=lambda serial: "not_registered", configured_serial="HSM-404", enforce=True)
    with pytest.raises(DeviceNotCertified) as refused:
        guarded(tmp_path, guard)
    assert refused.value.code == "DEVICE_NOT_CERTIFIED" and refused.value.reason == "not_registered"
    assert "not in the register" in refused.value.detail and "HSM-404" in refused.value.detail
    assert not (tmp_path / "keys" / "keystore.sealed").exists()  # no key was generated on it


# rule KEY-4: prod without any device serial configured is refused too
def test_prod_refuses_without_a_device_serial(tmp_path) -> None:
    guard = DeviceGuard(lookup=lambda serial: None, configured_serial=None, enforce=True)
    with pytest.raises(DeviceNotCertified) as refused:
        guarded(tmp_path, guard)
    assert refused.value.reason == "device_not_configured"


# rule KEY-4: a certificate that expires or is revoked while the module runs is honoured at the next check
@pytest.mark.parametrize("lapse", ["certificate_expired", "certificate_revoked"])
def test_prod_refuses_once_the_certificate_lapses(tmp_path, lapse: str) -> None:
    verdict: dict[str, str | None] = {"now": None}
    clock = Clock()
    guard = DeviceGuard(
        lookup=lambda serial: verdict["now"], configured_serial="HSM-1", enforce=True, check_seconds=60, clock=clock
    )
    module = guarded(tmp_path, guard)
    token = module.encrypt_field(b"x", context=b"c")
    verdict["now"] = lapse
    clock.now += 30
    assert module.decrypt_field(token, context=b"c") == b"x"  # the cached verdict (under a minute old)
    clock.now += 31
    for operation in (
        lambda: module.decrypt_field(token, context=b"c"),
        lambda: module.blind_index(b"v", purpose="p"),
        lambda: module.terminal_mac(terminal_id="T1", region_code="110105", key_version=1, data=b"x"),
        lambda: module.rotate("PVK"),
    ):
        with pytest.raises(DeviceNotCertified) as refused:
            operation()
        assert refused.value.reason == lapse
    verdict["now"] = None  # recertified: works again after the next check
    clock.now += 61
    assert module.decrypt_field(token, context=b"c") == b"x"


# rule KEY-4: outside prod the same conditions are warned about once, and the module keeps working
def test_dev_warns_once(tmp_path, monkeypatch) -> None:
    from sscard.security_module import device

    # The module's own logger, recorded directly: structlog's capture_logs misses a logger that an
    # earlier test already used (loggers are cached on first use), which made this test order-dependent.
    logs: list[dict] = []
    monkeypatch.setattr(device.log, "warning", lambda event, **kw: logs.append({"event": event, **kw}))
    guard = DeviceGuard(lookup=lambda serial: "certificate_expired", configured_serial="HSM-1", enforce=False)
    module = guarded(tmp_path, guard)
    for _ in range(3):
        module.blind_index(b"v", purpose="p")
    warnings = [e for e in logs if e["event"] == "security.device.not_certified"]
    assert len(warnings) == 1 and warnings[0]["reason"] == "certificate_expired"


# rule KEY-4: a development installation (SSCARD_ENV=dev) has no device by design: its commands do not
# warn on every key use (`sscard serve` says it once at start); test keeps warning, prod refuses
def test_dev_commands_stay_quiet_test_warns(tmp_path, monkeypatch) -> None:
    from types import SimpleNamespace

    from sscard.security_module import device

    logs: list[str] = []
    monkeypatch.setattr(device.log, "warning", lambda event, **kw: logs.append(event))
    backend = SimpleNamespace(device_serial=lambda: None)
    dev, test, prod = (device_guard_for(Settings(env=env))(backend) for env in ("dev", "test", "prod"))  # type: ignore[arg-type]
    assert (dev.warn, test.warn, prod.enforce) == (False, True, True)
    dev.check()
    assert logs == []
    test.check()
    test.check()
    assert logs == ["security.device.not_certified"]


# rule KEY-4: a PKCS#11 token is identified by the serial it reports; a configured serial must agree
def test_pkcs11_token_serial_must_match(request, tmp_path) -> None:
    from sscard.security_module.factory import open_pkcs11_module
    from tests.security_module.conftest import SOFTHSM_LIB, Token

    token: Token = request.getfixturevalue("softhsm_token")
    seen: list[str] = []

    def make(configured: str | None):
        def factory(backend):
            return DeviceGuard(
                lookup=lambda serial: seen.append(serial), configured_serial=configured,
                reported_serial=backend.device_serial(), enforce=True,
            )  # fmt: skip

        return factory

    module = open_pkcs11_module(
        module_path=SOFTHSM_LIB, token_label=token.label, user_pin=token.pin, lock_dir=tmp_path,
        namespace=f"t{secrets.token_hex(6)}", device_guard=make(None),
    )  # fmt: skip
    serial = module.backend.device_serial()
    module.backend.close()
    assert serial and seen == [serial]  # the token's own serial is looked up in the register
    with pytest.raises(DeviceNotCertified) as refused:
        open_pkcs11_module(
            module_path=SOFTHSM_LIB, token_label=token.label, user_pin=token.pin, lock_dir=tmp_path,
            namespace=f"t{secrets.token_hex(6)}", device_guard=make("SOME-OTHER-SERIAL"),
        )  # fmt: skip
    assert refused.value.reason == "device_serial_mismatch"


# --- against the real register of certified devices (key_register.devices), committed in a database of its own


@pytest.fixture
def register_env(isolated_db, monkeypatch) -> Iterator[Any]:
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", isolated_db.url)
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", isolated_db.schema)
    reset_settings_cache()
    reset_engine_cache()
    yield isolated_db
    reset_settings_cache()
    reset_engine_cache()


def _register(serial: str) -> int:
    from sscard.db.base import china_today
    from sscard.db.session import unit_of_work
    from sscard.key_register.devices import register_device
    from tests.staff.factories import ensure_region

    officer = Actor(kind="staff", id="sec-officer", channel=Channel.CLI, role="security_officer", region="110000")
    with unit_of_work() as uow:
        ensure_region(uow, "110000")
        device = register_device(
            uow, model="SJJ1012", serial=serial, certificate_no=f"SXH-{serial}", certificate_issuer="国家密码管理局",
            certificate_valid_from=china_today() - timedelta(days=10),
            certificate_valid_until=china_today() + timedelta(days=300), location="机房", region_code="110000",
            actor=officer,
        )  # fmt: skip
        uow.commit()
        return device.id


# rule KEY-4: prod with the register: registered and certified works; expired, then revoked, refused
def test_prod_against_the_register(register_env, tmp_path) -> None:
    from sscard.db.base import china_today
    from sscard.db.session import unit_of_work
    from sscard.key_register.models import CryptoDevice

    prod = Settings(env="prod", hsm_device_serial="HSM-REG-1", hsm_device_check_seconds=60)
    with pytest.raises(DeviceNotCertified) as refused:
        open_soft_module(tmp_path / "a", suite="sm", master_key="k", device_guard=device_guard_for(prod))
    assert refused.value.reason == "not_registered"

    device_id = _register("HSM-REG-1")
    module = open_soft_module(tmp_path / "b", suite="sm", master_key="k", device_guard=device_guard_for(prod))
    token = module.encrypt_field(b"x", context=b"c")
    guard = module.device_guard
    assert guard is not None and guard.problem() is None

    with unit_of_work() as uow:  # the certificate ran out
        device = uow.session.get(CryptoDevice, device_id)
        device.certificate_valid_until = china_today() - timedelta(days=1)
        uow.commit()
    assert guard.problem(fresh=True) == "certificate_expired"
    with pytest.raises(DeviceNotCertified, match="expired"):
        module.decrypt_field(token, context=b"c")

    from sscard.key_register.devices import revoke_certificate

    officer = Actor(kind="staff", id="sec-officer", channel=Channel.CLI, role="security_officer", region="110000")
    with unit_of_work() as uow:
        device = uow.session.get(CryptoDevice, device_id)
        device.certificate_valid_until = china_today() + timedelta(days=300)
        uow.flush()
        revoke_certificate(uow, certificate_no=device.certificate_no, reason="型号证书撤销", actor=officer)
        uow.commit()
    assert guard.problem(fresh=True) == "certificate_revoked"
    with pytest.raises(DeviceNotCertified, match="revoked"):
        module.encrypt_field(b"y", context=b"c")
