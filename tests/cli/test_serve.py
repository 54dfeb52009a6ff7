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
