"""Issue 22 item 7: the terminal simulator goes where its profile says, names the URL it could not
reach, says when a card number is none, and takes --pin/--new-pin in change-pin as verify-pin does."""

from __future__ import annotations

import json
import socket

import pytest

from sscard.config import reset_settings_cache
from sscard.db.session import unit_of_work
from tests.credentials.pin.factories import make_card
from tests.credentials.pin.test_simulator import REGION, _run, server, terminal_id  # noqa: F401 - fixtures
from tests.people.factories import new_id_number


def _dead_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _card() -> str:
    with unit_of_work() as uow:
        return make_card(uow, id_number=new_id_number(region=REGION)).card_no


def test_the_profile_api_url_is_used_unless_sscard_api_url_is_set(
    terminal_id: str,  # noqa: F811 - the fixture
    server: str,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = _card()
    dead = _dead_url()
    # The settings' own server is elsewhere: only the profile (enrolled against `server`) knows the way.
    monkeypatch.delenv("SSCARD_API_URL")
    monkeypatch.setenv("SSCARD_PORT", dead.rsplit(":", 1)[1])
    reset_settings_cache()
    result = _run(["terminal", "verify-pin", "--terminal", terminal_id, "--card", card])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True

    # SSCARD_API_URL overrides the profile, and the URL it could not reach is named.
    monkeypatch.setenv("SSCARD_API_URL", dead)
    reset_settings_cache()
    result = _run(["terminal", "verify-pin", "--terminal", terminal_id, "--card", card])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "SERVER_UNREACHABLE"
    assert dead in result.stderr
    echoed = _run(["terminal", "echo", "--terminal", terminal_id])
    assert echoed.exit_code == 1 and "SERVER_UNREACHABLE" in echoed.stderr and dead in echoed.stderr


@pytest.mark.parametrize("pin", [None, "123456"])
def test_a_card_number_that_is_none_has_its_own_code(terminal_id: str, pin: str | None) -> None:  # noqa: F811
    args = ["terminal", "verify-pin", "--terminal", terminal_id, "--card", "foo"]
    result = _run(args + (["--pin", pin] if pin else []))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "ok": False,
        "pin_enabled": None,
        "code": "CARD_NO_INVALID",
        "tries_left": None,
    }
    changed = _run(["terminal", "change-pin", "--terminal", terminal_id, "--card", "foo", "--old", "123456",
                    "--new", "740296"])  # fmt: skip
    assert changed.exit_code == 1 and json.loads(changed.stdout)["code"] == "CARD_NO_INVALID"


# rule PIN-3: the change goes through with either spelling of the options (contract.md: --old/--new)
def test_change_pin_takes_pin_and_new_pin_like_verify_pin(terminal_id: str) -> None:  # noqa: F811
    card = _card()
    base = ["terminal", "change-pin", "--terminal", terminal_id, "--card", card]
    result = _run([*base, "--pin", "123456", "--new-pin", "740296"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True, "code": None}
    result = _run([*base, "--old", "740296", "--new", "803152"])
    assert result.exit_code == 0, result.output
    verified = _run(["terminal", "verify-pin", "--terminal", terminal_id, "--card", card, "--pin", "803152"])
    assert json.loads(verified.stdout)["ok"] is True


# The simulator's output is its answer: httpx's per-request INFO lines ("HTTP Request: POST …") stay out
# of it, whatever the root level; httpx's warnings still show
def test_httpx_request_lines_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from sscard.logging import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.INFO)  # as basicConfig(level=INFO) leaves it
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    configure_logging(force=True)
    httpx_log = logging.getLogger("httpx")
    assert not httpx_log.isEnabledFor(logging.INFO) and not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
    assert httpx_log.isEnabledFor(logging.WARNING)
