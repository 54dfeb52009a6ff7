"""Registration and participation (INS-1, INS-2): employees by their employer, flexible workers themselves.

The 30-day rule: the deadline is the employment start plus 30 days; a later registration keeps its
``days_late`` and waits for the agency's premium decision (``decide_premium``, audited).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.employers.models import Employer
from sscard.insurance.errors import (
    BaseOutOfRange,
    InsuranceTypeInvalid,
    PremiumAlreadyDecided,
    RegistrationDateInvalid,
    RegistrationDuplicate,
    RegistrationKindInvalid,
    RegistrationNotFound,
    RegistrationNotLate,
    RegistrationUnderage,
)
from sscard.insurance.models import (
    InsuranceParticipation,
    InsuranceRegistration,
    InsuranceType,
    PremiumDecision,
    RegistrationKind,
)
from sscard.insurance.rules import (
    EMPLOYEE_TYPES,
    MINIMUM_AGE,
    SELF_TYPES,
    BaseBounds,
    birthday,
    days_late,
    registration_deadline,
)
from sscard.people.errors import PersonDeceased
from sscard.people.models import Person, PersonStatus
from sscard.people.service import person_subject
from sscard.policy.service import get_effective_policy


def _types(types: Iterable[InsuranceType | str] | None, allowed: Sequence[InsuranceType]) -> list[InsuranceType]:
    if types is None:
        return list(allowed)
    out = []
    for t in types:
        try:
            value = InsuranceType(t)
        except ValueError:
            raise InsuranceTypeInvalid(f"{str(t)[:32]!r} is not an insurance type") from None
        if value not in allowed:
            raise InsuranceTypeInvalid(f"{value.value} is not held through this kind of registration")
        if value not in out:
            out.append(value)
    if not out:
        raise InsuranceTypeInvalid("at least one insurance type")
    return out


def _check_person(person: Person, *, start: date, registered_on: date, today: date) -> None:
    if person.status is PersonStatus.DECEASED:
        raise PersonDeceased("a deceased person cannot be registered")
    if start < birthday(person.birth_date, MINIMUM_AGE):
        raise RegistrationUnderage(f"the person turns {MINIMUM_AGE} on {birthday(person.birth_date, MINIMUM_AGE)}")
    if registered_on > today:
        raise RegistrationDateInvalid("the registration date is in the future")
    if start > registered_on:  # registered for an employment that has not begun (9999-12-31 overflowed: a 500)
        raise RegistrationDateInvalid("the employment start is after the registration date")


def _open_registration(uow: UnitOfWork, *, person_id: int, employer_id: int | None) -> InsuranceRegistration | None:
    cond = (
        InsuranceRegistration.employer_id == employer_id
        if employer_id is not None
        else InsuranceRegistration.employer_id.is_(None)
    )
    return uow.session.scalar(
        select(InsuranceRegistration)
        .where(InsuranceRegistration.person_id == person_id, cond, InsuranceRegistration.ended_on.is_(None))
        .limit(1)
    )


def _add(
    uow: UnitOfWork, registration: InsuranceRegistration, types: list[InsuranceType], actor: Actor, action: str
) -> InsuranceRegistration:
    uow.session.add(registration)
    uow.flush()
    uow.session.add_all(
        InsuranceParticipation(
            registration_id=registration.id,
            person_id=registration.person_id,
            insurance_type=t,
            start_date=registration.employment_start,
        )
        for t in types
    )
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action=action,
        subject=person_subject(registration.person_id),
        details={
            "registration": registration.id,
            "employer": registration.employer_id,
            "kind": registration.kind.value,
            "start": registration.employment_start.isoformat(),
            "registered_on": registration.registered_on.isoformat(),
            "days_late": registration.days_late,
            "types": [t.value for t in types],
        },
    )
    return registration


def register_employee(
    uow: UnitOfWork,
    *,
    employer: Employer,
    person: Person,
    employment_start: date,
    actor: Actor,
    registered_on: date | None = None,
    insurance_types: Iterable[InsuranceType | str] | None = None,
    today: date | None = None,
) -> InsuranceRegistration:
    """Register an employee (INS-1): on time until start + 30 days, later flagged with its days late."""
    today = today or utcnow().date()
    registered_on = registered_on or today
    _check_person(person, start=employment_start, registered_on=registered_on, today=today)
    types = _types(insurance_types, EMPLOYEE_TYPES)
    if _open_registration(uow, person_id=person.id, employer_id=employer.id) is not None:
        raise RegistrationDuplicate()
    registration = InsuranceRegistration(
        person_id=person.id,
        employer_id=employer.id,
        kind=RegistrationKind.EMPLOYEE,
        region_code=employer.region_code,
        employment_start=employment_start,
        registered_on=registered_on,
        deadline=registration_deadline(employment_start),
        days_late=days_late(employment_start=employment_start, registered_on=registered_on),
    )
    return _add(uow, registration, types, actor, "insurance.register_employee")


def register_self(
    uow: UnitOfWork,
    *,
    person: Person,
    kind: RegistrationKind | str,
    start: date,
    chosen_base_fen: int,
    actor: Actor,
    insurance_types: Iterable[InsuranceType | str] | None = None,
    today: date | None = None,
) -> InsuranceRegistration:
    """A flexible or self-employed worker registers themself (INS-2), with a base inside the bounds."""
    today = today or utcnow().date()
    try:
        kind = RegistrationKind(kind)
    except ValueError:
        raise RegistrationKindInvalid() from None
    if kind is RegistrationKind.EMPLOYEE:
        raise RegistrationKindInvalid()
    _check_person(person, start=start, registered_on=today, today=today)
    if start > today:
        raise RegistrationDateInvalid("the start date is in the future")
    types = _types(insurance_types, SELF_TYPES)
    bounds = BaseBounds.of(get_effective_policy(uow, region_code=person.region_code))
    whole = isinstance(chosen_base_fen, int) and not isinstance(chosen_base_fen, bool)
    if not whole or not bounds.contains(chosen_base_fen):
        raise BaseOutOfRange(
            f"choose a base from {bounds.floor_fen} to {bounds.ceiling_fen} fen",
            floor_fen=bounds.floor_fen,
            ceiling_fen=bounds.ceiling_fen,
        )
    if _open_registration(uow, person_id=person.id, employer_id=None) is not None:
        raise RegistrationDuplicate("the person already has an open self-registration")
    registration = InsuranceRegistration(
        person_id=person.id,
        employer_id=None,
        kind=kind,
        region_code=person.region_code,
        employment_start=start,
        registered_on=today,
        deadline=registration_deadline(start),
        days_late=0,  # the 30-day rule binds employers (law art. 58), not people registering themselves
        chosen_base_fen=chosen_base_fen,
    )
    return _add(uow, registration, types, actor, "insurance.register_self")


def get_registration_or_raise(uow: UnitOfWork, registration_id: int) -> InsuranceRegistration:
    found = uow.session.get(InsuranceRegistration, registration_id)
    if found is None:
        raise RegistrationNotFound()
    return found


def decide_premium(
    uow: UnitOfWork, *, registration_id: int, decision: PremiumDecision | str, premium_fen: int, actor: Actor
) -> InsuranceRegistration:
    """Record the agency's premium decision on a late registration (INS-1), once."""
    registration = uow.session.scalar(
        select(InsuranceRegistration).where(InsuranceRegistration.id == registration_id).with_for_update()
    )
    if registration is None:
        raise RegistrationNotFound()
    if registration.days_late == 0:
        raise RegistrationNotLate()
    if registration.premium_decision is not None:
        raise PremiumAlreadyDecided()
    decision = PremiumDecision(decision)
    if decision is PremiumDecision.WAIVED:
        premium_fen = 0
    registration.premium_decision = decision
    registration.premium_fen = premium_fen
    registration.decided_by = actor.id[:64]
    registration.decided_at = utcnow()
    record_event(
        uow,
        actor=actor,
        action="insurance.premium_decision",
        subject=person_subject(registration.person_id),
        details={"registration": registration.id, "decision": decision.value, "premium_fen": premium_fen},
    )
    return registration


def end_registration(uow: UnitOfWork, *, registration_id: int, ended_on: date, actor: Actor) -> InsuranceRegistration:
    """End a registration (employment ended): every participation of it stops that day."""
    registration = get_registration_or_raise(uow, registration_id)
    if ended_on < registration.employment_start:
        raise RegistrationDateInvalid("the end is before the employment start")
    registration.ended_on = ended_on
    for p in uow.session.scalars(
        select(InsuranceParticipation).where(
            InsuranceParticipation.registration_id == registration_id, InsuranceParticipation.stop_date.is_(None)
        )
    ):
        p.stop_date = ended_on
    record_event(
        uow,
        actor=actor,
        action="insurance.end_registration",
        subject=person_subject(registration.person_id),
        details={"registration": registration.id, "ended_on": ended_on.isoformat()},
    )
    return registration


def participations_of(uow: UnitOfWork, *, registration_id: int) -> list[InsuranceParticipation]:
    return list(
        uow.session.scalars(
            select(InsuranceParticipation)
            .where(InsuranceParticipation.registration_id == registration_id)
            .order_by(InsuranceParticipation.id)
        )
    )
