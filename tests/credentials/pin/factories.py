"""Cards for PIN tests: a registered person with an issued, and usually activated, card."""

from __future__ import annotations

from sscard.cards import service as card_service
from sscard.cards.models import Card
from tests.people.factories import CLERK, add_test_person


def make_card(
    uow, *, activate: bool = True, card_type: str = "social", bank_code: str | None = None, **person_kwargs
) -> Card:
    """A new person's card: issued (through ``bank_code``, with the financial function, when given), and
    activated unless ``activate`` is false."""
    person = add_test_person(uow, **person_kwargs)
    card = card_service.issue_card(
        uow, person_id=person.id, card_type=card_type, actor=CLERK, financial=bank_code is not None, bank_code=bank_code
    )
    if activate:
        card = card_service.activate_card(uow, card_no=card.card_no, actor=CLERK)
    return card


def insure_as_employee(uow, person, *, start=None, insurance_types=None):
    """Register ``person`` as an employee of a fresh employer (INS-1): their participation from ``start``."""
    from datetime import date

    from sscard.insurance.service import register_employee
    from tests.employers.factories import AGENCY, add_test_employer

    start = start or date(2024, 1, 1)
    return register_employee(
        uow,
        employer=add_test_employer(uow),
        person=person,
        employment_start=start,
        registered_on=start,
        insurance_types=insurance_types,
        actor=AGENCY,
        today=start,
    )


def insure_as_resident(uow, person, *, start=None):
    """Record urban-rural resident medical insurance for ``person`` (INS-2).

    No registration path of the platform records the resident scheme yet (its enrolment runs at the
    community, not through employers), so the participation is written as that enrolment would."""
    from datetime import date

    from sscard.insurance.models import InsuranceParticipation, InsuranceRegistration, InsuranceType, RegistrationKind

    start = start or date(2024, 1, 1)
    registration = InsuranceRegistration(
        person_id=person.id,
        employer_id=None,
        kind=RegistrationKind.FLEXIBLE,
        region_code=person.region_code,
        employment_start=start,
        registered_on=start,
        deadline=start,
        days_late=0,
    )
    uow.session.add(registration)
    uow.flush()
    uow.session.add(
        InsuranceParticipation(
            registration_id=registration.id,
            person_id=person.id,
            insurance_type=InsuranceType.RESIDENT_MEDICAL,
            start_date=start,
        )
    )
    uow.flush()
    return registration


def card_audit(uow, card_no: str, action: str | None = None) -> list:
    """This card's audit entries, oldest first: the masked subject is shared by cards with the same
    prefix, so the entries are told apart by the card id in their details."""
    from sqlalchemy import select

    from sscard.audit.models import AuditEntry
    from sscard.cards.lifecycle import card_subject
    from sscard.cards.models import Card

    card_id = uow.session.scalar(select(Card.id).where(Card.card_no == card_no))
    query = select(AuditEntry).where(
        AuditEntry.subject == card_subject(card_no), AuditEntry.details.like(f'%"card_id":{card_id},%')
    )
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(uow.session.scalars(query.order_by(AuditEntry.id)))
