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
