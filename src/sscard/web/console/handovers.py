"""Console steps on the registers (KEY-7 handovers, KEY-8 PSAM deployment): the same services, roles and
refusal audit as ``api/key_register/handovers.py`` and ``routes.py``. The two-person step of a handover
(the security plan decided by an officer other than its submitter, ``SELF_APPROVAL``) is taken by the
second officer in their own signed-in session, as the carrier destruction's witnesses are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import Depends, File, Form, Response, UploadFile

from sscard.key_register import carriers as carrier_service
from sscard.key_register import handovers as service
from sscard.key_register import psam as psam_service
from sscard.key_register.models import PsamForm, PsamUsageMode
from sscard.key_register.models.handovers import ReviewDecision
from sscard.key_register.states import HandoverState
from sscard.web.console.auth import AUDIT_READ, KEYS, OFFICER, StaffPage, staff_with
from sscard.web.console.routes import carrier_id_of, carrier_page, parse_day
from sscard.web.console.steps import run_step, upload
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router

router = page_router("console")
CHINA = timedelta(hours=8)
Values = dict[str, str]


def handover_id_of(page: Page, ref: str) -> int:
    found = page.deref(ref)
    if found is None or "handover" not in found:
        raise PageNotFound()
    return int(found["handover"])


def handover_page(
    current: StaffPage, ref: str, *, status: int = 200, errors: Values | None = None, values: Values | None = None
) -> Response:
    page = current.page
    handover = service.get_handover_or_raise(page.uow, handover_id_of(page, ref))
    current.staff.ensure_region(handover.region_code)
    carrier = carrier_service.get_carrier_or_raise(page.uow, handover.carrier_id)
    reviews = service.reviews_of(page.uow, handover_id=handover.id)
    pending = next((r for r in reviews if r.decision is ReviewDecision.PENDING), None)
    role = current.staff.role
    return page.render(
        "console/handover.html",
        status=status,
        title=page.gettext("Handover to a third party"),
        ref=ref,
        handover=handover,
        carrier=carrier,
        reviews=reviews,
        pending=pending,
        errors=errors or {},
        values=values or {},
        supervision=service.supervision_of(page.uow, handover_id=handover.id),
        missing=service.missing_conditions(page.uow, handover) if handover.state is HandoverState.REQUESTED else [],
        can_act=role in KEYS,
        can_decide=role in OFFICER,
        me=current.actor().id,
        states=HandoverState,
    )


@router.get("/handovers/{ref}")
def handover(ref: str, current: StaffPage = Depends(staff_with(*AUDIT_READ))) -> Response:
    return handover_page(current, ref)


def _step(current: StaffPage, ref: str, *, action: str, values: Values, done: str,
          call: Callable[[int], Any]) -> Response:  # fmt: skip
    """One handover step (its fields must not be empty); the handover page again when refused."""
    page = current.page
    handover_id = handover_id_of(page, ref)
    missing = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    if missing:
        return handover_page(current, ref, status=422, errors=missing, values=values)
    return run_step(current, action=action, subject=f"handover:{handover_id}", call=lambda: call(handover_id),
                    done=done, to=f"/console/handovers/{ref}",
                    again=lambda status, errors: handover_page(current, ref, status=status, errors=errors,
                                                               values=values))  # fmt: skip


@router.post("/handovers/{ref}/record")
def handover_record(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    record_no: str = Form(""),
    recipient: str = Form(""),
    items: str = Form(""),
) -> Response:
    """Condition 1: the handover record."""
    values = {"record_no": record_no.strip()[:64], "recipient": recipient.strip()[:64], "items": items.strip()[:200]}
    return _step(
        current,
        ref,
        action="handover.record",
        values=values,
        done=current.page.gettext("The handover record has been written."),
        call=lambda hid: service.write_handover_record(
            current.page.uow, handover_id=hid, **values, actor=current.actor()
        ),
    )


@router.post("/handovers/{ref}/agreement")
def handover_agreement(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    signed_on: str = Form(""),
    agreement: UploadFile | None = File(None),
) -> Response:
    """Condition 2: the confidentiality agreement signed by the third party."""
    day = parse_day(signed_on)
    if day is None:
        words = current.page.gettext("Enter the dates as YYYY-MM-DD.")
        return handover_page(current, ref, status=422, errors={"signed_on": words}, values={"signed_on": signed_on})

    return _step(current, ref, action="handover.agreement", values={},
                 done=current.page.gettext("The confidentiality agreement has been attached."),
                 call=lambda hid: service.attach_agreement(current.page.uow, handover_id=hid, signed_on=day,
                                                           **upload(agreement), actor=current.actor()))  # fmt: skip


@router.post("/handovers/{ref}/security-plan")
def handover_plan(
    ref: str, current: StaffPage = Depends(staff_with(*KEYS)), security_plan: UploadFile | None = File(None)
) -> Response:
    """Condition 3a: the third party's security management plan, for another officer to decide."""

    done = current.page.gettext("The security plan is submitted: another security officer decides it.")
    return _step(current, ref, action="handover.plan_submit", values={}, done=done,
                 call=lambda hid: service.submit_security_plan(
                     current.page.uow, handover_id=hid, **upload(security_plan), actor=current.actor()))  # fmt: skip


@router.post("/handovers/{ref}/review")
def handover_review(
    ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), decision: str = Form(""), comments: str = Form("")
) -> Response:
    """Condition 3b, the two-person step: an officer other than the submitter approves or rejects."""
    page = current.page
    if decision not in ("approve", "reject"):
        return handover_page(current, ref, status=422, errors={"decision": page.gettext("Choose a decision.")})
    handover_id = handover_id_of(page, ref)
    pending = next(
        (r for r in service.reviews_of(page.uow, handover_id=handover_id) if r.decision is ReviewDecision.PENDING), None
    )
    if pending is None:
        page.flash(page.gettext("No security plan of this handover is awaiting a decision."), "error")
        return page.redirect(f"/console/handovers/{ref}")
    return run_step(
        current, action="handover.plan_decide", subject=f"review:{pending.id}", to=f"/console/handovers/{ref}",
        done=page.gettext("Your decision on the security plan is recorded."),
        call=lambda: service.decide_security_plan(page.uow, review_id=pending.id, approve=decision == "approve",
                                                  comments=comments.strip()[:500], actor=current.actor()),
        again=lambda status, errors: handover_page(current, ref, status=status, errors=errors),
    )  # fmt: skip


@router.post("/handovers/{ref}/supervisor")
def handover_supervisor(
    ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), supervisor: str = Form("")
) -> Response:
    """Condition 4: the staff member who supervises the third party's use."""
    values = {"supervisor": supervisor.strip()[:64]}
    return _step(
        current,
        ref,
        action="handover.supervisor",
        values=values,
        done=current.page.gettext("The supervisor has been assigned."),
        call=lambda hid: service.assign_supervisor(
            current.page.uow, handover_id=hid, supervisor=values["supervisor"], actor=current.actor()
        ),
    )


@router.post("/handovers/{ref}/complete")
def handover_complete(ref: str, current: StaffPage = Depends(staff_with(*KEYS))) -> Response:
    """Hand the carrier over once the four conditions hold (``HANDOVER_INCOMPLETE`` otherwise)."""
    return _step(
        current,
        ref,
        action="handover.complete",
        values={},
        done=current.page.gettext("The carrier has been handed over."),
        call=lambda hid: service.complete_handover(current.page.uow, handover_id=hid, actor=current.actor()),
    )


@router.post("/handovers/{ref}/recover")
def handover_recover(
    ref: str, current: StaffPage = Depends(staff_with(*KEYS)), back_location: str = Form(""), back_note: str = Form("")
) -> Response:
    """Take the carrier back from the third party; supervision ends."""
    values = {"back_location": back_location.strip()[:128], "back_note": back_note.strip()[:200]}
    return _step(
        current,
        ref,
        action="handover.recover",
        values=values,
        done=current.page.gettext("The carrier has been taken back."),
        call=lambda hid: service.recover_handover(
            current.page.uow,
            handover_id=hid,
            location=values["back_location"],
            note=values["back_note"],
            actor=current.actor(),
        ),
    )


@router.post("/handovers/{ref}/cancel")
def handover_cancel(
    ref: str, current: StaffPage = Depends(staff_with(*KEYS)), cancel_reason: str = Form("")
) -> Response:
    """Abandon a handover that has not completed."""
    values = {"cancel_reason": cancel_reason.strip()[:200]}
    return _step(
        current,
        ref,
        action="handover.cancel",
        values=values,
        done=current.page.gettext("The handover has been cancelled."),
        call=lambda hid: service.cancel_handover(
            current.page.uow, handover_id=hid, reason=values["cancel_reason"], actor=current.actor()
        ),
    )


# --- from a carrier's page: open a handover, deploy or recover a PSAM (KEY-7, KEY-8) -------------------


def carrier_step(current: StaffPage, ref: str, *, action: str, values: Values, errors: Values,
                  call: Callable[[int], Any], done: str,
                  to: str | Callable[[Any], str] | None = None) -> Response:  # fmt: skip
    """One step of the carrier page; the carrier page again with its errors when refused."""
    page = current.page
    carrier_id = carrier_id_of(page, ref)
    if errors:
        return carrier_page(current, ref, status=422, errors=errors, values=values)
    return run_step(current, action=action, subject=f"carrier:{carrier_id}", call=lambda: call(carrier_id),
                    done=done, to=to or f"/console/carriers/{ref}",
                    again=lambda status, errs: carrier_page(current, ref, status=status, errors=errs,
                                                            values=values))  # fmt: skip


@router.post("/carriers/{ref}/handover")
def request_handover(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    third_party: str = Form(""),
    purpose: str = Form(""),
    due_back: str = Form(""),
) -> Response:
    """Open the handover of this carrier to a third party, due back by a day (KEY-7)."""
    page = current.page
    values = {"third_party": third_party.strip()[:128], "purpose": purpose.strip()[:200], "due_back": due_back}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    day = parse_day(due_back)
    if due_back and day is None:
        errors["due_back"] = page.gettext("Enter the dates as YYYY-MM-DD.")
    # The end of the China day it is due back, as a time stamp.
    due = datetime.combine(day or date.min, time(23, 59), tzinfo=UTC) - CHINA  # used only when day is valid

    return carrier_step(
        current, ref, action="handover.request", values=values, errors=errors,
        done=page.gettext("The handover is opened: gather its four conditions."),
        call=lambda cid: service.request_handover(page.uow, carrier_id=cid, third_party=values["third_party"],
                                                  purpose=values["purpose"], due_back_at=due, actor=current.actor()),
        to=lambda made: f"/console/handovers/{page.ref({'handover': made.id})}",
    )  # fmt: skip


@router.post("/carriers/{ref}/psam/deploy")
def deploy_psam(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    terminal_id: str = Form(""),
    institution: str = Form(""),
    physical_form: str = Form(""),
    environment: str = Form(""),
    usage_mode: str = Form(""),
) -> Response:
    """Deploy a PSAM into a terminal or an institution with its form, environment and mode (KEY-8)."""
    page = current.page
    values = {
        "terminal_id": terminal_id.strip()[:64],
        "institution": institution.strip()[:128],
        "physical_form": physical_form,
        "environment": environment.strip()[:200],
        "usage_mode": usage_mode,
    }
    errors: Values = {}
    if not (values["terminal_id"] or values["institution"]):
        errors["terminal_id"] = page.gettext("Enter the terminal or the institution.")
    if physical_form not in {f.value for f in PsamForm}:
        errors["physical_form"] = page.gettext("Choose the physical form.")
    if usage_mode not in {m.value for m in PsamUsageMode}:
        errors["usage_mode"] = page.gettext("Choose how the terminal is operated.")
    if not values["environment"]:
        errors["environment"] = page.gettext("Fill in this field.")
    return carrier_step(
        current,
        ref,
        action="carrier.deploy",
        values=values,
        errors=errors,
        done=page.gettext("The PSAM has been deployed."),
        call=lambda cid: psam_service.deploy_psam(
            page.uow,
            carrier_id=cid,
            terminal_id=values["terminal_id"] or None,
            institution=values["institution"] or None,
            physical_form=physical_form,
            environment=values["environment"],
            usage_mode=usage_mode,
            actor=current.actor(),
        ),
    )


@router.post("/carriers/{ref}/psam/recover")
def recover_psam(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    psam_location: str = Form(""),
    psam_reason: str = Form(""),
) -> Response:
    """Withdraw a PSAM from its terminal into custody (KEY-8)."""
    page = current.page
    values = {"psam_location": psam_location.strip()[:128], "psam_reason": psam_reason.strip()[:200]}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    return carrier_step(
        current,
        ref,
        action="carrier.recover",
        values=values,
        errors=errors,
        done=page.gettext("The PSAM has been withdrawn."),
        call=lambda cid: psam_service.recover_psam(
            page.uow,
            carrier_id=cid,
            location=values["psam_location"],
            reason=values["psam_reason"],
            actor=current.actor(),
        ),
    )
