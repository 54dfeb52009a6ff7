"""Counter record corrections (QPW-3, PER-1): name, phone and email at once; the citizen ID number with a
supervisor's approval (two different staff members). Every step checks the staff member's region
(CH-2), records the identity document checked, is audited masked and told to the holder (CH-5).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel
from sscard.credentials.pin.errors import IdentityEvidenceInvalid, IdentityEvidenceMismatch
from sscard.credentials.pin.schemas import IdentityEvidenceIn
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.identity import parse_citizen_id
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.notify.errors import NotifyInvalid
from sscard.people.errors import (
    CorrectionEmpty,
    CorrectionNeedsSupervisor,
    CorrectionNoChange,
    CorrectionNotFound,
    CorrectionNotPending,
    CorrectionPending,
    CorrectionReasonInvalid,
    CorrectionSelfApproval,
    EmailInvalid,
    NameInvalid,
    PersonDeceased,
    PersonDuplicate,
    PersonNotFound,
    PhoneInvalid,
)
from sscard.people.schemas import CorrectionDecided, CorrectionRead, PersonRead
from sscard.people.service import get_person_or_raise, person_read
from sscard.record_corrections.service import (
    approve_id_correction,
    correct_contact_details,
    get_correction_or_raise,
    list_pending_corrections,
    new_region_of,
    reject_id_correction,
    request_id_correction,
)
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter", tags=["counter"], route_class=IdempotentRoute)

COUNTER = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR)
# The citizen ID number changes only with a counter supervisor's approval (not the requester's).
SUPERVISOR = require_staff(Role.COUNTER_SUPERVISOR)


class ContactCorrectionIn(BaseModel):
    """Only the fields given change (at least one)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    evidence: IdentityEvidenceIn


class IdCorrectionIn(BaseModel):
    """The evidence is the document printed with the *new* (right) number."""

    model_config = ConfigDict(extra="forbid")

    new_id_number: str = Field(min_length=1, max_length=32, description="The correct citizen ID number.")
    reason: str = Field(min_length=1, max_length=400, examples=["登记时号码录入错误"])
    evidence: IdentityEvidenceIn


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=400)


def _actor(staff: StaffPrincipal) -> Actor:
    return staff.actor(Channel(ROLE_CHANNEL[staff.role]))


@router.post("/persons/{person_id}/corrections/contact", response_model=PersonRead)  # type: ignore[arg-type]
@raises(
    OutsideRegion,
    PersonNotFound,
    PersonDeceased,
    CorrectionEmpty,
    CorrectionNoChange,
    EmailInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    NameInvalid,
    NotifyInvalid,
    PhoneInvalid,
)
def correct_contact(
    person_id: RowId, body: ContactCorrectionIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """Correct the name, phone and/or email after checking the holder's ID document; the holder is told on
    the old and the new contacts (QPW-3, PER-1, CH-5)."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    person = correct_contact_details(
        uow,
        person_id=person_id,
        name=body.name,
        phone=body.phone,
        email=body.email,
        document_type=body.evidence.document_type,
        document_number=body.evidence.document_number,
        actor=_actor(staff),
    )
    return person_read(person)


@router.post(
    "/persons/{person_id}/corrections/id-number",
    status_code=status.HTTP_201_CREATED,
    response_model=CorrectionRead,
    # type: ignore[arg-type]
)
@raises(
    OutsideRegion,
    PersonNotFound,
    CorrectionPending,
    PersonDeceased,
    PersonDuplicate,
    CorrectionNoChange,
    CorrectionReasonInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
)
def request_id_number_correction(
    person_id: RowId, body: IdCorrectionIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CorrectionRead:
    """Ask for the citizen ID on file to be corrected; a counter supervisor other than you approves it."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    staff.ensure_region(parse_citizen_id(body.new_id_number).region_code)
    correction = request_id_correction(
        uow,
        person_id=person_id,
        new_id_number=body.new_id_number,
        reason=body.reason,
        document_type=body.evidence.document_type,
        document_number=body.evidence.document_number,
        actor=_actor(staff),
    )
    return CorrectionRead.of(correction)


@router.get("/corrections", response_model=list[CorrectionRead])
def pending_corrections(
    staff: StaffPrincipal = Depends(COUNTER), page: PageQuery = PAGE, uow: UnitOfWork = TRANSACTION
) -> list[CorrectionRead]:
    """Citizen ID corrections waiting for a supervisor in your region, oldest first (masked)."""
    return [CorrectionRead.of(c) for c in list_pending_corrections(uow, within=staff.region_code, page=page)]


@router.get("/corrections/{correction_id}", response_model=CorrectionRead)  # type: ignore[arg-type]
@raises(OutsideRegion, CorrectionNotFound)
def show_correction(
    correction_id: RowId, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CorrectionRead:
    """A citizen ID correction request, masked."""
    correction = get_correction_or_raise(uow, correction_id)
    staff.ensure_region(correction.region_code)
    return CorrectionRead.of(correction)


@router.post("/corrections/{correction_id}/approve", response_model=CorrectionDecided)  # type: ignore[arg-type]
@raises(
    CorrectionNeedsSupervisor,
    OutsideRegion,
    CorrectionSelfApproval,
    CorrectionNotFound,
    PersonNotFound,
    CorrectionNotPending,
    PersonDeceased,
    PersonDuplicate,
    InvalidCitizenId,
    NotifyInvalid,
)
def approve(
    correction_id: RowId, body: DecisionIn, staff: StaffPrincipal = Depends(SUPERVISOR), uow: UnitOfWork = TRANSACTION
) -> CorrectionDecided:
    """Approve and apply a citizen ID correction (never your own request): the ID is re-sealed and re-indexed,
    gender, birth date and region follow it, the holder is told on every contact (CH-5)."""
    correction = get_correction_or_raise(uow, correction_id)
    staff.ensure_region(correction.region_code)
    staff.ensure_region(new_region_of(correction))
    person = approve_id_correction(uow, correction_id=correction_id, actor=_actor(staff), note=body.note)
    return CorrectionDecided(correction=CorrectionRead.of(correction), person=person_read(person))


@router.post("/corrections/{correction_id}/reject", response_model=CorrectionDecided)  # type: ignore[arg-type]
@raises(CorrectionNeedsSupervisor, OutsideRegion, CorrectionSelfApproval, CorrectionNotFound, CorrectionNotPending)
def reject(
    correction_id: RowId, body: DecisionIn, staff: StaffPrincipal = Depends(SUPERVISOR), uow: UnitOfWork = TRANSACTION
) -> CorrectionDecided:
    """Turn a citizen ID correction down (never your own request); nothing of the person changes."""
    staff.ensure_region(get_correction_or_raise(uow, correction_id).region_code)
    correction = reject_id_correction(uow, correction_id=correction_id, actor=_actor(staff), note=body.note)
    return CorrectionDecided(correction=CorrectionRead.of(correction))
