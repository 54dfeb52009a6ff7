"""`sscard --help` names what the local operator may run without staff credentials (CH-2), read from the
commands themselves (``cli.common.acts_as_staff``), so the list cannot drift from what they do."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from sscard.cli import reference
from sscard.cli.common import acts_as_staff
from sscard.cli.main import app

COMMANDS = dict(reference.commands())
# Commands whose --as is optional because the local operator may run them without it: the key hierarchy's,
# where only the national root and province keys take two custodians (KEY-6, refused by the service).
OPERATOR_MAY_NAME_STAFF = {f"sscard keys {name}" for name in ("derive", "export", "import", "revoke", "rotate")}


# rule CH-2: a command that acts only as an authenticated staff member is left out of the operator's list;
# every other command is in it (settlement's included)
def test_the_help_lists_what_the_operator_may_run() -> None:
    staff = {name for name, command in COMMANDS.items() if acts_as_staff(command)}
    assert {
        "sscard keys init-root",
        "sscard keys devices add",
        "sscard keys carriers sign",
        "sscard keys ceremony start",
        "sscard keys handovers complete",
        "sscard person correct-id",
        "sscard terminal register",
    } <= staff
    assert not staff & {"sscard keys list", "sscard keys devices list", "sscard settlement file", "sscard person add"}
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "2000", "TERMINAL_WIDTH": "2000"})
    assert result.exit_code == 0, result.output
    listed = " ".join(re.search(r"only for: (.*?); the national root", result.output, re.S).group(1).split())
    assert "settlement" in listed.split(", ") and "serve" in listed.split(", ")
    assert "person (add, correct, show, status)" in listed
    assert "init-root" not in listed and "devices add" not in listed and "ceremony" not in listed
    assert "{operator_commands}" not in result.output


# rule CH-2: a command that takes --as either runs only as that staff member or is one the operator may run
# without it (named here): a new command taking --as must say which (common.staff_only or a required --as)
def test_every_command_taking_as_says_whether_the_operator_may_run_it() -> None:
    optional = {
        name
        for name, command in COMMANDS.items()
        if any("--as" in getattr(p, "opts", ()) for p in command.params) and not acts_as_staff(command)
    }
    assert optional == OPERATOR_MAY_NAME_STAFF
