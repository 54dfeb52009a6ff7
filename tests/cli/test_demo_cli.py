"""Issue 22 item 9: `sscard demo load` prints each warning once, and no demo password an account no
longer has."""

from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from sscard.logging import configure_logging
from tests.conftest import dev_env


def _warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning" in line.lower()]


def test_development_key_warnings_are_one_line_each(tmp_path, capsys) -> None:
    from sscard.security_module.factory import open_soft_module
    from sscard.security_module.keystore import resolve_master_key

    configure_logging(force=True)
    capsys.readouterr()
    keys = tmp_path / "keys"
    master = resolve_master_key(configured=None, env="dev", keys_dir=keys, keystore_exists=False)
    with dev_env():  # the development root is generated only there
        open_soft_module(keys, suite="sm", master_key=master, dev_root=True)
    lines = _warning_lines(capsys.readouterr().err)
    events = [json.loads(line)["event"] for line in lines]
    assert sorted(events) == ["security.master_key.generated", "security.root.generated_dev"], lines
    assert not any(line.startswith("WARNING:") for line in lines)  # no second, plain copy of either


@pytest.mark.integration  # `sscard db upgrade` and `demo load` on a database of its own
def test_demo_load_shows_no_password_an_account_no_longer_has(tmp_path, monkeypatch) -> None:
    from sscard.cli.main import app
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache, unit_of_work
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.staff.models import StaffAccount

    monkeypatch.setenv("SSCARD_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", "")
    monkeypatch.setenv("SSCARD_ENV", "dev")
    reset_settings_cache()
    reset_engine_cache()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        first = runner.invoke(app, ["demo", "load", "--json"])
        assert first.exit_code == 0, first.output
        assert {s["password"] for s in json.loads(first.stdout)["staff"]} == {DEMO_STAFF_PASSWORD}
        with unit_of_work() as uow:  # bj_auditor set a password of their own (the marker goes with it)
            uow.session.execute(
                update(StaffAccount)
                .where(StaffAccount.username == "bj_auditor")
                .values(password_hash=secrets.token_hex(16), demo_password=False)
            )
        again = runner.invoke(app, ["demo", "load", "--json"])
        passwords = {s["username"]: s["password"] for s in json.loads(again.stdout)["staff"]}
        assert passwords["bj_auditor"] is None and passwords["bj_administrator"] == DEMO_STAFF_PASSWORD
        text = runner.invoke(app, ["demo", "load"])
        line = next(row for row in text.stdout.splitlines() if "bj_auditor" in row)
        assert DEMO_STAFF_PASSWORD not in line and "(changed)" in line
    finally:
        reset_settings_cache()
        reset_engine_cache()


# rule CH-2: `sscard demo otp` of a role without a second factor says so (that role signs in with its password
# alone), not to load the demo again, which would change nothing
@pytest.mark.parametrize("username", ["bj_counter_clerk", "sz_counter_clerk", "bj_hotline_operator"])
def test_demo_otp_of_a_role_without_a_second_factor(username: str) -> None:
    from sscard.cli.main import app

    result = CliRunner().invoke(app, ["demo", "otp", username], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 1 and "DEMO_NO_SECOND_FACTOR" in result.output
    assert "password alone" in result.output and "security_officer" in result.output
    assert "demo load" not in result.output
