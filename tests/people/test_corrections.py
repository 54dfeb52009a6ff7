"""Record corrections at the counter (QPW-3, PER-1, CH-2, CH-4, CH-5), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sscard.audit import Actor, Channel
from sscard.audit.models import AuditEntry
from sscard.cards.person_status import set_person_status
from sscard.errors import DomainError
from sscard.identity import mask_id_number
from sscard.identity.protected import EMAIL, ID_NUMBER, PHONE
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body, open_recipient
from sscard.people.models import CorrectionState, PersonStatus
from sscard.people.service import find_person_by_id_number, find_persons_by_name
from sscard.record_corrections.service import (
    approve_id_correction,
    correct_contact_details,
    reject_id_correction,
    request_id_correction,
)
from tests.people.factories import CLERK, SUPERVISOR, add_test_person, new_id_number, new_phone

SUPERVISOR_2 = Actor(kind="staff", id="super2", channel=Channel.COUNTER, role="counter_supervisor", region="110000")


def _doc(number: str, kind: str = "resident_id_card") -> dict[str, str]:
    return {"document_type": kind, "document_number": number}


def _person(uow, **kw):
    number = kw.pop("id_number", None) or new_id_number(region="110101", gender="M", born=kw.pop("born", None))
    phone = kw.pop("phone", new_phone())
    person = add_test_person(uow, id_number=number, phone=phone, email=kw.pop("email", "old@example.com"), **kw)
    return person, number, phone


def _entries(uow, person_id: int, action: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.subject == f"person:{person_id}", AuditEntry.action == action)
    return list(uow.session.scalars(stmt))


def _outbox(uow, person_id: int, topic: str = "person.corrected") -> list[tuple[str, str]]:
    stmt = select(OutboxMessage).where(OutboxMessage.person_id == person_id, OutboxMessage.topic == topic)
    return sorted((m.channel.value, open_recipient(m)) for m in uow.session.scalars(stmt))


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# rule PER-1 / QPW-3 / ID-5: name, phone and email are re-sealed and re-indexed; searches find the new values
def test_contact_correction_reseals_and_reindexes(uow) -> None:
    person, number, old_phone = _person(uow, name="张三")
    new_phone_no = new_phone()
    correct_contact_details(
        uow,
        person_id=person.id,
        name="张叁",
        phone=new_phone_no,
        email="New@Example.org",
        actor=CLERK,
        **_doc(number),
    )
    uow.session.expire_all()
    assert person.name == "张叁" and find_persons_by_name(uow, "张叁")[0].id == person.id
    assert person.id not in [p.id for p in find_persons_by_name(uow, "张三")]
    assert person.phone == new_phone_no and person.phone_bidx == PHONE.index(new_phone_no)
    assert person.email == "New@example.org" and person.email_bidx == EMAIL.index("new@example.org")
    assert find_person_by_id_number(uow, number).id == person.id  # the ID, untouched, still finds the person


# rule CH-4 / ID-5: the correction is audited with the evidence, old and new values masked, never in clear
def test_contact_correction_audited_masked(uow) -> None:
    person, number, old_phone = _person(uow, name="张三")
    new_phone_no = new_phone()
    correct_contact_details(uow, person_id=person.id, name="李四", phone=new_phone_no, actor=CLERK, **_doc(number))
    [entry] = _entries(uow, person.id, "person.correct")
    details = entry.details
    for clear in (number, old_phone, new_phone_no, "张三", "李四"):
        assert clear not in details
    assert "张*" in details and "李*" in details and old_phone[:3] + "****" + old_phone[-4:] in details
    assert "resident_id_card" in details and mask_id_number(number) in details


# rule CH-5: the holder is told on the old AND the new contacts (each once); the notice carries no value
def test_contact_correction_notifies_old_and_new(uow) -> None:
    person, number, old_phone = _person(uow)
    new_phone_no = new_phone()
    correct_contact_details(
        uow, person_id=person.id, phone=new_phone_no, email="new@example.org", actor=CLERK, **_doc(number)
    )
    assert _outbox(uow, person.id) == sorted(
        [("sms", old_phone), ("sms", new_phone_no), ("email", "old@example.com"), ("email", "new@example.org")]
    )
    bodies = [
        open_body(m) for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == person.id))
    ]
    assert all(new_phone_no not in b and old_phone not in b and "手机号码" in b for b in bodies)
    # A name-only correction: the contacts did not change, each is told once.
    other, other_number, other_phone = _person(uow)
    correct_contact_details(uow, person_id=other.id, name="王五", actor=CLERK, **_doc(other_number))
    assert _outbox(uow, other.id) == [("email", "old@example.com"), ("sms", other_phone)]


# rule QPW-3 / CH-2: bad input gets a clear code and changes nothing
def test_contact_correction_refusals(uow) -> None:
    person, number, phone = _person(uow, name="张三")
    cases = [
        ({"name": "张三"}, _doc(number), "CORRECTION_NO_CHANGE"),
        ({"phone": phone}, _doc(number), "CORRECTION_NO_CHANGE"),
        ({"email": "OLD@example.com"}, _doc(number), "CORRECTION_NO_CHANGE"),  # the index is case-blind
        ({}, _doc(number), "CORRECTION_EMPTY"),
        ({"phone": "12345"}, _doc(number), "PHONE_INVALID"),
        ({"email": "nope"}, _doc(number), "EMAIL_INVALID"),
        ({"name": "Z3"}, _doc(number), "NAME_INVALID"),
        ({"name": "李四"}, _doc(new_id_number()), "IDENTITY_EVIDENCE_MISMATCH"),
        ({"name": "李四"}, _doc(number, "library_card"), "IDENTITY_EVIDENCE_INVALID"),
    ]
    for fields, doc, code in cases:
        with pytest.raises(DomainError) as exc:
            correct_contact_details(uow, person_id=person.id, actor=CLERK, **fields, **doc)
        assert _code(exc) == code, fields
    with pytest.raises(DomainError) as exc:
        correct_contact_details(uow, person_id=2**31 - 2, name="李四", actor=CLERK, **_doc(number))
    assert _code(exc) == "PERSON_NOT_FOUND"
    assert _entries(uow, person.id, "person.correct") == [] and _outbox(uow, person.id) == []
    uow.session.expire_all()
    assert person.name == "张三"


def _request(uow, person, new_number: str, actor: Actor = CLERK):
    return request_id_correction(
        uow, person_id=person.id, new_id_number=new_number, reason="登记时号码录入错误", actor=actor, **_doc(new_number)
    )


# rule QPW-3 / ID-4 / ID-5: the ID changes only on a supervisor's approval; re-sealed, re-indexed, and the
# birth date, gender and region follow the new number; the old number no longer finds the person
def test_id_correction_applied_on_approval(uow) -> None:
    person, old_number, phone = _person(uow, born=date(1980, 1, 2))
    new_number = new_id_number(region="110105", gender="F", born=date(1981, 3, 4))
    correction = _request(uow, person, new_number)
    assert correction.state is CorrectionState.PENDING
    assert new_number.encode() not in correction.new_value_enc and correction.new_masked == mask_id_number(new_number)
    uow.session.expire_all()
    assert find_person_by_id_number(uow, old_number).id == person.id  # nothing changed yet
    approve_id_correction(uow, correction_id=correction.id, actor=SUPERVISOR)
    uow.session.expire_all()
    assert person.id_number == new_number and person.id_number_bidx == ID_NUMBER.index(new_number)
    assert (person.birth_date, person.gender, person.region_code) == (date(1981, 3, 4), "F", "110105")
    assert find_person_by_id_number(uow, new_number).id == person.id
    assert find_person_by_id_number(uow, old_number) is None
    assert correction.state is CorrectionState.APPROVED and correction.decided_by == SUPERVISOR.id
    [entry] = _entries(uow, person.id, "person.correction.approve")
    assert old_number not in entry.details and new_number not in entry.details
    assert mask_id_number(old_number) in entry.details and mask_id_number(new_number) in entry.details
    assert '"requested_by":"clerk1"' in entry.details and entry.actor_id == SUPERVISOR.id
    assert '"derived":["gender","birth_date","region"]' in entry.details and "1980-01-02" not in entry.details
    assert _outbox(uow, person.id) == [("email", "old@example.com"), ("sms", phone)]  # rule CH-5


# rule QPW-3 / CH-2: two different staff members, the approver a counter supervisor
def test_id_correction_needs_another_supervisor(uow) -> None:
    person, _, _ = _person(uow)
    correction = _request(uow, person, new_id_number(region="110101"), actor=SUPERVISOR)
    for actor, code in ((CLERK, "CORRECTION_NEEDS_SUPERVISOR"), (SUPERVISOR, "SELF_APPROVAL")):
        for decide in (approve_id_correction, reject_id_correction):
            with pytest.raises(DomainError) as exc:
                decide(uow, correction_id=correction.id, actor=actor)
            assert _code(exc) == code
    operator = Actor.cli_operator()
    with pytest.raises(DomainError) as exc:
        approve_id_correction(uow, correction_id=correction.id, actor=operator)
    assert _code(exc) == "CORRECTION_NEEDS_SUPERVISOR"
    assert correction.state is CorrectionState.PENDING
    rejected = reject_id_correction(uow, correction_id=correction.id, actor=SUPERVISOR_2, note="证件核验不符")
    assert rejected.state is CorrectionState.REJECTED
    with pytest.raises(DomainError) as exc:
        approve_id_correction(uow, correction_id=correction.id, actor=SUPERVISOR_2)
    assert _code(exc) == "CORRECTION_NOT_PENDING"
    with pytest.raises(DomainError) as exc:
        approve_id_correction(uow, correction_id=2**31 - 3, actor=SUPERVISOR_2)
    assert _code(exc) == "CORRECTION_NOT_FOUND"


# rule QPW-3 / ID-1..3 / PER-1: the new ID must be valid, new, nobody else's, on the document shown
def test_id_correction_refusals(uow) -> None:
    person, number, _ = _person(uow)
    taken_number = new_id_number(region="110101")
    add_test_person(uow, id_number=taken_number)
    good = new_id_number(region="110101")
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    cases = [
        (number, _doc(number), "CORRECTION_NO_CHANGE"),
        (bad_check, _doc(bad_check), "ID_CHECKSUM"),
        ("12345", _doc("12345"), "ID_LENGTH"),
        (taken_number, _doc(taken_number), "PERSON_DUPLICATE"),
        (good, _doc(number), "IDENTITY_EVIDENCE_MISMATCH"),  # the old card does not prove the new number
        (good, _doc("E12345678", "passport"), "IDENTITY_EVIDENCE_INVALID"),
    ]
    for new_number, doc, code in cases:
        with pytest.raises(DomainError) as exc:
            request_id_correction(
                uow, person_id=person.id, new_id_number=new_number, reason="录入错误", actor=CLERK, **doc
            )
        assert _code(exc) == code, code
    with pytest.raises(DomainError) as exc:
        request_id_correction(uow, person_id=person.id, new_id_number=good, reason="", actor=CLERK, **_doc(good))
    assert _code(exc) == "CORRECTION_REASON_INVALID"
    _request(uow, person, good)
    with pytest.raises(DomainError) as exc:
        _request(uow, person, new_id_number(region="110101"))
    assert _code(exc) == "CORRECTION_PENDING"


# rule PER-1 / ID-5: a number registered to someone else after the request is refused at approval
def test_id_taken_between_request_and_approval(uow) -> None:
    person, _, _ = _person(uow)
    new_number = new_id_number(region="110101")
    correction = _request(uow, person, new_number)
    add_test_person(uow, id_number=new_number)
    with pytest.raises(DomainError) as exc:
        approve_id_correction(uow, correction_id=correction.id, actor=SUPERVISOR)
    assert _code(exc) == "PERSON_DUPLICATE" and correction.state is CorrectionState.PENDING


# rule PER-1: a deceased person's record is not corrected at the counter
def test_deceased_not_corrected(uow) -> None:
    person, number, _ = _person(uow)
    set_person_status(uow, person_id=person.id, status=PersonStatus.DECEASED, actor=CLERK)
    with pytest.raises(DomainError) as exc:
        correct_contact_details(uow, person_id=person.id, name="李四", actor=CLERK, **_doc(number))
    assert _code(exc) == "PERSON_DECEASED"


# rule QPW-3 / CH-2: a supervisor lists the requests waiting in their region only
def test_pending_list_by_region(uow) -> None:
    from sscard.record_corrections.service import list_pending_corrections

    here, _, _ = _person(uow)  # 110101
    there = add_test_person(uow, id_number=new_id_number(region="440305"))
    mine = _request(uow, here, new_id_number(region="110101"))
    theirs = _request(uow, there, new_id_number(region="440305"))
    assert mine.id in [c.id for c in list_pending_corrections(uow, within="110000")]
    assert theirs.id not in [c.id for c in list_pending_corrections(uow, within="110000")]
    assert mine.id not in [c.id for c in list_pending_corrections(uow, within="110105")]
    assert {mine.id, theirs.id} <= {c.id for c in list_pending_corrections(uow, within="000000")}
    approve_id_correction(uow, correction_id=mine.id, actor=SUPERVISOR)
    assert mine.id not in [c.id for c in list_pending_corrections(uow, within="110000")]
