"""The insured populations a person belongs to on a day, from their recorded participation (INS-2).

Read by PIN-change campaigns (PIN-9): a campaign selects populations such as urban employee basic
medical insurance, and only a holder who actually participates in a selected scheme is prompted.

What this registry records maps onto the populations of ``policy.schemas.InsurancePopulation``:

    basic_pension     → urban_employee_pension (employees; flexible and self-employed workers join
                        the employee pension scheme in their own name)
    employee_medical  → urban_employee_medical
    resident_medical  → urban_rural_resident_medical, and urban_resident_medical (its urban predecessor,
                        merged into it: a campaign excluding urban resident medical insurance, as seed
                        004 does, keeps its holders out)
    unemployment, work_injury, maternity → the same names

A participation counts on ``on`` when it started on or before that day and has not stopped by it
(``stop_date`` is the first day without cover, as ``end_registration`` sets it).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select

from sscard.db.session import UnitOfWork
from sscard.insurance.models import InsuranceParticipation, InsuranceType
from sscard.policy.schemas import InsurancePopulation as P

POPULATIONS_OF_TYPE: dict[InsuranceType, frozenset[str]] = {
    InsuranceType.BASIC_PENSION: frozenset({P.URBAN_EMPLOYEE_PENSION.value}),
    InsuranceType.EMPLOYEE_MEDICAL: frozenset({P.URBAN_EMPLOYEE_MEDICAL.value}),
    InsuranceType.RESIDENT_MEDICAL: frozenset({P.URBAN_RURAL_RESIDENT_MEDICAL.value, P.URBAN_RESIDENT_MEDICAL.value}),
    InsuranceType.UNEMPLOYMENT: frozenset({P.UNEMPLOYMENT.value}),
    InsuranceType.WORK_INJURY: frozenset({P.WORK_INJURY.value}),
    InsuranceType.MATERNITY: frozenset({P.MATERNITY.value}),
}


def participating_types(uow: UnitOfWork, *, person_id: int, on: date) -> frozenset[InsuranceType]:
    """The insurance types the person participates in on ``on``."""
    rows = uow.session.scalars(
        select(InsuranceParticipation.insurance_type).where(
            InsuranceParticipation.person_id == person_id,
            InsuranceParticipation.start_date <= on,
            or_(InsuranceParticipation.stop_date.is_(None), InsuranceParticipation.stop_date > on),
        )
    )
    return frozenset(InsuranceType(t) for t in rows)


def populations_on(uow: UnitOfWork, *, person_id: int, on: date) -> frozenset[str]:
    """The populations (``InsurancePopulation`` values) of the person's participation on ``on``."""
    out: set[str] = set()
    for insurance_type in participating_types(uow, person_id=person_id, on=on):
        out |= POPULATIONS_OF_TYPE[insurance_type]
    return frozenset(out)
