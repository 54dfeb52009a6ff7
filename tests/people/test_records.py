"""PER-2 records: qualifications, employment history, disability assessments (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.audit.service import count_entries, verify_chain
from sscard.people.errors import PersonNotFound, PersonRecordInvalid
from sscard.people.models import DisabilityAssessment, EmploymentRecord, Qualification
from sscard.people.records import (
    add_employment,
    add_qualification,
    end_employment,
    list_disability_assessments,
    list_employment,
    list_qualifications,
    record_disability_assessment,
)
from sscard.people.schemas import DisabilityAssessmentRead, EmploymentRead, QualificationRead
from tests.people.factories import CLERK, add_test_person, new_id_number


def _person(uow):
    return add_test_person(uow, id_number=new_id_number(born=date(1980, 5, 17)))


# rule PER-2: professional qualifications and skills
def test_qualifications(uow) -> None:
    person = _person(uow)
    add_qualification(
        uow,
        person_id=person.id,
        category="vocational_skill",
        name="电工",
        level="三级/高级工",
        issuer="北京市职业技能鉴定中心",
        issued_on=date(2010, 6, 1),
        actor=CLERK,
        certificate_no="S000011000001",
    )
    add_qualification(
        uow,
        person_id=person.id,
        category="professional_title",
        name="工程师",
        issuer="北京市人社局",
        issued_on=date(2015, 1, 1),
        actor=CLERK,
    )
    rows = [QualificationRead.model_validate(q) for q in list_qualifications(uow, person_id=person.id)]
    assert [q.name for q in rows] == ["工程师", "电工"] and rows[1].level == "三级/高级工"


# rule PER-2: employment history, open and closed periods
def test_employment(uow) -> None:
    person = _person(uow)
    first = add_employment(
        uow,
        person_id=person.id,
        employer_name="北京某某有限公司",
        employer_code="91110105MA01ABCD2X",
        started_on=date(2002, 7, 1),
        ended_on=date(2009, 12, 31),
        actor=CLERK,
        position="技术员",
    )
    current = add_employment(
        uow, person_id=person.id, employer_name="上海某某集团", started_on=date(2010, 1, 4), actor=CLERK
    )
    assert current.ended_on is None
    end_employment(uow, record_id=current.id, ended_on=date(2020, 3, 31), actor=CLERK)
    with pytest.raises(PersonRecordInvalid):
        end_employment(uow, record_id=current.id, ended_on=date(2021, 1, 1), actor=CLERK)
    rows = [EmploymentRead.model_validate(e) for e in list_employment(uow, person_id=person.id)]
    assert [r.id for r in rows] == [current.id, first.id] and rows[0].ended_on == date(2020, 3, 31)


# rule PER-2: work-injury / occupational-disease disability assessments, grades 1-10
def test_disability_assessments(uow) -> None:
    person = _person(uow)
    record_disability_assessment(
        uow,
        person_id=person.id,
        kind="work_injury",
        grade=7,
        diagnosis="右手食指离断伤",
        assessed_on=date(2018, 9, 3),
        authority="北京市劳动能力鉴定委员会",
        actor=CLERK,
        conclusion_no="京劳鉴2018-0001",
    )
    record_disability_assessment(
        uow,
        person_id=person.id,
        kind="occupational_disease",
        grade=4,
        diagnosis="矽肺二期",
        assessed_on=date(2021, 4, 12),
        authority="北京市劳动能力鉴定委员会",
        actor=CLERK,
    )
    rows = [DisabilityAssessmentRead.model_validate(d) for d in list_disability_assessments(uow, person_id=person.id)]
    assert [(r.kind, r.grade) for r in rows] == [("occupational_disease", 4), ("work_injury", 7)]
    actions = uow.session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject == f"person:{person.id}").order_by(AuditEntry.id)
    ).all()
    assert actions == ["person.add", "person.disability.add", "person.disability.add"]
    assert verify_chain(uow).ok


# rule PER-2: bad records are refused with PERSON_RECORD_INVALID and write nothing
def test_bad_records_write_nothing(uow) -> None:
    person = _person(uow)
    counts = lambda: tuple(  # noqa: E731
        uow.session.scalar(select(func.count()).select_from(m))
        for m in (Qualification, EmploymentRecord, DisabilityAssessment)
    )
    before, audits = counts(), count_entries(uow)
    tomorrow = date.today() + timedelta(days=1)
    bad_calls = [
        lambda: add_qualification(
            uow, person_id=person.id, category="magic", name="x", issuer="y", issued_on=date(2010, 1, 1), actor=CLERK
        ),
        lambda: add_qualification(
            uow,
            person_id=person.id,
            category="vocational_skill",
            name=" ",
            issuer="y",
            issued_on=date(2010, 1, 1),
            actor=CLERK,
        ),
        lambda: add_qualification(
            uow, person_id=person.id, category="vocational_skill", name="x", issuer="y", issued_on=tomorrow, actor=CLERK
        ),
        lambda: add_qualification(
            uow,
            person_id=person.id,
            category="vocational_skill",
            name="x",
            issuer="y",
            issued_on=date(1970, 1, 1),
            actor=CLERK,
        ),
        lambda: add_employment(
            uow, person_id=person.id, employer_name="A", started_on=date(1990, 1, 1), actor=CLERK
        ),  # age 9
        lambda: add_employment(
            uow,
            person_id=person.id,
            employer_name="A",
            started_on=date(2005, 1, 1),
            ended_on=date(2004, 1, 1),
            actor=CLERK,
        ),
        lambda: add_employment(
            uow, person_id=person.id, employer_name="A", employer_code="ABC", started_on=date(2005, 1, 1), actor=CLERK
        ),
        lambda: add_employment(
            uow, person_id=person.id, employer_name="x" * 129, started_on=date(2005, 1, 1), actor=CLERK
        ),
        lambda: record_disability_assessment(
            uow,
            person_id=person.id,
            kind="work_injury",
            grade=11,
            diagnosis="d",
            assessed_on=date(2010, 1, 1),
            authority="a",
            actor=CLERK,
        ),
        lambda: record_disability_assessment(
            uow,
            person_id=person.id,
            kind="work_injury",
            grade=0,
            diagnosis="d",
            assessed_on=date(2010, 1, 1),
            authority="a",
            actor=CLERK,
        ),
        lambda: record_disability_assessment(
            uow,
            person_id=person.id,
            kind="sunburn",
            grade=5,
            diagnosis="d",
            assessed_on=date(2010, 1, 1),
            authority="a",
            actor=CLERK,
        ),
        lambda: end_employment(uow, record_id=10**9, ended_on=date(2010, 1, 1), actor=CLERK),
    ]
    for call in bad_calls:
        with pytest.raises(PersonRecordInvalid) as exc:
            call()
        assert exc.value.code == "PERSON_RECORD_INVALID"
    with pytest.raises(PersonNotFound):
        add_qualification(
            uow,
            person_id=10**9,
            category="vocational_skill",
            name="x",
            issuer="y",
            issued_on=date(2010, 1, 1),
            actor=CLERK,
        )
    assert (counts(), count_entries(uow)) == (before, audits)
