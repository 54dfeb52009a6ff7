"""``sscard uscc check`` and ``sscard employer`` (contract: Insurance records)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cli.main import app
from tests.people.factories import new_id_number

runner = CliRunner()


# rule INS-1: several codes, one JSON line each, exit 1 when any is invalid
def test_uscc_check_json() -> None:
    result = runner.invoke(app, ["uscc", "check", "9144030071526726XG", "9144030071526726XH", "--json"])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"valid": True, "uscc": "9144030071526726XG", "code": None},
        {"valid": False, "uscc": "9144030071526726XH", "code": "USCC_CHECKSUM"},
    ]
    ok = runner.invoke(app, ["uscc", "check", "-", "--json"], input="91350100M000100Y43\n\n")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True


# rule INS-1: employer add, then register-employee late (deadline = start + 30 days)
def test_employer_add_and_register_employee(db_env) -> None:
    from tests.employers.factories import new_uscc

    code = new_uscc()
    from sscard.db.session import unit_of_work
    from tests.staff.factories import ensure_region

    with unit_of_work() as uow:
        ensure_region(uow, "110000")
    added = runner.invoke(app, ["employer", "add", "--uscc", code, "--name", "甲公司", "--region", "110000", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["employer_id"] >= 1
    wrong_check = "1" if code[-1] == "0" else "0"  # any character but the right check character
    bad = runner.invoke(
        app, ["employer", "add", "--uscc", code[:-1] + wrong_check, "--name", "x", "--region", "110000"]
    )
    assert bad.exit_code == 1 and "USCC_" in bad.output
    number = new_id_number(born=__import__("datetime").date(1990, 5, 5))
    person = runner.invoke(app, ["person", "add", "--id", number, "--name", "李四", "--json"])
    assert person.exit_code == 0, person.output
    reg = runner.invoke(
        app,
        [
            "employer",
            "register-employee",
            "--uscc",
            code,
            "--id",
            number,
            "--start",
            "2025-01-01",
            "--registered",
            "2025-02-05",
            "--json",
        ],
    )
    assert reg.exit_code == 0, reg.output
    body = json.loads(reg.stdout)
    assert body["late"] is True and body["days_late"] == 5  # deadline 2025-01-31, five days later


# rule QPW-5: `employer add --contact-phone` keeps the number the temporary password is sent to (without
# it the employer's account could never sign in); a bad number is refused with PHONE_INVALID
def test_employer_add_with_contact_phone(db_env) -> None:
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.employers.accounts import issue_temporary_password
    from tests.employers.factories import new_uscc
    from tests.staff.factories import ensure_region

    with unit_of_work() as uow:
        ensure_region(uow, "110000")
    add = ["employer", "add", "--region", "110000", "--name"]
    bad = runner.invoke(app, [*add, "乙公司", "--uscc", new_uscc(), "--contact-phone", "123"])
    assert bad.exit_code == 1 and "PHONE_INVALID" in bad.output
    bare, reachable = new_uscc(), new_uscc()
    for code, extra in ((bare, []), (reachable, ["--contact-name", "王经理", "--contact-phone", "138 0013 8000"])):
        added = runner.invoke(app, [*add, "丙公司", "--uscc", code, *extra])
        assert added.exit_code == 0, added.output
    with unit_of_work() as uow:
        why = {
            code: issue_temporary_password(
                uow, uscc=code, channel="sms", now=utcnow(), temporary="Tmp-test-1234", temp_hash="x"
            )
            for code in (bare, reachable)
        }
    assert why == {bare: "no_contact", reachable: None}
