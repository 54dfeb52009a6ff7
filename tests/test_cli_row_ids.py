"""A row id on the command line that no row can have is a usage error (exit 2), never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sscard.cli.main import app


def _id_arguments(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str, int]]:
    """(command path, argument name, arguments before it) of every positional ``…_id`` argument of
    every command (typer vendors click, so its classes are told by what they have)."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _id_arguments(sub, (*path, name))
        return
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    for position, param in enumerate(arguments):
        if (param.name or "").endswith("_id"):
            yield " ".join(path), param.name or "", position


def _plain(output: str) -> str:
    """The message without rich's box and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


# "bad input gets a clear error ... never a traceback": SQLite could not bind 2**63 (OverflowError).
# Every command with an id argument, found by walking the CLI: click checks the values given first, so
# the id is refused before a missing option is noticed.
def test_every_id_argument_refuses_an_id_no_row_can_have(db_env) -> None:
    found = list(_id_arguments(typer.main.get_command(app)))
    assert len(found) >= 30, found  # the key register's commands, import errors, notify retry, ceremonies
    for path, name, before in found:  # the ids before it (a measure of an incident) are plausible ones
        result = CliRunner().invoke(app, [*path.split(), "--", *["1"] * before, str(2**63)])
        output = _plain(result.output)
        assert result.exit_code == 2, f"{path}: {result.output}"
        assert f"Invalid value for '{name}': an id is a whole number from 1 to {2**63 - 1}" in output, output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["0", "-5", str(2**64)])
def test_zero_and_negative_ids_are_refused_too(db_env, value: str) -> None:
    result = CliRunner().invoke(app, ["import", "errors", "--", value])
    assert result.exit_code == 2
    assert "an id is a whole number from 1 to" in _plain(result.output)
