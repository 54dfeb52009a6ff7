"""Discrepancy reports (INS-6): reported by the holder, answered by the agency, tracked to the answer."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.insurance.discrepancies.models import DiscrepancyReport
from sscard.notify.models import OutboxMessage
from sscard.staff.roles import Role
from tests.insurance_accounts.conftest import holder_headers
from tests.insurance_accounts.factories import make_employer
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import ensure_region

P = "/api/v1/portal/discrepancies"
Q = "/api/v1/counter/discrepancies"


def _holder(region: str = "110105") -> tuple[int, int]:
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person = add_test_person(uow, id_number=new_id_number(region=region), phone="13812345678")
        return person.id, make_employer(uow, region=region).id


# rule INS-6: open → answered; the holder sees the answer; the clerk's queue shows it until answered;
# both steps audited; the holder is told an answer is there (CH-5), without the texts
def test_report_answer_and_see(client, staff_headers) -> None:
    person_id, employer_id = _holder()
    h = holder_headers(person_id)
    text = "2025年3月单位未申报我的养老保险 secret-detail-7781"
    r = client.post(P, json={"employer_id": employer_id, "period": "2025-03", "text": text}, headers=h)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "open" and report["period"] == "2025-03" and report["answer"] is None

    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    queue = client.get(Q, params={"limit": 500}, headers=clerk).json()
    assert report["id"] in [q["id"] for q in queue["reports"]]
    mine = next(q for q in queue["reports"] if q["id"] == report["id"])
    assert mine["text"] == text and mine["person_id"] == person_id

    r = client.post(f"{Q}/{report['id']}/answer", json={"answer": "已核实，单位已补报。"}, headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered" and r.json()["answered_by"]
    again = client.post(f"{Q}/{report['id']}/answer", json={"answer": "again"}, headers=clerk)
    assert again.status_code == 409 and again.json()["code"] == "DISCREPANCY_ANSWERED"

    seen = client.get(P, headers=h).json()
    assert seen[0]["status"] == "answered" and seen[0]["answer"] == "已核实，单位已补报。"
    queue = client.get(Q, params={"limit": 500}, headers=clerk).json()
    assert report["id"] not in [q["id"] for q in queue["reports"]]
    answered = client.get(Q, params={"status": "answered", "limit": 500}, headers=clerk).json()
    assert report["id"] in [q["id"] for q in answered["reports"]]

    with unit_of_work() as uow:
        actions = set(uow.session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"person:{person_id}")))
        assert {"insurance.discrepancy.report", "insurance.discrepancy.answer"} <= actions
        # CH-4: each time the queue showed the report's text to a clerk is a disclosure, audited on the holder
        assert "insurance.discrepancy.read" in actions
        row = uow.session.get(DiscrepancyReport, report["id"])
        # ID-5: the free texts are sealed, never in clear in the database
        assert b"secret-detail-7781" not in row.text_enc and row.answer_enc is not None
        notices = uow.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.person_id == person_id, OutboxMessage.topic == "insurance.discrepancy_answered"
            )
        ).all()
        assert len(notices) == 1


# rule INS-6 / CH-2: another region's clerk neither sees nor answers the report
def test_other_region_cannot_answer(client, staff_headers) -> None:
    person_id, _ = _holder()
    report = client.post(P, json={"text": "基数不对"}, headers=holder_headers(person_id)).json()
    other = staff_headers(Role.COUNTER_CLERK, "440000")
    assert report["id"] not in [q["id"] for q in client.get(Q, params={"limit": 500}, headers=other).json()["reports"]]
    r = client.post(f"{Q}/{report['id']}/answer", json={"answer": "x"}, headers=other)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
    assert client.post(f"{Q}/999999999/answer", json={"answer": "x"}, headers=other).status_code == 404


# rule INS-6: bad input is a clear code and nothing is recorded
def test_bad_reports(client) -> None:
    person_id, _ = _holder()
    h = holder_headers(person_id)
    assert client.post(P, json={"text": "   "}, headers=h).json()["code"] == "DISCREPANCY_INVALID"
    assert client.post(P, json={"text": "x", "period": "2025-13"}, headers=h).status_code == 422
    assert client.post(P, json={"text": "x", "period": "2999-01"}, headers=h).json()["code"] == "DISCREPANCY_INVALID"
    assert client.post(P, json={"text": "x", "employer_id": 999999999}, headers=h).status_code in (404, 422)
    assert client.post(P, json={"text": "x" * 1001}, headers=h).status_code == 422
    assert client.get(P, headers=h).json() == []
