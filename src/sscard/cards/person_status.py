"""A person's status, and what it does to their cards: deceased is final and cancels every live card
(PER-1, CARD-1). Here, in cards, because cards depend on people and not the reverse."""

from __future__ import annotations

from sscard.audit import Actor, record_event
from sscard.cards.service import cancel_cards_of_deceased
from sscard.db.session import UnitOfWork
from sscard.people.errors import PersonDeceased
from sscard.people.models import Person, PersonStatus
from sscard.people.service import lock_person_or_raise, parse_status, person_subject


def set_person_status(
    uow: UnitOfWork, *, person_id: int, status: PersonStatus | str, actor: Actor, evidence: dict[str, str] | None = None
) -> Person:
    """Change a person's status; deceased is final and cancels every live card (PER-1, CARD-1).

    ``evidence``: the identity document the counter checked (``CheckedEvidence.as_details()``, masked),
    kept in the audit entry (CH-2)."""
    new_status = parse_status(status)
    person = lock_person_or_raise(uow, person_id)
    if person.status is new_status:
        return person
    if person.status is PersonStatus.DECEASED:
        raise PersonDeceased("a person registered as deceased cannot change status")
    old_status = person.status
    person.status = new_status
    uow.flush()
    details: dict[str, object] = {"from": old_status.value, "to": new_status.value, **(evidence or {})}
    if new_status is PersonStatus.DECEASED:
        details["cards_cancelled"] = cancel_cards_of_deceased(uow, person_id=person.id, actor=actor)
    record_event(uow, actor=actor, action="person.set_status", subject=person_subject(person.id), details=details)
    return person
