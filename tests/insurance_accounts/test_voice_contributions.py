"""The 12345 voice query answers the contribution status from real data, non-sensitive only (INS-5)."""

from __future__ import annotations

from datetime import date

import pytest

from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.insurance.accounts.records import contribution_status
from sscard.staff.roles import Role
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import add_test_person, new_id_number

URL = "/api/v1/hotline/voice-query"


def _months_back(today: date, n: int) -> date:
    y, m = today.year, today.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def _contributor(*, through_months_ago: int, employer_name: str = "声讯保密科技有限公司") -> tuple[str, int]:
    today = china_today()
    number = new_id_number(region="110105")
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=number, name="欧阳修")
        employer = make_employer(uow, name=employer_name)
        reg = register(uow, person_id=person.id, employer=employer, start=_months_back(today, 6))
        for n in range(6, through_months_ago - 1, -1):
            declare(uow, reg=reg, period=_months_back(today, n), base_fen=876_543)
        return number, person.id


@pytest.fixture(autouse=True)
def _operator(client, staff_headers) -> None:
    client.headers.update(staff_headers(Role.HOTLINE_OPERATOR, "000000"))


# rule INS-5: declared through last month → "yes" with the month; never an amount, an employer or a name
def test_up_to_date_without_sensitive_facts(client) -> None:
    number, _ = _contributor(through_months_ago=1)
    r = client.post(URL, json={"id_number": number})
    assert r.status_code == 200, r.text
    body = r.json()
    last = _months_back(china_today(), 1)
    assert body["contributions_up_to_date"] == "yes"
    assert body["contributions_paid_through"] == last.strftime("%Y-%m")
    assert f"{last.year}年{last.month}月" in body["contributions_note_zh"]
    for secret in ("876543", "8765.43", "70123", "声讯保密", "欧阳修", number):  # base, pension part, employer, name
        assert secret not in r.text


# rule INS-5: a gap at last month → "no" with the last month declared; no record at all → "unknown"
def test_behind_and_unknown(client) -> None:
    number, _ = _contributor(through_months_ago=3)
    body = client.post(URL, json={"id_number": number}).json()
    assert body["contributions_up_to_date"] == "no"
    assert body["contributions_paid_through"] == _months_back(china_today(), 3).strftime("%Y-%m")
    with unit_of_work() as uow:
        fresh = new_id_number(region="110105")
        add_test_person(uow, id_number=fresh)
    body = client.post(URL, json={"id_number": fresh}).json()
    assert body["contributions_up_to_date"] == "unknown" and body["contributions_paid_through"] is None


# rule INS-5: a registration that started this month owes nothing yet; one that ended long ago is not current
def test_new_registration_not_due(db_env) -> None:
    today = china_today()
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=new_id_number())
        register(uow, person_id=person.id, employer=make_employer(uow), start=today.replace(day=1))
        status = contribution_status(uow, person_id=person.id, today=today)
        assert status.up_to_date == "yes" and status.paid_through is None
        gone = add_test_person(uow, id_number=new_id_number())
        reg = register(
            uow, person_id=gone.id, employer=make_employer(uow), start=date(2020, 1, 1), ended_on=date(2021, 1, 1)
        )
        declare(uow, reg=reg, period=date(2020, 12, 1))
        status = contribution_status(uow, person_id=gone.id, today=today)
    assert status.up_to_date == "no" and status.paid_through == date(2020, 12, 1)
