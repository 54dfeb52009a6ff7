"""Person services on SQLite and PostgreSQL (PER-1, ID-4, ID-5, CARD-1, CH-4)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.audit.service import count_entries, verify_chain
from sscard.cards.person_status import set_person_status
from sscard.identity import InvalidCitizenId
from sscard.identity.protected import EMAIL
from sscard.people.errors import (
    EvidenceRequired,
    IdMismatch,
    PersonDeceased,
    PersonDuplicate,
    PersonNotFound,
    PersonStatusInvalid,
    PhoneInvalid,
    RevealForbidden,
)
from sscard.people.models import Person, PersonStatus
from sscard.people.service import (
    add_person,
    find_person_by_id_number,
    get_person_or_raise,
    lookup_person_at_counter,
    person_read,
    reveal_person,
)
from tests.people.factories import CLERK, SUPERVISOR, add_test_person, new_id_number


def _persons(uow) -> int:
    return uow.session.scalar(select(func.count()).select_from(Person))


# rule PER-1 / ID-5: a person is stored with ID, phone and email sealed and blind-indexed
def test_add_person_stores_protected_fields(uow) -> None:
    number = new_id_number()
    person = add_person(
        uow, id_number=number, name="王五", actor=CLERK, phone="138 0013 8000", email="Wang@Example.com"
    )
    assert person.region_code == number[:6]
    assert person.birth_date == date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert person.gender == ("M" if int(number[16]) % 2 else "F")
    assert person.status is PersonStatus.EMPLOYED
    assert person.id_number == number
    assert person.phone == "13800138000"
    assert person.email == "Wang@example.com"
    assert person.email_bidx == EMAIL.index("wang@example.com")
    assert number.encode() not in person.id_number_enc
    assert find_person_by_id_number(uow, number.lower()).id == person.id
    assert find_person_by_id_number(uow, new_id_number()) is None


# rule ID-3: a 15-digit legacy number is stored upgraded and found by either form
def test_fifteen_digit_upgraded(uow) -> None:
    number18 = new_id_number(born=date(1931, 3, 4))
    number15 = number18[:6] + number18[8:17]
    person = add_person(uow, id_number=number15, name="赵六", actor=CLERK)
    assert person.id_number == number18
    assert find_person_by_id_number(uow, number15).id == person.id
    assert find_person_by_id_number(uow, number18).id == person.id


# rule ID-1: one person, one number: a duplicate is 409 PERSON_DUPLICATE and writes nothing
def test_duplicate_person(uow) -> None:
    number = new_id_number()
    add_person(uow, id_number=number, name="张三", actor=CLERK)
    before, audits = _persons(uow), count_entries(uow)
    with pytest.raises(PersonDuplicate) as exc:
        add_person(uow, id_number=number, name="张三", actor=CLERK)
    assert exc.value.status == 409 and exc.value.code == "PERSON_DUPLICATE"
    assert number not in exc.value.detail
    assert (_persons(uow), count_entries(uow)) == (before, audits)


# rule ID-1: the unique blind index refuses a duplicate even past the service's own check
def test_duplicate_caught_by_database(uow, monkeypatch) -> None:
    number = new_id_number()
    add_person(uow, id_number=number, name="张三", actor=CLERK)
    before = _persons(uow)
    # Simulate the race: the pre-check sees nobody (as a concurrent transaction would).
    real_scalar = uow.session.scalar
    monkeypatch.setattr(
        uow.session, "scalar", lambda stmt, *a, **k: None if "person.id" in str(stmt) else real_scalar(stmt, *a, **k)
    )
    with pytest.raises(PersonDuplicate):
        add_person(uow, id_number=number, name="张三", actor=CLERK)
    monkeypatch.undo()
    assert _persons(uow) == before  # the savepoint rolled back; the transaction is still usable
    add_test_person(uow)


# rule ID-4: a mismatching gender / birth date is refused, nothing written
def test_id_mismatch_writes_nothing(uow) -> None:
    number = new_id_number(gender="F")
    before, audits = _persons(uow), count_entries(uow)
    with pytest.raises(IdMismatch):
        add_person(uow, id_number=number, name="张三", actor=CLERK, gender="M")
    with pytest.raises(IdMismatch):
        add_person(uow, id_number=number, name="张三", actor=CLERK, birth_date=date(2001, 1, 1))
    with pytest.raises(PhoneInvalid):
        add_person(uow, id_number=number, name="张三", actor=CLERK, phone="12345")
    with pytest.raises(InvalidCitizenId):
        add_person(uow, id_number=number[:-1] + ("0" if number[-1] != "0" else "1"), name="张三", actor=CLERK)
    assert (_persons(uow), count_entries(uow)) == (before, audits)
    person = add_person(uow, id_number=number, name="张三", actor=CLERK, gender="女")
    assert person.gender == "F"


# rule PER-1: status changes are audited; deceased is final
def test_status_changes(uow) -> None:
    person = add_test_person(uow)
    set_person_status(uow, person_id=person.id, status="retired", actor=CLERK)
    assert get_person_or_raise(uow, person.id).status is PersonStatus.RETIRED
    with pytest.raises(PersonStatusInvalid):
        set_person_status(uow, person_id=person.id, status="asleep", actor=CLERK)
    set_person_status(uow, person_id=person.id, status=PersonStatus.DECEASED, actor=CLERK)
    with pytest.raises(PersonDeceased):
        set_person_status(uow, person_id=person.id, status="employed", actor=CLERK)
    with pytest.raises(PersonNotFound) as exc:
        set_person_status(uow, person_id=10**9, status="retired", actor=CLERK)
    assert exc.value.code == "PERSON_NOT_FOUND"
    actions = uow.session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject == f"person:{person.id}").order_by(AuditEntry.id)
    ).all()
    assert actions == ["person.add", "person.set_status", "person.set_status"]
    assert verify_chain(uow).ok


# rule ID-5: the read model is masked
def test_person_read_is_masked(uow) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number, phone="13912345678", email="zhang@example.com")
    read = person_read(person)
    assert read.id_number_masked == number[:4] + "*" * 10 + number[-4:]
    assert read.phone_masked == "139****5678"
    assert read.email_masked == "z***@example.com"
    dumped = read.model_dump_json()
    assert number not in dumped and "13912345678" not in dumped
    # region + full birth date + the last four would spell out all but 3 digits of the ID: the year only
    assert read.birth_year == person.birth_date.year and "birth_date" not in read.model_dump()
    assert number[6:14] not in dumped and person.birth_date.isoformat() not in dumped


# rule ID-5 / CH-2: full values only for a role that needs them, with evidence, audited
def test_reveal(uow) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number, phone="13912345678")
    with pytest.raises(RevealForbidden):
        reveal_person(uow, person_id=person.id, actor=CLERK, evidence="resident ID card")
    with pytest.raises(EvidenceRequired):
        reveal_person(uow, person_id=person.id, actor=SUPERVISOR, evidence="")
    full = reveal_person(uow, person_id=person.id, actor=SUPERVISOR, evidence="resident ID card")
    assert (full.id_number, full.phone, full.email) == (number, "13912345678", None)
    assert number not in repr(full)
    entry = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "person.reveal").order_by(AuditEntry.id.desc())
    )
    assert entry.actor_id == "super1" and entry.role == "counter_supervisor"
    assert "resident ID card" in entry.details and number not in entry.details
    only_phone = reveal_person(uow, person_id=person.id, actor=SUPERVISOR, evidence="ID card", fields=["phone"])
    assert only_phone.id_number is None and only_phone.phone == "13912345678"


# rule CH-2 / CH-4: a counter lookup by ID records the evidence checked
def test_counter_lookup(uow) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number)
    found = lookup_person_at_counter(uow, id_number=number, actor=CLERK, evidence="resident ID card")
    assert found.id == person.id
    with pytest.raises(PersonNotFound):
        lookup_person_at_counter(uow, id_number=new_id_number(), actor=CLERK, evidence="resident ID card")
    assert uow.session.scalar(select(func.count()).where(AuditEntry.action == "person.lookup")) >= 1


# rule CH-4: every person change is in the chain and the chain stays intact
def test_audit_chain_intact(uow) -> None:
    for _ in range(5):
        add_test_person(uow)
    report = verify_chain(uow)
    assert report.ok, report.problem
    details = uow.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "person.add")).all()
    assert all("*" in d for d in details)
