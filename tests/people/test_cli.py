"""``sscard person`` through Typer's CliRunner against the test database (contract.md)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cli.main import app
from tests.people.factories import new_id_number

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


# rule PER-1: `person add ... --json` answers exactly {"person_id"}
def test_person_add_json(db_env) -> None:
    number = new_id_number()
    data = _json(
        runner.invoke(
            app,
            [
                "person",
                "add",
                "--id",
                number,
                "--name",
                "张三",
                "--phone",
                "13800138000",
                "--email",
                "z@example.com",
                "--json",
            ],
        )
    )
    assert set(data) == {"person_id"} and isinstance(data["person_id"], int)
    shown = _json(runner.invoke(app, ["person", "show", number, "--json"]))
    assert shown["person_id"] == data["person_id"] and shown["phone_masked"] == "138****8000"
    assert number not in json.dumps(shown)


# rule ID-5: the human-readable answer shows the ID masked
def test_person_add_text(db_env) -> None:
    number = new_id_number()
    result = runner.invoke(app, ["person", "add", "--id", number, "--name", "李四"])
    assert result.exit_code == 0, result.output
    assert "added" in result.stdout and number not in result.output and number[:4] in result.stdout


# rule ID-1 / ID-3 / ID-4 / PER-1: errors are one line with the stable code, non-zero exit
def test_person_add_errors(db_env) -> None:
    number = new_id_number(gender="M")
    assert runner.invoke(app, ["person", "add", "--id", number, "--name", "王五", "--json"]).exit_code == 0
    cases = [
        (["--id", number, "--name", "王五"], "PERSON_DUPLICATE"),
        (["--id", "110105194912310021", "--name", "王五"], "ID_CHECKSUM"),
        (["--id", "12345", "--name", "王五"], "ID_LENGTH"),
        (["--id", new_id_number(gender="F"), "--name", "王五", "--gender", "M"], "ID_MISMATCH"),
        (["--id", new_id_number(), "--name", "王五", "--phone", "123"], "PHONE_INVALID"),
        (["--id", new_id_number(), "--name", "王五", "--email", "nope"], "EMAIL_INVALID"),
        (["--id", new_id_number(), "--name", "王五", "--birth-date", "1990-13-01"], "DATE_INVALID"),
        (["--id", new_id_number(), "--name", "12"], "NAME_INVALID"),
    ]
    for args, code in cases:
        result = runner.invoke(app, ["person", "add", *args, "--json"])
        assert result.exit_code != 0, (args, result.output)
        assert code in result.output, (code, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output
        assert number not in result.output


# rule PER-1 / CARD-1: status from the CLI; deceased cancels cards
def test_person_status(db_env) -> None:
    number = new_id_number()
    assert runner.invoke(app, ["person", "add", "--id", number, "--name", "赵六"]).exit_code == 0
    card_no = _json(runner.invoke(app, ["card", "issue", number, "--json"]))["card_no"]
    data = _json(runner.invoke(app, ["person", "status", number, "deceased", "--json"]))
    assert data["status"] == "deceased"
    assert _json(runner.invoke(app, ["card", "show", card_no, "--json"]))["state"] == "cancelled"
    result = runner.invoke(app, ["person", "status", number, "employed"])
    assert result.exit_code != 0 and "PERSON_DECEASED" in result.output
    result = runner.invoke(app, ["person", "status", new_id_number(), "retired"])
    assert result.exit_code != 0 and "PERSON_NOT_FOUND" in result.output
