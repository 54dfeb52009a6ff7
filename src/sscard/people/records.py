"""What a person's record holds besides identity (PER-2): qualifications, employment, disability.

Insurance participation, contributions and personal accounts belong to the insurance domain.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.people.errors import PersonRecordInvalid
from sscard.people.models import (
    DisabilityAssessment,
    DisabilityKind,
    EmploymentRecord,
    Person,
    Qualification,
    QualificationCategory,
)
from sscard.people.service import MAX_PERSON_ID, get_person_or_raise, person_subject

# Labour Law art. 15: no employment under 16.
MIN_WORKING_AGE = 16
# GB 32100 unified social credit code alphabet (no I, O, S, V, Z); the check is the employer registry's job.
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


def _optional_text(value: str | None, field: str, max_len: int) -> str | None:
    text = " ".join((value or "").split())
    if len(text) > max_len:
        raise PersonRecordInvalid(f"{field} has at most {max_len} characters", field=field)
    return text or None


def _text(value: str | None, field: str, max_len: int) -> str:
    text = _optional_text(value, field, max_len)
    if text is None:
        raise PersonRecordInvalid(f"{field} is required", field=field)
    return text


def _past_date(value: date, field: str, person: Person) -> date:
    if value > date.today():
        raise PersonRecordInvalid(f"{field} is in the future", field=field)
    if value < person.birth_date:
        raise PersonRecordInvalid(f"{field} is before the person's birth date", field=field)
    return value


def _years_after(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + years, day=28)


def add_qualification(
    uow: UnitOfWork,
    *,
    person_id: int,
    category: QualificationCategory | str,
    name: str,
    issuer: str,
    issued_on: date,
    actor: Actor,
    level: str | None = None,
    certificate_no: str | None = None,
) -> Qualification:
    """Record a professional qualification or skill certificate (PER-2)."""
    try:
        cat = QualificationCategory(category)
    except ValueError:
        allowed = ", ".join(c.value for c in QualificationCategory)
        raise PersonRecordInvalid(f"category is one of: {allowed}", field="category") from None
    person = get_person_or_raise(uow, person_id)
    record = Qualification(
        person_id=person.id,
        category=cat,
        name=_text(name, "name", 128),
        level=_optional_text(level, "level", 32),
        certificate_no=_optional_text(certificate_no, "certificate_no", 64),
        issuer=_text(issuer, "issuer", 128),
        issued_on=_past_date(issued_on, "issued_on", person),
    )
    uow.session.add(record)
    uow.flush()
    details = {"record_id": record.id, "category": cat.value, "name": record.name}
    record_event(
        uow, actor=actor, action="person.qualification.add", subject=person_subject(person.id), details=details
    )
    return record


def list_qualifications(uow: UnitOfWork, *, person_id: int) -> list[Qualification]:
    """The person's qualifications, most recent first."""
    stmt = select(Qualification).where(Qualification.person_id == person_id)
    return list(uow.session.scalars(stmt.order_by(Qualification.issued_on.desc(), Qualification.id.desc())))


def add_employment(
    uow: UnitOfWork,
    *,
    person_id: int,
    employer_name: str,
    started_on: date,
    actor: Actor,
    employer_code: str | None = None,
    position: str | None = None,
    ended_on: date | None = None,
) -> EmploymentRecord:
    """Record a period of employment (PER-2); ``ended_on`` empty while it lasts."""
    person = get_person_or_raise(uow, person_id)
    code = (employer_code or "").strip().upper() or None
    if code is not None and not _CREDIT_CODE.match(code):
        raise PersonRecordInvalid("employer_code is an 18-character unified social credit code", field="employer_code")
    _past_date(started_on, "started_on", person)
    if started_on < _years_after(person.birth_date, MIN_WORKING_AGE):
        raise PersonRecordInvalid(f"employment cannot start before age {MIN_WORKING_AGE}", field="started_on")
    if ended_on is not None:
        _check_end(started_on, ended_on)
    record = EmploymentRecord(
        person_id=person.id,
        employer_name=_text(employer_name, "employer_name", 128),
        employer_code=code,
        position=_optional_text(position, "position", 64),
        started_on=started_on,
        ended_on=ended_on,
    )
    uow.session.add(record)
    uow.flush()
    details = {"record_id": record.id, "employer": record.employer_name, "started_on": started_on.isoformat()}
    record_event(uow, actor=actor, action="person.employment.add", subject=person_subject(person.id), details=details)
    return record


def end_employment(uow: UnitOfWork, *, record_id: int, ended_on: date, actor: Actor) -> EmploymentRecord:
    """Close an open employment period."""
    record = uow.session.get(EmploymentRecord, record_id) if 1 <= record_id <= MAX_PERSON_ID else None
    if record is None:
        raise PersonRecordInvalid(f"no employment record {record_id}", field="record_id")
    if record.ended_on is not None:
        raise PersonRecordInvalid("this employment has already ended", field="ended_on")
    _check_end(record.started_on, ended_on)
    record.ended_on = ended_on
    uow.flush()
    details = {"record_id": record.id, "ended_on": ended_on.isoformat()}
    record_event(
        uow, actor=actor, action="person.employment.end", subject=person_subject(record.person_id), details=details
    )
    return record


def _check_end(started_on: date, ended_on: date) -> None:
    if ended_on < started_on:
        raise PersonRecordInvalid("ended_on is before started_on", field="ended_on")
    if ended_on > date.today():
        raise PersonRecordInvalid("ended_on is in the future", field="ended_on")


def list_employment(uow: UnitOfWork, *, person_id: int) -> list[EmploymentRecord]:
    """The person's employment history, most recent first."""
    stmt = select(EmploymentRecord).where(EmploymentRecord.person_id == person_id)
    return list(uow.session.scalars(stmt.order_by(EmploymentRecord.started_on.desc(), EmploymentRecord.id.desc())))


def record_disability_assessment(
    uow: UnitOfWork,
    *,
    person_id: int,
    kind: DisabilityKind | str,
    grade: int,
    diagnosis: str,
    assessed_on: date,
    authority: str,
    actor: Actor,
    conclusion_no: str | None = None,
) -> DisabilityAssessment:
    """Record a work-injury / occupational-disease disability assessment, grade 1 (worst) to 10 (PER-2)."""
    try:
        which = DisabilityKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in DisabilityKind)
        raise PersonRecordInvalid(f"kind is one of: {allowed}", field="kind") from None
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 10:
        raise PersonRecordInvalid("grade is 1 (most severe) to 10", field="grade")
    person = get_person_or_raise(uow, person_id)
    record = DisabilityAssessment(
        person_id=person.id,
        kind=which,
        grade=grade,
        diagnosis=_text(diagnosis, "diagnosis", 128),
        assessed_on=_past_date(assessed_on, "assessed_on", person),
        authority=_text(authority, "authority", 128),
        conclusion_no=_optional_text(conclusion_no, "conclusion_no", 64),
    )
    uow.session.add(record)
    uow.flush()
    details = {"record_id": record.id, "kind": which.value, "grade": grade}
    record_event(uow, actor=actor, action="person.disability.add", subject=person_subject(person.id), details=details)
    return record


def list_disability_assessments(uow: UnitOfWork, *, person_id: int) -> list[DisabilityAssessment]:
    """The person's assessments, most recent first."""
    stmt = select(DisabilityAssessment).where(DisabilityAssessment.person_id == person_id)
    return list(
        uow.session.scalars(stmt.order_by(DisabilityAssessment.assessed_on.desc(), DisabilityAssessment.id.desc()))
    )
