"""Counter routes through the real app: staff roles and regions (CH-2) over people and cards."""

from __future__ import annotations

from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.people.factories import new_id_number
from tests.staff.factories import TEST_BANK

BASE = "/api/v1/counter"


def _register(client, headers, **extra) -> dict:
    number = extra.pop("id_number", None) or new_id_number(region="110105")
    r = client.post(f"{BASE}/persons", json={"id_number": number, "name": "张三", **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return {**r.json(), "id_number": number}


# rule CH-2: no token → 401; a role without counter rights → 403; outside the region → 403
def test_access_control(client, staff_headers) -> None:
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    person = _register(client, clerk)
    assert client.get(f"{BASE}/persons/{person['person_id']}").status_code == 401
    auditor = staff_headers(Role.AUDITOR, "110000")
    r = client.get(f"{BASE}/persons/{person['person_id']}", headers=auditor)
    assert r.status_code == 403 and r.json()["code"] == "ROLE_FORBIDDEN"
    shanghai = staff_headers(Role.COUNTER_CLERK, "310000")
    r = client.get(f"{BASE}/persons/{person['person_id']}", headers=shanghai)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
    r = client.post(
        f"{BASE}/persons", json={"id_number": new_id_number(region="110105"), "name": "李四"}, headers=shanghai
    )
    assert r.status_code == 403


# rule PER-1 / ID-4 / ID-5: registration answers masked; duplicates and mismatches get stable codes
def test_register_and_lookup(client, staff_headers) -> None:
    clerk = staff_headers()
    person = _register(client, clerk, phone="13800138000")
    number = person["id_number"]
    assert number not in str({k: v for k, v in person.items() if k != "id_number"})
    assert person["phone_masked"] == "138****8000"
    r = client.post(f"{BASE}/persons", json={"id_number": number, "name": "张三"}, headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "PERSON_DUPLICATE" and number not in r.text
    other = new_id_number(region="110105", gender="F")
    r = client.post(f"{BASE}/persons", json={"id_number": other, "name": "张三", "gender": "M"}, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "ID_MISMATCH"
    r = client.post(f"{BASE}/persons/lookup", json={"id_number": number, "evidence": "resident ID card"}, headers=clerk)
    assert r.status_code == 200 and r.json()["person_id"] == person["person_id"] and number not in r.text
    r = client.post(f"{BASE}/persons/lookup", json={"id_number": number, "evidence": " "}, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "EVIDENCE_REQUIRED"


# rule ID-5 / CH-2: full values only for a supervisor, audited
def test_reveal(client, staff_headers) -> None:
    clerk, supervisor = staff_headers(Role.COUNTER_CLERK), staff_headers(Role.COUNTER_SUPERVISOR)
    person = _register(client, clerk, phone="13912345678")
    url = f"{BASE}/persons/{person['person_id']}/reveal"
    assert client.post(url, json={"evidence": "resident ID card"}, headers=clerk).status_code == 403
    r = client.post(url, json={"evidence": "resident ID card"}, headers=supervisor)
    assert r.status_code == 200 and r.json()["id_number"] == person["id_number"] and r.json()["phone"] == "13912345678"


def _reveals_of(person_id: int) -> int:
    from sqlalchemy import func, select

    from sscard.audit.models import AuditEntry
    from sscard.people.service import person_subject

    with unit_of_work() as uow:
        statement = (
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "person.reveal", AuditEntry.subject == person_subject(person_id))
        )
        return int(uow.session.scalar(statement) or 0)


# rule ID-5 / CH-2 / CH-4: a supervisor of another region sees no full ID or phone, and nothing is audited
# as a reveal; the same supervisor role in the person's region does (the control)
def test_a_supervisor_of_another_region_cannot_reveal(client, staff_headers) -> None:
    person = _register(client, staff_headers(Role.COUNTER_CLERK, "110000"), phone="13912345678")
    url = f"{BASE}/persons/{person['person_id']}/reveal"
    for fields in (["id_number"], ["phone"], ["id_number", "phone", "email"]):
        shanghai = staff_headers(Role.COUNTER_SUPERVISOR, "310000")
        r = client.post(url, json={"evidence": "resident ID card", "fields": fields}, headers=shanghai)
        assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION", r.text
        assert person["id_number"] not in r.text and "13912345678" not in r.text
    assert _reveals_of(person["person_id"]) == 0
    beijing = staff_headers(Role.COUNTER_SUPERVISOR, "110000")
    r = client.post(url, json={"evidence": "resident ID card", "fields": ["id_number", "phone"]}, headers=beijing)
    assert r.status_code == 200 and r.json()["id_number"] == person["id_number"]
    assert _reveals_of(person["person_id"]) == 1


# rule CARD-1 / CARD-2 / CARD-5: issue, activate, confirm loss, replace, through the counter
def test_card_flow(client, staff_headers) -> None:
    clerk, bank = staff_headers(Role.COUNTER_CLERK), staff_headers(Role.BANK_CLERK)
    person = _register(client, clerk)
    bank_side = {"person_id": person["person_id"], "financial": True, "bank_code": TEST_BANK}
    r = client.post(f"{BASE}/cards", json=bank_side, headers=clerk)
    assert r.status_code == 201, r.text
    card = r.json()
    assert card["state"] == "issued" and card["applications"] == ["hrss", "financial"]
    r = client.post(f"{BASE}/cards", json={"person_id": person["person_id"]}, headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "CARD_LIVE_EXISTS"
    # CARD-1: activation at a bank outlet too, the card's bank (PIN-6, FIN-3)
    other_bank = staff_headers(Role.BANK_CLERK, "110000", bank_code="OTHERBANK")
    r = client.post(f"{BASE}/cards/{card['card_no']}/activate", headers=other_bank)
    assert r.status_code == 403 and r.json()["code"] == "CARD_OTHER_BANK"
    r = client.post(f"{BASE}/cards/{card['card_no']}/activate", headers=bank)
    assert r.status_code == 200 and r.json()["state"] == "active"
    r = client.post(f"{BASE}/cards/{card['card_no']}/activate", headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "CARD_ILLEGAL_TRANSITION"
    assert (r.json()["from_state"], r.json()["to_state"]) == ("active", "active")
    operator = staff_headers(Role.HOTLINE_OPERATOR, "000000")
    r = client.post("/api/v1/hotline/loss-reports", json={"id_number": person["id_number"]}, headers=operator)
    assert r.status_code == 201
    r = client.post(
        f"{BASE}/cards/{card['card_no']}/loss/confirm", json={"evidence": "resident ID card"}, headers=clerk
    )
    assert r.status_code == 200 and r.json()["state"] == "lost"
    r = client.post(f"{BASE}/cards/{card['card_no']}/replace", json={"evidence": "resident ID card"}, headers=clerk)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["card_no"] != card["card_no"] and new["replaces_card_id"] is not None
    assert client.get(f"{BASE}/cards/{card['card_no']}", headers=clerk).json()["state"] == "replaced"
    cards = client.get(f"{BASE}/persons/{person['person_id']}/cards", headers=clerk).json()
    assert [c["card_no"] for c in cards] == [new["card_no"], card["card_no"]]
    r = client.get(f"{BASE}/cards/A00000000", headers=clerk)
    assert r.status_code == 404 and r.json()["code"] == "CARD_NOT_FOUND"


# rule CARD-1 / PER-1: deceased cancels the cards; a cancelled card answers its state
def test_deceased_over_counter(client, staff_headers) -> None:
    clerk = staff_headers()
    person = _register(client, clerk)
    card = client.post(f"{BASE}/cards", json={"person_id": person["person_id"], "card_type": "medical"}, headers=clerk)
    r = client.post(f"{BASE}/persons/{person['person_id']}/status", json={"status": "deceased"}, headers=clerk)
    assert r.status_code == 200 and r.json()["status"] == "deceased"
    assert client.get(f"{BASE}/cards/{card.json()['card_no']}", headers=clerk).json()["state"] == "cancelled"
    r = client.post(f"{BASE}/cards", json={"person_id": person["person_id"]}, headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "PERSON_DECEASED"
    r = client.post(f"{BASE}/persons/{person['person_id']}/status", json={"status": "zombie"}, headers=clerk)
    assert r.status_code == 422


# rule CH-4: the counter work leaves an intact chain
def test_chain_after_counter_work(client, staff_headers) -> None:
    from sscard.audit.service import verify_chain

    clerk = staff_headers()
    person = _register(client, clerk)
    card = client.post(f"{BASE}/cards", json={"person_id": person["person_id"]}, headers=clerk).json()
    client.post(f"{BASE}/cards/{card['card_no']}/cancel", json={"reason": "issued_in_error"}, headers=clerk)
    with unit_of_work() as uow:
        assert verify_chain(uow).ok


# Bad input: huge ids, odd card numbers and unknown fields never give a 5xx
def test_bad_input_never_5xx(client, staff_headers) -> None:
    clerk = staff_headers()
    huge = 10**25
    for method, url, body in [
        ("get", f"{BASE}/persons/{huge}", None),
        ("get", f"{BASE}/persons/{2**63}/cards", None),
        ("post", f"{BASE}/cards", {"person_id": huge}),
        ("post", f"{BASE}/cards", {"person_id": 1, "generation": 9}),
        ("get", f"{BASE}/cards/%00%27;--", None),
        ("post", f"{BASE}/cards/{'A' * 300}/activate", None),
        ("post", f"{BASE}/persons", {"id_number": "11010519491231002X", "name": "x", "nickname": "y"}),
    ]:
        r = client.request(method.upper(), url, json=body, headers=clerk)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
        assert "code" in r.json()
