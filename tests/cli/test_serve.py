"""Issue 22 item 7: `sscard serve` binds first, then prints its banner."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from typer.testing import CliRunner

from sscard.cli.main import app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_busy_port_is_one_line_and_no_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("sscard.cli.serve._run_uvicorn", lambda *a: started.append(a))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--no-dispatch"])
    assert result.exit_code == 1 and not started
    assert "ADDRESS_UNAVAILABLE" in result.stderr and f"127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Press Ctrl+C" not in result.output and "serving on" not in result.output


def test_the_banner_follows_the_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def run(sock: socket.socket, workers: int) -> None:
        seen.append(sock.getsockname()[1])  # already bound when the banner was printed
        sock.close()

    monkeypatch.setattr("sscard.cli.serve._run_uvicorn", run)
    port = _free_port()
    result = CliRunner().invoke(app, ["serve", "--port", str(port), "--no-dispatch"])
    assert result.exit_code == 0, result.output
    assert seen == [port]
    assert f"serving on http://127.0.0.1:{port}/" in result.stdout and "Press Ctrl+C" in result.stdout
    assert "/readyz" in result.stdout


# rule KEY-4: outside prod the server says once, at start and loudly, that prod would refuse its device
def test_the_banner_warns_of_an_uncertified_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sscard.cli.serve._run_uvicorn", lambda sock, workers: sock.close())
    result = CliRunner().invoke(app, ["serve", "--port", str(_free_port()), "--no-dispatch"])
    assert result.exit_code == 0, result.output
    assert "WARNING (refused with SSCARD_ENV=prod)" in result.stderr and "KEY-4" in result.stderr
    assert "device_not_configured" in result.stderr
    assert "WARNING" not in CliRunner().invoke(app, ["--help"]).output


# rule KEY-4: a development server says it once per process: `sscard serve`'s banner says it, and the app
# factory Uvicorn then runs in the same process does not say it again (the module's guard records it)
def test_a_dev_server_warns_of_its_device_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import secrets

    from structlog.testing import capture_logs

    from sscard.api.app import create_app
    from sscard.security_module.device import DeviceGuard
    from sscard.security_module.factory import open_soft_module
    from tests.conftest import dev_env

    guard = DeviceGuard(lookup=lambda serial: None, configured_serial=None, enforce=False, warn=False)
    module = open_soft_module(
        tmp_path / "keys", suite="sm", master_key=secrets.token_hex(16), device_guard=lambda backend: guard
    )
    monkeypatch.setattr("sscard.security_module._module", module)
    apps: list[Any] = []

    def run(sock: socket.socket, workers: int) -> None:
        sock.close()
        apps.append(create_app())  # what Uvicorn does in this process (factory=True, one worker)

    monkeypatch.setattr("sscard.cli.serve._run_uvicorn", run)
    with dev_env(), capture_logs() as logs:
        result = CliRunner().invoke(app, ["serve", "--port", str(_free_port()), "--no-dispatch"])
        create_app()  # another app in the same process (a reload): still quiet
        fresh = DeviceGuard(lookup=lambda serial: None, configured_serial=None, enforce=False, warn=False)
        monkeypatch.setattr(module, "device_guard", fresh)
        create_app()  # a process of its own (another worker) says it, once
    assert result.exit_code == 0, result.output
    assert len(apps) == 1 and result.stderr.count("device_not_configured") == 1
    said = [e for e in logs if e["event"] == "security.device.not_certified"]
    assert len(said) == 1 and "device_not_configured" in said[0]["detail"]
