"""Registration and participation on SQLite and PostgreSQL (INS-1, INS-2)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.person_status import set_person_status
from sscard.insurance.errors import (
    BaseOutOfRange,
    PremiumAlreadyDecided,
    RegistrationDuplicate,
    RegistrationNotLate,
    RegistrationUnderage,
)
from sscard.insurance.models import InsuranceRegistration, InsuranceType
from sscard.insurance.service import decide_premium, participations_of, register_employee, register_self
from sscard.people.errors import PersonDeceased
from sscard.people.models import PersonStatus
from tests.employers.factories import AGENCY, add_test_employer
from tests.insurance.factories import registered_employee
from tests.people.factories import SUPERVISOR, add_test_person, new_id_number

TODAY = date(2025, 6, 15)


def _count(uow) -> int:
    return len(uow.session.scalars(select(InsuranceRegistration)).all())


# rule INS-1: a late registration keeps its days late; the premium decision is recorded once, audited
def test_late_registration_and_premium_decision(uow) -> None:
    _, _, on_time, _ = registered_employee(uow, start=date(2025, 1, 1), registered_on=date(2025, 1, 31))
    assert on_time.days_late == 0 and not on_time.late
    with pytest.raises(RegistrationNotLate):
        decide_premium(uow, registration_id=on_time.id, decision="charged", premium_fen=100, actor=AGENCY)
    _, _, late, _ = registered_employee(uow, start=date(2025, 1, 1), registered_on=date(2025, 3, 2))
    assert late.deadline == date(2025, 1, 31) and late.days_late == 30
    decided = decide_premium(uow, registration_id=late.id, decision="charged", premium_fen=12_000, actor=AGENCY)
    assert decided.premium_fen == 12_000 and decided.decided_by == AGENCY.id
    with pytest.raises(PremiumAlreadyDecided):
        decide_premium(uow, registration_id=late.id, decision="waived", premium_fen=0, actor=AGENCY)
    actions = uow.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "insurance.premium_decision"))
    assert list(actions) == ["insurance.premium_decision"]


# rule INS-2: participation per insurance type, from the employment start
def test_participation_per_type(uow) -> None:
    _, _, reg, _ = registered_employee(uow, start=date(2024, 3, 1))
    types = {p.insurance_type: p for p in participations_of(uow, registration_id=reg.id)}
    assert set(types) == {
        InsuranceType.BASIC_PENSION,
        InsuranceType.EMPLOYEE_MEDICAL,
        InsuranceType.UNEMPLOYMENT,
        InsuranceType.WORK_INJURY,
        InsuranceType.MATERNITY,
    }
    assert all(p.start_date == date(2024, 3, 1) and p.stop_date is None for p in types.values())


# rule INS-1: bad input writes nothing: under 16, deceased, a second open registration
def test_refusals_write_nothing(uow) -> None:
    employer = add_test_employer(uow)
    young = add_test_person(uow, id_number=new_id_number(born=date(2010, 7, 1)))
    before = _count(uow)
    with pytest.raises(RegistrationUnderage):
        register_employee(
            uow, employer=employer, person=young, employment_start=date(2025, 6, 1), actor=AGENCY, today=TODAY
        )
    dead = add_test_person(uow, id_number=new_id_number(born=date(1950, 1, 1)))
    set_person_status(uow, person_id=dead.id, status=PersonStatus.DECEASED, actor=SUPERVISOR)
    with pytest.raises(PersonDeceased):
        register_employee(
            uow, employer=employer, person=dead, employment_start=date(2025, 6, 1), actor=AGENCY, today=TODAY
        )
    assert _count(uow) == before
    _, person, _, _ = registered_employee(uow, employer=employer)
    with pytest.raises(RegistrationDuplicate):
        register_employee(
            uow, employer=employer, person=person, employment_start=date(2025, 1, 1), actor=AGENCY, today=TODAY
        )


# rule INS-2: a flexible worker registers themself with a base inside the bounds
def test_self_registration_base_within_bounds(uow) -> None:
    person = add_test_person(uow, id_number=new_id_number(born=date(1980, 1, 1), region="110105"))
    with pytest.raises(BaseOutOfRange):
        register_self(
            uow, person=person, kind="flexible", start=date(2025, 1, 1), chosen_base_fen=100, actor=AGENCY, today=TODAY
        )
    reg = register_self(
        uow, person=person, kind="flexible", start=date(2025, 1, 1), chosen_base_fen=600_000, actor=AGENCY, today=TODAY
    )
    assert reg.employer_id is None and reg.chosen_base_fen == 600_000 and reg.days_late == 0
    assert {p.insurance_type for p in participations_of(uow, registration_id=reg.id)} == {
        InsuranceType.BASIC_PENSION,
        InsuranceType.EMPLOYEE_MEDICAL,
    }
