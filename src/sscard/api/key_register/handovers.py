"""Security console: handing a key carrier to a third party (KEY-7) and the documents behind it.

Documents (the signed confidentiality agreement, the third party's security management plan) are
uploaded as ``multipart/form-data``; they are kept with their SHA-256 and verified when read.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.key_register.common import AUDIT_READ, KEYS, OFFICER, actor_of, read_upload, region_scope
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.refusals import refusals_audited
from sscard.api.staff_auth import StaffPrincipal
from sscard.cards.errors import CardTypeInvalid
from sscard.db.base import utcnow
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.key_register import handovers as service
from sscard.key_register.documents import get_document_or_raise, read_document
from sscard.key_register.errors import (
    CarrierIllegalTransition,
    CarrierNotFound,
    DocumentInvalid,
    DocumentNotFound,
    DocumentTampered,
    HandoverIllegalTransition,
    HandoverIncomplete,
    HandoverNotFound,
    KeysInvalid,
    NotSupervisor,
    SelfApproval,
    StaffNotEligible,
)
from sscard.key_register.models import CarrierHandover
from sscard.key_register.schemas import (
    DocumentRead,
    HandoverCreate,
    HandoverRead,
    HandoverRecordIn,
    HandoverRecover,
    ReasonIn,
    ReviewDecisionIn,
    ReviewRead,
    SupervisionIn,
    SupervisionRead,
    SupervisorIn,
)
from sscard.key_register.states import HandoverState
from sscard.policy.errors import PolicyInvalid
from sscard.regions.errors import RegionNotFound
from sscard.staff.errors import OutsideRegion

router = APIRouter(route_class=IdempotentRoute)


def _read(uow: UnitOfWork, handover: CarrierHandover) -> HandoverRead:
    read = HandoverRead.model_validate(handover)
    if handover.state is HandoverState.REQUESTED:
        read.missing = service.missing_conditions(uow, handover)
    read.overdue = handover.state is HandoverState.HANDED_OVER and handover.due_back_at < utcnow()
    return read


@router.get("/handovers", response_model=list[HandoverRead])
@raises(OutsideRegion)
def list_handovers(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    state: HandoverState | None = None,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[HandoverRead]:
    """Handovers in your region, newest first."""
    found = service.list_handovers(uow, region_code=region_scope(staff, region), state=state, page=page)
    return [_read(uow, h) for h in found]


@router.get("/handovers/overdue", response_model=list[HandoverRead])
@raises(OutsideRegion)
def overdue_handovers(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[HandoverRead]:
    """Carriers still with a third party after their return date (KEY-7)."""
    found = service.list_overdue_handovers(uow, region_code=region_scope(staff, region), page=page)
    return [_read(uow, h) for h in found]


@router.post("/handovers", status_code=status.HTTP_201_CREATED, response_model=HandoverRead)
@raises(OutsideRegion, CarrierNotFound, HandoverIllegalTransition, KeysInvalid)
def request_handover(
    body: HandoverCreate, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """Open the handover of a carrier to a third party, with its return date (KEY-7)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.request", subject=f"carrier:{body.carrier_id}"):
        handover = service.request_handover(uow, **body.model_dump(), actor=actor)
    return _read(uow, handover)


@router.get("/handovers/{handover_id}", response_model=HandoverRead)
@raises(OutsideRegion, HandoverNotFound)
def show_handover(
    handover_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """A handover with the conditions still missing (while requested) and whether it is overdue."""
    handover = service.get_handover_or_raise(uow, handover_id)
    staff.ensure_region(handover.region_code)
    return _read(uow, handover)


@router.post("/handovers/{handover_id}/record", response_model=HandoverRead, summary="Write the handover record")
@raises(OutsideRegion, HandoverNotFound, HandoverIllegalTransition, KeysInvalid)
def write_record(
    handover_id: RowId,
    body: HandoverRecordIn,
    staff: StaffPrincipal = Depends(KEYS),
    uow: UnitOfWork = TRANSACTION,
) -> HandoverRead:
    """Condition 1: the handover record (number, receiving representative, items)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.record", subject=f"handover:{handover_id}"):
        handover = service.write_handover_record(uow, handover_id=handover_id, **body.model_dump(), actor=actor)
    return _read(uow, handover)


@router.post(
    "/handovers/{handover_id}/agreement", response_model=HandoverRead, summary="Attach the confidentiality agreement"
)
@raises(
    OutsideRegion,
    HandoverNotFound,
    RegionNotFound,
    HandoverIllegalTransition,
    CardTypeInvalid,
    DocumentInvalid,
    KeysInvalid,
    PolicyInvalid,
)
def attach_agreement(
    handover_id: RowId,
    file: UploadFile = File(description="The signed confidentiality agreement (PDF, OFD, PNG or JPEG)."),
    signed_on: date = Form(),
    staff: StaffPrincipal = Depends(KEYS),
    uow: UnitOfWork = TRANSACTION,
) -> HandoverRead:
    """Condition 2: upload the confidentiality agreement signed by the third party."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.agreement", subject=f"handover:{handover_id}"):
        handover = service.attach_agreement(
            uow,
            handover_id=handover_id,
            filename=file.filename or "agreement",
            content=read_upload(file),
            media_type=file.content_type,
            signed_on=signed_on,
            actor=actor,
        )
    return _read(uow, handover)


@router.post(
    "/handovers/{handover_id}/security-plan",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    summary="Submit the third party's security plan",
)
@raises(
    OutsideRegion,
    HandoverNotFound,
    RegionNotFound,
    HandoverIllegalTransition,
    CardTypeInvalid,
    DocumentInvalid,
    PolicyInvalid,
)
def submit_plan(
    handover_id: RowId,
    file: UploadFile = File(description="The third party's security management plan."),
    staff: StaffPrincipal = Depends(KEYS),
    uow: UnitOfWork = TRANSACTION,
) -> ReviewRead:
    """Condition 3a: submit the third party's security management plan for review."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.plan_submit", subject=f"handover:{handover_id}"):
        review = service.submit_security_plan(
            uow,
            handover_id=handover_id,
            filename=file.filename or "plan",
            content=read_upload(file),
            media_type=file.content_type,
            actor=actor,
        )
    return ReviewRead.model_validate(review)


@router.get("/handovers/{handover_id}/reviews", response_model=list[ReviewRead])
@raises(OutsideRegion, HandoverNotFound)
def list_reviews(
    handover_id: RowId,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[ReviewRead]:
    """The security plan reviews of a handover."""
    staff.ensure_region(service.get_handover_or_raise(uow, handover_id).region_code)
    return [ReviewRead.model_validate(r) for r in service.reviews_of(uow, handover_id=handover_id, page=page)]


@router.post(
    "/plan-reviews/{review_id}/decision", response_model=ReviewRead, summary="Approve or reject a security plan"
)
@raises(OutsideRegion, SelfApproval, HandoverNotFound, HandoverIllegalTransition, KeysInvalid)
def decide_plan(
    review_id: RowId,
    body: ReviewDecisionIn,
    staff: StaffPrincipal = Depends(OFFICER),
    uow: UnitOfWork = TRANSACTION,
) -> ReviewRead:
    """Condition 3b: approve or reject the plan — never your own request (`SELF_APPROVAL`)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.plan_decide", subject=f"review:{review_id}"):
        review = service.decide_security_plan(uow, review_id=review_id, **body.model_dump(), actor=actor)
    return ReviewRead.model_validate(review)


@router.post("/handovers/{handover_id}/supervisor", response_model=HandoverRead, summary="Assign the supervisor")
@raises(OutsideRegion, HandoverNotFound, HandoverIllegalTransition, StaffNotEligible)
def assign_supervisor(
    handover_id: RowId, body: SupervisorIn, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """Condition 4: assign the staff member who supervises the third party's use."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.supervisor", subject=f"handover:{handover_id}"):
        handover = service.assign_supervisor(uow, handover_id=handover_id, supervisor=body.supervisor, actor=actor)
    return _read(uow, handover)


@router.post("/handovers/{handover_id}/complete", response_model=HandoverRead)
@raises(
    OutsideRegion,
    CarrierNotFound,
    HandoverNotFound,
    CarrierIllegalTransition,
    HandoverIllegalTransition,
    HandoverIncomplete,
    KeysInvalid,
)
def complete_handover(
    handover_id: RowId, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """Hand the carrier over; 409 `HANDOVER_INCOMPLETE` lists the conditions still missing."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.complete", subject=f"handover:{handover_id}"):
        handover = service.complete_handover(uow, handover_id=handover_id, actor=actor)
    return _read(uow, handover)


@router.post(
    "/handovers/{handover_id}/supervision", status_code=status.HTTP_201_CREATED, response_model=SupervisionRead
)
@raises(NotSupervisor, OutsideRegion, HandoverNotFound, HandoverIllegalTransition, KeysInvalid)
def record_supervision(
    handover_id: RowId, body: SupervisionIn, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> SupervisionRead:
    """The assigned supervisor records what they observed, until the carrier is recovered."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.supervise", subject=f"handover:{handover_id}"):
        entry = service.record_supervision(uow, handover_id=handover_id, **body.model_dump(), actor=actor)
    return SupervisionRead.model_validate(entry)


@router.get("/handovers/{handover_id}/supervision", response_model=list[SupervisionRead])
@raises(OutsideRegion, HandoverNotFound)
def list_supervision(
    handover_id: RowId,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[SupervisionRead]:
    """The supervision log of a handover."""
    staff.ensure_region(service.get_handover_or_raise(uow, handover_id).region_code)
    entries = service.supervision_of(uow, handover_id=handover_id, page=page)
    return [SupervisionRead.model_validate(e) for e in entries]


@router.post("/handovers/{handover_id}/recover", response_model=HandoverRead)
@raises(
    OutsideRegion, CarrierNotFound, HandoverNotFound, CarrierIllegalTransition, HandoverIllegalTransition, KeysInvalid
)
def recover_handover(
    handover_id: RowId, body: HandoverRecover, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """Take the carrier back from the third party; supervision ends."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.recover", subject=f"handover:{handover_id}"):
        handover = service.recover_handover(uow, handover_id=handover_id, **body.model_dump(), actor=actor)
    return _read(uow, handover)


@router.post("/handovers/{handover_id}/cancel", response_model=HandoverRead)
@raises(OutsideRegion, HandoverNotFound, HandoverIllegalTransition, KeysInvalid)
def cancel_handover(
    handover_id: RowId, body: ReasonIn, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> HandoverRead:
    """Abandon a handover that has not completed."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="handover.cancel", subject=f"handover:{handover_id}"):
        handover = service.cancel_handover(uow, handover_id=handover_id, reason=body.reason, actor=actor)
    return _read(uow, handover)


@router.get("/documents/{document_id}", response_model=DocumentRead)
@raises(OutsideRegion, DocumentNotFound)
def show_document(
    document_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> DocumentRead:
    """A document's particulars and SHA-256."""
    document = get_document_or_raise(uow, document_id)
    staff.ensure_region(document.region_code)
    return DocumentRead.model_validate(document)


@router.get(
    "/documents/{document_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 409: {"description": "`DOCUMENT_TAMPERED`"}},
)
@raises(OutsideRegion, DocumentNotFound, DocumentTampered)
def document_content(
    document_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> Response:
    """The document's bytes, after verifying them against the stored SHA-256."""
    staff.ensure_region(get_document_or_raise(uow, document_id).region_code)
    document, content = read_document(uow, document_id=document_id)
    return Response(
        content,
        media_type=document.media_type,
        headers={
            "X-Content-SHA256": document.sha256,
            "Content-Disposition": f'attachment; filename="document-{document.id}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
