"""Issue 22 item 9: the command line answers alike everywhere (typer's CliRunner, the test database)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region

runner = CliRunner()


# rule CARD-1: the operator sees a person's cards where they look the person up
def test_person_show_lists_the_persons_cards(db_env) -> None:
    number = new_id_number()
    with unit_of_work() as uow:
        card_no = make_card(uow, id_number=number).card_no
    shown = runner.invoke(app, ["person", "show", number, "--json"])
    assert shown.exit_code == 0, shown.output
    cards = json.loads(shown.stdout)["cards"]
    assert [c["card_no"] for c in cards] == [card_no] and cards[0]["state"] == "active"
    text = runner.invoke(app, ["person", "show", number])
    assert text.exit_code == 0 and card_no in text.stdout


def test_staff_at_the_cli_see_the_card_number_they_typed(db_env) -> None:
    typed = "Z99999998"
    result = runner.invoke(app, ["card", "show", typed])
    assert result.exit_code == 1
    assert "CARD_NOT_FOUND" in result.stderr and typed in result.stderr and "****" not in result.stderr


def test_policy_takes_region_by_name_and_positionally(db_env) -> None:
    district = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, district)
    by_name = runner.invoke(
        app, ["policy", "set", "--region", district, "loss_report_expiry_days=9", "--reason", "by name", "--json"]
    )
    assert by_name.exit_code == 0, by_name.output
    shown = runner.invoke(app, ["policy", "show", "--region", district, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["values"]["loss_report_expiry_days"] == 9
    positional = runner.invoke(app, ["policy", "show", district, "--json"])  # the older spelling still works
    assert json.loads(positional.stdout)["values"] == json.loads(shown.stdout)["values"]
    history = runner.invoke(app, ["policy", "history", "--region", district, "--json"])
    assert [v["reason"] for v in json.loads(history.stdout)] == ["by name"]


def test_policy_set_names_the_valid_keys_and_asks_for_a_reason_by_name(db_env) -> None:
    district = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, district)
    unknown = runner.invoke(app, ["policy", "set", "--region", district, "no_such_key=1", "--reason", "test"])
    assert unknown.exit_code == 1 and "POLICY_INVALID" in unknown.stderr
    assert "no_such_key" in unknown.stderr and "loss_report_expiry_days" in unknown.stderr  # the valid keys
    no_reason = runner.invoke(app, ["policy", "set", "--region", district, "loss_report_expiry_days=9"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    helped = runner.invoke(app, ["policy", "set", "--help"], env={"COLUMNS": "200"})
    assert "--reason" in helped.stdout and "--region" in helped.stdout


@pytest.mark.parametrize("command", ["show", "history"])
def test_policy_of_an_unknown_region_fails(db_env, command: str) -> None:
    result = runner.invoke(app, ["policy", command, "--region", "119899"])  # well formed, never registered
    assert result.exit_code == 1 and "REGION_NOT_FOUND" in result.stderr, result.output
    national = runner.invoke(app, ["policy", command, "--region", "000000", "--json"])
    assert national.exit_code == 0, national.output  # the national level needs no row


def test_reports_take_region_as_the_other_commands_do(db_env) -> None:
    for group in ("policy", "pin"):
        new = runner.invoke(app, [group, "report", "--region", "110000", "--json"])
        old = runner.invoke(app, [group, "report", "--within", "110000", "--json"])
        assert new.exit_code == old.exit_code == 0, new.output
        assert json.loads(new.stdout) == json.loads(old.stdout)


def test_commands_that_only_confirmed_in_words_answer_json_too(db_env) -> None:
    from tests.staff.factories import make_staff

    with unit_of_work() as uow:
        account = make_staff(uow, role=Role.COUNTER_CLERK, region_code="110000")
    unlocked = runner.invoke(app, ["staff", "unlock", account.username, "--json"])
    assert unlocked.exit_code == 0, unlocked.output
    assert json.loads(unlocked.stdout) == {"username": account.username, "unlocked": False}
    district = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, district[:4] + "00")
    added = runner.invoke(app, ["region", "add", district, "--name-zh", "测试区", "--name-en", "Test", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["code"] == district
