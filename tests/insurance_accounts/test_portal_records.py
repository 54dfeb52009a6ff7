"""The holder's free queries in the portal (INS-5, INS-6, PER-2) and the counter's view (CH-2)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.insurance_accounts.conftest import holder_headers
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import ensure_region

P = "/api/v1/portal"


def _person_with_two_years(region: str = "110105") -> tuple[int, str, int]:
    """A person with an employer registration (late by 12 days) and 2024-01 … 2025-12 declared."""
    number = new_id_number(region=region)
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person = add_test_person(uow, id_number=number)
        employer = make_employer(uow, region=region)
        reg = register(uow, person_id=person.id, employer=employer, start=date(2024, 1, 1), region=region, days_late=12)
        for year in (2024, 2025):
            for month in range(1, 13):
                declare(uow, reg=reg, period=date(year, month, 1), late=(year, month) == (2025, 3))
        return person.id, number, employer.id


# rule INS-5 / INS-6: the holder sees participation, each employer's declarations month by month with
# every part and the late mark, and the personal accounts with balances derived from the postings
def test_holder_sees_participation_declarations_and_accounts(client) -> None:
    person_id, _, employer_id = _person_with_two_years()
    h = holder_headers(person_id)
    parts = client.get(f"{P}/insurance/participation", headers=h).json()
    assert {p["insurance_type"] for p in parts} == {"basic_pension", "employee_medical"}
    assert all(p["days_late"] == 12 and p["employer_id"] == employer_id and p["active"] for p in parts)

    r = client.get(f"{P}/insurance/declarations", params={"year": 2025}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 12 and len(body["employers"]) == 1
    months = body["employers"][0]["months"]
    assert [m["period"] for m in months] == [f"2025-{m:02d}" for m in range(12, 0, -1)]  # newest first
    march = next(m for m in months if m["period"] == "2025-03")
    assert march["late"] is True and not march["corrected"]
    assert (march["base_fen"], march["employer_fen"], march["individual_fen"], march["personal_account_fen"]) == (
        1_000_000, 240_000, 100_000, 100_000,
    )  # fmt: skip
    paged = client.get(f"{P}/insurance/declarations", params={"limit": 5, "offset": 20}, headers=h).json()
    assert paged["total"] == 24 and sum(len(g["months"]) for g in paged["employers"]) == 4

    accounts = {a["kind"]: a["balance_fen"] for a in client.get(f"{P}/accounts", headers=h).json()}
    assert accounts == {"pension_personal": 24 * 80_000, "medical_personal": 24 * 20_000}


# rule INS-5: movements oldest first with the balance after each; a year filter gives that year's
# opening and closing balance; a page from the middle shows the same running balances
def test_movements_running_balance_and_year(client) -> None:
    person_id, _, _ = _person_with_two_years()
    h = holder_headers(person_id)
    url = f"{P}/accounts/pension_personal/movements"
    year = client.get(url, params={"year": 2025}, headers=h).json()
    assert year["total"] == 12
    assert year["opening_balance_fen"] == 12 * 80_000 and year["closing_balance_fen"] == 24 * 80_000
    assert year["movements"][0]["balance_after_fen"] == 13 * 80_000
    assert year["movements"][0]["reference"].startswith("declaration:")
    page = client.get(url, params={"limit": 3, "offset": 12}, headers=h).json()
    assert page["total"] == 24 and [m["balance_after_fen"] for m in page["movements"]] == [
        13 * 80_000, 14 * 80_000, 15 * 80_000,
    ]  # fmt: skip
    assert client.get(f"{P}/accounts/cash/movements", headers=h).status_code == 422
    # A person without contributions: no accounts, an empty page, never a 500
    with unit_of_work() as uow:
        other = add_test_person(uow, id_number=new_id_number()).id
    assert client.get(f"{P}/accounts", headers=holder_headers(other)).json() == []
    assert client.get(url, headers=holder_headers(other)).json()["total"] == 0


# rule QPW-2: the records need a holder session; a staff token is not one
def test_records_need_holder(client, staff_headers) -> None:
    assert client.get(f"{P}/accounts").status_code == 401
    assert client.get(f"{P}/accounts", headers=staff_headers()).status_code == 401


# rule CH-2 / INS-5: the counter sees the record after a recorded identity check; a wrong document
# is refused and nothing is disclosed; another region's clerk is refused
def test_counter_record_with_evidence(client, staff_headers) -> None:
    person_id, number, _ = _person_with_two_years()
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    url = f"/api/v1/counter/persons/{person_id}/insurance-record"
    wrong = new_id_number()
    r = client.post(
        url,
        json={"evidence": {"document_type": "resident_id_card", "document_number": wrong}, "year": 2025},
        headers=clerk,
    )
    assert r.status_code == 422 and r.json()["code"] == "IDENTITY_EVIDENCE_MISMATCH"
    evidence = {"document_type": "resident_id_card", "document_number": number}
    r = client.post(url, json={"evidence": evidence, "year": 2025}, headers=clerk)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["declarations"]["total"] == 12 and len(body["participation"]) == 2
    assert {a["account"]["kind"] for a in body["accounts"]} == {"pension_personal", "medical_personal"}
    assert number not in r.text
    with unit_of_work() as uow:
        entry = uow.session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "insurance.record_view", AuditEntry.subject == f"person:{person_id}")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None and "resident_id_card" in entry.details and number not in entry.details
    other = staff_headers(Role.COUNTER_CLERK, "440000")
    assert client.post(url, json={"evidence": evidence}, headers=other).json()["code"] == "OUTSIDE_REGION"


# rule INS-6: each employer's declarations apart, the person's own (flexible work) as a group of its own
def test_employer_and_own_declarations_grouped(client) -> None:
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=new_id_number(region="110105"))
        employer = make_employer(uow)
        job = register(uow, person_id=person.id, employer=employer, start=date(2025, 1, 1))
        own = register(uow, person_id=person.id, employer=None, start=date(2025, 1, 1))
        for month in (1, 2):
            declare(uow, reg=job, period=date(2025, month, 1))
            declare(uow, reg=own, period=date(2025, month, 1), base_fen=500_000)
        person_id, employer_id = person.id, employer.id
    body = client.get(f"{P}/insurance/declarations", headers=holder_headers(person_id)).json()
    assert [g["employer_id"] for g in body["employers"]] == [employer_id, None]
    assert [len(g["months"]) for g in body["employers"]] == [2, 2] and body["total"] == 4
    assert body["employers"][1]["months"][0]["base_fen"] == 500_000
