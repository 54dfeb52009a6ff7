"""``sscard terminal`` against a real server on 127.0.0.1 (rule CH-3): over HTTP, like a terminal."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from sscard.staff.roles import Role
from tests.staff.factories import PASSWORD, current_otp, ensure_region, make_staff
from tests.terminal_registry.conftest import REGION, refusals


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(db_env) -> Iterator[str]:
    from sscard.api.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def env(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from sscard.config import reset_settings_cache
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        officer = make_staff(uow, role=Role.SECURITY_OFFICER, region_code="440300")
    monkeypatch.setenv("SSCARD_API_URL", server)
    monkeypatch.setenv("SSCARD_DATA_DIR", str(tmp_path))
    reset_settings_cache()
    # A security officer signs in with a TOTP code too (issue 17 item 8): the factory secret's, now.
    return {"SSCARD_STAFF_USER": officer.username, "SSCARD_STAFF_PASSWORD": PASSWORD, "SSCARD_STAFF_OTP": current_otp()}


def _run(args: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from sscard.cli.main import app

    return CliRunner().invoke(app, args, env=env)


def test_register_then_echo(env: dict[str, str], tmp_path: Path) -> None:
    # rule CH-3 — the simulator enrolls over HTTP and then signs its requests with the loaded key.
    result = _run(["terminal", "register", "--institution", "福田仁心药房", "--region", REGION], env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert list(answer) == ["terminal_id"]  # contract: exactly {"terminal_id"}
    tid = answer["terminal_id"]
    profile = tmp_path / "terminals" / f"{tid}.json"
    assert stat.S_IMODE(os.stat(profile).st_mode) == 0o600

    echoed = _run(["terminal", "echo", "--terminal", tid, "--message", "hi"])
    assert echoed.exit_code == 0, echoed.output
    assert json.loads(echoed.stdout)["terminal_id"] == tid


def test_register_needs_staff_credentials(env: dict[str, str]) -> None:
    result = _run(
        ["terminal", "register", "--institution", "X"], {"SSCARD_STAFF_USER": "", "SSCARD_STAFF_PASSWORD": ""}
    )
    assert result.exit_code == 1
    assert "STAFF_CREDENTIALS_REQUIRED" in result.output


def test_wrong_staff_password_is_one_line(env: dict[str, str]) -> None:
    result = _run(["terminal", "register", "--institution", "X"], {**env, "SSCARD_STAFF_PASSWORD": "wrong password!"})
    assert result.exit_code == 1
    assert "INVALID_CREDENTIALS" in result.output and "Traceback" not in result.output


def test_echo_with_a_tampered_profile_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    tid = json.loads(_run(["terminal", "register", "--institution", "Y"], env).stdout)["terminal_id"]
    path = tmp_path / "terminals" / f"{tid}.json"
    data = json.loads(path.read_text())
    data["key_version"] = 7
    path.write_text(json.dumps(data))
    result = _run(["terminal", "echo", "--terminal", tid])
    assert result.exit_code == 1 and "MAC_INVALID" in result.output
    assert refusals(tid)[-1].result == "MAC_INVALID"
    missing = _run(["terminal", "echo", "--terminal", "T000000NONE"])
    assert missing.exit_code == 1 and "no profile" in missing.output
