"""QPW-3: the counter re-initialises the query password after verifying the holder's ID document.

A holder who cannot log in with the initial password (a wrong ID on record, a hard lock, an expired
initial password, a forgotten password without phone or e-mail on file) goes to the agency. The
clerk checks the ID document against the record (CH-2, evidence recorded), corrects the record where
needed through the persons service, and sets the password back to the initial one: the throttle and
the hard lock are cleared, every portal session ends, and the holder is told (CH-5).
"""

from __future__ import annotations

from datetime import datetime

from sscard.audit import Actor, record_event
from sscard.credentials.pin.evidence import check_identity_evidence
from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.account import lock_account
from sscard.credentials.query_password.notices import notify_holder
from sscard.credentials.query_password.sessions import revoke_sessions
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.people.errors import PersonDeceased
from sscard.people.models import Person, PersonStatus
from sscard.people.service import person_subject


def reinitialise_query_password(
    uow: UnitOfWork,
    *,
    person: Person,
    document_type: str,
    document_number: str,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Set the holder's query password back to the initial one, after the recorded identity check."""
    now = now or utcnow()
    if person.status is PersonStatus.DECEASED:
        raise PersonDeceased("the holder is registered as deceased; the portal account is closed")
    evidence = check_identity_evidence(person=person, document_type=document_type, document_number=document_number)
    row = lock_account(uow, person_id=person.id, now=now)
    was_set = row.password_hash is not None
    row.password_hash = None
    row.changed_at = None
    row.temp_hash = row.temp_issued_at = row.temp_expires_at = row.temp_used_at = None
    row.reinitialised_at = now
    row.updated_at = now
    throttle.reset_account(uow, key=throttle.account_key(person.id_number))
    ended = revoke_sessions(uow, person_id=person.id, now=now)
    record_event(
        uow,
        actor=actor,
        action="qpw.reinitialise",
        subject=person_subject(person.id),
        details={**evidence.as_details(), "had_own_password": was_set, "sessions_ended": ended},
    )
    notify_holder(uow, person=person, event="password_reinitialised", now=now)


def follow_id_correction(uow: UnitOfWork, *, person: Person, old_id_number: str, now: datetime) -> dict[str, object]:
    """QPW-3: the citizen ID on file was corrected (``person`` already holds the new one).

    The account is keyed by the person, so it follows; what was keyed on the ID is settled here:
    the failure counters of the old and the new number are cleared (the holder was verified at the
    counter, and failures under the right number were most likely the holder's own tries), a pending
    temporary password is voided and every portal session ends (the sign-in name changed). A holder
    who never set a password has the initial one, derived from the ID at sign-in: it is now the new
    number's last 8 — an agency re-initialisation, so its optional expiry starts again from now. A
    password the holder set is kept: it never depended on the ID.
    """
    row = lock_account(uow, person_id=person.id, now=now)
    initial = row.password_hash is None
    row.temp_hash = row.temp_issued_at = row.temp_expires_at = row.temp_used_at = None
    if initial:
        row.reinitialised_at = now
    row.updated_at = now
    throttle.reset_account(uow, key=throttle.account_key(old_id_number))
    throttle.reset_account(uow, key=person.id_number_bidx)
    ended = revoke_sessions(uow, person_id=person.id, now=now)
    return {"initial_password_reinitialised": initial, "sessions_ended": ended}
