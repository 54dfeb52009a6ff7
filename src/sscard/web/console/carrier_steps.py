"""Console steps on key carriers (KEY-5, KEY-9): receive carriers from the ministry, one or a whole
delivery receipt; load a key onto a carrier (officers); put a carrier into custody; log a use; report it
lost. The same services, roles and refusal audit as ``api/key_register/routes.py`` and ``incidents.py``
(``POST /carriers``, ``/carriers/receipts``, ``/carriers/{id}/keys``, ``/store``, ``/uses``, ``/loss``).

Mounted before ``routes.py``: ``/carriers/receive`` and ``/carriers/receipt`` are pages, not carrier refs."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Depends, Form, Response

from sscard.key_register import carriers as service
from sscard.key_register import incidents as incident_service
from sscard.key_register.states import CarrierType
from sscard.web.console.auth import KEYS, OFFICER, StaffPage, staff_with
from sscard.web.console.handovers import carrier_step
from sscard.web.console.routes import carrier_words, parse_day
from sscard.web.console.steps import run_step
from sscard.web.page import Page, page_router

router = page_router("console")
Values = dict[str, str]
RECEIPT_LINES = 6  # rows of the receipt form; blank rows are left out


Line = tuple[str, str, str]  # a receipt line as typed: type, serial, holder


def _receive_page(current: StaffPage, *, several: bool, status: int = 200, errors: Values | None = None,
                  values: Values | None = None, lines: list[Line] | None = None) -> Response:  # fmt: skip
    page = current.page
    blank = [("", "", "")] * RECEIPT_LINES
    return page.render(
        "console/carrier_new.html", status=status, several=several, errors=errors or {},
        title=page.gettext("Receive a delivery receipt") if several else page.gettext("Receive a key carrier"),
        values=values or {"region_code": current.staff.region_code}, lines=(lines or []) + blank[len(lines or []):],
        types=list(CarrierType), **carrier_words(page),
    )  # fmt: skip


@router.get("/carriers/receive")
def receive_form(current: StaffPage = Depends(staff_with(*KEYS))) -> Response:
    return _receive_page(current, several=False)


@router.get("/carriers/receipt")
def receipt_form(current: StaffPage = Depends(staff_with(*KEYS))) -> Response:
    return _receive_page(current, several=True)


def _receipt(page: Page, values: Values) -> tuple[Values, date | None]:
    """The delivery receipt's fields as typed (errors by field) and its date, for both forms."""
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v and k != "holder"}
    if values["region_code"] and not (values["region_code"].isdigit() and len(values["region_code"]) == 6):
        errors["region_code"] = page.gettext("Enter a six-digit region code.")
    day = parse_day(values["received_on"])
    if values["received_on"] and day is None:
        errors["received_on"] = page.gettext("Enter the dates as YYYY-MM-DD.")
    return errors, day


def _header(region_code: str, receipt_no: str, received_on: str, received_from: str, location: str) -> Values:
    return {"region_code": region_code.strip()[:6], "receipt_no": receipt_no.strip()[:64], "received_on": received_on,
            "received_from": received_from.strip()[:128], "location": location.strip()[:128]}  # fmt: skip


def _fields(values: Values, day: date | None) -> dict[str, Any]:
    """The receipt's fields as the service takes them (the day only once it parsed)."""
    return {**{k: values[k] for k in ("region_code", "receipt_no", "received_from", "location")},
            "received_on": day or date.min}  # fmt: skip


@router.post("/carriers")
def receive_carrier(
    current: StaffPage = Depends(staff_with(*KEYS)),
    carrier_type: str = Form(""),
    serial: str = Form(""),
    holder: str = Form(""),
    region_code: str = Form(""),
    receipt_no: str = Form(""),
    received_on: str = Form(""),
    received_from: str = Form(""),
    location: str = Form(""),
) -> Response:
    """Register one carrier received from the ministry, with its receipt (KEY-5), as ``POST /carriers``."""
    page = current.page
    values = {"carrier_type": carrier_type, "serial": serial.strip()[:64], "holder": holder.strip()[:128],
              **_header(region_code, receipt_no, received_on, received_from, location)}  # fmt: skip
    errors, day = _receipt(page, values)
    if carrier_type not in {t.value for t in CarrierType}:
        errors["carrier_type"] = page.gettext("Choose the type of carrier.")

    def again(status: int, errs: Values) -> Response:
        return _receive_page(current, several=False, status=status, errors=errs, values=values)

    if errors:
        return again(422, errors)
    return run_step(
        current, action="carrier.receive", subject=f"carrier:{carrier_type}/{values['serial']}", again=again,
        done=page.gettext("The carrier has been registered."),
        call=lambda: service.receive_carrier(page.uow, carrier_type=carrier_type, serial=values["serial"],
                                             holder=values["holder"] or None, **_fields(values, day),
                                             actor=current.actor()),
        to=lambda made: f"/console/carriers/{page.ref({'carrier': made.id})}",
    )  # fmt: skip


@router.post("/carriers/receipts")
def receive_receipt(
    current: StaffPage = Depends(staff_with(*KEYS)),
    region_code: str = Form(""),
    receipt_no: str = Form(""),
    received_on: str = Form(""),
    received_from: str = Form(""),
    location: str = Form(""),
    line_type: list[str] = Form([]),
    line_serial: list[str] = Form([]),
    line_holder: list[str] = Form([]),
) -> Response:
    """Register every carrier of one ministry delivery receipt, all or none (KEY-5), as ``/carriers/receipts``."""
    page = current.page
    values = _header(region_code, receipt_no, received_on, received_from, location)
    errors, day = _receipt(page, values)
    rows = list(zip(line_type, line_serial, line_holder, strict=False))[:RECEIPT_LINES]
    lines = [(t, s.strip()[:64], h.strip()[:128]) for t, s, h in rows if s.strip()]
    if not lines:
        errors["line_serial-1"] = page.gettext("List at least one carrier of the receipt.")
    for n, (kind, _, _) in enumerate(lines, start=1):
        if kind not in {t.value for t in CarrierType}:
            errors[f"line_type-{n}"] = page.gettext("Choose the type of carrier %(n)s.") % {"n": n}

    def again(status: int, errs: Values) -> Response:
        return _receive_page(current, several=True, status=status, errors=errs, values=values, lines=lines)

    if errors:
        return again(422, errors)
    return run_step(
        current, action="carrier.receive", subject=f"receipt:{values['receipt_no']}", again=again,
        done=page.gettext("The carriers of the receipt have been registered."), to="/console/carriers",
        call=lambda: service.receive_receipt(
            page.uow, **_fields(values, day), actor=current.actor(),
            lines=[service.ReceiptLine(carrier_type=t, serial=s, holder=h or None) for t, s, h in lines]),
    )  # fmt: skip


# --- on a carrier's page ------------------------------------------------------------------------------


@router.post("/carriers/{ref}/keys")
def load_key(ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), key_label: str = Form("")) -> Response:
    """Record that the carrier holds the key with this inventory label, so that a loss revokes it (KEY-9)."""
    page = current.page
    values = {"key_label": key_label.strip()[:64]}
    errors = {} if values["key_label"] else {"key_label": page.gettext("Fill in this field.")}
    return carrier_step(
        current, ref, action="carrier.load_key", values=values, errors=errors,
        done=page.gettext("The key is recorded on the carrier."),
        call=lambda cid: service.load_key(page.uow, carrier_id=cid, key_label=values["key_label"],
                                          actor=current.actor()),
    )  # fmt: skip


@router.post("/carriers/{ref}/store")
def store_carrier(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    store_location: str = Form(""),
    store_purpose: str = Form(""),
) -> Response:
    """Put the carrier into custody (the safe), held by the one who stores it."""
    page = current.page
    values = {"store_location": store_location.strip()[:128], "store_purpose": store_purpose.strip()[:200]}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    return carrier_step(
        current, ref, action="carrier.store", values=values, errors=errors,
        done=page.gettext("The carrier is in custody."),
        call=lambda cid: service.store_carrier(page.uow, carrier_id=cid, location=values["store_location"],
                                               purpose=values["store_purpose"], actor=current.actor()),
    )  # fmt: skip


@router.post("/carriers/{ref}/uses")
def record_use(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    use_location: str = Form(""),
    use_purpose: str = Form(""),
    use_count: str = Form("1"),
) -> Response:
    """Log a use of the carrier with where and why (KEY-5)."""
    page = current.page
    values = {"use_location": use_location.strip()[:128], "use_purpose": use_purpose.strip()[:200],
              "use_count": use_count.strip()[:7]}  # fmt: skip
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    if values["use_count"] and not values["use_count"].isdigit():
        errors["use_count"] = page.gettext("Enter a whole number.")
    count = int(values["use_count"]) if values["use_count"].isdigit() else 0  # the service checks the range
    return carrier_step(
        current, ref, action="carrier.use", values=values, errors=errors,
        done=page.gettext("The use has been logged."),
        call=lambda cid: service.record_carrier_use(page.uow, carrier_id=cid, location=values["use_location"],
                                                    purpose=values["use_purpose"], count=count,
                                                    actor=current.actor()),
    )  # fmt: skip


@router.post("/carriers/{ref}/loss")
def report_loss(
    ref: str, current: StaffPage = Depends(staff_with(*KEYS)), loss_description: str = Form("")
) -> Response:
    """Report the carrier lost: blocked, departments told, its keys revoked and rotated (KEY-9); the
    incident's page follows, with the measures taken and those to confirm."""
    page = current.page
    values = {"loss_description": loss_description.strip()[:500]}
    errors = {} if values["loss_description"] else {"loss_description": page.gettext("Describe what happened.")}
    return carrier_step(
        current, ref, action="incident.report", values=values, errors=errors,
        done=page.gettext("The loss is reported: the carrier is blocked and its keys revoked."),
        call=lambda cid: incident_service.report_carrier_loss(
            page.uow, carrier_id=cid, description=values["loss_description"], actor=current.actor()),
        to=lambda incident: f"/console/incidents/{page.ref({'incident': incident.id})}",
    )  # fmt: skip
