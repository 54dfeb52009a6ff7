"""Third-party handover of a key carrier (KEY-7) and the documents it rests on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from sscard.db.base import china_today, utcnow
from sscard.key_register.carriers import store_carrier
from sscard.key_register.documents import read_document, store_document
from sscard.key_register.errors import (
    DocumentInvalid,
    DocumentTampered,
    HandoverIllegalTransition,
    HandoverIncomplete,
    NotSupervisor,
    SelfApproval,
    StaffNotEligible,
)
from sscard.key_register.handovers import (
    assign_supervisor,
    attach_agreement,
    cancel_handover,
    complete_handover,
    decide_security_plan,
    list_overdue_handovers,
    missing_conditions,
    record_supervision,
    recover_handover,
    request_handover,
    submit_security_plan,
    write_handover_record,
)
from sscard.key_register.models import KeyDocument
from sscard.key_register.states import CarrierState, CarrierType, HandoverState
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import Role
from tests.key_register.factories import PDF, REGION, later, receive, staff_actor


def _stored_card(uow, actor, carrier_type=CarrierType.KEY_MOTHER_CARD):
    card = receive(uow, actor, carrier_type)
    store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="入库", actor=actor)
    return card


# rule KEY-7: the handover completes only with record, agreement, approved plan review and supervisor
def test_handover_needs_all_four_conditions(uow, custodian, officer) -> None:
    card = _stored_card(uow, custodian)
    handover = request_handover(
        uow, carrier_id=card.id, third_party="某制卡厂商", purpose="个人化制卡", due_back_at=later(), actor=custodian
    )
    with pytest.raises(HandoverIncomplete) as exc:
        complete_handover(uow, handover_id=handover.id, actor=custodian)
    assert exc.value.code == "HANDOVER_INCOMPLETE"
    assert exc.value.missing == [
        "handover_record",
        "confidentiality_agreement",
        "security_plan_approved",
        "supervisor_assigned",
    ]
    write_handover_record(
        uow,
        handover_id=handover.id,
        record_no="JJ-2026-001",
        recipient="王五",
        items="密钥母卡1张，封签号 A123",
        actor=custodian,
    )
    attach_agreement(
        uow, handover_id=handover.id, filename="保密协议.pdf", content=PDF, signed_on=china_today(), actor=custodian
    )
    review = submit_security_plan(
        uow, handover_id=handover.id, filename="安全管理方案.pdf", content=PDF, actor=custodian
    )
    assert missing_conditions(uow, handover) == ["security_plan_approved", "supervisor_assigned"]

    # rule KEY-7: the requester cannot approve the plan review
    with pytest.raises(SelfApproval) as exc_self:
        decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=custodian)
    assert exc_self.value.code == "SELF_APPROVAL"
    decide_security_plan(uow, review_id=review.id, approve=True, comments="方案完备", actor=officer)
    with pytest.raises(HandoverIllegalTransition):  # decided once
        decide_security_plan(uow, review_id=review.id, approve=False, comments="x", actor=staff_actor(uow))

    clerk = staff_actor(uow, Role.COUNTER_CLERK)
    with pytest.raises(StaffNotEligible):
        assign_supervisor(uow, handover_id=handover.id, supervisor=clerk.id, actor=officer)
    far = staff_actor(uow, Role.SECURITY_OFFICER, region_code="310104")
    with pytest.raises(StaffNotEligible):
        assign_supervisor(uow, handover_id=handover.id, supervisor=far.id, actor=officer)
    assign_supervisor(uow, handover_id=handover.id, supervisor=officer.id, actor=officer)

    complete_handover(uow, handover_id=handover.id, actor=custodian)
    assert handover.state is HandoverState.HANDED_OVER and card.state is CarrierState.HANDED_OVER
    assert card.holder == "某制卡厂商"
    with pytest.raises(HandoverIllegalTransition):  # conditions are fixed once handed over
        write_handover_record(uow, handover_id=handover.id, record_no="x", recipient="y", items="z", actor=custodian)

    # rule KEY-7: supervision entries by the assigned supervisor until recovery
    with pytest.raises(NotSupervisor):
        record_supervision(uow, handover_id=handover.id, location="厂商车间", observation="x", actor=custodian)
    record_supervision(
        uow, handover_id=handover.id, location="厂商车间", observation="双人在场，未见异常", actor=officer
    )
    recover_handover(uow, handover_id=handover.id, location="保险柜", note="封签完好", actor=custodian)
    assert card.state is CarrierState.RECOVERED and handover.state is HandoverState.RECOVERED
    with pytest.raises(HandoverIllegalTransition):
        record_supervision(uow, handover_id=handover.id, location="x", observation="y", actor=officer)


# rule KEY-7: a rejected plan does not count; whoever submitted the plan cannot decide it either
def test_rejected_plan_and_submitter(uow, custodian, officer) -> None:
    card = _stored_card(uow, custodian)
    handover = request_handover(
        uow, carrier_id=card.id, third_party="厂商", purpose="x", due_back_at=later(), actor=custodian
    )
    review = submit_security_plan(uow, handover_id=handover.id, filename="p.pdf", content=PDF, actor=officer)
    with pytest.raises(SelfApproval):
        decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
    third = staff_actor(uow)
    decide_security_plan(uow, review_id=review.id, approve=False, comments="缺少人员管理章节", actor=third)
    assert "security_plan_approved" in missing_conditions(uow, handover)
    cancel_handover(uow, handover_id=handover.id, reason="厂商撤回", actor=custodian)
    assert handover.state is HandoverState.CANCELLED and card.state is CarrierState.IN_CUSTODY


# rule KEY-7: only carriers in our hands can be handed over; one open handover per carrier
def test_handover_preconditions(uow, custodian, stranger) -> None:
    fresh = receive(uow, custodian)
    with pytest.raises(HandoverIllegalTransition):
        request_handover(uow, carrier_id=fresh.id, third_party="x", purpose="y", due_back_at=later(), actor=custodian)
    card = _stored_card(uow, custodian)
    with pytest.raises(OutsideRegion):
        request_handover(uow, carrier_id=card.id, third_party="x", purpose="y", due_back_at=later(), actor=stranger)
    request_handover(uow, carrier_id=card.id, third_party="x", purpose="y", due_back_at=later(), actor=custodian)
    with pytest.raises(HandoverIllegalTransition):
        request_handover(uow, carrier_id=card.id, third_party="x", purpose="y", due_back_at=later(), actor=custodian)


# rule KEY-7: a carrier not back by its return date is flagged overdue
def test_overdue_recoveries_are_flagged(uow, custodian, officer) -> None:
    card = _stored_card(uow, custodian)
    h = request_handover(
        uow, carrier_id=card.id, third_party="厂商", purpose="x", due_back_at=later(2), actor=custodian
    )
    write_handover_record(uow, handover_id=h.id, record_no="R1", recipient="李四", items="1张", actor=custodian)
    attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF, signed_on=china_today(), actor=custodian)
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
    assign_supervisor(uow, handover_id=h.id, supervisor=officer.id, actor=officer)
    complete_handover(uow, handover_id=h.id, actor=custodian)
    assert h not in list_overdue_handovers(uow, region_code=REGION)
    overdue = list_overdue_handovers(uow, at=utcnow() + timedelta(days=3), region_code=REGION)
    assert h in overdue
    assert h not in list_overdue_handovers(uow, at=utcnow() + timedelta(days=3), region_code="310000")


# rule KEY-7: documents are kept with their SHA-256, checked on every read; junk is refused
def test_documents_checksum_and_types(uow, officer) -> None:
    doc = store_document(
        uow,
        kind="confidentiality_agreement",
        region_code=REGION,
        filename="../../etc/passwd.pdf",
        content=PDF,
        actor=officer,
    )
    assert "/" not in doc.filename and doc.media_type == "application/pdf" and len(doc.sha256) == 64
    assert read_document(uow, document_id=doc.id)[1] == PDF
    uow.session.execute(update(KeyDocument).where(KeyDocument.id == doc.id).values(content=PDF + b"tampered"))
    uow.session.expire_all()
    with pytest.raises(DocumentTampered) as exc:
        read_document(uow, document_id=doc.id)
    assert exc.value.code == "DOCUMENT_TAMPERED"
    for content, media_type in [(b"", None), (b"MZ\x90\x00", None), (PDF, "image/png")]:
        with pytest.raises(DocumentInvalid):
            store_document(
                uow,
                kind="security_plan",
                region_code=REGION,
                filename="x",
                content=content,
                media_type=media_type,
                actor=officer,
            )
