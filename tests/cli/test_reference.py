"""Issue 22 items 9 and 11: the README lists every command (generated, so it cannot drift), and the
command line's help reads alike everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sscard.cli import reference
from sscard.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = reference.commands()


def test_the_readme_lists_every_command_as_generated() -> None:
    readme = README.read_text(encoding="utf-8")
    current = reference.current_section(readme)
    assert current is not None, f"README.md has no {reference.BEGIN!r} section"
    missing = [name for name, _command in COMMANDS if f"| `{name}" not in current]
    assert not missing, f"commands missing from README.md: {missing}"
    assert current == reference.section(), "run: .venv/bin/python -m sscard.cli.reference --write README.md"


def test_the_reference_walks_the_whole_app() -> None:
    names = {name for name, _command in COMMANDS}
    # one per group at least, and the nested ones (keys devices ...)
    for expected in ("sscard card show", "sscard serve", "sscard keys devices add", "sscard terminal verify-pin"):
        assert expected in names
    assert len(names) >= 100


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


GROUPS = sorted({tuple(name.split()[1:-1]) for name, _command in COMMANDS if len(name.split()) > 2})


@pytest.mark.parametrize("args", [[], *[list(g) for g in GROUPS], *[n.split()[1:] for n, _c in COMMANDS]], ids=str)
def test_help_shows_no_issue_numbers_and_no_type_beside_flags(args: list[str]) -> None:
    text = _help(args)
    assert not re.search(r"\bissues? \d+", text, re.I), text  # the tracker is ours, not the operator's
    assert "<bool>" not in text and "BOOLEAN" not in text, text


def test_every_json_option_says_what_it_does() -> None:
    silent = [
        name
        for name, command in COMMANDS
        for param in command.params
        if "--json" in (getattr(param, "opts", None) or []) and not (param.help or "").strip()
    ]
    assert not silent


def test_region_options_are_named_region() -> None:
    """The same option name everywhere: a region is `--region CODE` (older spellings may remain as aliases)."""
    for name, command in COMMANDS:
        for param in command.params:
            opts = getattr(param, "opts", None) or []
            if "--within" in opts:
                assert "--region" in opts, name


def test_piped_tables_keep_their_full_width() -> None:
    from rich.table import Table

    from sscard.cli import common

    long_value = "广东省深圳市福田区" + "x" * 150
    table = Table("code", "name")
    table.add_row("440304", long_value)
    runner = CliRunner()
    with runner.isolation() as (out, _err, *_rest):
        common.console.print(table)
        printed = out.getvalue().decode()
    assert long_value in printed  # one line, not wrapped at 80 columns nor cut with "…"


# Commands that answer otherwise, each for its reason: everything else answers --json.
NO_JSON = {
    "sscard serve": "runs the server; prints a banner",
    "sscard worker": "runs the queue workers until stopped; prints a banner",
    "sscard statements show": "writes the statement PDF to --out",
    "sscard keys report audit": "writes the report in --format csv|pdf|json",
    "sscard keys report inventory": "writes the report in --format csv|pdf|json",
    **{
        f"sscard terminal {name}": "the simulator always answers one JSON object (contract.md)"
        for name in ("register", "echo", "verify-pin", "change-pin", "card-info", "settle", "refund", "reverse")
    },
}


def test_every_command_that_answers_has_json() -> None:
    without = {
        name
        for name, command in COMMANDS
        if not any("--json" in (getattr(param, "opts", None) or []) for param in command.params)
    }
    assert without == set(NO_JSON)


def test_no_command_takes_the_region_as_a_bare_argument() -> None:
    """`--region CODE` everywhere; a positional region survives only hidden, for older scripts."""
    positional = [
        name
        for name, command in COMMANDS
        for param in command.params
        if getattr(param, "param_type_name", "") == "argument"
        and "region" in (param.name or "")
        and not getattr(param, "hidden", False)
    ]
    assert not positional
