"""Production refuses to start on development material (issue 17 item 2; KEY-1, KEY-4, KEY-6, QPW-5, CH-2).

``sscard serve`` and the app factory, with SSCARD_ENV=prod, name every problem at once and exit
non-zero: a development national root or master key file, the soft keystore without an explicit
override, demo staff accounts or the published demo password, file-sink notification delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from sscard.audit import Actor, Channel
from sscard.demo.data import DEMO_STAFF_PASSWORD
from sscard.staff.roles import Role
from tests.conftest import fresh_database

runner = CliRunner()
NOTIFY = ("SSCARD_SMS_GATEWAY_URL", "SSCARD_SMTP_HOST", "SSCARD_SMS_SINK_DIR", "SSCARD_MAIL_SINK_DIR")


def _clean_prod_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production settings with nothing development about them: an explicit soft-keystore override and
    real (unreachable) gateways for SMS and e-mail."""
    monkeypatch.setenv("SSCARD_ENV", "prod")
    monkeypatch.setenv("SSCARD_ALLOW_SOFT_KEYSTORE", "true")
    monkeypatch.setenv("SSCARD_SMS_GATEWAY_URL", "https://sms.example.invalid/send")
    monkeypatch.setenv("SSCARD_SMTP_HOST", "smtp.example.invalid")
    _reset()


def _reset() -> None:
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache
    from sscard.notify.senders.config import reset_sender_settings_cache

    reset_settings_cache()
    reset_engine_cache()
    reset_sender_settings_cache()


@pytest.fixture(params=["sqlite", "postgresql"])
def prod_env(request, tmp_path_factory, tmp_path, monkeypatch) -> Iterator[Any]:
    """A database of its own (staff accounts named like the demo's must touch no other test)."""
    for db in fresh_database(request.param, tmp_path_factory):
        monkeypatch.setenv("SSCARD_DATABASE_URL", db.url)
        monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", db.schema)
        monkeypatch.setenv("SSCARD_DATA_DIR", str(tmp_path))
        for name in (*NOTIFY, "SSCARD_ALLOW_SOFT_KEYSTORE", "SSCARD_HSM"):
            monkeypatch.delenv(name, raising=False)
        _reset()
        try:
            yield db
        finally:
            monkeypatch.undo()
            _reset()


CUSTODIANS = (
    Actor(kind="staff", id="custodian.a", channel=Channel.CLI, role="key_custodian"),
    Actor(kind="staff", id="custodian.b", channel=Channel.CLI, role="security_officer"),
)


def _registered_device(serial: str = "HSM-PROD-1") -> str:
    """A device in the register with a valid model certificate (KEY-4), committed."""
    from datetime import timedelta

    from sscard.db.base import china_today
    from sscard.db.session import unit_of_work
    from sscard.key_register.devices import register_device
    from tests.staff.factories import ensure_region

    officer = Actor(kind="staff", id="sec-officer", channel=Channel.CLI, role="security_officer", region="110000")
    with unit_of_work() as uow:
        ensure_region(uow, "110000")
        register_device(
            uow, model="SJJ1012", serial=serial, certificate_no=f"SXH-{serial}", certificate_issuer="国家密码管理局",
            certificate_valid_from=china_today() - timedelta(days=10),
            certificate_valid_until=china_today() + timedelta(days=300), location="机房", region_code="110000",
            actor=officer,
        )  # fmt: skip
        uow.commit()
    return serial


def _demo_material(tmp_path) -> None:
    """Everything a development installation has: demo logins, the demo password, a master key file."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import make_staff

    with unit_of_work() as uow:
        make_staff(uow, role=Role.ADMINISTRATOR, username="bj_administrator", password=DEMO_STAFF_PASSWORD)
        make_staff(uow, role=Role.COUNTER_CLERK, username="ops.chen", password=DEMO_STAFF_PASSWORD)
        make_staff(uow, role=Role.COUNTER_CLERK, username="ops.wang")  # a real password: not named
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "master.key").write_text("00" * 32 + "\n")


# rule KEY-1 / KEY-4 / CH-2 / QPW-5: `sscard serve` in prod names every problem at once and exits 1
# (the test session's security module has a development root: origin generated-dev)
def test_serve_refuses_prod_with_development_material(prod_env, tmp_path, monkeypatch) -> None:
    _demo_material(tmp_path)
    monkeypatch.setenv("SSCARD_ENV", "prod")
    _reset()
    started: list[Any] = []
    monkeypatch.setattr("sscard.cli.serve._run_uvicorn", lambda *a: started.append(a))
    from sscard.cli.main import app

    result = runner.invoke(app, ["serve", "--no-dispatch"])
    assert result.exit_code == 1 and not started
    out = result.output
    assert "refuses to start (8 problem(s))" in out, out
    for needle in (
        "national root key (version 1) was generated for development",
        "development master key file",
        "SSCARD_ALLOW_SOFT_KEYSTORE=true",
        "demo staff account(s) are active (bj_administrator)",
        "published demo password (bj_administrator, ops.chen)",
        "SSCARD_SMS_GATEWAY_URL",
        "SSCARD_SMTP_HOST",
        "DEVICE_NOT_CERTIFIED, device_not_configured",  # KEY-4: the session's module has no device check
    ):
        assert needle in out, (needle, out)
    assert "ops.wang" not in out and DEMO_STAFF_PASSWORD not in out


# rule KEY-1 / CH-2: the app factory (uvicorn --factory, workers) refuses the same way
def test_app_factory_refuses_prod_with_development_material(prod_env, tmp_path, monkeypatch) -> None:
    from sscard.api.app import create_app
    from sscard.startup import ProductionNotReady

    _demo_material(tmp_path)
    monkeypatch.setenv("SSCARD_ENV", "prod")
    monkeypatch.setenv("SSCARD_SMS_SINK_DIR", str(tmp_path / "sms"))
    _reset()
    with pytest.raises(ProductionNotReady) as refused:
        create_app()
    assert len(refused.value.problems) == 9
    assert "SSCARD_SMS_SINK_DIR configures a file sink" in str(refused.value)


# rule KEY-1 / KEY-4: a production installation without development material starts; the demo
# password cannot be given to a new account there
def test_clean_prod_starts_and_refuses_the_demo_password(prod_env, tmp_path, monkeypatch) -> None:
    import secrets

    from sscard.db.session import unit_of_work
    from sscard.security_module import get_security_module, set_security_module
    from sscard.security_module.device import DeviceGuard
    from sscard.security_module.factory import open_soft_module, register_lookup
    from sscard.staff.errors import PasswordTooWeak
    from sscard.startup import production_problems
    from tests.staff.factories import make_staff

    serial = _registered_device()
    guard = DeviceGuard(lookup=register_lookup(None), configured_serial=serial, enforce=True)
    module = open_soft_module(
        tmp_path / "prod-keys", suite="sm", master_key=secrets.token_hex(32), device_guard=lambda b: guard
    )
    module.init_root(custodians=CUSTODIANS)  # as `sscard keys init-root` does: origin "generated"
    session_module = get_security_module()
    _clean_prod_settings(monkeypatch)
    set_security_module(module)
    try:
        with unit_of_work() as uow:
            make_staff(uow, role=Role.ADMINISTRATOR, username="ops.admin")
            with pytest.raises(PasswordTooWeak):
                make_staff(uow, role=Role.COUNTER_CLERK, username="ops.li", password=DEMO_STAFF_PASSWORD)
        assert production_problems() == []
        from sscard.api.app import create_app

        assert create_app().title.startswith("sscard")
    finally:
        set_security_module(session_module)


# rule KEY-4: prod start-up names the device condition: not in the register, then its certificate revoked
def test_prod_start_names_an_uncertified_device(prod_env, tmp_path, monkeypatch) -> None:
    import secrets

    from sscard.db.session import unit_of_work
    from sscard.key_register.devices import revoke_certificate
    from sscard.security_module import get_security_module, set_security_module
    from sscard.security_module.device import DeviceGuard
    from sscard.security_module.factory import open_soft_module, register_lookup
    from sscard.startup import production_problems

    guard = DeviceGuard(lookup=register_lookup(None), configured_serial="HSM-PROD-2", enforce=False)
    module = open_soft_module(
        tmp_path / "prod-keys", suite="sm", master_key=secrets.token_hex(32), device_guard=lambda b: guard
    )
    session_module = get_security_module()
    _clean_prod_settings(monkeypatch)
    set_security_module(module)
    try:
        problems = production_problems()
        assert len(problems) == 1 and "DEVICE_NOT_CERTIFIED, not_registered" in problems[0], problems
        _registered_device("HSM-PROD-2")
        assert production_problems() == []
        officer = Actor(kind="staff", id="sec-officer", channel=Channel.CLI, role="security_officer", region="110000")
        with unit_of_work() as uow:
            revoke_certificate(uow, certificate_no="SXH-HSM-PROD-2", reason="撤销", actor=officer)
            uow.commit()
        problems = production_problems()
        assert len(problems) == 1 and "DEVICE_NOT_CERTIFIED, certificate_revoked" in problems[0], problems
    finally:
        set_security_module(session_module)
