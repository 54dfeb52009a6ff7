"""QPW-3: the counter re-initialises the query password after a recorded ID check (CH-2, CH-5)."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.staff.roles import Role
from tests.credentials.query_password.test_portal_api import LOGIN, _holder
from tests.people.factories import new_id_number

URL = "/api/v1/counter/query-password/reinitialise"


def _lock(client, number: str) -> None:
    for _ in range(4):
        client.post(LOGIN, json={"id_number": number, "password": "wrong-password"})
    assert client.post(LOGIN, json={"id_number": number, "password": "wrong-password"}).status_code == 423


# rule QPW-3 / QPW-7: a hard-locked holder is verified at the counter; lock cleared, initial password back
def test_reinitialise_after_lock(client, staff_headers) -> None:
    person_id, number, initial = _holder(login_free_failures=100, login_hard_lock_failures=5)
    region = number[:6]
    _lock(client, number)
    evidence = {"document_type": "resident_id_card", "document_number": number}
    r = client.post(
        URL, json={"id_number": number, "evidence": evidence}, headers=staff_headers(Role.COUNTER_CLERK, region)
    )
    assert r.status_code == 200, r.text
    assert r.json()["initial"] is True and number not in r.text
    login = client.post(LOGIN, json={"id_number": number, "password": initial})
    assert login.status_code == 200 and login.json()["must_change_password"] is True
    with unit_of_work() as uow:
        entry = uow.session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "qpw.reinitialise", AuditEntry.subject == f"person:{person_id}"
            )
        )
        assert entry is not None and entry.channel == "counter" and "resident_id_card" in entry.details
        assert number not in entry.details
        topics = uow.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.person_id == person_id)).all()
    assert "qpw.password_reinitialised" in topics  # rule CH-5


# rule QPW-3 / CH-2: the document must be the holder's; staff act only in their region and role
def test_reinitialise_refusals(client, staff_headers) -> None:
    _, number, _ = _holder()
    other = {"document_type": "resident_id_card", "document_number": new_id_number()}
    clerk = staff_headers(Role.COUNTER_CLERK, number[:6])
    r = client.post(URL, json={"id_number": number, "evidence": other}, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "IDENTITY_EVIDENCE_MISMATCH"
    evidence = {"document_type": "resident_id_card", "document_number": number}
    r = client.post(
        URL, json={"id_number": number, "evidence": evidence}, headers=staff_headers(Role.COUNTER_CLERK, "650000")
    )
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
    r = client.post(
        URL, json={"id_number": number, "evidence": evidence}, headers=staff_headers(Role.AUDITOR, number[:6])
    )
    assert r.status_code == 403 and r.json()["code"] == "ROLE_FORBIDDEN"
    r = client.post(URL, json={"id_number": new_id_number(), "evidence": evidence}, headers=clerk)
    assert r.status_code in (403, 404)
