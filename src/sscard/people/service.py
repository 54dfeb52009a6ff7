"""Persons: register, find, change status, read masked, reveal (PER-1, ID-4, ID-5, CARD-1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.identity import mask_email, mask_id_number, mask_phone, parse_citizen_id
from sscard.identity.protected import ID_NUMBER, NAME
from sscard.people.errors import (
    PersonDuplicate,
    PersonNotFound,
    PersonStatusInvalid,
    RevealFieldsInvalid,
    RevealForbidden,
)
from sscard.people.models import Person, PersonStatus
from sscard.people.schemas import PersonRead, PersonReveal
from sscard.people.validation import name_index_key, normalise_evidence, prepare_person
from sscard.regions.codes import is_within

# ID-5 / CH-2: roles that may see full values ("operator" is the local CLI operator).
REVEAL_ROLES = frozenset({"counter_supervisor", "operator"})
REVEALABLE_FIELDS = ("id_number", "phone", "email")
# Person ids are 32-bit integer keys: anything outside cannot exist (and would overflow a driver).
MAX_PERSON_ID = 2**31 - 1


def _valid_id(person_id: int) -> bool:
    return isinstance(person_id, int) and 1 <= person_id <= MAX_PERSON_ID


def person_subject(person_id: int) -> str:
    """The audit subject of a person: the internal id, never the citizen ID (CH-4)."""
    return f"person:{person_id}"


def add_person(
    uow: UnitOfWork,
    *,
    id_number: str,
    name: str,
    actor: Actor,
    phone: str | None = None,
    email: str | None = None,
    gender: str | None = None,
    birth_date: date | None = None,
    status: PersonStatus = PersonStatus.EMPLOYED,
) -> Person:
    """Register a person; the ID is validated (15 digits upgraded), checked against gender/birth date."""
    new = prepare_person(id_number=id_number, name=name, phone=phone, email=email, gender=gender, birth_date=birth_date)
    status = parse_status(status)
    columns = new.columns()
    if uow.session.scalar(select(Person.id).where(Person.id_number_bidx == columns["id_number_bidx"])) is not None:
        raise PersonDuplicate(f"{new.masked['id_number']} is already registered")
    person = Person(**columns, status=status)
    try:
        # A savepoint: a concurrent insert of the same ID fails here without spoiling the caller's transaction.
        with uow.session.begin_nested():
            uow.session.add(person)
    except IntegrityError:
        raise PersonDuplicate(f"{new.masked['id_number']} is already registered") from None
    record_event(
        uow,
        actor=actor,
        action="person.add",
        subject=person_subject(person.id),
        details={**new.masked, "region": person.region_code, "status": status.value},
    )
    return person


def get_person(uow: UnitOfWork, person_id: int) -> Person | None:
    """The person with this internal id, or None."""
    return uow.session.get(Person, person_id) if _valid_id(person_id) else None


def get_person_or_raise(uow: UnitOfWork, person_id: int) -> Person:
    """The person with this internal id; ``PERSON_NOT_FOUND`` otherwise."""
    person = get_person(uow, person_id)
    if person is None:
        raise PersonNotFound(f"no person with id {person_id}")
    return person


def lock_person_or_raise(uow: UnitOfWork, person_id: int) -> Person:
    """The person, row-locked until commit (serialises card issue against a death registration)."""
    if not _valid_id(person_id):
        raise PersonNotFound(f"no person with id {person_id}")
    person = uow.session.scalar(
        select(Person).where(Person.id == person_id).with_for_update().execution_options(populate_existing=True)
    )
    if person is None:
        raise PersonNotFound(f"no person with id {person_id}")
    return person


def find_person_by_id_number(uow: UnitOfWork, id_number: str) -> Person | None:
    """Look a person up by citizen ID through the blind index; a malformed ID raises its ID_* code."""
    cid = parse_citizen_id(id_number)
    return uow.session.scalar(select(Person).where(Person.id_number_bidx == ID_NUMBER.index(cid.number)))


def find_persons_by_name(uow: UnitOfWork, name: str, *, region_code: str | None = None) -> list[Person]:
    """Persons with exactly this name (case and inner spacing aside), through the name's blind index
    (the name is stored only sealed); with ``region_code``, only those registered inside that region."""

    stmt = select(Person).where(Person.name_bidx == NAME.index(name_index_key(name))).order_by(Person.id)
    found = list(uow.session.scalars(stmt))
    return found if region_code is None else [p for p in found if is_within(p.region_code, region_code)]


def get_person_by_id_number_or_raise(uow: UnitOfWork, id_number: str) -> Person:
    """Like ``find_person_by_id_number`` but ``PERSON_NOT_FOUND`` when nobody has that ID."""
    person = find_person_by_id_number(uow, id_number)
    if person is None:
        raise PersonNotFound(f"no person with citizen ID {mask_id_number(parse_citizen_id(id_number).number)}")
    return person


def parse_status(status: PersonStatus | str) -> PersonStatus:
    try:
        return PersonStatus(status)
    except ValueError:
        raise PersonStatusInvalid(f"status is one of: {', '.join(s.value for s in PersonStatus)}") from None


def person_read(person: Person) -> PersonRead:
    """The masked view of a person (ID-5): what every screen and API answer shows by default."""
    return PersonRead(
        person_id=person.id,
        name=person.name,
        gender=person.gender,
        birth_year=person.birth_date.year,
        region_code=person.region_code,
        status=person.status,
        id_number_masked=mask_id_number(person.id_number),
        phone_masked=mask_phone(person.phone) if person.phone else None,
        email_masked=mask_email(person.email) if person.email else None,
        created_at=person.created_at,
    )


def view_person(uow: UnitOfWork, *, id_number: str, actor: Actor) -> Person:
    """Find a person by ID to show their masked record; the disclosure is audited (CH-4)."""
    person = get_person_by_id_number_or_raise(uow, id_number)
    record_event(uow, actor=actor, action="person.view", subject=person_subject(person.id))
    return person


def lookup_person_at_counter(uow: UnitOfWork, *, id_number: str, actor: Actor, evidence: str) -> Person:
    """Find a person by ID at a counter, recording the identity evidence checked (CH-2, CH-4)."""
    note = normalise_evidence(evidence)
    person = get_person_by_id_number_or_raise(uow, id_number)
    record_event(
        uow, actor=actor, action="person.lookup", subject=person_subject(person.id), details={"evidence": note}
    )
    return person


def reveal_person(
    uow: UnitOfWork,
    *,
    person_id: int,
    actor: Actor,
    evidence: str,
    fields: Iterable[str] = REVEALABLE_FIELDS,
) -> PersonReveal:
    """Show full ID / phone / email to a role that needs them; audited with the evidence (ID-5, CH-2)."""
    if actor.role not in REVEAL_ROLES:
        raise RevealForbidden(f"full personal data needs one of the roles: {', '.join(sorted(REVEAL_ROLES))}")
    wanted = tuple(dict.fromkeys(fields))
    unknown = [f for f in wanted if f not in REVEALABLE_FIELDS]
    if unknown or not wanted:
        raise RevealFieldsInvalid(f"fields are some of: {', '.join(REVEALABLE_FIELDS)}")
    note = normalise_evidence(evidence)
    person = get_person_or_raise(uow, person_id)
    record_event(
        uow,
        actor=actor,
        action="person.reveal",
        subject=person_subject(person.id),
        details={"fields": list(wanted), "evidence": note},
    )
    return PersonReveal(
        person_id=person.id,
        id_number=person.id_number if "id_number" in wanted else None,
        phone=person.phone if "phone" in wanted else None,
        email=person.email if "email" in wanted else None,
    )
