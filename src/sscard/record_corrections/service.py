"""Record corrections at the counter (QPW-3, PER-1, CH-2, CH-4, CH-5).

* Name, phone and email are corrected at once by counter staff, with the identity document checked
  against the record (the evidence form of the PIN and query-password counter operations).
* The citizen ID number itself is corrected in two steps by two different staff members: one
  requests it (the document shown must carry the *new* number), a counter supervisor other than the
  requester approves it (maker-checker, as the key register's handover plans). Until then the new
  number is kept sealed in ``person_correction``; nothing of the person changes.

On approval the protected columns are re-sealed and re-indexed, and what the ID encodes follows the
new number: gender, birth date (ID-4) and the region (as at registration, the person's region *is*
the ID's region; the approver must cover both regions). Cards keep their numbers and stay linked by
the person's row id; the query-password account follows (``follow_id_correction``). Audit entries
carry old and new values masked only; the holder is told on the old and the new contacts (CH-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.credentials.pin.evidence import CheckedEvidence, check_identity_document
from sscard.credentials.query_password.counter import follow_id_correction
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.identity import mask_email, mask_id_number, mask_name, mask_phone, parse_citizen_id
from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE
from sscard.logging import mask_text
from sscard.notify import enqueue
from sscard.notify.models import NotifyChannel
from sscard.people.errors import (
    CorrectionEmpty,
    CorrectionNeedsSupervisor,
    CorrectionNoChange,
    CorrectionNotFound,
    CorrectionNotPending,
    CorrectionPending,
    CorrectionReasonInvalid,
    CorrectionSelfApproval,
    PersonDeceased,
    PersonDuplicate,
)
from sscard.people.models import CorrectionState, Person, PersonCorrection, PersonStatus
from sscard.people.notices import correction_notice
from sscard.people.service import MAX_PERSON_ID, lock_person_or_raise, person_subject
from sscard.people.validation import email_index_key, name_index_key, normalise_email, normalise_name, normalise_phone

# The role that approves a citizen ID correction ("operator" never: the CLI names two staff members).
APPROVER_ROLE = "counter_supervisor"
REASON_MIN, REASON_MAX = 3, 200
ID_NUMBER_FIELD = "id_number"


@dataclass(frozen=True, slots=True)
class Contacts:
    phone: str | None
    email: str | None


def _contacts(person: Person) -> Contacts:
    return Contacts(
        person.phone,
        person.email,
    )


def _alive(person: Person) -> None:
    if person.status is PersonStatus.DECEASED:
        raise PersonDeceased("the record of a person registered as deceased is not corrected at the counter")


def _evidence(
    *, id_number_bidx: bytes, document_type: str, document_number: str, needs_citizen_id: bool
) -> CheckedEvidence:

    return check_identity_document(
        id_number_bidx=id_number_bidx,
        document_type=document_type,
        document_number=document_number,
        needs_citizen_id=needs_citizen_id,
    )


# --- name, phone, email: at once, with the evidence recorded ----------------------------------------


def correct_contact_details(
    uow: UnitOfWork,
    *,
    person_id: int,
    document_type: str,
    document_number: str,
    actor: Actor,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> Person:
    """Correct a person's name, phone and/or email after checking their ID document (QPW-3, PER-1, CH-2).

    Only the fields given change; a field given equal to the one on file is ``CORRECTION_NO_CHANGE``
    (so is a request whose every field is unchanged), none given is ``CORRECTION_EMPTY``.
    """
    if name is None and phone is None and email is None:
        raise CorrectionEmpty("give at least one of name, phone, email")
    new_name = normalise_name(name) if name is not None else None
    new_phone = normalise_phone(phone) if phone is not None else None
    new_email = normalise_email(email) if email is not None else None
    person = lock_person_or_raise(uow, person_id)
    _alive(person)
    evidence = _evidence(
        id_number_bidx=person.id_number_bidx,
        document_type=document_type,
        document_number=document_number,
        needs_citizen_id=False,
    )
    old = _contacts(person)
    old_name = person.name
    changes: dict[str, dict[str, str | None]] = {}
    if new_name is not None:
        if new_name == old_name:
            raise CorrectionNoChange("the name given is the one on file", field="name")
        person.name_enc, person.name_bidx = (
            NAME.seal(new_name, row=person.row("name_enc")),
            NAME.index(name_index_key(new_name)),
        )
        changes["name"] = {"from": mask_name(old_name), "to": mask_name(new_name)}
    if new_phone is not None:
        if new_phone == old.phone:
            raise CorrectionNoChange("the phone given is the one on file", field="phone")
        person.phone_enc, person.phone_bidx = PHONE.seal(new_phone, row=person.row("phone_enc")), PHONE.index(new_phone)
        changes["phone"] = {"from": mask_phone(old.phone) if old.phone else None, "to": mask_phone(new_phone)}
    if new_email is not None:
        if old.email is not None and email_index_key(new_email) == email_index_key(old.email):
            raise CorrectionNoChange("the email given is the one on file", field="email")
        person.email_enc, person.email_bidx = (
            EMAIL.seal(new_email, row=person.row("email_enc")),
            EMAIL.index(email_index_key(new_email)),
        )
        changes["email"] = {"from": mask_email(old.email) if old.email else None, "to": mask_email(new_email)}
    person.updated_at = utcnow()
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="person.correct",
        subject=person_subject(person.id),
        details={"changes": changes, "evidence": evidence.as_details()},
    )
    _tell_holder(uow, person=person, old=old, fields=tuple(changes))
    return person


# --- the citizen ID number: requested, then approved by another staff member, a supervisor ----------


def request_id_correction(
    uow: UnitOfWork,
    *,
    person_id: int,
    new_id_number: str,
    document_type: str,
    document_number: str,
    reason: str,
    actor: Actor,
) -> PersonCorrection:
    """Ask for the citizen ID on file to be corrected; nothing changes until a supervisor approves it.

    The new number must be a valid ID (``ID_*``), differ from the one on file (``CORRECTION_NO_CHANGE``),
    belong to nobody else (``PERSON_DUPLICATE``), and be the one printed on the document the holder
    showed (``IDENTITY_EVIDENCE_MISMATCH``); one pending request per person (``CORRECTION_PENDING``).
    """
    note = mask_text(" ".join((reason or "").split()))  # a number typed into the reason is masked
    if not REASON_MIN <= len(note) <= REASON_MAX:
        raise CorrectionReasonInvalid(f"the reason has {REASON_MIN} to {REASON_MAX} characters")
    cid = parse_citizen_id(new_id_number)
    new_bidx = ID_NUMBER.index(cid.number)
    person = lock_person_or_raise(uow, person_id)
    _alive(person)
    if new_bidx == person.id_number_bidx:
        raise CorrectionNoChange("the citizen ID number given is the one on file", field="id_number")
    _ensure_id_free(uow, new_bidx, person.id)
    evidence = _evidence(
        id_number_bidx=new_bidx, document_type=document_type, document_number=document_number, needs_citizen_id=True
    )
    pending = uow.session.scalar(
        select(PersonCorrection.id).where(
            PersonCorrection.person_id == person.id, PersonCorrection.state == CorrectionState.PENDING
        )
    )
    if pending is not None:
        raise CorrectionPending(f"correction {pending} is waiting for a supervisor", correction_id=pending)
    correction = PersonCorrection(
        person_id=person.id,
        field=ID_NUMBER_FIELD,
        new_value_enc=ID_NUMBER.seal(cid.number),
        old_masked=mask_id_number(person.id_number),
        new_masked=mask_id_number(cid.number),
        reason=note,
        evidence_type=evidence.document_type.value,
        evidence_masked=evidence.number_masked,
        region_code=person.region_code,
        requested_by=actor.id,
        requested_at=utcnow(),
    )
    uow.session.add(correction)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="person.correction.request",
        subject=person_subject(person.id),
        details={
            "correction_id": correction.id,
            "field": ID_NUMBER_FIELD,
            "from": correction.old_masked,
            "to": correction.new_masked,
            "new_region": cid.region_code,
            "evidence": evidence.as_details(),
            "reason": note,
        },
    )
    return correction


def get_correction_or_raise(uow: UnitOfWork, correction_id: int) -> PersonCorrection:
    """The correction request with this id; ``CORRECTION_NOT_FOUND`` otherwise."""
    found = uow.session.get(PersonCorrection, correction_id) if 1 <= correction_id <= MAX_PERSON_ID else None
    if found is None:
        raise CorrectionNotFound(f"no correction request {correction_id}")
    return found


def list_pending_corrections(
    uow: UnitOfWork, *, within: str, limit: int = 100, page: Keyset | None = None
) -> list[PersonCorrection]:
    """Citizen ID corrections waiting for a supervisor, of persons registered inside region ``within``
    (000000 national, XX0000 a province, XXXX00 a city, else one district), oldest first."""
    from sscard.regions.codes import RegionLevel, level_of

    prefix = within[: {RegionLevel.NATIONAL: 0, RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4}.get(level_of(within), 6)]
    stmt = select(PersonCorrection).where(PersonCorrection.state == CorrectionState.PENDING)
    if prefix:
        stmt = stmt.where(PersonCorrection.region_code.startswith(prefix, autoescape=True))
    if page is not None:
        return taken(uow.session.scalars(ordered(stmt, page, PersonCorrection.id)), page)
    return list(uow.session.scalars(stmt.order_by(PersonCorrection.id).limit(max(1, min(limit, 500)))))


def new_region_of(correction: PersonCorrection) -> str:
    """The region the person moves to once the correction is applied (the new ID's region)."""
    return parse_citizen_id(ID_NUMBER.open(correction.new_value_enc)).region_code


def _lock_pending(uow: UnitOfWork, correction_id: int, actor: Actor) -> PersonCorrection:
    found = get_correction_or_raise(uow, correction_id)
    correction = uow.session.scalar(
        select(PersonCorrection)
        .where(PersonCorrection.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert correction is not None  # noqa: S101 - read just above in this transaction
    # Who may decide first (a refusal says so even for a decided request), then whether it is still open.
    if actor.role != APPROVER_ROLE:
        raise CorrectionNeedsSupervisor("a citizen ID correction is decided by a counter supervisor")
    if actor.id == correction.requested_by:
        raise CorrectionSelfApproval("the correction must be decided by someone other than the requester")
    if correction.state is not CorrectionState.PENDING:
        raise CorrectionNotPending(f"correction {correction.id} is already {correction.state.value}")
    return correction


def approve_id_correction(
    uow: UnitOfWork, *, correction_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> Person:
    """Apply a pending citizen ID correction: a counter supervisor, never the requester, approves it."""
    now = now or utcnow()
    correction = _lock_pending(uow, correction_id, actor)
    person = lock_person_or_raise(uow, correction.person_id)
    _alive(person)
    new_number = ID_NUMBER.open(correction.new_value_enc)
    cid = parse_citizen_id(new_number)
    new_bidx = ID_NUMBER.index(cid.number)
    _ensure_id_free(uow, new_bidx, person.id)  # someone may have been registered with it since the request
    old_number = person.id_number
    old, old_name = _contacts(person), person.name
    before = {"gender": person.gender, "birth_date": person.birth_date.isoformat(), "region": person.region_code}
    try:
        with uow.session.begin_nested():  # a concurrent registration of the number fails here, cleanly
            person.id_number_bidx = new_bidx
            # The row's identity changed: every sealed value is bound to it again (identity/protected.py).
            person.id_number_enc = ID_NUMBER.seal(cid.number, row=person.row("id_number_enc"))
            person.name_enc = NAME.seal(old_name, row=person.row("name_enc"))
            person.phone_enc = PHONE.seal(old.phone, row=person.row("phone_enc")) if old.phone else None
            person.email_enc = EMAIL.seal(old.email, row=person.row("email_enc")) if old.email else None
            person.gender, person.birth_date, person.region_code = cid.gender, cid.birth_date, cid.region_code
            person.updated_at = now
            uow.flush()
    except IntegrityError:
        raise PersonDuplicate(f"{mask_id_number(cid.number)} is already registered") from None
    correction.state, correction.decided_by, correction.decided_at = CorrectionState.APPROVED, actor.id, now
    correction.decision_note = _note(note)

    account = follow_id_correction(uow, person=person, old_id_number=old_number, now=now)
    uow.flush()
    after = {"gender": person.gender, "birth_date": person.birth_date.isoformat(), "region": person.region_code}
    record_event(
        uow,
        actor=actor,
        action="person.correction.approve",
        subject=person_subject(person.id),
        details={
            "correction_id": correction.id,
            "requested_by": correction.requested_by,
            "field": ID_NUMBER_FIELD,
            "from": correction.old_masked,
            "to": correction.new_masked,
            # Which derived fields followed the new number; the birth date itself stays out of the log.
            "derived": [k for k in before if before[k] != after[k]],
            "region": {"from": before["region"], "to": after["region"]},
            **account,
        },
    )
    _tell_holder(uow, person=person, old=old, fields=(ID_NUMBER_FIELD,))
    return person


def reject_id_correction(
    uow: UnitOfWork, *, correction_id: int, actor: Actor, note: str | None = None, now: datetime | None = None
) -> PersonCorrection:
    """Turn a pending citizen ID correction down (a supervisor other than the requester); nothing changes."""
    correction = _lock_pending(uow, correction_id, actor)
    correction.state, correction.decided_by, correction.decided_at = CorrectionState.REJECTED, actor.id, now or utcnow()
    correction.decision_note = _note(note)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="person.correction.reject",
        subject=person_subject(correction.person_id),
        details={
            "correction_id": correction.id,
            "requested_by": correction.requested_by,
            "note": correction.decision_note,
        },
    )
    return correction


def _note(note: str | None) -> str | None:
    text = " ".join((note or "").split())[:REASON_MAX]
    return mask_text(text) if text else None


def _ensure_id_free(uow: UnitOfWork, bidx: bytes, person_id: int) -> None:
    other = uow.session.scalar(select(Person.id).where(Person.id_number_bidx == bidx, Person.id != person_id))
    if other is not None:
        raise PersonDuplicate("the corrected citizen ID number belongs to another registered person")


def _tell_holder(uow: UnitOfWork, *, person: Person, old: Contacts, fields: tuple[str, ...]) -> None:
    """CH-5: the notice goes to the contacts on file before *and* after the correction, each once, so
    that a correction the holder did not ask for reaches the phone or mailbox that was taken away."""
    new = _contacts(person)
    body = correction_notice(fields=fields, now=utcnow())
    targets: dict[tuple[NotifyChannel, str], str] = {}
    for contacts in (old, new):
        if contacts.phone:
            targets.setdefault((NotifyChannel.SMS, contacts.phone), contacts.phone)
        if contacts.email:
            targets.setdefault((NotifyChannel.EMAIL, email_index_key(contacts.email)), contacts.email)
    for (channel, _), address in targets.items():
        enqueue(uow, channel=channel, topic="person.corrected", body=body, recipient=address, person_id=person.id)
