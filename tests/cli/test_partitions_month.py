"""`sscard partitions detach --before`: only YYYY-MM in ASCII digits is a month (no traceback, no guess)."""

from __future__ import annotations

from datetime import date

import pytest
import typer

from sscard.cli.partitions_cmd import _month


def test_a_month_is_read() -> None:
    assert _month("2024-10") == date(2024, 10, 1)


@pytest.mark.parametrize(
    "value", ["99999999999999999999-01", "2024-1_0", "２０２４-１０", "2024-13", "2024-00", "0000-01", "2024-01-01", ""]
)
def test_anything_else_is_refused_with_the_expected_form(value: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected YYYY-MM"):
        _month(value)


# `sscard partitions ensure --months-ahead` below 0 is a bad option on every backend (exit 2, naming the
# option), before the database is asked: SQLite, which has nothing to partition, said so and exited 0
@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_months_ahead_below_zero_is_refused_on_every_backend(db_env) -> None:
    from typer.testing import CliRunner

    from sscard.cli.main import app

    wide = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    result = CliRunner().invoke(app, ["partitions", "ensure", "--months-ahead", "-3"], env=wide)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--months-ahead'" in result.output
    assert "nothing is partitioned" not in result.output and "created" not in result.output
