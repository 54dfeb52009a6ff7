"""Handing a key carrier to a third party (KEY-7, measures art. 24).

A handover is requested for one carrier, a named third party and a return date. It completes —
the carrier changes hands — only when all four conditions hold:

1. the handover record (交接记录) is written: record number, the third party's representative, items;
2. the signed confidentiality agreement (保密协议) is uploaded (a document with its SHA-256);
3. the third party's security management plan was reviewed and approved by someone other than the
   requester (no self-approval);
4. a supervisor is assigned (an active security officer or custodian covering the region).

The supervisor then records what they observe until the carrier is recovered; a carrier not back by
its return date is listed as overdue.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.base import china_today, utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register.access import eligible_staff, ensure_in_region, text
from sscard.key_register.carriers import get_carrier_or_raise, move_carrier
from sscard.key_register.documents import store_document
from sscard.key_register.errors import (
    HandoverIllegalTransition,
    HandoverIncomplete,
    HandoverNotFound,
    KeysInvalid,
    NotSupervisor,
    SelfApproval,
)
from sscard.key_register.models import CarrierHandover, DocumentKind, PlanReview, ReviewDecision, SupervisionEntry
from sscard.key_register.psam import end_deployment
from sscard.key_register.states import CARRIER_ALLOWED_FROM, CarrierEvent, HandoverState, next_handover_state
from sscard.regions.service import within_region

CONDITIONS = ("handover_record", "confidentiality_agreement", "security_plan_approved", "supervisor_assigned")


def _subject(handover: CarrierHandover) -> str:
    return f"handover:{handover.id}"


def _audit(uow: UnitOfWork, handover: CarrierHandover, actor: Actor, action: str, **details: object) -> None:
    record_event(
        uow,
        actor=actor,
        action=f"handover.{action}",
        subject=_subject(handover),
        details={"carrier": handover.carrier_id, **details},
    )


def get_handover_or_raise(uow: UnitOfWork, handover_id: int, *, for_update: bool = False) -> CarrierHandover:
    query = select(CarrierHandover).where(CarrierHandover.id == handover_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    handover = uow.session.scalar(query)
    if handover is None:
        raise HandoverNotFound(f"no handover {handover_id}")
    return handover


def _open(uow: UnitOfWork, handover_id: int, actor: Actor) -> CarrierHandover:
    handover = get_handover_or_raise(uow, handover_id, for_update=True)
    ensure_in_region(actor, handover.region_code)
    if handover.state is not HandoverState.REQUESTED:
        raise HandoverIllegalTransition(f"the handover is {handover.state.value}; its conditions are fixed")
    return handover


def request_handover(
    uow: UnitOfWork, *, carrier_id: int, third_party: str, purpose: str, due_back_at: datetime, actor: Actor
) -> CarrierHandover:
    """Open a handover of a carrier to a third party, to be returned by ``due_back_at`` (KEY-7)."""
    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    ensure_in_region(actor, carrier.region_code)
    if carrier.state not in CARRIER_ALLOWED_FROM[CarrierEvent.HAND_OVER]:
        raise HandoverIllegalTransition(f"a carrier that is {carrier.state.value} cannot be handed over")
    if due_back_at <= utcnow():
        raise KeysInvalid("the return date must be in the future", field="due_back_at")
    pending = uow.session.scalar(
        select(CarrierHandover.id).where(
            CarrierHandover.carrier_id == carrier.id,
            CarrierHandover.state.in_([HandoverState.REQUESTED, HandoverState.HANDED_OVER]),
        )
    )
    if pending is not None:
        raise HandoverIllegalTransition(f"handover {pending} of this carrier is still open")
    handover = CarrierHandover(
        carrier_id=carrier.id,
        region_code=carrier.region_code,
        third_party=text(third_party, "third_party", max_len=128),
        purpose=text(purpose, "purpose", max_len=200),
        due_back_at=due_back_at,
        state=HandoverState.REQUESTED,
        requested_by=actor.id,
    )
    uow.session.add(handover)
    uow.flush()
    _audit(uow, handover, actor, "request", third_party=handover.third_party, due_back_at=due_back_at.isoformat())
    return handover


def write_handover_record(
    uow: UnitOfWork, *, handover_id: int, record_no: str, recipient: str, items: str, actor: Actor
) -> CarrierHandover:
    """Condition 1: the handover record, with its number, the receiving representative and the items."""
    handover = _open(uow, handover_id, actor)
    handover.record_no = text(record_no, "record_no", max_len=64)
    handover.record_recipient = text(recipient, "recipient", max_len=64)
    handover.record_items = text(items, "items", max_len=200)
    handover.record_by, handover.record_at = actor.id, utcnow()
    uow.flush()
    _audit(uow, handover, actor, "record", record_no=handover.record_no)
    return handover


def attach_agreement(
    uow: UnitOfWork,
    *,
    handover_id: int,
    filename: str,
    content: bytes,
    signed_on: date,
    actor: Actor,
    media_type: str | None = None,
) -> CarrierHandover:
    """Condition 2: the confidentiality agreement signed by the third party, kept with its checksum."""
    handover = _open(uow, handover_id, actor)
    if signed_on > china_today():
        raise KeysInvalid("the agreement cannot be signed in the future", field="signed_on")
    document = store_document(
        uow,
        kind=DocumentKind.CONFIDENTIALITY_AGREEMENT,
        region_code=handover.region_code,
        filename=filename,
        content=content,
        media_type=media_type,
        actor=actor,
    )
    handover.agreement_document_id, handover.agreement_signed_on = document.id, signed_on
    uow.flush()
    _audit(uow, handover, actor, "agreement", document=document.id, sha256=document.sha256)
    return handover


def submit_security_plan(
    uow: UnitOfWork, *, handover_id: int, filename: str, content: bytes, actor: Actor, media_type: str | None = None
) -> PlanReview:
    """Condition 3, first half: submit the third party's security management plan for review."""
    handover = _open(uow, handover_id, actor)
    document = store_document(
        uow,
        kind=DocumentKind.SECURITY_PLAN,
        region_code=handover.region_code,
        filename=filename,
        content=content,
        media_type=media_type,
        actor=actor,
    )
    review = PlanReview(handover_id=handover.id, document_id=document.id, submitted_by=actor.id)
    uow.session.add(review)
    uow.flush()
    _audit(uow, handover, actor, "plan_submit", review=review.id, document=document.id, sha256=document.sha256)
    return review


def decide_security_plan(uow: UnitOfWork, *, review_id: int, approve: bool, comments: str, actor: Actor) -> PlanReview:
    """Condition 3, second half: approve or reject the plan; never by the requester or the submitter."""
    review = uow.session.get(PlanReview, review_id)
    if review is None:
        raise HandoverNotFound(f"no security plan review {review_id}")
    handover = _open(uow, review.handover_id, actor)
    if actor.id in (handover.requested_by, review.submitted_by):
        raise SelfApproval("the plan must be reviewed by someone other than the requester and the submitter")
    if review.decision is not ReviewDecision.PENDING:
        raise HandoverIllegalTransition(f"this review was already {review.decision.value}")
    review.decision = ReviewDecision.APPROVED if approve else ReviewDecision.REJECTED
    review.decided_by, review.decided_at = actor.id, utcnow()
    review.comments = text(comments, "comments", max_len=500, required=not approve) or None
    uow.flush()
    _audit(uow, handover, actor, "plan_decide", review=review.id, decision=review.decision.value)
    return review


def assign_supervisor(uow: UnitOfWork, *, handover_id: int, supervisor: str, actor: Actor) -> CarrierHandover:
    """Condition 4: name the staff member who supervises the third party's use."""
    handover = _open(uow, handover_id, actor)
    account = eligible_staff(uow, username=supervisor, region_code=handover.region_code, part="supervisor")
    handover.supervisor, handover.supervisor_assigned_by = account.username, actor.id
    uow.flush()
    _audit(uow, handover, actor, "supervisor", supervisor=account.username)
    return handover


def missing_conditions(uow: UnitOfWork, handover: CarrierHandover) -> list[str]:
    """The KEY-7 conditions not yet met, in the order of ``CONDITIONS``."""
    approved = uow.session.scalar(
        select(PlanReview.id).where(
            PlanReview.handover_id == handover.id, PlanReview.decision == ReviewDecision.APPROVED
        )
    )
    met = {
        "handover_record": bool(handover.record_no and handover.record_recipient),
        "confidentiality_agreement": handover.agreement_document_id is not None,
        "security_plan_approved": approved is not None,
        "supervisor_assigned": handover.supervisor is not None,
    }
    return [c for c in CONDITIONS if not met[c]]


def complete_handover(uow: UnitOfWork, *, handover_id: int, actor: Actor) -> CarrierHandover:
    """Hand the carrier over, once all four conditions hold (``HANDOVER_INCOMPLETE`` names what is missing)."""
    handover = _open(uow, handover_id, actor)
    missing = missing_conditions(uow, handover)
    if missing:
        raise HandoverIncomplete(missing)
    carrier = get_carrier_or_raise(uow, handover.carrier_id, for_update=True)
    handover.state = next_handover_state(handover.state, "complete")
    move_carrier(
        uow,
        carrier,
        CarrierEvent.HAND_OVER,
        actor=actor,
        location=f"{handover.third_party}",
        holder=handover.third_party,
        purpose=handover.purpose,
        details={"handover": handover.id, "supervisor": handover.supervisor},
    )
    # A PSAM handed over with its terminal (a maintenance vendor) stays bound to that terminal: if it is
    # lost there, the terminal must still be found and blocked (KEY-9). The binding ends on recovery.
    handover.completed_at, handover.completed_by = utcnow(), actor.id
    uow.flush()
    _audit(uow, handover, actor, "complete", third_party=handover.third_party, supervisor=handover.supervisor)
    return handover


def record_supervision(
    uow: UnitOfWork, *, handover_id: int, location: str, observation: str, actor: Actor
) -> SupervisionEntry:
    """The assigned supervisor records what they observed of the third party's use."""
    handover = get_handover_or_raise(uow, handover_id)
    ensure_in_region(actor, handover.region_code)
    if handover.state is not HandoverState.HANDED_OVER:
        raise HandoverIllegalTransition(
            f"supervision runs while the carrier is handed over, not {handover.state.value}"
        )
    if actor.id != handover.supervisor:
        raise NotSupervisor("only the assigned supervisor records supervision of this handover")
    entry = SupervisionEntry(
        handover_id=handover.id,
        supervisor=actor.id,
        location=text(location, "location", max_len=128),
        observation=text(observation, "observation", max_len=500),
    )
    uow.session.add(entry)
    uow.flush()
    _audit(uow, handover, actor, "supervise", entry=entry.id, location=entry.location)
    return entry


def recover_handover(
    uow: UnitOfWork, *, handover_id: int, location: str, note: str, actor: Actor, holder: str | None = None
) -> CarrierHandover:
    """Take the carrier back from the third party; supervision ends."""
    handover = get_handover_or_raise(uow, handover_id, for_update=True)
    ensure_in_region(actor, handover.region_code)
    handover.state = next_handover_state(handover.state, "recover")
    carrier = get_carrier_or_raise(uow, handover.carrier_id, for_update=True)
    note = text(note, "note", max_len=200)
    move_carrier(
        uow,
        carrier,
        CarrierEvent.RECOVER,
        actor=actor,
        location=location,
        holder=holder or actor.id,
        purpose=f"recovered from {handover.third_party}: {note}",
        details={"handover": handover.id, "overdue": utcnow() > handover.due_back_at},
    )
    end_deployment(uow, carrier=carrier, reason="recovered", actor=actor)
    handover.recovered_at, handover.recovered_by, handover.closing_note = utcnow(), actor.id, note
    uow.flush()
    _audit(uow, handover, actor, "recover", overdue=handover.recovered_at > handover.due_back_at)
    return handover


def cancel_handover(uow: UnitOfWork, *, handover_id: int, reason: str, actor: Actor) -> CarrierHandover:
    """Abandon a handover that has not completed; the carrier never left."""
    handover = _open(uow, handover_id, actor)
    handover.state = next_handover_state(handover.state, "cancel")
    handover.closing_note = text(reason, "reason", max_len=200)
    uow.flush()
    _audit(uow, handover, actor, "cancel", reason=handover.closing_note)
    return handover


def close_on_loss(uow: UnitOfWork, *, carrier_id: int, incident_id: int, actor: Actor) -> CarrierHandover | None:
    """End the open handover of a carrier reported lost (the incident takes over from supervision)."""
    handover = uow.session.scalar(
        select(CarrierHandover).where(
            CarrierHandover.carrier_id == carrier_id,
            CarrierHandover.state.in_([HandoverState.REQUESTED, HandoverState.HANDED_OVER]),
        )
    )
    if handover is None:
        return None
    handover.state = next_handover_state(handover.state, "close_on_loss")
    handover.closing_note = f"carrier lost, incident {incident_id}"
    uow.flush()
    _audit(uow, handover, actor, "close_on_loss", incident=incident_id)
    return handover


def list_handovers(
    uow: UnitOfWork,
    *,
    region_code: str | None = None,
    state: HandoverState | None = None,
    page: Keyset | None = None,
) -> list[CarrierHandover]:
    """Handovers, newest first, optionally in a region (sub-regions included) or state."""
    query = select(CarrierHandover)
    if state is not None:
        query = query.where(CarrierHandover.state == state)
    if region_code is not None:
        query = query.where(within_region(CarrierHandover.region_code, region_code))
    return taken(uow.session.scalars(ordered(query, page, CarrierHandover.id.desc())), page)


def list_overdue_handovers(
    uow: UnitOfWork, *, at: datetime | None = None, region_code: str | None = None, page: Keyset | None = None
) -> list[CarrierHandover]:
    """Carriers still with a third party after their return date (flagged for the security officer)."""
    at = at or utcnow()
    query = select(CarrierHandover).where(
        CarrierHandover.state == HandoverState.HANDED_OVER, CarrierHandover.due_back_at < at
    )
    if region_code is not None:
        query = query.where(within_region(CarrierHandover.region_code, region_code))
    order = (CarrierHandover.due_back_at, CarrierHandover.id)
    return taken(uow.session.scalars(ordered(query, page, *order)), page)


def supervision_of(uow: UnitOfWork, *, handover_id: int, page: Keyset | None = None) -> list[SupervisionEntry]:
    query = select(SupervisionEntry).where(SupervisionEntry.handover_id == handover_id)
    return taken(uow.session.scalars(ordered(query, page, SupervisionEntry.id)), page)


def reviews_of(uow: UnitOfWork, *, handover_id: int, page: Keyset | None = None) -> list[PlanReview]:
    query = select(PlanReview).where(PlanReview.handover_id == handover_id)
    return taken(uow.session.scalars(ordered(query, page, PlanReview.id)), page)
