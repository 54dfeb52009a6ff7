"""Security console pages (CH-1, CH-2, KEY-9): parse the form, call the services the security API calls
(``api/key_register/``, ``api/staff.py``), render. Roles as the API: officers decide, custodians keep
carriers, auditors read; every change in ``refusals_audited`` (a refusal is audited, CH-4)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import Depends, Form, Response

from sscard.audit import Channel, record_event
from sscard.errors import DomainError
from sscard.key_register import carriers as carrier_service
from sscard.key_register import destruction as destruction_service
from sscard.key_register import devices as device_service
from sscard.key_register import handovers as handover_service
from sscard.key_register import incidents as incident_service
from sscard.key_register import plans as plan_service
from sscard.key_register import psam as psam_service
from sscard.key_register import reports as report_service
from sscard.key_register.models import PsamForm, PsamUsageMode
from sscard.key_register.models.incidents import IncidentKind, MeasureStatus
from sscard.key_register.states import CARRIER_STATE_ZH, CARRIER_TYPE_ZH, CARRIER_USABLE, carrier_events_from
from sscard.policy.schemas import POLICY_KEYS
from sscard.policy.service import get_effective_policy, list_policy_versions, set_policy
from sscard.staff.roles import Role
from sscard.staff.sessions import StaffLogin
from sscard.web.console.auth import (
    ADMIN,
    AUDIT_READ,
    KEYS,
    LOGIN_URL,
    OFFICER,
    POLICY_READ,
    REPORTS,
    StaffPage,
    console_page,
    register_sections,
    signed_in_staff,
    staff_with,
)
from sscard.web.console.policy_names import setting_name
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router
from sscard.web.refusals import refusals_audited
from sscard.web.staff_sign_in import sign_in_staff, sign_out_staff

router = page_router("console")
CHINA = timedelta(hours=8)


def _login_page(page: Page, *, status: int = 200, errors: dict[str, str] | None = None, username: str = "",
                ask_otp: bool = False) -> Response:  # fmt: skip
    # The console's roles all need the second factor: its field is always shown (``ask_otp`` unused).
    return page.render("console/login.html", status=status, title=page.gettext("Sign in"), errors=errors or {},
                       values={"username": username})  # fmt: skip


@router.get("/")
def start(page: Page = Depends(console_page)) -> Response:
    if page.auth_token() is not None:
        return page.redirect("/console/home")
    return _login_page(page)


@router.post("/login")
def login(
    page: Page = Depends(console_page), username: str = Form(""), password: str = Form(""), otp: str = Form("")
) -> Response:
    def refuse(result: StaffLogin) -> str | None:
        # The second factor is enrolled through the staff API (POST /api/v1/staff/totp/enrol), not here.
        return page.gettext("Enrol your second factor before you use the console.") if result.enrol_only else None

    return sign_in_staff(page, username=username, password=password, otp=otp, login_page=_login_page,
                         home="/console/home", refuse=refuse)  # fmt: skip


@router.post("/logout")
def logout(page: Page = Depends(console_page)) -> Response:
    return sign_out_staff(page, login_url=LOGIN_URL)


@router.get("/home")
def home(page: Page = Depends(console_page)) -> Response:
    staff = signed_in_staff(page)
    return page.render("console/home.html", title=page.gettext("Security console"), staff=staff)


# --- key inventory ----------------------------------------------------------------------------------


@router.get("/keys")
def key_inventory(current: StaffPage = Depends(staff_with(*REPORTS)), region: str = "") -> Response:
    """The key and carrier inventory of the region, generated from the records (as the API's report)."""
    page = current.page
    scope = current.region_scope(region.strip()[:6])
    report = report_service.inventory_report(page.uow, region_code=scope)
    record_event(page.uow, actor=current.actor(), action="report.inventory", subject=f"region:{scope}",
                 details={"format": "page"})  # fmt: skip
    return page.render("console/keys.html", title=page.gettext("Key inventory"), report=report, region=scope)


# --- carriers and their destruction by two witnesses (KEY-5, KEY-8) ---------------------------------------


@router.get("/carriers")
def carriers(current: StaffPage = Depends(staff_with(*AUDIT_READ)), region: str = "") -> Response:
    page = current.page
    scope = current.region_scope(region.strip()[:6])
    rows = [(page.ref({"carrier": c.id}), c) for c in carrier_service.list_carriers(page.uow, region_code=scope)]
    return page.render("console/carriers.html", title=page.gettext("Key carriers"), rows=rows, region=scope,
                       can_receive=current.staff.role in KEYS, **carrier_words(page))  # fmt: skip


def carrier_words(page: Page) -> dict[str, Any]:
    """The register's own Chinese names of carrier types and states (``key_register/states.py``)."""
    zh = page.lang == "zh_CN"
    return {"type_name": lambda t: CARRIER_TYPE_ZH[t] if zh else t.value,
            "state_name": lambda s: CARRIER_STATE_ZH[s] if zh else s.value}  # fmt: skip


def carrier_id_of(page: Page, ref: str) -> int:
    found = page.deref(ref)
    if found is None or "carrier" not in found:
        raise PageNotFound()
    return int(found["carrier"])


def carrier_page(current: StaffPage, ref: str, *, status: int = 200, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    carrier = carrier_service.get_carrier_or_raise(page.uow, carrier_id_of(page, ref))
    current.staff.ensure_region(carrier.region_code)
    pending = destruction_service.open_destruction(page.uow, carrier_id=carrier.id)
    signatures = destruction_service.signatures_of(page.uow, destruction_id=pending.id) if pending else []
    return page.render("console/carrier.html", status=status, title=page.gettext("Key carrier"), carrier=carrier,
                       keys=carrier_service.keys_on(page.uow, carrier_id=carrier.id), destruction=pending,
                       signatures=signatures, ref=ref, errors=errors or {}, values=values or {},
                       can_act=current.staff.role in KEYS, forms_psam=[f.value for f in PsamForm],
                       usage_modes=[m.value for m in PsamUsageMode],
                       deployment=psam_service.current_deployment(page.uow, carrier_id=carrier.id),
                       usage=carrier_service.usage_log(page.uow, carrier_id=carrier.id),
                       events=carrier_events_from(carrier.state), usable=carrier.state in CARRIER_USABLE,
                       can_load=current.staff.role in OFFICER, **carrier_words(page))  # fmt: skip


@router.get("/carriers/{ref}")
def carrier(ref: str, current: StaffPage = Depends(staff_with(*AUDIT_READ))) -> Response:
    return carrier_page(current, ref)


@router.post("/carriers/{ref}/destruction")
def request_destruction(
    ref: str,
    current: StaffPage = Depends(staff_with(*KEYS)),
    method: str = Form(""),
    place: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Record a destruction to be witnessed by two other people, each in their own session (KEY-8)."""
    page = current.page
    carrier_id = carrier_id_of(page, ref)
    values = {"method": method.strip()[:64], "place": place.strip()[:128], "reason": reason.strip()[:200]}
    errors = {k: page.gettext("Fill in this field.") for k, v in values.items() if not v}
    if errors:
        return carrier_page(current, ref, status=422, errors=errors, values=values)
    actor = current.actor()
    try:
        with refusals_audited(page.uow, actor=actor, action="carrier.destruction_request",
                              subject=f"carrier:{carrier_id}"):  # fmt: skip
            destruction_service.request_destruction(page.uow, carrier_id=carrier_id, **values, actor=actor)
    except DomainError as exc:
        return carrier_page(current, ref, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    page.flash(page.gettext("The destruction is recorded: two other officers or custodians must now sign it."))
    return page.redirect(f"/console/carriers/{ref}")


@router.post("/carriers/{ref}/destruction/sign")
def sign_destruction(ref: str, current: StaffPage = Depends(staff_with(*KEYS))) -> Response:
    """Sign the open destruction as a witness; the second different witness destroys the carrier."""
    page = current.page
    carrier_id = carrier_id_of(page, ref)
    pending = destruction_service.open_destruction(page.uow, carrier_id=carrier_id)
    if pending is None:
        page.flash(page.gettext("No destruction of this carrier is awaiting signatures."), "error")
        return page.redirect(f"/console/carriers/{ref}")
    actor = current.actor()
    try:
        with refusals_audited(page.uow, actor=actor, action="carrier.destruction_sign",
                              subject=f"destruction:{pending.id}"):  # fmt: skip
            record = destruction_service.sign_destruction(page.uow, destruction_id=pending.id, actor=actor)
    except DomainError as exc:
        return carrier_page(current, ref, status=exc.status, errors={"_form": page.refused(exc)})
    if record.completed_at is not None:
        page.flash(page.gettext("Second signature given: the carrier is recorded as destroyed."))
    else:
        page.flash(page.gettext("Your signature is recorded; a second witness must sign in their own session."))
    return page.redirect(f"/console/carriers/{ref}")


# --- registers: devices (KEY-4), PSAM (KEY-8), handovers (KEY-7), emergency plans (KEY-9) ---------


@router.get("/registers")
def registers(current: StaffPage = Depends(staff_with(*AUDIT_READ)), region: str = "") -> Response:
    """The certified devices, the PSAM register, handovers and emergency plans of the region, read with
    the same services and roles as the security API's listings; handovers and PSAM cards link to their
    pages, where their steps are taken (``handovers.py``); devices and plans change here (``registers.py``)."""
    return registers_page(current, current.region_scope(region.strip()[:6]))


def registers_page(current: StaffPage, scope: str, *, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    psam = psam_service.psam_register(page.uow, region_code=scope)
    handovers = handover_service.list_handovers(page.uow, region_code=scope)
    devices = device_service.list_devices(page.uow, region_code=scope)
    return page.render(
        "console/registers.html", status=status, title=page.gettext("Registers"), region=scope,
        devices=[(page.ref({"device": d.id}), d) for d in devices], psam=psam,
        handovers=[(page.ref({"handover": h.id}), h) for h in handovers],
        psam_refs={e.carrier.id: page.ref({"carrier": e.carrier.id}) for e in psam},
        overdue={h.id for h in handover_service.list_overdue_handovers(page.uow, region_code=scope)},
        plans=plan_service.list_plans(page.uow, region_code=scope),
        plan_in_force=plan_service.plan_in_force(page.uow, region_code=scope), **carrier_words(page),
        errors=errors or {}, values=values or {}, can_decide=current.staff.role in OFFICER,
    )  # fmt: skip


# --- incidents (KEY-9) --------------------------------------------------------------------------------


def _incidents_page(current: StaffPage, *, status: int = 200, errors: dict[str, str] | None = None,
                    values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    found = incident_service.list_incidents(page.uow, region_code=current.staff.region_code)
    rows = [(page.ref({"incident": i.id}), i) for i in found]
    return page.render("console/incidents.html", status=status, title=page.gettext("Security incidents"),
                       rows=rows, errors=errors or {}, values=values or {"region_code": current.staff.region_code},
                       can_report=current.staff.role in KEYS, kinds=[k.value for k in IncidentKind])  # fmt: skip


@router.get("/incidents")
def incidents(current: StaffPage = Depends(staff_with(*AUDIT_READ))) -> Response:
    return _incidents_page(current)


@router.post("/incidents")
def report_incident(
    current: StaffPage = Depends(staff_with(*KEYS)),
    region_code: str = Form(""),
    kind: str = Form(""),
    description: str = Form(""),
) -> Response:
    """Report a security incident; the superior department and the ministry are told at once (KEY-9)."""
    page = current.page
    values = {"region_code": region_code.strip()[:6], "kind": kind, "description": description.strip()[:500]}
    errors: dict[str, str] = {}
    if not (values["region_code"].isdigit() and len(values["region_code"]) == 6):
        errors["region_code"] = page.gettext("Enter a six-digit region code.")
    if kind not in {k.value for k in IncidentKind}:
        errors["kind"] = page.gettext("Choose the kind of incident.")
    if not values["description"]:
        errors["description"] = page.gettext("Describe what happened.")
    if errors:
        return _incidents_page(current, status=422, errors=errors, values=values)
    actor = current.actor()
    try:
        with refusals_audited(
            page.uow, actor=actor, action="incident.report", subject=f"region:{values['region_code']}"
        ):
            incident = incident_service.report_incident(page.uow, region_code=values["region_code"], kind=kind,
                                                        description=values["description"], actor=actor)  # fmt: skip
    except DomainError as exc:
        return _incidents_page(current, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    page.flash(page.gettext("The incident has been reported."))
    return page.redirect(f"/console/incidents/{page.ref({'incident': incident.id})}")


def incident_id_of(page: Page, ref: str) -> int:
    found = page.deref(ref)
    if found is None or "incident" not in found:
        raise PageNotFound()
    return int(found["incident"])


def incident_page(current: StaffPage, ref: str, *, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    incident = incident_service.get_incident_or_raise(page.uow, incident_id_of(page, ref))
    current.staff.ensure_region(incident.region_code)
    measures = incident_service.measures_of(page.uow, incident_id=incident.id)
    # The measures an officer may confirm by hand (not a notice: the outbox confirms those, KEY-9).
    to_confirm = {m.id: page.ref({"measure": m.id}) for m in measures
                  if m.status is MeasureStatus.PENDING and m.kind not in incident_service.NOTICE_KINDS}  # fmt: skip
    return page.render("console/incident.html", status=status, title=page.gettext("Security incident"),
                       incident=incident, measures=measures, ref=ref, errors=errors or {},
                       values=values or {"cause": incident.cause or "", "handling": incident.handling or ""},
                       can_decide=current.staff.role in OFFICER, to_confirm=to_confirm)  # fmt: skip


@router.get("/incidents/{ref}")
def incident(ref: str, current: StaffPage = Depends(staff_with(*AUDIT_READ))) -> Response:
    return incident_page(current, ref)


@router.post("/incidents/{ref}/findings")
def incident_findings(
    ref: str, current: StaffPage = Depends(staff_with(*OFFICER)), cause: str = Form(""), handling: str = Form("")
) -> Response:
    page = current.page
    incident_id = incident_id_of(page, ref)
    values = {"cause": cause.strip()[:4000], "handling": handling.strip()[:4000]}
    actor = current.actor()
    try:
        with refusals_audited(page.uow, actor=actor, action="incident.findings", subject=f"incident:{incident_id}"):
            incident_service.record_findings(page.uow, incident_id=incident_id, cause=values["cause"] or None,
                                             handling=values["handling"] or None, actor=actor)  # fmt: skip
    except DomainError as exc:
        return incident_page(current, ref, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    page.flash(page.gettext("The findings have been recorded."))
    return page.redirect(f"/console/incidents/{ref}")


@router.post("/incidents/{ref}/close")
def incident_close(ref: str, current: StaffPage = Depends(staff_with(*OFFICER))) -> Response:
    page = current.page
    incident_id = incident_id_of(page, ref)
    actor = current.actor()
    try:
        with refusals_audited(page.uow, actor=actor, action="incident.close", subject=f"incident:{incident_id}"):
            incident_service.close_incident(page.uow, incident_id=incident_id, actor=actor)
    except DomainError as exc:
        return incident_page(current, ref, status=exc.status, errors={"_form": page.refused(exc)})
    page.flash(page.gettext("The incident has been closed."))
    return page.redirect(f"/console/incidents/{ref}")


# --- policy versions (administrators set, administrators and auditors read; CH-2) --------------------------


def _policy_page(current: StaffPage, region: str, *, status: int = 200, errors: dict[str, str] | None = None,
                 values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    current.staff.ensure_region(region)
    policy = get_effective_policy(page.uow, region_code=region)
    versions = list(reversed(list_policy_versions(page.uow, region_code=region)))
    effective = policy.values()
    names = {k: page.gettext(setting_name(k)) for k in POLICY_KEYS}
    rows = [
        (names.get(k, k), k, json.dumps(effective[k], ensure_ascii=False, default=str), policy.sources.get(k, ""))
        for k in effective
    ]
    options = [(k, f"{names[k]} ({k})") for k in POLICY_KEYS]
    return page.render("console/policy.html", status=status, title=page.gettext("Policy"), region=region,
                       rows=rows, versions=versions, options=options, errors=errors or {},
                       values=values or {}, can_set=current.staff.role in ADMIN)  # fmt: skip


@router.get("/policy")
def policy(current: StaffPage = Depends(staff_with(*POLICY_READ)), region: str = "") -> Response:
    """The policy in force for a region, which version set each value, and every version (who, when, why)."""
    return _policy_page(current, current.region_scope(region.strip()[:6]))


def _policy_value(text: str) -> Any:
    """A value as typed: JSON (numbers, true/false, lists) where it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@router.post("/policy")
def policy_set(
    current: StaffPage = Depends(staff_with(*ADMIN)),
    region_code: str = Form(""),
    key: str = Form(""),
    value: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Record a new version of a region's policy with its reason (audited), as ``POST /api/v1/admin/policy``."""
    page = current.page
    region = region_code.strip()[:6] or current.staff.region_code
    values = {"key": key, "value": value.strip()[:500], "reason": reason.strip()[:200]}
    errors: dict[str, str] = {}
    if key not in POLICY_KEYS:
        errors["key"] = page.gettext("Choose the setting to change.")
    if not values["value"]:
        errors["value"] = page.gettext("Fill in this field.")
    if len(values["reason"]) < 3:
        errors["reason"] = page.gettext("Give the reason for the change (at least 3 characters).")
    if errors:
        return _policy_page(current, current.region_scope(region), status=422, errors=errors, values=values)
    current.staff.ensure_region(region)
    try:
        set_policy(page.uow, region_code=region, values={key: _policy_value(values["value"])},
                   reason=values["reason"], actor=current.staff.actor(Channel.ADMIN))  # fmt: skip
    except DomainError as exc:
        return _policy_page(current, region, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    page.flash(page.gettext("A new policy version has been recorded."))
    return page.redirect(f"/console/policy?region={region}")


# --- audit ------------------------------------------------------------------------------------------


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


@router.get("/audit")
def audit(
    current: StaffPage = Depends(staff_with(*REPORTS)),
    start: str = "",
    end: str = "",
    action: str = "",
    actor: str = "",
    subject: str = "",
    region: str = "",
) -> Response:
    """Search the audit log of a period (China days, at most a year) by action, actor and subject, with
    the chain's verification status (as ``GET /api/v1/security/reports/audit``). Auditors search every
    action (CH-4); a security officer the key-management ones of the security report."""
    page = current.page
    today = (datetime.now(UTC) + CHINA).date()
    first, last = parse_day(start) or today - timedelta(days=6), parse_day(end) or today
    errors: dict[str, str] = {}
    if (start and parse_day(start) is None) or (end and parse_day(end) is None):
        errors["start"] = page.gettext("Enter the dates as YYYY-MM-DD.")
    scope = current.region_scope(region.strip()[:6])
    lower = datetime.combine(first, time(), tzinfo=UTC) - CHINA
    upper = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC) - CHINA
    everything = current.staff.role is Role.AUDITOR
    search = report_service.AuditSearch(
        region_code=scope, start=lower, end=upper, action=action.strip()[:64], actor=actor.strip()[:64],
        subject=subject.strip()[:128], within=None if everything else report_service.AUDIT_PREFIXES,
    )  # fmt: skip
    report, more = None, False
    entries: list[Any] = []
    try:
        report = report_service.audit_chain(page.uow, region_code=scope, start=lower, end=upper)
        entries, more = report_service.search_audit(page.uow, search)
    except DomainError as exc:
        errors["_form"] = page.error_message(exc)
    if report is not None:
        used = [k for k in ("action", "actor", "subject") if getattr(search, k)]  # which, not what (no data)
        record_event(page.uow, actor=current.actor(), action="report.audit", subject=f"region:{scope}",
                     details={"format": "page", "start": lower.isoformat(), "end": upper.isoformat(),
                              "filters": used, "all_actions": everything})  # fmt: skip
    return page.render("console/audit.html", status=422 if errors else 200, title=page.gettext("Audit log"),
                       report=report, entries=entries, more=more, everything=everything, errors=errors,
                       values={"start": first.isoformat(), "end": last.isoformat(), "action": search.action,
                               "actor": search.actor, "subject": search.subject, "region": scope})  # fmt: skip


# The menu shows each role the sections whose routes admit it (read from the routes' dependencies).
register_sections(router, ("/console/keys", "/console/carriers", "/console/registers", "/console/incidents",
                           "/console/audit", "/console/policy"))  # fmt: skip
