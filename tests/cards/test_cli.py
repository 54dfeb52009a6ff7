"""``sscard card`` through Typer's CliRunner against the test database (contract.md)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cards.numbers import is_card_no
from sscard.cli.main import app
from tests.people.factories import new_id_number

runner = CliRunner()


def _ok(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def _fails(args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0, result.output
    assert code in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


def _person() -> str:
    number = new_id_number()
    _ok(["person", "add", "--id", number, "--name", "张三", "--json"])
    return number


# rule CARD-1 / CARD-3: `card issue ID --json` → {"card_no"}; `card activate` → {"card_no"}
def test_issue_and_activate(db_env) -> None:
    number = _person()
    issued = _ok(["card", "issue", number, "--json"])
    assert set(issued) == {"card_no"} and is_card_no(issued["card_no"])
    assert _ok(["card", "activate", issued["card_no"], "--json"]) == issued
    shown = _ok(["card", "show", issued["card_no"], "--json"])
    assert (shown["state"], shown["card_type"], shown["generation"]) == ("active", "social", 3)
    for ctype in ("medical", "rural"):
        other = _ok(["card", "issue", number, "--type", ctype, "--json"])
        assert _ok(["card", "show", other["card_no"], "--json"])["card_type"] == ctype
    text = runner.invoke(app, ["card", "activate", issued["card_no"]])
    assert text.exit_code != 0 and "CARD_ILLEGAL_TRANSITION" in text.output and "active" in text.output


# rule CARD-2 / CARD-3: errors name their code in one line
def test_card_errors(db_env) -> None:
    number = _person()
    _ok(["card", "issue", number, "--json"])
    _fails(["card", "issue", number], "CARD_LIVE_EXISTS")
    _fails(["card", "issue", number, "--type", "gold"], "CARD_TYPE_INVALID")
    _fails(["card", "issue", new_id_number()], "PERSON_NOT_FOUND")
    _fails(["card", "issue", "110105194912310021"], "ID_CHECKSUM")
    _fails(["card", "activate", "A00000000"], "CARD_NOT_FOUND")
    _fails(["card", "activate", "garbage"], "CARD_NOT_FOUND")
    _fails(["card", "show", "Z99999999"], "CARD_NOT_FOUND")


# rule CARD-5 / CARD-2: report loss, confirm with evidence, replace with a new number
def test_loss_and_replace(db_env) -> None:
    number = _person()
    card_no = _ok(["card", "issue", number, "--json"])["card_no"]
    _ok(["card", "activate", card_no, "--json"])
    report = _ok(["card", "report-loss", number, "--json"])
    assert report["card_no_masked"] == card_no[:5] + "****" and report["state"] == "provisional"
    assert card_no not in json.dumps(report) and report["expires_at"]
    _fails(["card", "replace", card_no], "CARD_ILLEGAL_TRANSITION")
    _fails(["card", "confirm-loss", card_no, "--evidence", ""], "EVIDENCE_REQUIRED")
    confirmed = _ok(["card", "confirm-loss", card_no, "--evidence", "resident ID card", "--json"])
    assert confirmed["state"] == "lost"
    new = _ok(["card", "replace", card_no, "--json"])
    assert new["card_no"] != card_no and new["replaces"] == card_no
    assert _ok(["card", "show", card_no, "--json"])["state"] == "replaced"
    _fails(["card", "activate", card_no], "CARD_ILLEGAL_TRANSITION")
    _ok(["card", "activate", new["card_no"], "--json"])
    _ok(["card", "cancel", new["card_no"], "--reason", "holder_request", "--json"])
    assert _ok(["card", "expire-loss-reports", "--json"]).keys() == {"expired"}
    _fails(["card", "report-loss", new_id_number()], "LOSS_REPORT_NO_CARD")


# rule CH-4: after the CLI work the audit chain verifies
def test_audit_verify_after_cli(db_env) -> None:
    number = _person()
    card_no = _ok(["card", "issue", number, "--json"])["card_no"]
    _ok(["card", "activate", card_no, "--json"])
    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ok"] is True and out["checkpoints"] >= 1  # at least the stream the card's entries went to


# The walk's progress goes to stderr as lines when it is not a terminal; --json stays one object
def test_audit_verify_progress_lines(db_env, monkeypatch) -> None:
    from sscard.cli import audit_cmd

    monkeypatch.setattr(audit_cmd, "PROGRESS_EVERY_S", 0.0)
    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert "progress: " in result.stderr and " entries/s)" in result.stderr
