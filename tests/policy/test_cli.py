"""``sscard policy show|set|history|report`` (contract: exit 0, or non-zero with a one-line reason)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.db.session import unit_of_work
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region

runner = CliRunner()


def test_set_show_history(db_env) -> None:
    district = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, district)
    r = runner.invoke(
        app,
        ["policy", "set", district, "loss_report_expiry_days=7", "pin_reset_mode=initial", "--reason", "cli", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["version"] == 1
    campaign = json.dumps([{"name": "c1", "start_date": "2026-04-13", "populations": ["urban_employee_medical"]}])
    r = runner.invoke(app, ["policy", "set", district, f"pin_change_campaigns={campaign}", "--reason", "campaign"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["policy", "show", district, "--json"])
    shown = json.loads(r.stdout)
    assert shown["values"]["loss_report_expiry_days"] == 7
    assert shown["values"]["pin_change_campaigns"][0]["name"] == "c1"
    assert shown["sources"]["pin_reset_mode"] == f"{district}/any v2"
    r = runner.invoke(app, ["policy", "history", district, "--json"])
    assert [v["version"] for v in json.loads(r.stdout)] == [1, 2]
    r = runner.invoke(app, ["policy", "show", district])
    assert r.exit_code == 0 and "loss_report_expiry_days" in r.stdout


def test_errors_are_one_line(db_env) -> None:
    district = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, district)
    r = runner.invoke(app, ["policy", "set", district, "pin_lockout_threshold=0", "--reason", "bad"])
    assert r.exit_code == 1 and "POLICY_INVALID" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["policy", "set", district, "novalue", "--reason", "bad"])
    assert r.exit_code == 1 and "KEY=VALUE" in r.stderr
    r = runner.invoke(app, ["policy", "show", "12345"])
    assert r.exit_code == 1 and "POLICY_INVALID" in r.stderr


def test_report(db_env) -> None:
    r = runner.invoke(app, ["policy", "report", "--json"])
    assert r.exit_code == 0 and isinstance(json.loads(r.stdout), list)
