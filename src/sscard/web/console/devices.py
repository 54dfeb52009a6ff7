"""Console pages of the certified devices (KEY-4) and their certificate alerts: renew a device's model
certificate, move it, record a certificate's revocation, sweep every certificate now, and acknowledge
an alert, with the services, roles (officers act; custodians and auditors read, CH-2) and refusal audit
of the security API (``api/key_register/routes.py``). Registering and retiring stay on the registers
page (``registers.py``). None of these steps is a two-person step in the API, nor here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Depends, Form, Response

from sscard.db.pagination import Keyset
from sscard.key_register import devices as service
from sscard.web.console.auth import AUDIT_READ, OFFICER, StaffPage, register_sections, staff_with
from sscard.web.console.routes import parse_day
from sscard.web.console.steps import run_step
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router

router = page_router("console")
Values = dict[str, str]
ISSUER = "国家密码管理局"  # the national cryptography administration, the API's default issuer


def _id_of(page: Page, ref: str, kind: str) -> int:
    found = page.deref(ref)
    if found is None or kind not in found:
        raise PageNotFound()
    return int(found[kind])


def _filled(page: Page, values: Values) -> Values:
    return {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}


# --- the device list: revocations and the sweep -------------------------------------------------------


def devices_page(current: StaffPage, *, region: str = "", status: int = 200, errors: Values | None = None,
                 values: Values | None = None) -> Response:  # fmt: skip
    page = current.page
    scope = current.region_scope(region)
    found = service.list_devices(page.uow, region_code=scope)
    return page.render("console/devices.html", status=status, title=page.gettext("Certified devices"),
                       region=scope, devices=[(page.ref({"device": d.id}), d) for d in found], errors=errors or {},
                       values=values or {}, can_decide=current.staff.role in OFFICER)  # fmt: skip


@router.get("/devices")
def devices(current: StaffPage = Depends(staff_with(*AUDIT_READ)), region: str = "") -> Response:
    """The certified devices of the region (or of a sub-region), each linking to its page."""
    return devices_page(current, region=region.strip()[:6])


@router.post("/devices/certificate-revocations")
def revoke_certificate(
    current: StaffPage = Depends(staff_with(*OFFICER)),
    revoked_certificate: str = Form(""),
    revoke_reason: str = Form(""),
) -> Response:
    """Record that a model certificate was revoked: every device on it is blocked and alerted (KEY-4)."""
    page = current.page
    values = {"revoked_certificate": revoked_certificate.strip()[:64], "revoke_reason": revoke_reason.strip()[:200]}
    errors = _filled(page, values)
    if errors:
        return devices_page(current, status=422, errors=errors, values=values)
    return run_step(
        current, action="device.certificate_revoke", subject=f"cert:{values['revoked_certificate']}",
        call=lambda: service.revoke_certificate(page.uow, certificate_no=values["revoked_certificate"],
                                                reason=values["revoke_reason"], actor=current.actor()),
        done=lambda blocked: page.gettext("The revocation is recorded; devices blocked: %(n)s.")
        % {"n": len(blocked)},
        again=lambda status, errs: devices_page(current, status=status, errors=errs, values=values),
        to="/console/devices",
    )  # fmt: skip


@router.post("/devices/sweep")
def sweep(current: StaffPage = Depends(staff_with(*OFFICER))) -> Response:
    """Check every certificate now: block lapsed or revoked devices, warn of those expiring within 30 days."""
    page = current.page
    return run_step(
        current, action="device.sweep", subject=f"region:{current.staff.region_code}",
        call=lambda: service.sweep_certificates(page.uow),
        done=lambda report: page.gettext(
            "Certificates checked; devices blocked: %(blocked)s, warned of expiry: %(warned)s."
        ) % {"blocked": len(report.blocked), "warned": len(report.warned)},
        again=lambda status, errs: devices_page(current, status=status, errors=errs), to="/console/devices",
    )  # fmt: skip


# --- one device: renew its certificate, move it ------------------------------------------------------


def device_page(current: StaffPage, ref: str, *, status: int = 200, errors: Values | None = None,
                values: Values | None = None) -> Response:  # fmt: skip
    page = current.page
    device = service.get_device_or_raise(page.uow, _id_of(page, ref, "device"))
    current.staff.ensure_region(device.region_code)
    return page.render("console/device.html", status=status, title=page.gettext("Certified device"), ref=ref,
                       device=device, errors=errors or {}, values=values or {"certificate_issuer": ISSUER},
                       can_decide=current.staff.role in OFFICER)  # fmt: skip


@router.get("/devices/{ref}")
def device(ref: str, current: StaffPage = Depends(staff_with(*AUDIT_READ))) -> Response:
    return device_page(current, ref)


def _device_step(current: StaffPage, ref: str, *, action: str, values: Values, errors: Values,
                 call: Callable[[int], Any], done: str) -> Response:  # fmt: skip
    """One step on a device; its page again with the errors when refused."""
    device_id = _id_of(current.page, ref, "device")
    if errors:
        return device_page(current, ref, status=422, errors=errors, values=values)
    return run_step(current, action=action, subject=f"device:{device_id}", call=lambda: call(device_id), done=done,
                    to=f"/console/devices/{ref}",
                    again=lambda status, errs: device_page(current, ref, status=status, errors=errs,
                                                           values=values))  # fmt: skip


@router.post("/devices/{ref}/certificate")
def renew_certificate(
    ref: str,
    current: StaffPage = Depends(staff_with(*OFFICER)),
    certificate_no: str = Form(""),
    certificate_issuer: str = Form(""),
    valid_from: str = Form(""),
    valid_until: str = Form(""),
) -> Response:
    """Record the device's new model certificate; a device blocked for its old one returns to service."""
    page = current.page
    values = {"certificate_no": certificate_no.strip()[:64], "certificate_issuer": certificate_issuer.strip()[:128],
              "valid_from": valid_from, "valid_until": valid_until}  # fmt: skip
    errors = _filled(page, values)
    start, end = parse_day(valid_from), parse_day(valid_until)
    for name, day in (("valid_from", start), ("valid_until", end)):
        if values[name] and day is None:
            errors[name] = page.gettext("Enter the dates as YYYY-MM-DD.")
    return _device_step(
        current, ref, action="device.certificate_renew", values=values, errors=errors,
        done=page.gettext("The new certificate has been recorded."),
        call=lambda device_id: service.renew_certificate(
            page.uow, device_id=device_id, certificate_no=values["certificate_no"],
            certificate_issuer=values["certificate_issuer"], certificate_valid_from=start or date.min,  # parsed
            certificate_valid_until=end or date.min, actor=current.actor()),
    )  # fmt: skip


@router.post("/devices/{ref}/move")
def move_device(ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), new_location: str = Form("")) -> Response:
    """Record the device's new location."""
    page = current.page
    values = {"new_location": new_location.strip()[:128]}
    return _device_step(
        current, ref, action="device.move", values=values, errors=_filled(page, values),
        done=page.gettext("The device's new location has been recorded."),
        call=lambda device_id: service.move_device(page.uow, device_id=device_id, location=values["new_location"],
                                                   actor=current.actor()),
    )  # fmt: skip


# --- certificate alerts ---------------------------------------------------------------------------------

ALERTS_SHOWN = 200  # the newest alerts of the region; older acknowledged ones stay in the audit log


def alerts_page(current: StaffPage, *, every: bool, status: int = 200, errors: Values | None = None) -> Response:
    page = current.page
    shown = Keyset(limit=ALERTS_SHOWN)
    found = service.list_alerts(page.uow, region_code=current.staff.region_code, open_only=not every, page=shown)
    rows = [(page.ref({"alert": a.id}), page.ref({"device": a.device_id}), a) for a in found]
    return page.render("console/alerts.html", status=status, title=page.gettext("Device alerts"), rows=rows,
                       every=every, more=shown.next_after is not None, errors=errors or {},
                       can_decide=current.staff.role in OFFICER)  # fmt: skip


@router.get("/alerts")
def alerts(current: StaffPage = Depends(staff_with(*AUDIT_READ)), every: str = "") -> Response:
    """The region's device certificate alerts: the open ones, or all with ``every=1``."""
    return alerts_page(current, every=every == "1")


@router.post("/alerts/{ref}/acknowledge")
def acknowledge_alert(ref: str, current: StaffPage = Depends(staff_with(*OFFICER))) -> Response:
    """Acknowledge an alert (the device stays blocked until it is recertified)."""
    page = current.page
    alert_id = _id_of(page, ref, "alert")
    return run_step(
        current, action="device.alert_ack", subject=f"alert:{alert_id}",
        call=lambda: service.acknowledge_alert(page.uow, alert_id=alert_id, actor=current.actor()),
        done=page.gettext("The alert has been acknowledged."), to="/console/alerts",
        again=lambda status, errs: alerts_page(current, every=False, status=status, errors=errs),
    )  # fmt: skip


register_sections(router, ("/console/devices", "/console/alerts"))
