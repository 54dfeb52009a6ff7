"""``sscard person correct`` / ``correct-id`` (QPW-3): the CLI's record corrections, two staff for the ID."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.people.service import find_person_by_id_number
from sscard.staff.roles import Role
from tests.people.factories import add_test_person, new_id_number, new_phone
from tests.staff.factories import PASSWORD, ensure_region, make_staff

runner = CliRunner()
ENV = {"SSCARD_STAFF_PASSWORD": PASSWORD, "SSCARD_SECOND_PASSWORD": PASSWORD}


def _person(region: str = "110105") -> tuple[int, str]:
    number = new_id_number(region=region)
    with unit_of_work() as uow:
        ensure_region(uow, region)
        return add_test_person(uow, id_number=number, phone=new_phone()).id, number


def _staff(role: Role, region: str = "110000") -> str:
    with unit_of_work() as uow:
        return make_staff(uow, role=role, region_code=region).username


def _doc(number: str) -> list[str]:
    return ["--document-type", "resident_id_card", "--document-number", number]


# rule QPW-3 / PER-1: the local operator corrects the phone with the evidence; the same value is refused
def test_correct_contact(db_env) -> None:
    person_id, number = _person()
    phone = new_phone()
    result = runner.invoke(app, ["person", "correct", number, "--phone", phone, *_doc(number), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["phone_masked"] == phone[:3] + "****" + phone[-4:]
    again = runner.invoke(app, ["person", "correct", number, "--phone", phone, *_doc(number)])
    assert again.exit_code == 1 and "CORRECTION_NO_CHANGE" in again.output


# rule QPW-3 / CH-2: the ID changes with a clerk asking and another staff member, a supervisor, approving
def test_correct_id_two_staff(db_env) -> None:
    person_id, number = _person()
    right = new_id_number(region="110105")
    clerk, supervisor = _staff(Role.COUNTER_CLERK), _staff(Role.COUNTER_SUPERVISOR)
    base = ["person", "correct-id", number, "--new-id", right, "--reason", "录入错误", *_doc(right)]
    for approver, code in ((clerk, "CORRECTION_NEEDS_SUPERVISOR"), (supervisor, "SELF_APPROVAL")):
        maker = supervisor if approver == supervisor else clerk
        refused = runner.invoke(app, [*base, "--as", maker, "--approver", approver], env=ENV)
        assert refused.exit_code == 1 and code in refused.output, refused.output
    far = _staff(Role.COUNTER_SUPERVISOR, "440000")
    refused = runner.invoke(app, [*base, "--as", clerk, "--approver", far], env=ENV)
    assert refused.exit_code == 1 and "OUTSIDE_REGION" in refused.output
    with unit_of_work() as uow:
        assert find_person_by_id_number(uow, number).id == person_id  # nothing changed by the refusals
    done = runner.invoke(app, [*base, "--as", clerk, "--approver", supervisor, "--json"], env=ENV)
    assert done.exit_code == 0, done.output
    assert right not in done.stdout and json.loads(done.stdout)["person_id"] == person_id
    with unit_of_work() as uow:
        person = find_person_by_id_number(uow, right)
        assert person is not None and person.id_number == right
        assert find_person_by_id_number(uow, number) is None
