"""The imports' --batch-size is documented in their help, with the default each really uses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sscard.cli.main import app


@pytest.mark.parametrize(
    ("command", "module"),
    [
        (["import", "persons"], "sscard.imports.service"),
        (["contributions", "import"], "sscard.jobs.contributions_import"),
    ],
)
def test_batch_size_is_in_the_help(command: list[str], module: str) -> None:
    import importlib

    default = importlib.import_module(module).DEFAULT_BATCH_SIZE
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    assert "--batch-size" in result.output and f"Rows per batch (default {default})" in result.output
