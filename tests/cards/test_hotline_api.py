"""``POST /api/v1/hotline/loss-reports`` through the real app (CARD-5, contract.md)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.service import activate_card, get_card_or_raise, issue_card
from sscard.cards.states import CardState
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.people.factories import CLERK, add_test_person, new_id_number

URL = "/api/v1/hotline/loss-reports"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def operator(client, staff_headers) -> dict[str, str]:
    """The channel is authenticated (contract.md): calls come through a national hotline operator."""
    headers = staff_headers(Role.HOTLINE_OPERATOR, "000000")
    client.headers.update(headers)
    return headers


def _holder(card_type: str = "social") -> tuple[str, str]:
    number = new_id_number()
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=number)
        card = issue_card(uow, person_id=person.id, card_type=card_type, actor=CLERK)
        activate_card(uow, card_no=card.card_no, actor=CLERK)
        return number, card.card_no


# rule CARD-5: by ID number, no password → 201; the card is blocked at once; the answer is minimal
def test_report_by_id_number(client) -> None:
    number, card_no = _holder()
    r = client.post(URL, json={"id_number": number})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"reference", "card_no_masked", "card_type", "state", "reported_at", "expires_at"}
    assert body["card_no_masked"] == card_no[:5] + "****" and body["state"] == "provisional"
    assert card_no not in r.text and number not in r.text
    expires = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["reported_at"])
    assert expires == timedelta(days=5)
    with unit_of_work() as uow:
        assert get_card_or_raise(uow, card_no).state is CardState.LOSS_REPORTED
        entry = uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "card.report_loss").order_by(AuditEntry.id.desc())
        )
        assert entry.channel == "hotline" and number not in entry.details


# rule CARD-5 / ID-1: by social security number (the same number); repeating gives the same report
def test_report_by_ss_number(client) -> None:
    number, _ = _holder("rural")
    first = client.post(URL, json={"ss_number": number.lower()})
    assert first.status_code == 201 and first.json()["card_type"] == "rural"
    again = client.post(URL, json={"id_number": number, "card_type": "rural"})
    assert again.status_code == 201 and again.json()["reference"] == first.json()["reference"]


# rule CARD-5: unknown persons and persons without a card get the same answer; bad input is 4xx problem+json
def test_errors(client) -> None:
    registered_without_card = new_id_number()
    with unit_of_work() as uow:
        add_test_person(uow, id_number=registered_without_card)
    unknown = client.post(URL, json={"id_number": new_id_number()})
    no_card = client.post(URL, json={"id_number": registered_without_card})
    assert unknown.status_code == no_card.status_code == 404
    assert unknown.json()["code"] == no_card.json()["code"] == "LOSS_REPORT_NO_CARD"
    assert unknown.json()["detail"] == no_card.json()["detail"]
    cases = [
        ({}, 422, "LOSS_REPORT_INVALID"),
        ({"id_number": ""}, 422, "LOSS_REPORT_INVALID"),
        ({"id_number": new_id_number(), "ss_number": new_id_number()}, 422, "LOSS_REPORT_INVALID"),
        ({"id_number": "110105194912310021"}, 422, "ID_CHECKSUM"),
        ({"id_number": "1101"}, 422, "ID_LENGTH"),
        ({"id_number": 12345}, 422, "VALIDATION_FAILED"),
        ({"id_number": "x" * 500}, 422, "VALIDATION_FAILED"),
        ({"id_number": registered_without_card, "password": "123456"}, 422, "VALIDATION_FAILED"),
        ({"id_number": registered_without_card, "card_type": "gold"}, 422, "VALIDATION_FAILED"),
    ]
    for payload, status, code in cases:
        r = client.post(URL, json=payload)
        assert (r.status_code, r.json().get("code")) == (status, code), (payload, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert registered_without_card not in r.text
    assert client.post(URL, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400


# rule CARD-5 (channel): no password by rule, so each source address gets a bounded number of calls per
# window; past it the source waits (429 HOTLINE_THROTTLED with Retry-After), the refusal is audited
# and other sources are unaffected
def test_hotline_calls_are_limited_per_source(db_env, monkeypatch, operator) -> None:
    from fastapi.testclient import TestClient

    from sscard.api.app import create_app
    from sscard.api.hotline import admit_call as admit_hotline_call
    from sscard.cards.errors import HotlineThrottled
    from sscard.config import reset_settings_cache
    from sscard.db.base import utcnow

    monkeypatch.setenv("SSCARD_HOTLINE_CALLS_PER_WINDOW", "3")
    reset_settings_cache()
    try:
        source, now = f"198.51.100.{secrets.randbelow(250) + 1}#{secrets.token_hex(3)}", utcnow()
        for _ in range(3):
            admit_hotline_call(source=source, action="card.report_loss", now=now)
        with pytest.raises(HotlineThrottled) as refused:
            admit_hotline_call(source=source, action="card.report_loss", now=now)
        assert refused.value.code == "HOTLINE_THROTTLED" and refused.value.extra["retry_after"] == 60
        with pytest.raises(HotlineThrottled):  # still waiting: refused again, not counted again
            admit_hotline_call(source=source, action="card.report_loss", now=now + timedelta(seconds=30))
        admit_hotline_call(source=source + "-other", action="card.report_loss", now=now)  # another source
        admit_hotline_call(source=source, action="card.report_loss", now=now + timedelta(minutes=11))  # new window

        # Over HTTP, from an address of its own (other tests share the default test client's).
        address = f"203.0.113.{secrets.randbelow(250) + 1}"
        with TestClient(create_app(), raise_server_exceptions=False, client=(address, 40000)) as client:
            client.headers.update(operator)
            number, _ = _holder()
            statuses = [client.post(URL, json={"id_number": number}).status_code for _ in range(3)]
            assert statuses == [201, 201, 201]  # the second and third: the same provisional report again
            r = client.post(URL, json={"id_number": number})
            assert r.status_code == 429 and r.headers["content-type"].startswith(PROBLEM)
            assert r.json()["code"] == "HOTLINE_THROTTLED" and int(r.headers["Retry-After"]) >= 1
            assert client.get("/api/v1/hotline/voice-query", params={"id_number": number}).status_code == 429
        with unit_of_work() as uow:
            throttled = uow.session.scalars(
                select(AuditEntry).where(AuditEntry.subject == "hotline", AuditEntry.result == "throttled")
            ).all()
        assert throttled and all(address not in e.details and source not in e.details for e in throttled)
    finally:
        reset_settings_cache()


# contract (hotline) / CH-2: no password from the caller, but the channel is authenticated: anonymous
# calls get 401, other staff roles 403, and an operator of another region hears "no card" as for an
# unknown number, while the card stays active
def test_channel_is_authenticated_and_regional(client, staff_headers) -> None:
    number, card_no = _holder()
    anonymous = client.post(URL, json={"id_number": number}, headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    clerk = client.post(URL, json={"id_number": number}, headers=staff_headers(Role.COUNTER_CLERK, "000000"))
    assert clerk.status_code == 403 and clerk.json()["code"] == "ROLE_FORBIDDEN"
    region = next(code for code in ("110000", "440000") if not number.startswith(code[:2]))
    elsewhere = client.post(URL, json={"id_number": number}, headers=staff_headers(Role.HOTLINE_OPERATOR, region))
    unknown = client.post(URL, json={"id_number": new_id_number()})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "LOSS_REPORT_NO_CARD")
    assert elsewhere.json()["detail"] == unknown.json()["detail"]
    with unit_of_work() as uow:
        assert get_card_or_raise(uow, card_no).state is CardState.ACTIVE


def _notices(person_id: int) -> list:
    from sscard.notify.models import OutboxMessage

    with unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.person_id == person_id).order_by(OutboxMessage.id)
            )
        )


# rule CH-5 / CARD-5: every loss report is told to the holder on the phone and e-mail on file, queued on
# the outbox in the report's transaction; the notice names the masked card only; a repeated call is told
# too; a refused call (unknown number, no card, other region) queues nothing and is audited the same way
def test_holder_is_told_of_every_loss_report(client, staff_headers) -> None:
    from sscard.notify.outbox import open_body, open_recipient
    from tests.people.factories import new_phone

    number, phone = new_id_number(), new_phone()
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=number, phone=phone, email="holder@example.com")
        card = issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
        activate_card(uow, card_no=card.card_no, actor=CLERK)
        person_id, card_no = person.id, card.card_no
    assert _notices(person_id) == []
    r = client.post(URL, json={"id_number": number})
    assert r.status_code == 201, r.text
    told = _notices(person_id)
    assert sorted((m.channel.value, m.topic) for m in told) == [
        ("email", "card.loss_reported"),
        ("sms", "card.loss_reported"),
    ]
    assert {open_recipient(m) for m in told} == {phone, "holder@example.com"}
    body = open_body(told[0])
    assert card_no[:5] + "****" in body and card_no not in body and number not in body and "12345" in body
    assert client.post(URL, json={"id_number": number}).status_code == 201  # called again: told again
    assert len(_notices(person_id)) == 4

    # Refusals: nothing queued, one audit entry each, alike for every reason.
    without_card = new_id_number()
    with unit_of_work() as uow:
        idle_id = add_test_person(uow, id_number=without_card, phone=new_phone()).id
    region = next(code for code in ("110000", "440000") if not number.startswith(code[:2]))
    refused = [
        client.post(URL, json={"id_number": new_id_number()}),
        client.post(URL, json={"id_number": without_card}),
        client.post(URL, json={"id_number": number}, headers=staff_headers(Role.HOTLINE_OPERATOR, region)),
    ]
    assert {(x.status_code, x.json()["code"], x.json()["detail"]) for x in refused} == {
        (404, "LOSS_REPORT_NO_CARD", refused[0].json()["detail"])
    }
    assert _notices(idle_id) == [] and len(_notices(person_id)) == 4
    with unit_of_work() as uow:
        entries = uow.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "card.report_loss", AuditEntry.result == "no_card")
            .order_by(AuditEntry.id.desc())
            .limit(3)
        ).all()
    assert len(entries) == 3 and all(e.subject.startswith("id:") and "*" in e.subject for e in entries)
    assert not any(number in e.subject or without_card in e.subject for e in entries)
