"""A misconfigured SSCARD_* variable is one clear line on the command line, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.config import reset_settings_cache


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.mark.parametrize(
    ("value", "reason"),
    [("abc", "valid number"), ("99", "less than or equal to 50")],
)
def test_a_bad_setting_is_named_with_its_reason(monkeypatch, fresh_settings, value: str, reason: str) -> None:
    monkeypatch.setenv("SSCARD_PIN_VERIFY_LINGER_MS", value)
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 2
    assert "SSCARD_PIN_VERIFY_LINGER_MS" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.output and value not in result.stderr.replace("SSCARD_", "")
    assert result.exception is None or isinstance(result.exception, SystemExit)
