"""Security console: emergency plans, security incidents (KEY-9) and the inventory and audit reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.key_register.common import AUDIT_READ, KEYS, OFFICER, REPORTS, actor_of, read_upload, region_scope
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.refusals import refusals_audited
from sscard.api.staff_auth import StaffPrincipal
from sscard.audit import record_event
from sscard.cards.errors import CardTypeInvalid
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.key_register import incidents as service
from sscard.key_register import plans as plan_service
from sscard.key_register import reports as report_service
from sscard.key_register.errors import (
    CarrierIllegalTransition,
    CarrierNotFound,
    DocumentInvalid,
    HandoverIllegalTransition,
    IncidentCauseRequired,
    IncidentIllegalTransition,
    IncidentMeasuresPending,
    IncidentNotFound,
    KeysInvalid,
    MeasureNotFound,
    PlanNotFound,
    ReportInvalid,
)
from sscard.key_register.models import SecurityIncident
from sscard.key_register.schemas import (
    ConfirmIn,
    FindingsIn,
    IncidentCreate,
    IncidentRead,
    LossReport,
    MeasureRead,
    PlanRead,
)
from sscard.key_register.states import IncidentState
from sscard.notify.errors import NotifyInvalid
from sscard.policy.errors import PolicyInvalid
from sscard.regions.errors import RegionNotFound
from sscard.security_module.errors import KeyNotFound
from sscard.staff.errors import OutsideRegion
from sscard.terminal_registry.errors import TerminalNotFound, TerminalStateConflict

router = APIRouter(route_class=IdempotentRoute)
Format = Literal["json", "csv", "pdf"]


def _read(uow: UnitOfWork, incident: SecurityIncident) -> IncidentRead:
    read = IncidentRead.model_validate(incident)
    read.measures = [MeasureRead.model_validate(m) for m in service.measures_of(uow, incident_id=incident.id)]
    return read


# --- emergency plans --------------------------------------------------------------------------------


@router.get("/plans", response_model=list[PlanRead])
@raises(OutsideRegion)
def list_plans(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[PlanRead]:
    """Every version of a region's own emergency plan, newest first."""
    plans = plan_service.list_plans(uow, region_code=region_scope(staff, region), page=page)
    return [PlanRead.model_validate(p) for p in plans]


@router.get("/plans/in-force", response_model=PlanRead)
@raises(OutsideRegion, PlanNotFound)
def plan_in_force(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    staff: StaffPrincipal = Depends(AUDIT_READ),
    uow: UnitOfWork = TRANSACTION,
) -> PlanRead:
    """The plan governing a region today (its own, else its nearest ancestor's); 404 `PLAN_NOT_FOUND`."""
    plan = plan_service.plan_in_force(uow, region_code=region_scope(staff, region))
    if plan is None:
        raise PlanNotFound("no emergency plan covers this region; adopt one")
    return PlanRead.model_validate(plan)


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanRead)
@raises(OutsideRegion, RegionNotFound, CardTypeInvalid, DocumentInvalid, KeysInvalid, PolicyInvalid)
def adopt_plan(
    file: UploadFile = File(description="The plan document (PDF, OFD, PNG or JPEG)."),
    region_code: str = Form(pattern=r"^[0-9]{6}$"),
    title: str = Form(min_length=1, max_length=128),
    effective_from: date = Form(),
    staff: StaffPrincipal = Depends(OFFICER),
    uow: UnitOfWork = TRANSACTION,
) -> PlanRead:
    """Adopt a new version of a region's emergency plan for card security management (KEY-9)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="plan.adopt", subject=f"plan:{region_code}"):
        plan = plan_service.adopt_emergency_plan(
            uow,
            region_code=region_code,
            title=title,
            effective_from=effective_from,
            filename=file.filename or "plan",
            content=read_upload(file),
            media_type=file.content_type,
            actor=actor,
        )
    return PlanRead.model_validate(plan)


# --- incidents -------------------------------------------------------------------------------------


@router.post("/carriers/{carrier_id}/loss", status_code=status.HTTP_201_CREATED, response_model=IncidentRead)
@raises(
    OutsideRegion,
    CarrierNotFound,
    KeyNotFound,
    TerminalNotFound,
    CarrierIllegalTransition,
    HandoverIllegalTransition,
    TerminalStateConflict,
    KeysInvalid,
    NotifyInvalid,
)
def report_loss(
    carrier_id: RowId, body: LossReport, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> IncidentRead:
    """Report a lost carrier: blocked, departments notified, keys revoked and rotated, terminals blocked."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="incident.report", subject=f"carrier:{carrier_id}"):
        incident = service.report_carrier_loss(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return _read(uow, incident)


@router.get("/incidents", response_model=list[IncidentRead])
@raises(OutsideRegion)
def list_incidents(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    state: IncidentState | None = None,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[IncidentRead]:
    """Security incidents in your region, newest first, with their measures."""
    found = service.list_incidents(uow, region_code=region_scope(staff, region), state=state, page=page)
    return [_read(uow, i) for i in found]


@router.post("/incidents", status_code=status.HTTP_201_CREATED, response_model=IncidentRead)
@raises(OutsideRegion, RegionNotFound, KeysInvalid, NotifyInvalid)
def report_incident(
    body: IncidentCreate, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> IncidentRead:
    """Report another security incident; the superior department and the ministry are told at once."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="incident.report", subject=f"region:{body.region_code}"):
        incident = service.report_incident(uow, **body.model_dump(), actor=actor)
    return _read(uow, incident)


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
@raises(OutsideRegion, IncidentNotFound)
def show_incident(
    incident_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> IncidentRead:
    """An incident with every measure taken or pending."""
    incident = service.get_incident_or_raise(uow, incident_id)
    staff.ensure_region(incident.region_code)
    return _read(uow, incident)


@router.post("/incidents/{incident_id}/findings", response_model=IncidentRead)
@raises(OutsideRegion, IncidentNotFound, IncidentIllegalTransition, KeysInvalid)
def record_findings(
    incident_id: RowId, body: FindingsIn, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> IncidentRead:
    """Record the cause found and the handling done."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="incident.findings", subject=f"incident:{incident_id}"):
        incident = service.record_findings(uow, incident_id=incident_id, **body.model_dump(), actor=actor)
    return _read(uow, incident)


@router.post("/incidents/{incident_id}/measures/{measure_id}/confirm", response_model=MeasureRead)
@raises(OutsideRegion, IncidentNotFound, MeasureNotFound, IncidentIllegalTransition, KeysInvalid)
def confirm_measure(
    incident_id: RowId,
    measure_id: RowId,
    body: ConfirmIn,
    staff: StaffPrincipal = Depends(OFFICER),
    uow: UnitOfWork = TRANSACTION,
) -> MeasureRead:
    """Confirm by hand a measure a registry could not take itself."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="incident.measure_done", subject=f"incident:{incident_id}"):
        measure = service.confirm_measure(
            uow, incident_id=incident_id, measure_id=measure_id, note=body.note, actor=actor
        )
    return MeasureRead.model_validate(measure)


@router.post("/incidents/{incident_id}/close", response_model=IncidentRead)
@raises(
    OutsideRegion,
    IncidentNotFound,
    IncidentCauseRequired,
    IncidentIllegalTransition,
    IncidentMeasuresPending,
    NotifyInvalid,
)
def close_incident(
    incident_id: RowId, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> IncidentRead:
    """Close an incident: 409 `INCIDENT_CAUSE_REQUIRED` or `INCIDENT_MEASURES_PENDING` until it may."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="incident.close", subject=f"incident:{incident_id}"):
        incident = service.close_incident(uow, incident_id=incident_id, actor=actor)
    return _read(uow, incident)


# --- reports --------------------------------------------------------------------------------------

_REPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
_REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/json": {}, "text/csv": {}, "application/pdf": {}}}
}


def _file(content: bytes, fmt: str, name: str) -> Response:
    return Response(
        content,
        media_type=_REPORT_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@router.get("/reports/inventory", response_class=Response, responses=_REPORT_RESPONSES)
@raises(OutsideRegion, ReportInvalid)
def inventory_report(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    format: Format = "json",  # noqa: A002 - the query parameter's public name
    staff: StaffPrincipal = Depends(REPORTS),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """The key and carrier inventory of a region, as JSON, CSV or PDF, generated from the records."""
    scope = region_scope(staff, region)
    report = report_service.inventory_report(uow, region_code=scope)
    record_event(
        uow, actor=actor_of(staff), action="report.inventory", subject=f"region:{scope}", details={"format": format}
    )
    if format == "csv":
        return _file(report_service.inventory_csv(report), "csv", f"key-inventory-{scope}")
    if format == "pdf":
        # reportlab is loaded by the first PDF report, not at every server's start (issue 18 item 5).
        from sscard.key_register.pdf import inventory_pdf

        return _file(inventory_pdf(report), "pdf", f"key-inventory-{scope}")
    return JSONResponse(jsonable_encoder(report))


@router.get("/reports/audit", response_class=Response, responses=_REPORT_RESPONSES)
@raises(OutsideRegion, ReportInvalid)
def audit_report(
    start: datetime,
    end: datetime,
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    format: Format = "json",  # noqa: A002 - the query parameter's public name
    staff: StaffPrincipal = Depends(REPORTS),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """The key-management audit report of a period (at most a year), with the chain's integrity."""
    scope = region_scope(staff, region)
    report = report_service.audit_report(uow, region_code=scope, start=start, end=end)
    record_event(
        uow,
        actor=actor_of(staff),
        action="report.audit",
        subject=f"region:{scope}",
        details={"format": format, "start": start.isoformat(), "end": end.isoformat()},
    )
    name = f"key-audit-{scope}-{start:%Y%m%d}-{end:%Y%m%d}"
    if format == "csv":
        return _file(report_service.audit_csv(report), "csv", name)
    if format == "pdf":
        from sscard.key_register.pdf import audit_pdf  # loaded by the first PDF report (as above)

        return _file(audit_pdf(report), "pdf", name)
    return JSONResponse(jsonable_encoder(report))
