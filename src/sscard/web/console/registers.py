"""Console steps on the device and plan registers: register and retire certified devices (KEY-4) and
adopt an emergency plan (KEY-9), officers only, with the same services and refusal audit as the
security API (``api/key_register/routes.py``, ``incidents.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Depends, File, Form, Response, UploadFile

from sscard.key_register import devices as device_service
from sscard.key_register import plans as plan_service
from sscard.web.console.auth import OFFICER, StaffPage, staff_with
from sscard.web.console.routes import parse_day, registers_page
from sscard.web.console.steps import run_step, upload
from sscard.web.errors import PageNotFound
from sscard.web.page import page_router

router = page_router("console")
Values = dict[str, str]


def _change(current: StaffPage, *, action: str, subject: str, values: Values, errors: Values,
            call: Callable[[], Any], done: str) -> Response:  # fmt: skip
    """One register change; the registers page again with its errors when refused."""
    scope = current.staff.region_code
    if errors:
        return registers_page(current, scope, status=422, errors=errors, values=values)
    return run_step(current, action=action, subject=subject, call=call, done=done, to="/console/registers",
                    again=lambda status, errs: registers_page(current, scope, status=status, errors=errs,
                                                              values=values))  # fmt: skip


@router.post("/devices")
def register_device(
    current: StaffPage = Depends(staff_with(*OFFICER)),
    model: str = Form(""),
    serial: str = Form(""),
    manufacturer: str = Form(""),
    certificate_no: str = Form(""),
    valid_from: str = Form(""),
    valid_until: str = Form(""),
    device_location: str = Form(""),
) -> Response:
    """Register an encryption machine with its commercial cryptography model certificate (KEY-4)."""
    page = current.page
    values = {
        "model": model.strip()[:64],
        "serial": serial.strip()[:64],
        "certificate_no": certificate_no.strip()[:64],
        "device_location": device_location.strip()[:128],
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    start, end = parse_day(valid_from), parse_day(valid_until)  # (called only when both parsed)
    for name, day in (("valid_from", start), ("valid_until", end)):
        if values[name] and day is None:
            errors[name] = page.gettext("Enter the dates as YYYY-MM-DD.")
    values["manufacturer"] = manufacturer.strip()[:128]
    return _change(
        current,
        action="device.register",
        subject=f"device:{values['model']}/{values['serial']}",
        values=values,
        errors=errors,
        done=page.gettext("The device has been registered."),
        call=lambda: device_service.register_device(
            page.uow,
            model=values["model"],
            serial=values["serial"],
            manufacturer=values["manufacturer"],
            certificate_no=values["certificate_no"],
            certificate_issuer="国家密码管理局",
            certificate_valid_from=start or date.min,
            certificate_valid_until=end or date.min,
            location=values["device_location"],
            region_code=current.staff.region_code,
            actor=current.actor(),
        ),
    )


@router.post("/devices/{ref}/retire")
def retire_device(
    ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), retire_reason: str = Form("")
) -> Response:
    """Take a device out of service for good."""
    page = current.page
    found = page.deref(ref)
    if found is None or "device" not in found:
        raise PageNotFound()
    device_id = int(found["device"])
    values = {"retire_reason": retire_reason.strip()[:200]}
    errors = {} if values["retire_reason"] else {"retire_reason": page.gettext("Fill in this field.")}
    return _change(
        current,
        action="device.retire",
        subject=f"device:{device_id}",
        values=values,
        errors=errors,
        done=page.gettext("The device has been retired."),
        call=lambda: device_service.retire_device(
            page.uow, device_id=device_id, reason=values["retire_reason"], actor=current.actor()
        ),
    )


@router.post("/plans")
def adopt_plan(
    current: StaffPage = Depends(staff_with(*OFFICER)),
    plan_title: str = Form(""),
    effective_from: str = Form(""),
    plan_document: UploadFile | None = File(None),
) -> Response:
    """Adopt a new version of the region's emergency plan for card security management (KEY-9)."""
    page = current.page
    values = {"plan_title": plan_title.strip()[:128], "effective_from": effective_from}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    day = parse_day(effective_from)
    if effective_from and day is None:
        errors["effective_from"] = page.gettext("Enter the dates as YYYY-MM-DD.")
    region = current.staff.region_code

    def call() -> Any:
        return plan_service.adopt_emergency_plan(
            page.uow, region_code=region, title=values["plan_title"], effective_from=day or date.min,  # parsed
            **upload(plan_document), actor=current.actor(),
        )  # fmt: skip

    return _change(
        current,
        action="plan.adopt",
        subject=f"plan:{region}",
        values=values,
        errors=errors,
        call=call,
        done=page.gettext("The emergency plan has been adopted."),
    )
