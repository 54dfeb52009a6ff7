"""The employer API (INS-1, INS-3, INS-7, QPW-5/7): sign-in, registrations, declarations."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.employers.accounts import create_account, issue_temporary_password
from sscard.employers.models import EmployerAccount
from sscard.insurance.documents import document_intact, open_document
from sscard.insurance.models import ContributionDeclaration, DeclarationDocument
from sscard.ledger.models import LedgerPosting
from tests.employers.factories import AGENCY, add_test_employer
from tests.people.factories import add_test_person, new_id_number

PASSWORD = "Qiye-Mima-2025!x"


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    from tests.conftest import app_client
    from tests.credentials.query_password.conftest import fresh_address

    with app_client(address=fresh_address()) as c:
        yield c


def _employer_with_password() -> tuple[int, str]:
    from sscard.credentials.query_password.hashing import hash_password
    from sscard.policy.schemas import RegionalPolicy

    with unit_of_work() as uow:
        employer = add_test_employer(uow, contact_phone="13800138000")
        account = create_account(uow, employer=employer, actor=AGENCY)
        account.password_hash = hash_password(RegionalPolicy(), PASSWORD)
        account.must_change = False
        return employer.id, employer.uscc


def _login(client: TestClient, uscc: str, password: str = PASSWORD):
    return client.post("/api/v1/employer/login", json={"uscc": uscc, "password": password})


# rule QPW-5 / QPW-7: an employer signs in with its credit code; a wrong password is refused and counted
def test_employer_login(client) -> None:
    _, uscc = _employer_with_password()
    assert _login(client, uscc, "wrong-password-1").json()["code"] == "INVALID_CREDENTIALS"
    assert _login(client, "9144030071526726XG", "whatever-pw").json()["code"] == "INVALID_CREDENTIALS"
    ok = _login(client, uscc)
    assert ok.status_code == 200 and ok.json()["must_change_password"] is False
    assert client.get("/api/v1/employer/registrations").status_code == 401


# rule QPW-5: the employer user type gets a temporary password by SMS to the contact on file
def test_employer_temporary_password(db_env) -> None:
    from sscard.credentials.query_password.hashing import hash_password
    from sscard.policy.schemas import RegionalPolicy

    with unit_of_work() as uow:
        employer = add_test_employer(uow, contact_phone="13800138001")
        create_account(uow, employer=employer, actor=AGENCY)
        temp = {"temporary": "Tmp-abcdefgh-1234", "temp_hash": hash_password(RegionalPolicy(), "Tmp-abcdefgh-1234")}
        assert issue_temporary_password(uow, uscc=employer.uscc, channel="sms", now=utcnow(), **temp) is None
        assert issue_temporary_password(uow, uscc=employer.uscc, channel="sms", now=utcnow(), **temp) == "too_soon"
        assert issue_temporary_password(uow, uscc=employer.uscc, channel="email", now=utcnow(), **temp) == "no_contact"
        unknown = issue_temporary_password(uow, uscc="9144030071526726XG", channel="sms", now=utcnow(), **temp)
        assert unknown == "no_such_account"
        account = uow.session.scalar(select(EmployerAccount).where(EmployerAccount.employer_id == employer.id))
        assert account.temp_hash is not None and account.temp_hash.startswith("$argon2id$")


# rule INS-1 / INS-3 / INS-7: register an employee, declare (body kept with its digest), again = present
def test_register_and_declare(client) -> None:
    employer_id, uscc = _employer_with_password()
    token = _login(client, uscc).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    number = new_id_number(born=date(1988, 8, 8), region="110105")
    with unit_of_work() as uow:
        add_test_person(uow, id_number=number)
    start = date(2025, 1, 1)
    reg = client.post(
        "/api/v1/employer/registrations",
        headers=auth,
        json={"id_number": number, "employment_start": start.isoformat()},
    )
    assert reg.status_code == 201, reg.text
    assert reg.json()["late"] is True  # registered today, long after start + 30 days
    listed = client.get("/api/v1/employer/registrations", headers=auth).json()
    assert listed[0]["id_number_masked"] != number and len(listed) == 1
    body = json.dumps({"declarations": [{"id_number": number, "period": "2025-02", "base_fen": 1_000_000}]}).encode()
    first = client.post(
        "/api/v1/employer/declarations", headers={**auth, "Content-Type": "application/json"}, content=body
    )
    assert first.status_code == 201, first.text
    assert first.json()["document_sha256"] == hashlib.sha256(body).hexdigest()
    with unit_of_work() as uow:
        doc = uow.session.scalar(
            select(DeclarationDocument).where(DeclarationDocument.sha256 == hashlib.sha256(body).hexdigest())
        )
        # rule ID-5: the original keeps full citizen IDs, so it is sealed at rest, opened byte for byte
        assert doc is not None and open_document(doc) == body and document_intact(doc)
        assert number.encode() not in doc.content_enc and body not in doc.content_enc
        postings = uow.session.scalar(select(func.count()).select_from(LedgerPosting))
    again = client.post(
        "/api/v1/employer/declarations", headers={**auth, "Content-Type": "application/json"}, content=body
    )
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "already_present"
    # all or nothing: one bad item refuses the request, nothing is posted
    mixed = {
        "declarations": [
            {"id_number": number, "period": "2025-03", "base_fen": 1_000_000},
            {"id_number": number, "period": "2025-02", "base_fen": 700_000},
        ]
    }
    refused = client.post("/api/v1/employer/declarations", headers=auth, json=mixed)
    assert refused.status_code == 409 and refused.json()["code"] == "DECLARATION_CONFLICT"
    assert refused.json()["errors"][0]["index"] == 2
    future = client.post(
        "/api/v1/employer/declarations",
        headers=auth,
        json={"declarations": [{"id_number": number, "period": "2999-01", "base_fen": 1}]},
    )
    assert future.json()["code"] == "PERIOD_IN_FUTURE"
    with unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(LedgerPosting)) == postings
        assert (
            uow.session.scalar(
                select(func.count())
                .select_from(ContributionDeclaration)
                .where(ContributionDeclaration.employer_id == employer_id)
            )
            == 1
        )
    rows = client.get("/api/v1/employer/declarations", headers=auth, params={"period": "2025-02"}).json()
    assert rows[0]["personal_account_fen"] == 100_000 and rows[0]["base_fen"] == 1_000_000


# rule INS-1 / CH-2: an employment that has not begun is not registered (REGISTRATION_DATE_INVALID, never a
# 500: start 9999-12-31 overflowed the deadline); nothing is written
def test_register_future_start_refused(client) -> None:
    from sscard.insurance.models import InsuranceRegistration

    _, uscc = _employer_with_password()
    auth = {"Authorization": f"Bearer {_login(client, uscc).json()['access_token']}"}
    number = new_id_number(born=date(1990, 1, 1), region="110105")
    with unit_of_work() as uow:
        person_id = add_test_person(uow, id_number=number).id
    for start in ("9999-12-31", "9999-12-01", date.fromordinal(utcnow().date().toordinal() + 2).isoformat()):
        r = client.post(
            "/api/v1/employer/registrations", headers=auth, json={"id_number": number, "employment_start": start}
        )
        assert r.status_code == 422 and r.json()["code"] == "REGISTRATION_DATE_INVALID", (start, r.text)
    with unit_of_work() as uow:
        count = (
            select(func.count()).select_from(InsuranceRegistration).where(InsuranceRegistration.person_id == person_id)
        )
        assert uow.session.scalar(count) == 0
    ok = client.post(
        "/api/v1/employer/registrations", headers=auth, json={"id_number": number, "employment_start": "2024-01-01"}
    )
    assert ok.status_code == 201, ok.text


# rule QPW-7: a wrong old password at the password change is counted like a failed login (committed with
# the error): a stolen employer session cannot guess the password without reaching the wait or the lock
def test_password_change_guesses_are_counted(client) -> None:
    _, uscc = _employer_with_password()
    auth = {"Authorization": f"Bearer {_login(client, uscc).json()['access_token']}"}
    codes = []
    for i in range(20):
        guess = {"old_password": f"guess-{i}-Wrong!", "new_password": "Xin-Mima-2026!long"}
        r = client.post("/api/v1/employer/password", headers=auth, json=guess)
        codes.append(r.json()["code"])
        if codes[-1] != "OLD_PASSWORD_WRONG":
            break
    assert codes[0] == "OLD_PASSWORD_WRONG" and codes[-1] in {"LOGIN_THROTTLED", "ACCOUNT_LOCKED"}, codes
    # the same counter as the login: the right password is refused at sign-in too
    assert _login(client, uscc).json()["code"] in {"LOGIN_THROTTLED", "ACCOUNT_LOCKED"}
