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


def _stored_card(uow, actor, carrier_type=CarrierType.KEY_MOTHER_CARD, region_code=REGION):
    card = receive(uow, actor, carrier_type, region_code=region_code)
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
    with pytest.raises(HandoverIllegalTransition) as recovered:
        record_supervision(uow, handover_id=handover.id, location="x", observation="y", actor=officer)
    assert recovered.value.detail == "supervision runs while the carrier is handed over, not recovered"


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


def _audit_of(uow, subject: str) -> list[tuple[str, str, dict]]:
    import json

    from sqlalchemy import select

    from sscard.audit.models import AuditEntry

    rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id))
    return [(r.action, r.actor_id, json.loads(r.details)) for r in rows]


# rule KEY-7: every step of a handover is recorded on it and audited with what it did; the carrier's own
# moves say to whom it went, for what, and from whom it came back
def test_each_handover_step_is_recorded_and_audited(uow, custodian, officer) -> None:
    card = _stored_card(uow, custodian)
    due = later(3)
    h = request_handover(
        uow, carrier_id=card.id, third_party=" 某厂商 ", purpose="制卡", due_back_at=due, actor=custodian
    )
    assert (h.third_party, h.purpose, h.region_code, h.requested_by, h.state) == (
        "某厂商", "制卡", REGION, custodian.id, HandoverState.REQUESTED
    )  # fmt: skip
    write_handover_record(uow, handover_id=h.id, record_no="R9", recipient="李四", items="1张", actor=custodian)
    assert (h.record_no, h.record_recipient, h.record_items, h.record_by) == ("R9", "李四", "1张", custodian.id)
    assert h.record_at is not None
    signed = china_today() - timedelta(days=1)
    attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF, signed_on=signed, actor=custodian)
    assert h.agreement_signed_on == signed and h.agreement_document_id is not None
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    assert (review.handover_id, review.submitted_by) == (h.id, custodian.id)
    decided = decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
    assert (decided.decided_by, decided.comments, decided.decided_at is not None) == (officer.id, None, True)
    assign_supervisor(uow, handover_id=h.id, supervisor=officer.id, actor=custodian)
    assert (h.supervisor, h.supervisor_assigned_by) == (officer.id, custodian.id)
    assert missing_conditions(uow, h) == []
    complete_handover(uow, handover_id=h.id, actor=custodian)
    assert (h.completed_by, h.completed_at is not None) == (custodian.id, True)
    assert (card.location, card.holder) == ("某厂商", "某厂商")
    entry = record_supervision(uow, handover_id=h.id, location="车间", observation="正常", actor=officer)
    assert (entry.handover_id, entry.supervisor, entry.location, entry.observation) == (
        h.id,
        officer.id,
        "车间",
        "正常",
    )
    recover_handover(uow, handover_id=h.id, location="保险柜", note="完好", actor=custodian)
    assert (h.recovered_by, h.closing_note, h.recovered_at is not None) == (custodian.id, "完好", True)
    assert (card.location, card.holder) == ("保险柜", custodian.id)

    sha = uow.session.get(KeyDocument, h.agreement_document_id).sha256
    plan_sha = uow.session.get(KeyDocument, review.document_id).sha256
    carrier = {"carrier": card.id}
    assert _audit_of(uow, f"handover:{h.id}") == [
        ("handover.request", custodian.id, carrier | {"third_party": "某厂商", "due_back_at": due.isoformat()}),
        ("handover.record", custodian.id, carrier | {"record_no": "R9"}),
        ("handover.agreement", custodian.id, carrier | {"document": h.agreement_document_id, "sha256": sha}),
        ("handover.plan_submit", custodian.id,
         carrier | {"review": review.id, "document": review.document_id, "sha256": plan_sha}),
        ("handover.plan_decide", officer.id, carrier | {"review": review.id, "decision": "approved"}),
        ("handover.supervisor", custodian.id, carrier | {"supervisor": officer.id}),
        ("handover.complete", custodian.id, carrier | {"third_party": "某厂商", "supervisor": officer.id}),
        ("handover.supervise", officer.id, carrier | {"entry": entry.id, "location": "车间"}),
        ("handover.recover", custodian.id, carrier | {"overdue": False}),
    ]  # fmt: skip
    moves = [
        (a, d) for a, _, d in _audit_of(uow, f"carrier:{card.id}") if a in ("carrier.hand_over", "carrier.recover")
    ]
    assert [(a, d["holder"], d["purpose"], d.get("handover")) for a, d in moves] == [
        ("carrier.hand_over", "某厂商", "制卡", h.id),
        ("carrier.recover", custodian.id, "recovered from 某厂商: 完好", h.id),
    ]
    assert moves[0][1]["supervisor"] == officer.id and moves[1][1]["overdue"] is False


# rule KEY-7: a rejected plan needs a reason; a plan is decided by neither requester nor submitter; a
# cancelled handover says why; each refusal in words
def test_handover_refusals_say_why(uow, custodian, officer, monkeypatch) -> None:
    import sscard.key_register.handovers as handovers
    from sscard.key_register.errors import KeysInvalid

    card = _stored_card(uow, custodian)
    now = utcnow()
    monkeypatch.setattr(handovers, "utcnow", lambda: now)
    with pytest.raises(KeysInvalid) as past:
        request_handover(uow, carrier_id=card.id, third_party="x", purpose="y", due_back_at=now, actor=custodian)
    assert past.value.detail == "the return date must be in the future"
    h = request_handover(
        uow,
        carrier_id=card.id,
        third_party="厂商",
        purpose="x",
        due_back_at=now + timedelta(seconds=1),
        actor=custodian,
    )
    with pytest.raises(HandoverIllegalTransition) as again:
        request_handover(uow, carrier_id=card.id, third_party="x", purpose="y", due_back_at=later(), actor=custodian)
    assert again.value.detail == f"handover {h.id} of this carrier is still open"
    with pytest.raises(KeysInvalid) as future:
        attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF,
                         signed_on=china_today() + timedelta(days=1), actor=custodian)  # fmt: skip
    assert future.value.detail == "the agreement cannot be signed in the future"
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=officer)
    third = staff_actor(uow)
    with pytest.raises(SelfApproval) as own:
        decide_security_plan(uow, review_id=review.id, approve=False, comments="x", actor=custodian)
    assert own.value.detail == "the plan must be reviewed by someone other than the requester and the submitter"
    with pytest.raises(KeysInvalid):  # a rejection says why
        decide_security_plan(uow, review_id=review.id, approve=False, comments=" ", actor=third)
    uow.session.expire(review)  # the refused call's changes are its transaction's, rolled back
    rejected = decide_security_plan(uow, review_id=review.id, approve=False, comments="不完整", actor=third)
    assert (rejected.decision.value, rejected.comments) == ("rejected", "不完整")
    with pytest.raises(HandoverIllegalTransition) as twice:
        decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=staff_actor(uow))
    assert twice.value.detail == "this review was already rejected"
    cancel_handover(uow, handover_id=h.id, reason="撤回", actor=custodian)
    assert h.closing_note == "撤回"
    with pytest.raises(HandoverIllegalTransition) as fixed:
        write_handover_record(uow, handover_id=h.id, record_no="x", recipient="y", items="z", actor=custodian)
    assert fixed.value.detail == "the handover is cancelled; its conditions are fixed"
    assert _audit_of(uow, f"handover:{h.id}")[-1] == (
        "handover.cancel",
        custodian.id,
        {"carrier": card.id, "reason": "撤回"},
    )


def _handed_over(uow, custodian, officer, *, due, region_code=REGION):
    card = _stored_card(uow, custodian, region_code=region_code)
    h = request_handover(uow, carrier_id=card.id, third_party="厂商", purpose="x", due_back_at=due, actor=custodian)
    write_handover_record(uow, handover_id=h.id, record_no="R1", recipient="李四", items="1张", actor=custodian)
    attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF, signed_on=china_today(), actor=custodian)
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
    assign_supervisor(uow, handover_id=h.id, supervisor=officer.id, actor=officer)
    complete_handover(uow, handover_id=h.id, actor=custodian)
    return h, review


# rule KEY-7: the lists the security officer works from: handovers newest first by region and state, overdue
# ones (strictly past their return date) oldest due first, a handover's supervision log and plan reviews
def test_handover_lists(uow, custodian, officer) -> None:
    from sscard.db.pagination import Keyset
    from sscard.key_register.handovers import list_handovers, reviews_of, supervision_of

    due = utcnow() + timedelta(days=2)
    first, review = _handed_over(uow, custodian, officer, due=due)
    second, _ = _handed_over(uow, custodian, officer, due=due - timedelta(hours=1))
    open_one = request_handover(uow, carrier_id=_stored_card(uow, custodian).id, third_party="y", purpose="z",
                                due_back_at=later(), actor=custodian)  # fmt: skip
    mine = [h.id for h in list_handovers(uow, region_code=REGION)]
    assert mine[:3] == [open_one.id, second.id, first.id]  # newest first
    assert [h.id for h in list_handovers(uow, region_code="310000") if h.id in mine] == []
    handed = [h.id for h in list_handovers(uow, region_code=REGION, state=HandoverState.HANDED_OVER)]
    assert open_one.id not in handed and {first.id, second.id} <= set(handed)
    page = Keyset(limit=1)
    assert [h.id for h in list_handovers(uow, region_code=REGION, page=page)] == [open_one.id]
    assert page.next_after is not None
    overdue = [h.id for h in list_overdue_handovers(uow, at=due, region_code=REGION)]
    assert second.id in overdue and first.id not in overdue  # due exactly now is not overdue yet
    later_on = [h.id for h in list_overdue_handovers(uow, at=due + timedelta(seconds=1), region_code=REGION)]
    assert later_on.index(second.id) < later_on.index(first.id) and open_one.id not in later_on
    assert [h.id for h in list_overdue_handovers(uow, at=due, region_code=REGION, page=Keyset(limit=1))][:1] == [
        later_on[0]
    ]
    one = record_supervision(uow, handover_id=first.id, location="车间", observation="a", actor=officer)
    two = record_supervision(uow, handover_id=first.id, location="车间", observation="b", actor=officer)
    record_supervision(uow, handover_id=second.id, location="仓库", observation="c", actor=officer)
    assert [e.id for e in supervision_of(uow, handover_id=first.id)] == [one.id, two.id]
    assert [e.id for e in supervision_of(uow, handover_id=first.id, page=Keyset(limit=1))] == [one.id]
    assert [r.id for r in reviews_of(uow, handover_id=first.id)] == [review.id]
    assert reviews_of(uow, handover_id=open_one.id, page=Keyset(limit=5)) == []


# rule KEY-7 / KEY-8: a PSAM handed over with its terminal stays deployed there until it comes back; recovered
# after its return date, the handover and the carrier's move say it was overdue, and the deployment ends
def test_a_psam_recovered_late_ends_its_deployment_and_says_overdue(uow, custodian, officer, monkeypatch) -> None:
    import sscard.key_register.handovers as handovers
    from sscard.key_register.psam import current_deployment, deploy_psam
    from tests.key_register.factories import receive, terminal

    psam = receive(uow, custodian, CarrierType.PSAM_CARD)
    deploy_psam(uow, carrier_id=psam.id, terminal_id=terminal(uow), physical_form="plug_in", environment="收银台",
                usage_mode="attended", actor=custodian)  # fmt: skip
    deployment = current_deployment(uow, carrier_id=psam.id)
    due = utcnow() + timedelta(days=1)
    h = request_handover(
        uow, carrier_id=psam.id, third_party="维修商", purpose="维修", due_back_at=due, actor=custodian
    )
    write_handover_record(uow, handover_id=h.id, record_no="R2", recipient="赵六", items="终端1台", actor=custodian)
    attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF, signed_on=china_today(), actor=custodian)
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
    assign_supervisor(uow, handover_id=h.id, supervisor=officer.id, actor=officer)
    complete_handover(uow, handover_id=h.id, actor=custodian)
    assert current_deployment(uow, carrier_id=psam.id) is deployment  # still bound to its terminal
    back = due + timedelta(minutes=1)
    monkeypatch.setattr(handovers, "utcnow", lambda: back)
    recover_handover(uow, handover_id=h.id, location="机要室", note="逾期", actor=officer, holder="王五")
    assert (psam.holder, h.recovered_at) == ("王五", back)
    assert (deployment.end_reason, deployment.ended_by) == ("recovered", officer.id)
    assert current_deployment(uow, carrier_id=psam.id) is None
    assert _audit_of(uow, f"handover:{h.id}")[-1] == (
        "handover.recover",
        officer.id,
        {"carrier": psam.id, "overdue": True},
    )
    move = [d for a, _, d in _audit_of(uow, f"carrier:{psam.id}") if a == "carrier.recover"][-1]
    assert (move["overdue"], move["handover"]) == (True, h.id)


# rule KEY-7: each written field of a handover is required and bounded, and a refusal names the field and bound
def test_each_handover_field_is_required_and_bounded(uow, custodian, officer) -> None:
    from sscard.key_register.errors import KeysInvalid

    def refused(call, field: str, size: int, **kwargs) -> None:
        for value, words in (
            (" ", f"{field} is required"),
            ("字" * (size + 1), f"{field} has at most {size} characters"),
        ):
            with pytest.raises(KeysInvalid) as info:
                call(uow, **(kwargs | {field: value}))
            assert (info.value.detail, info.value.extra["field"]) == (words, field)
            uow.session.expire_all()  # what the refused call changed is its transaction's, rolled back

    card = _stored_card(uow, custodian)
    base = {"carrier_id": card.id, "third_party": "厂商", "purpose": "x", "due_back_at": later(), "actor": custodian}
    refused(request_handover, "third_party", 128, **base)
    refused(request_handover, "purpose", 200, **base)
    h = request_handover(uow, **base)
    record = {"handover_id": h.id, "record_no": "R", "recipient": "李", "items": "1", "actor": custodian}
    refused(write_handover_record, "record_no", 64, **record)
    refused(write_handover_record, "recipient", 64, **record)
    refused(write_handover_record, "items", 200, **record)
    refused(cancel_handover, "reason", 200, handover_id=h.id, reason="x", actor=custodian)
    assert "字" * 200 == cancel_handover(uow, handover_id=h.id, reason="字" * 200, actor=custodian).closing_note


# rule KEY-7: the recovery note is required and bounded; a carrier back exactly at its return date is not overdue;
# every list of a handover pages on (the next page follows the cursor)
def test_recovery_note_bounds_on_time_and_next_pages(uow, custodian, officer, monkeypatch) -> None:
    import sscard.key_register.handovers as handovers
    from sscard.db.pagination import Keyset
    from sscard.key_register.errors import KeysInvalid
    from sscard.key_register.handovers import list_handovers, reviews_of, supervision_of

    due = utcnow() + timedelta(days=1)
    h, review = _handed_over(uow, custodian, officer, due=due)
    for value, words in ((" ", "note is required"), ("字" * 201, "note has at most 200 characters")):
        with pytest.raises(KeysInvalid) as info, uow.session.begin_nested():  # rolled back, as its transaction
            recover_handover(uow, handover_id=h.id, location="柜", note=value, actor=custodian)
        assert (info.value.detail, info.value.extra["field"]) == (words, "note")
        uow.session.expire_all()
    one = record_supervision(uow, handover_id=h.id, location="车间", observation="a", actor=officer)
    two = record_supervision(uow, handover_id=h.id, location="车间", observation="b", actor=officer)
    page = Keyset(limit=1)
    assert [e.id for e in supervision_of(uow, handover_id=h.id, page=page)] == [one.id]
    assert [e.id for e in supervision_of(uow, handover_id=h.id, page=Keyset(limit=1, after=page.next_after))] == [
        two.id
    ]
    page = Keyset(limit=1)
    assert [r.id for r in reviews_of(uow, handover_id=h.id, page=page)] == [review.id] and page.next_after is None
    newer, _ = _handed_over(uow, custodian, officer, due=due)
    page = Keyset(limit=1)
    assert [x.id for x in list_handovers(uow, region_code=REGION, page=page)] == [newer.id]
    assert [x.id for x in list_handovers(uow, region_code=REGION, page=Keyset(limit=1, after=page.next_after))] == [
        h.id
    ]
    monkeypatch.setattr(handovers, "utcnow", lambda: due)
    recover_handover(uow, handover_id=h.id, location="柜", note="按时", actor=custodian)
    assert _audit_of(uow, f"handover:{h.id}")[-1][2] == {"carrier": h.carrier_id, "overdue": False}
    move = [d for a, _, d in _audit_of(uow, f"carrier:{h.carrier_id}") if a == "carrier.recover"][-1]
    assert (move["overdue"], move["handover"]) == (False, h.id)  # the carrier's own move says the same


# rule KEY-7: a handover's plan reviews (a rejected plan, then a new one) are listed oldest first and page on
def test_plan_reviews_page_on_by_the_cursor(uow, custodian, officer) -> None:
    from sscard.db.pagination import Keyset
    from sscard.key_register.handovers import reviews_of

    h = request_handover(uow, carrier_id=_stored_card(uow, custodian).id, third_party="厂商", purpose="x",
                         due_back_at=later(), actor=custodian)  # fmt: skip
    first = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    decide_security_plan(uow, review_id=first.id, approve=False, comments="不完整", actor=officer)
    second = submit_security_plan(uow, handover_id=h.id, filename="p2.pdf", content=PDF, actor=custodian)
    assert [r.id for r in reviews_of(uow, handover_id=h.id)] == [first.id, second.id]
    page = Keyset(limit=1)
    assert [r.id for r in reviews_of(uow, handover_id=h.id, page=page)] == [first.id]
    assert page.next_after is not None
    following = Keyset(limit=1, after=page.next_after)
    assert [r.id for r in reviews_of(uow, handover_id=h.id, page=following)] == [second.id]
    assert following.next_after is None


# rule KEY-7: only the assigned supervisor records supervision, and says where and what, each field bounded; a
# supervisor who may not be one is refused in words naming the part
def test_supervision_refusals_and_bounds_in_words(uow, custodian, officer) -> None:
    from sscard.key_register.errors import KeysInvalid

    clerk = staff_actor(uow, Role.COUNTER_CLERK)
    h, _ = _handed_over(uow, custodian, officer, due=later(2))
    fresh = request_handover(uow, carrier_id=_stored_card(uow, custodian).id, third_party="厂商", purpose="x",
                             due_back_at=later(), actor=custodian)  # fmt: skip
    with pytest.raises(StaffNotEligible) as not_one:
        assign_supervisor(uow, handover_id=fresh.id, supervisor=clerk.id, actor=officer)
    assert not_one.value.detail == "the supervisor must be a security officer or key custodian"
    with pytest.raises(NotSupervisor) as other:
        record_supervision(uow, handover_id=h.id, location="车间", observation="x", actor=custodian)
    assert other.value.detail == "only the assigned supervisor records supervision of this handover"
    for field, size in (("location", 128), ("observation", 500)):
        for value, words in (
            (" ", f"{field} is required"),
            ("字" * (size + 1), f"{field} has at most {size} characters"),
        ):
            with pytest.raises(KeysInvalid) as info:
                record_supervision(uow, **({"handover_id": h.id, "location": "车间", "observation": "x",
                                            "actor": officer} | {field: value}))  # fmt: skip
            assert (info.value.detail, info.value.extra["field"]) == (words, field)
    entry = record_supervision(uow, handover_id=h.id, location="字" * 128, observation="字" * 500, actor=officer)
    assert (len(entry.location), len(entry.observation)) == (128, 500)


# rule KEY-7: a refusal names what it refuses: the handover or plan review that does not exist by its number, a
# carrier not in our hands by its state, a date by its field, a document by what its bytes are and what it was
# declared to be (the agreement's and the plan's alike)
def test_refusals_name_the_record_the_state_and_the_field(uow, custodian) -> None:
    from sscard.key_register.errors import DocumentInvalid, HandoverNotFound, KeysInvalid

    with pytest.raises(HandoverIllegalTransition) as not_ours:
        request_handover(uow, carrier_id=receive(uow, custodian).id, third_party="x", purpose="y",
                         due_back_at=later(), actor=custodian)  # fmt: skip
    assert not_ours.value.detail == "a carrier that is received cannot be handed over"
    card = _stored_card(uow, custodian)
    with pytest.raises(KeysInvalid) as past:
        request_handover(uow, carrier_id=card.id, third_party="x", purpose="y",
                         due_back_at=utcnow() - timedelta(minutes=1), actor=custodian)  # fmt: skip
    assert (past.value.detail, past.value.extra["field"]) == ("the return date must be in the future", "due_back_at")
    h = request_handover(uow, carrier_id=card.id, third_party="厂商", purpose="x", due_back_at=later(), actor=custodian)
    with pytest.raises(KeysInvalid) as ahead:
        attach_agreement(uow, handover_id=h.id, filename="a.pdf", content=PDF,
                         signed_on=china_today() + timedelta(days=1), actor=custodian)  # fmt: skip
    assert (ahead.value.detail, ahead.value.extra["field"]) == (
        "the agreement cannot be signed in the future",
        "signed_on",
    )
    upload = {"handover_id": h.id, "filename": "a.png", "content": PDF, "actor": custodian, "media_type": "image/png"}
    for step, args in ((attach_agreement, upload | {"signed_on": china_today()}), (submit_security_plan, upload)):
        with pytest.raises(DocumentInvalid) as declared:
            step(uow, **args)
        assert declared.value.detail == "the file is application/pdf, not image/png"
    missing = h.id + 1_000_000
    with pytest.raises(HandoverNotFound) as no_handover:
        write_handover_record(uow, handover_id=missing, record_no="R", recipient="李", items="1", actor=custodian)
    assert no_handover.value.detail == f"no handover {missing}"
    with pytest.raises(HandoverNotFound) as no_review:
        decide_security_plan(uow, review_id=missing, approve=True, comments="", actor=custodian)
    assert no_review.value.detail == f"no security plan review {missing}"


# rule KEY-7: a rejected plan says why, in at most 500 characters; an approval may say why too
def test_a_plan_decision_gives_its_reasons_within_500_characters(uow, custodian, officer) -> None:
    from sscard.key_register.errors import KeysInvalid

    h = request_handover(uow, carrier_id=_stored_card(uow, custodian).id, third_party="厂商", purpose="x",
                         due_back_at=later(), actor=custodian)  # fmt: skip
    review = submit_security_plan(uow, handover_id=h.id, filename="p.pdf", content=PDF, actor=custodian)
    for value, words in ((" ", "comments is required"), ("字" * 501, "comments has at most 500 characters")):
        with pytest.raises(KeysInvalid) as info, uow.session.begin_nested():  # rolled back, as its transaction
            decide_security_plan(uow, review_id=review.id, approve=False, comments=value, actor=officer)
        assert (info.value.detail, info.value.extra["field"]) == (words, "comments")
        uow.session.expire_all()
    approved = decide_security_plan(uow, review_id=review.id, approve=True, comments="字" * 500, actor=officer)
    assert (approved.decision.value, approved.comments) == ("approved", "字" * 500)


# rule KEY-7: the conditions are the handover's own: a record needs both its number and its recipient, and a plan
# approved for another handover does not count for this one
def test_the_conditions_met_are_this_handovers_own(uow, custodian, officer) -> None:
    from sscard.key_register.handovers import CONDITIONS

    _handed_over(uow, custodian, officer, due=later())  # another handover, its plan approved
    h = request_handover(uow, carrier_id=_stored_card(uow, custodian).id, third_party="厂商", purpose="x",
                         due_back_at=later(), actor=custodian)  # fmt: skip
    assert missing_conditions(uow, h) == list(CONDITIONS)
    for record_no, recipient in (("R1", None), (None, "李四")):  # a record half written
        h.record_no, h.record_recipient = record_no, recipient
        assert missing_conditions(uow, h) == list(CONDITIONS)


# rule KEY-7: one open handover per carrier: neither a cancelled handover of the carrier nor another carrier's open
# one stands in the way of a new request
def test_only_an_open_handover_of_the_same_carrier_blocks_a_request(uow, custodian) -> None:
    def requested(card):
        return request_handover(uow, carrier_id=card.id, third_party="厂商", purpose="x", due_back_at=later(),
                                actor=custodian)  # fmt: skip

    card = _stored_card(uow, custodian)
    requested(_stored_card(uow, custodian))  # another carrier's, open
    first = requested(card)
    cancel_handover(uow, handover_id=first.id, reason="撤回", actor=custodian)
    again = requested(card)
    assert (again.id != first.id, again.state, first.state) == (True, HandoverState.REQUESTED, HandoverState.CANCELLED)


# rule KEY-7: only a carrier still with the third party is overdue (not one requested, recovered or cancelled past
# its date), and the overdue list pages on by its cursor
def test_only_carriers_still_away_are_overdue_page_by_page(uow) -> None:
    from sscard.db.pagination import Keyset
    from sscard.key_register.handovers import list_overdue_handovers

    district = "110109"  # a district no other test uses: the list holds only this test's handovers
    custodian = staff_actor(uow, Role.KEY_CUSTODIAN, region_code=district)
    officer = staff_actor(uow, Role.SECURITY_OFFICER, region_code=district)
    due = utcnow() + timedelta(days=1)
    away = [_handed_over(uow, custodian, officer, due=due + timedelta(minutes=m), region_code=district)[0]
            for m in (1, 2)]  # fmt: skip
    back, _ = _handed_over(uow, custodian, officer, due=due, region_code=district)
    recover_handover(uow, handover_id=back.id, location="柜", note="按时", actor=custodian)
    cancelled = request_handover(uow, carrier_id=_stored_card(uow, custodian, region_code=district).id,
                                 third_party="厂商", purpose="x", due_back_at=due, actor=custodian)  # fmt: skip
    cancel_handover(uow, handover_id=cancelled.id, reason="撤回", actor=custodian)
    request_handover(uow, carrier_id=_stored_card(uow, custodian, region_code=district).id, third_party="厂商",
                     purpose="x", due_back_at=due, actor=custodian)  # fmt: skip
    at = due + timedelta(days=1)
    assert [h.id for h in list_overdue_handovers(uow, at=at, region_code=district)] == [h.id for h in away]
    page = Keyset(limit=1)
    assert [h.id for h in list_overdue_handovers(uow, at=at, region_code=district, page=page)] == [away[0].id]
    following = Keyset(limit=1, after=page.next_after)
    assert [h.id for h in list_overdue_handovers(uow, at=at, region_code=district, page=following)] == [away[1].id]
    assert following.next_after is None
