"""Issue 22 item 5: the data directory is resolved once, and an operator never meets a traceback: one
line with a stable code and a documented exit code (cli/common.py EXIT_*)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sscard.cli.common import EXIT_INTERNAL, EXIT_NOT_INITIALISED
from sscard.cli.main import app
from sscard.config import get_settings, reset_settings_cache
from sscard.db.session import reset_engine_cache
from tests.people.factories import new_id_number


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A shell in some other directory, with no SSCARD_DATA_DIR and no database URL: ./var is the default."""
    for name in ("SSCARD_DATA_DIR", "SSCARD_DATABASE_URL", "SSCARD_DATABASE_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    reset_settings_cache()
    reset_engine_cache()
    yield tmp_path
    reset_settings_cache()
    reset_engine_cache()


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_the_data_directory_is_resolved_once_to_an_absolute_path(elsewhere: Path) -> None:
    assert get_settings().data_dir == (elsewhere / "var").resolve()
    assert get_settings().data_dir.is_absolute()


@pytest.mark.parametrize("command", [["card", "show", "A00000001"], ["person", "show", new_id_number()]])
def test_a_command_run_where_no_database_is_says_so_and_creates_nothing(elsewhere: Path, command: list[str]) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == EXIT_NOT_INITIALISED
    line = _one_line(result.stderr)
    assert "DATABASE_NOT_INITIALISED" in line and "run sscard db upgrade" in line
    assert str((elsewhere / "var").resolve()) in line  # the data dir it looked in
    assert "Traceback" not in result.output
    assert not (elsewhere / "var").exists()  # no empty ./var left behind


# The security module the settings select (not the session's test keystore): opening it is what
# used to leave ./var/keys with a fresh master key behind before the database was ever looked at.
@pytest.mark.parametrize("command", [["person", "show", new_id_number()], ["card", "show", "A00000001"]])
def test_no_keystore_is_made_for_a_database_that_is_not_there(
    elsewhere: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sscard.security_module._module", None)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == EXIT_NOT_INITIALISED, result.output
    line = _one_line(result.stderr)
    assert line.startswith("error DATABASE_NOT_INITIALISED: database not initialised: run sscard db upgrade")
    assert f"(data dir: {(elsewhere / 'var').resolve()})" in line
    assert not (elsewhere / "var").exists()  # no ./var/keys, no master key, no keystore


def test_an_empty_database_file_is_not_initialised_either(elsewhere: Path) -> None:
    (elsewhere / "var").mkdir()
    (elsewhere / "var" / "sscard.db").touch()  # e.g. left by an older version, or a failed upgrade
    result = CliRunner().invoke(app, ["card", "show", "A00000001"])
    assert result.exit_code == EXIT_NOT_INITIALISED
    assert "DATABASE_NOT_INITIALISED" in _one_line(result.stderr)


def test_an_unforeseen_error_is_one_line_naming_it_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import sscard.cli.id_cmd as id_cmd

    def broken(_raw: str) -> None:
        raise KeyError("some-internal-key")

    monkeypatch.delenv("SSCARD_DEBUG", raising=False)
    monkeypatch.setattr(id_cmd, "parse_citizen_id", broken)
    result = CliRunner().invoke(app, ["id", "check", "110101199003071234"])
    assert result.exit_code == EXIT_INTERNAL
    line = _one_line(result.stderr)
    assert "INTERNAL_ERROR" in line and "KeyError" in line and "SSCARD_DEBUG" in line
    assert "Traceback" not in result.output
