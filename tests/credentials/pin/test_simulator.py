"""``sscard terminal verify-pin|change-pin`` against a real server on 127.0.0.1 (contract.md)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number
from tests.staff.factories import PASSWORD, current_otp, ensure_region, make_staff

REGION = "110108"


@pytest.fixture
def server(db_env) -> Iterator[str]:
    from sscard.api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
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
def terminal_id(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from sscard.config import reset_settings_cache

    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        officer = make_staff(uow, role=Role.SECURITY_OFFICER, region_code="110000")
    monkeypatch.setenv("SSCARD_API_URL", server)
    monkeypatch.setenv("SSCARD_DATA_DIR", str(tmp_path))
    reset_settings_cache()
    env = {"SSCARD_STAFF_USER": officer.username, "SSCARD_STAFF_PASSWORD": PASSWORD, "SSCARD_STAFF_OTP": current_otp()}
    result = _run(["terminal", "register", "--institution", "海淀同仁堂药店", "--region", REGION], env)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["terminal_id"])


def _run(args: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from sscard.cli.main import app

    return CliRunner().invoke(app, args, env=env)


def _json(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


# rules PIN-2 PIN-3 PIN-5 — the simulator's answers, exactly as contract.md lists them
def test_verify_and_change_pin_commands(terminal_id: str) -> None:
    with unit_of_work() as uow:
        card_no = make_card(uow, id_number=new_id_number(region=REGION)).card_no
    base = ["--terminal", terminal_id, "--card", card_no]

    result = _run(["terminal", "verify-pin", *base])
    assert result.exit_code == 0, result.output
    assert _json(result) == {"ok": True, "pin_enabled": False, "code": None, "tries_left": 6}

    result = _run(["terminal", "change-pin", *base, "--old", "123456", "--new", "222222"])
    assert result.exit_code == 1 and _json(result)["code"] == "PIN_TOO_SIMPLE" and _json(result)["reason"]
    result = _run(["terminal", "change-pin", *base, "--old", "123456", "--new", "740296"])
    assert result.exit_code == 0 and _json(result) == {"ok": True, "code": None}

    result = _run(["terminal", "verify-pin", *base])
    assert result.exit_code == 1
    assert _json(result) == {"ok": False, "pin_enabled": True, "code": "PIN_REQUIRED", "tries_left": 6}
    result = _run(["terminal", "verify-pin", *base, "--pin", "111111"])
    assert _json(result) == {"ok": False, "pin_enabled": True, "code": "PIN_WRONG", "tries_left": 5}
    result = _run(["terminal", "verify-pin", *base, "--pin", "740296"])
    assert _json(result) == {"ok": True, "pin_enabled": True, "code": None, "tries_left": 6}

    result = _run(["terminal", "verify-pin", "--terminal", "T000000NOPE", "--card", card_no])
    assert result.exit_code == 1 and _json(result)["code"] == "TERMINAL_PROFILE_MISSING"


def _register(server: str, kind: str) -> str:
    """``sscard terminal register --type KIND`` as a security officer (the environment is set by ``terminal_id``)."""
    with unit_of_work() as uow:
        officer = make_staff(uow, role=Role.SECURITY_OFFICER, region_code="110000")
    env = {"SSCARD_STAFF_USER": officer.username, "SSCARD_STAFF_PASSWORD": PASSWORD, "SSCARD_STAFF_OTP": current_otp()}
    result = _run(
        ["terminal", "register", "--institution", "12333 电话服务中心", "--region", REGION, "--type", kind], env
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["terminal_id"])


# rules PIN-4 PIN-5 PIN-12 — the simulator as the telephone keypad (an IVR profile) and as a kiosk
def test_simulator_as_ivr_and_kiosk(server: str, terminal_id: str) -> None:
    ivr, kiosk = _register(server, "ivr"), _register(server, "kiosk")
    with unit_of_work() as uow:
        card_no = make_card(uow, id_number=new_id_number(region=REGION)).card_no
    result = _run(["terminal", "card-info", "--terminal", kiosk, "--card", card_no])
    assert result.exit_code == 0, result.output
    assert _json(result)["pin_enabled"] is False and _json(result)["state"] == "active"
    result = _run(
        ["terminal", "change-pin", "--terminal", ivr, "--card", card_no, "--old", "123456", "--new", "740296"]
    )
    assert result.exit_code == 0 and _json(result) == {"ok": True, "code": None}
    result = _run(
        ["terminal", "change-pin", "--terminal", ivr, "--card", card_no, "--old", "000000", "--new", "502817"]
    )
    assert _json(result) == {"ok": False, "code": "PIN_WRONG", "tries_left": 5}
    result = _run(["terminal", "card-info", "--terminal", kiosk, "--card", card_no])
    assert result.exit_code == 1 and _json(result)["code"] == "PIN_REQUIRED"
    result = _run(["terminal", "card-info", "--terminal", kiosk, "--card", card_no, "--pin", "740296"])
    assert result.exit_code == 0 and _json(result)["pin_enabled"] is True
    result = _run(["terminal", "card-info", "--terminal", ivr, "--card", card_no])
    assert _json(result)["code"] == "INFO_QUERY_NOT_OFFERED"
