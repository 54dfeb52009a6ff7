"""Console follow-ups (KEY-7, KEY-9): the handovers overdue for return, the supervision log written by a
handover's assigned supervisor in their own session (``NOT_SUPERVISOR`` for anyone else), and an
incident's measure confirmed by hand by an officer. The same services, roles and refusal audit as
``api/key_register/handovers.py`` and ``incidents.py``.

Mounted before ``handovers.py``: ``/handovers/overdue`` is a page, not a handover ref."""

from __future__ import annotations

from fastapi import Depends, Form, Response

from sscard.key_register import handovers as handover_service
from sscard.key_register import incidents as incident_service
from sscard.web.console.auth import AUDIT_READ, KEYS, OFFICER, StaffPage, staff_with
from sscard.web.console.handovers import handover_id_of, handover_page
from sscard.web.console.routes import incident_id_of, incident_page
from sscard.web.console.steps import run_step
from sscard.web.errors import PageNotFound
from sscard.web.page import page_router

router = page_router("console")


@router.get("/handovers/overdue")
def overdue(current: StaffPage = Depends(staff_with(*AUDIT_READ)), region: str = "") -> Response:
    """Carriers still with a third party after their return date (KEY-7), as ``GET /handovers/overdue``."""
    page = current.page
    scope = current.region_scope(region.strip()[:6])
    found = handover_service.list_overdue_handovers(page.uow, region_code=scope)
    return page.render("console/handovers_overdue.html", title=page.gettext("Overdue handovers"), region=scope,
                       rows=[(page.ref({"handover": h.id}), h) for h in found])  # fmt: skip


@router.post("/handovers/{ref}/supervision")
def record_supervision(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    seen_location: str = Form(""),
    observation: str = Form(""),
) -> Response:
    """The assigned supervisor records what they observed of the third party's use, until it comes back."""
    page = current.page
    handover_id = handover_id_of(page, ref)
    values = {"seen_location": seen_location.strip()[:128], "observation": observation.strip()[:500]}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}

    def again(status: int, errs: dict[str, str]) -> Response:
        return handover_page(current, ref, status=status, errors=errs, values=values)

    if errors:
        return again(422, errors)
    return run_step(
        current, action="handover.supervise", subject=f"handover:{handover_id}", again=again,
        to=f"/console/handovers/{ref}", done=page.gettext("Your observation is recorded in the supervision log."),
        call=lambda: handover_service.record_supervision(page.uow, handover_id=handover_id,
                                                         location=values["seen_location"],
                                                         observation=values["observation"], actor=current.actor()),
    )  # fmt: skip


@router.post("/incidents/{ref}/measures/{measure_ref}/confirm")
def confirm_measure(
    ref: str, measure_ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), note: str = Form("")
) -> Response:
    """Confirm by hand a measure a registry could not take itself (a key rotated at the HSM console)."""
    page = current.page
    incident_id = incident_id_of(page, ref)
    found = page.deref(measure_ref)
    if found is None or "measure" not in found:
        raise PageNotFound()
    measure_id, text = int(found["measure"]), note.strip()[:180]

    def again(status: int, errs: dict[str, str]) -> Response:
        return incident_page(current, ref, status=status, errors=errs)

    if not text:
        return again(422, {f"note-{measure_ref}": page.gettext("Say how the measure was taken.")})
    return run_step(
        current, action="incident.measure_done", subject=f"incident:{incident_id}", again=again,
        to=f"/console/incidents/{ref}", done=page.gettext("The measure is confirmed."),
        call=lambda: incident_service.confirm_measure(page.uow, incident_id=incident_id, measure_id=measure_id,
                                                      note=text, actor=current.actor()),
    )  # fmt: skip
