"""The issuance notice (PIN-12): the holder is told the initial PIN rule and to change it at first use."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from sscard.credentials.pin.issuance import TOPIC, issuance_notice_text, notify_card_issued
from sscard.credentials.pin.rules.simplicity import birth_date_forms, initial_pin
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from sscard.people.service import get_person_or_raise
from sscard.policy.schemas import InitialPinRule
from sscard.policy.service import set_policy
from sscard.staff.roles import Role
from tests.credentials.pin.factories import card_audit, make_card
from tests.people.factories import CLERK, new_id_number
from tests.staff.factories import ensure_region

BIRTH_REGION = "610113"  # a region of its own whose initial PIN is the birth date (PIN-1)


def _birth_date_region(uow) -> None:
    ensure_region(uow, BIRTH_REGION)
    set_policy(uow, region_code=BIRTH_REGION, values={"initial_pin_rule": "birth_yymmdd"}, reason="PIN-12 test",
               actor=CLERK)  # fmt: skip


def _notices(uow, person_id: int) -> list[str]:
    rows = uow.session.scalars(
        select(OutboxMessage).where(OutboxMessage.person_id == person_id, OutboxMessage.topic == TOPIC)
    )
    return [open_body(m) for m in rows]


# rule PIN-12: the notice tells the region's rule and to change at first use, and never the PIN itself
def test_notice_tells_the_rule_never_the_pin(uow) -> None:
    _birth_date_region(uow)
    born = date(1983, 11, 27)
    card = make_card(
        uow, activate=False, id_number=new_id_number(region=BIRTH_REGION, born=born), phone="13911112222",
        email="holder@example.com",
    )  # fmt: skip
    person = get_person_or_raise(uow, card.person_id)
    assert notify_card_issued(uow, card=card, actor=CLERK) == 2  # the phone and the e-mail on file
    bodies = _notices(uow, person.id)
    assert len(bodies) == 2
    pin = initial_pin("birth_yymmdd", id_number=person.id_number, birth_date=born)
    assert pin == "831127"
    for body in bodies:
        assert "出生日期" in body and "首次使用时修改密码" in body and "birth date" in body
        # no form of the initial PIN, nor of the birth date, nor any run of the PIN's digits
        digits = re.sub(r"\D", "", body.replace(card.card_no[-4:], ""))
        assert pin not in digits
        assert not any(form in digits for form in birth_date_forms(born))
        assert "1983" not in body and "831127" not in body
        assert card.card_no not in body  # masked card number only
    [entry] = card_audit(uow, card.card_no, "card.issue_notice")
    assert "birth_yymmdd" in entry.details


# rule PIN-12: every rule is described in words; none of the texts carries a six-digit PIN
def test_each_rule_in_words() -> None:
    seen = set()
    for rule in InitialPinRule:
        zh, en = issuance_notice_text(card_no="A12345678", rule=rule)
        assert "123456" not in zh + en and not re.search(r"\d{6}", zh + en)
        assert "首次使用" in zh and "first use" in en
        seen.add(zh)
    assert len(seen) == len(InitialPinRule)  # each rule has its own words


# rule PIN-12: issuing and replacing at the counter queue the notice (HTTP), a person without contacts gets none
def test_counter_issue_and_replace_notify(client, staff_headers) -> None:
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    number = new_id_number(region="110105")
    r = client.post(
        "/api/v1/counter/persons", json={"id_number": number, "name": "王五", "phone": "13722223333"}, headers=clerk
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["person_id"]
    r = client.post("/api/v1/counter/cards", json={"person_id": person_id}, headers=clerk)
    assert r.status_code == 201, r.text
    card_no = r.json()["card_no"]
    with unit_of_work() as uow:
        [first] = _notices(uow, person_id)
    assert "123456" not in first and "初始交易密码" in first
    assert client.post(f"/api/v1/counter/cards/{card_no}/activate", headers=clerk).status_code == 200
    r = client.post(f"/api/v1/counter/cards/{card_no}/replace", json={"evidence": "resident ID card"}, headers=clerk)
    assert r.status_code == 201, r.text
    with unit_of_work() as uow:
        assert len(_notices(uow, person_id)) == 2  # the replacement starts on the initial PIN too
    silent = new_id_number(region="110105")
    r = client.post("/api/v1/counter/persons", json={"id_number": silent, "name": "赵六"}, headers=clerk)
    r = client.post("/api/v1/counter/cards", json={"person_id": r.json()["person_id"]}, headers=clerk)
    assert r.status_code == 201, r.text
