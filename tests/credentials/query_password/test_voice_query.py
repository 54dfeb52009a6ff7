"""The 12345 voice query (INS-5): no password, non-sensitive facts only (seed 004)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.service import activate_card, issue_card
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.people.factories import CLERK, add_test_person, new_id_number

URL = "/api/v1/hotline/voice-query"


@pytest.fixture(autouse=True)
def _operator(client, staff_headers) -> None:
    """The hotline channel is authenticated (contract.md): a national hotline operator's session."""
    client.headers.update(staff_headers(Role.HOTLINE_OPERATOR, "000000"))


def _holder_with_card() -> tuple[str, str, str]:
    number = new_id_number()
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=number, phone="13912345678", name="周杰")
        card = issue_card(uow, person_id=person.id, actor=CLERK)
        activate_card(uow, card_no=card.card_no, actor=CLERK)
        return number, card.card_no, "13912345678"


# rule INS-5: without a password the caller hears the card state and an honest contribution status
def test_voice_query_by_id_and_ss_number(client) -> None:
    number, card_no, phone = _holder_with_card()
    for r in (client.get(URL, params={"id_number": number}), client.post(URL, json={"ss_number": number})):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["cards"] == [
            {"card_no_masked": card_no[:5] + "****", "card_type": "social", "state": "active", "state_zh": "正常使用"}
        ]
        assert body["contributions_up_to_date"] == "unknown"  # no contribution records yet: never invented
        for secret in (number, card_no, phone, "周杰"):
            assert secret not in r.text


# rule INS-5 / CH-4: the disclosure is audited, masked
def test_voice_query_audited(client) -> None:
    number, _, _ = _holder_with_card()
    client.post(URL, json={"id_number": number})
    with unit_of_work() as uow:
        entry = uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "hotline.voice_query").order_by(AuditEntry.id.desc())
        )
    assert entry is not None and entry.channel == "hotline" and number not in entry.subject + entry.details


# rule INS-5: an unregistered number gets the same shape (no cards); bad input is a problem, never 500
def test_unknown_and_invalid(client) -> None:
    r = client.post(URL, json={"id_number": new_id_number()})
    assert r.status_code == 200 and r.json()["cards"] == []
    assert client.post(URL, json={}).json()["code"] == "LOSS_REPORT_INVALID"
    assert client.get(URL, params={"id_number": "110101199001011230"}).json()["code"] == "ID_CHECKSUM"
    assert client.post(URL, json={"id_number": "x", "password": "y"}).status_code == 422
