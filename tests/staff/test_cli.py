"""``sscard staff`` and ``sscard region`` commands (CH-2): one-line reasons with stable codes on failure."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from sscard.cli.main import app

runner = CliRunner()


def _run(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin)


# rule CH-2, CH-4
def test_staff_add_list_deactivate(db_env) -> None:
    from sscard.db.session import unit_of_work
    from tests.staff.factories import ensure_region

    with unit_of_work() as uow:  # the national region, under whatever names an earlier test gave it
        ensure_region(uow, "000000")
    assert _run("region", "add", "530000", "--name-zh", "云南省", "--name-en", "Yunnan").exit_code == 0
    again = _run("region", "add", "530000", "--name-zh", "云南省", "--name-en", "Yunnan")
    assert again.exit_code == 0  # idempotent
    name = f"cli{secrets.token_hex(4)}"
    added = _run(
        "staff",
        "add",
        "--username",
        name,
        "--role",
        "auditor",
        "--region",
        "530000",
        "--password-stdin",
        "--json",
        stdin="a long enough passphrase\n",
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"username": name, "role": "auditor", "region": "530000"}
    listed = json.loads(_run("staff", "list", "--region", "530000", "--json").stdout)
    assert {"username": name, "role": "auditor", "region": "530000", "active": True} in listed
    assert all("password" not in k for row in listed for k in row)
    assert _run("staff", "deactivate", name).exit_code == 0
    listed = json.loads(_run("staff", "list", "--region", "530000", "--json").stdout)
    assert {"username": name, "role": "auditor", "region": "530000", "active": False} in listed
    assert _run("audit", "verify").exit_code == 0


def test_staff_add_failures_give_one_line_reasons(db_env) -> None:
    _run("region", "add", "000000", "--name-zh", "全国", "--name-en", "China")
    weak = _run("staff", "add", "--username", "weakling", "--role", "auditor", "--region", "000000",
                "--password-stdin", stdin="short\n")  # fmt: skip
    assert weak.exit_code == 1 and "PASSWORD_WEAK" in weak.output and "Traceback" not in weak.output
    nowhere = _run("staff", "add", "--username", "nowhere", "--role", "auditor", "--region", "990000",
                   "--password-stdin", stdin="a long enough passphrase\n")  # fmt: skip
    assert nowhere.exit_code == 1 and "REGION_NOT_FOUND" in nowhere.output
    empty = _run("staff", "add", "--username", "empty", "--role", "auditor", "--region", "000000",
                 "--password-stdin", stdin="")  # fmt: skip
    assert empty.exit_code == 1 and "STAFF_INVALID" in empty.output
    bad_role = _run("staff", "add", "--username", "x", "--role", "janitor", "--region", "000000", "--password-stdin")
    assert bad_role.exit_code == 2
    missing = _run("staff", "deactivate", "no-such-user")
    assert missing.exit_code == 1 and "STAFF_NOT_FOUND" in missing.output
    bad_region = _run("region", "add", "12345", "--name-zh", "x", "--name-en", "x")
    assert bad_region.exit_code == 1 and "REGION_INVALID" in bad_region.output
