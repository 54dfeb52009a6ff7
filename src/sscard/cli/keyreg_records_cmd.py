"""``sscard keys handovers|plans|incidents|report``: third-party handovers (KEY-7), emergency plans
and incidents (KEY-9), and the inventory and audit reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sscard.cli.common import RowIdArg, console, handle_errors, staff_only
from sscard.cli.keyreg_common import (
    KEY_ROLES,
    OFFICER_ONLY,
    AsOption,
    JsonOption,
    columns_of,
    emit,
    parse_date,
    parse_time,
    read,
    run,
    table,
)

if TYPE_CHECKING:  # imported when a command runs (keyreg_common.py)
    from sscard.db.session import UnitOfWork

handovers = typer.Typer(help="Handing a carrier to a third party (KEY-7).", no_args_is_help=True)
plans = typer.Typer(help="Emergency plans per region (KEY-9).", no_args_is_help=True)
incidents = typer.Typer(help="Security incidents (KEY-9).", no_args_is_help=True)
report = typer.Typer(help="Inventory and audit reports (CSV, PDF, JSON).", no_args_is_help=True)

HANDOVER_COLS = ("id", "carrier_id", "third_party", "state", "due_back_at", "supervisor", "requested_by")
INCIDENT_COLS = ("id", "region_code", "kind", "carrier_id", "state", "reported_at", "reported_by")
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The signed document.")]


def register(app: typer.Typer) -> None:
    app.add_typer(handovers, name="handovers")
    app.add_typer(plans, name="plans")
    app.add_typer(incidents, name="incidents")
    app.add_typer(report, name="report")


def _step(action: str, handover_id: int, as_user: str | None, fn: Any, **kwargs: Any) -> dict[str, Any]:
    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        return columns_of(fn(uow, handover_id=handover_id, actor=actor, **kwargs), HANDOVER_COLS)

    roles = OFFICER_ONLY if action == "supervisor" else KEY_ROLES
    return run(as_user, f"handover.{action}", f"handover:{handover_id}", work, roles=roles)


@handovers.command("request")
@handle_errors
@staff_only
def handover_request(
    carrier_id: RowIdArg,
    third_party: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    due_back: Annotated[str, typer.Option(help="Return date/time (ISO 8601; Beijing time without offset).")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open the handover of a carrier to a third party."""
    from sscard.key_register.handovers import request_handover

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        handover = request_handover(
            uow,
            carrier_id=carrier_id,
            third_party=third_party,
            purpose=purpose,
            due_back_at=parse_time(due_back, "due_back"),
            actor=actor,
        )
        return columns_of(handover, HANDOVER_COLS)

    result = run(as_user, "handover.request", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"handover {result['id']} requested; it needs record, agreement, approved plan, supervisor")


@handovers.command("record")
@handle_errors
@staff_only
def handover_record(
    handover_id: RowIdArg,
    record_no: Annotated[str, typer.Option()],
    recipient: Annotated[str, typer.Option(help="The third party's receiving representative.")],
    items: Annotated[str, typer.Option(help="What changes hands (with seal numbers).")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Condition 1: write the handover record."""
    from sscard.key_register.handovers import write_handover_record

    result = _step(
        "record", handover_id, as_user, write_handover_record, record_no=record_no, recipient=recipient, items=items
    )
    emit(result, as_json, f"handover {handover_id}: record {record_no} written")


@handovers.command("agreement")
@handle_errors
@staff_only
def handover_agreement(
    handover_id: RowIdArg,
    file: FileArg,
    signed_on: Annotated[str, typer.Option(help="Date the agreement was signed (YYYY-MM-DD).")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Condition 2: attach the signed confidentiality agreement (kept with its SHA-256)."""
    from sscard.key_register.handovers import attach_agreement

    result = _step(
        "agreement",
        handover_id,
        as_user,
        attach_agreement,
        filename=file.name,
        content=file.read_bytes(),
        signed_on=parse_date(signed_on, "signed_on"),
    )
    emit(result, as_json, f"handover {handover_id}: confidentiality agreement attached")


@handovers.command("plan")
@handle_errors
@staff_only
def handover_plan(handover_id: RowIdArg, file: FileArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Condition 3a: submit the third party's security management plan for review."""
    from sscard.key_register.handovers import submit_security_plan

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        review = submit_security_plan(
            uow, handover_id=handover_id, filename=file.name, content=file.read_bytes(), actor=actor
        )
        return {"review": review.id}

    result = run(as_user, "handover.plan_submit", f"handover:{handover_id}", work)
    emit(result, as_json, f"plan submitted for review {result['review']} (decided by someone else)")


@handovers.command("decide")
@handle_errors
def handover_decide(
    review_id: RowIdArg,
    approve: Annotated[bool, typer.Option("--approve/--reject")],
    as_user: Annotated[str, typer.Option("--as", help="The reviewing security officer (required).")],
    comments: Annotated[str, typer.Option()] = "",
    as_json: JsonOption = False,
) -> None:
    """Condition 3b: approve or reject a security plan (never your own request)."""
    from sscard.key_register.handovers import decide_security_plan

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        review = decide_security_plan(uow, review_id=review_id, approve=approve, comments=comments, actor=actor)
        return {"decision": review.decision.value}

    result = run(as_user, "handover.plan_decide", f"review:{review_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"review {review_id}: {result['decision']}")


@handovers.command("supervisor")
@handle_errors
@staff_only
def handover_supervisor(
    handover_id: RowIdArg, supervisor: str, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Condition 4: assign the supervising staff member."""
    from sscard.key_register.handovers import assign_supervisor

    result = _step("supervisor", handover_id, as_user, assign_supervisor, supervisor=supervisor)
    emit(result, as_json, f"handover {handover_id}: supervised by {supervisor}")


@handovers.command("complete")
@handle_errors
@staff_only
def handover_complete(handover_id: RowIdArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Hand the carrier over (refused, naming what is missing, until all four conditions hold)."""
    from sscard.key_register.handovers import complete_handover

    result = _step("complete", handover_id, as_user, complete_handover)
    emit(result, as_json, f"handover {handover_id}: carrier handed over")


@handovers.command("supervise")
@handle_errors
def handover_supervise(
    handover_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    observation: Annotated[str, typer.Option()],
    as_user: Annotated[str, typer.Option("--as", help="The assigned supervisor (required).")],
    as_json: JsonOption = False,
) -> None:
    """Record a supervision entry (the assigned supervisor only)."""
    from sscard.key_register.handovers import record_supervision

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        entry = record_supervision(
            uow, handover_id=handover_id, location=location, observation=observation, actor=actor
        )
        return {"entry": entry.id}

    result = run(as_user, "handover.supervise", f"handover:{handover_id}", work)
    emit(result, as_json, f"handover {handover_id}: supervision recorded")


@handovers.command("recover")
@handle_errors
@staff_only
def handover_recover(
    handover_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    note: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take the carrier back from the third party."""
    from sscard.key_register.handovers import recover_handover

    result = _step("recover", handover_id, as_user, recover_handover, location=location, note=note)
    emit(result, as_json, f"handover {handover_id}: carrier recovered")


@handovers.command("cancel")
@handle_errors
@staff_only
def handover_cancel(
    handover_id: RowIdArg, reason: Annotated[str, typer.Option()], as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Abandon a handover that has not completed."""
    from sscard.key_register.handovers import cancel_handover

    result = _step("cancel", handover_id, as_user, cancel_handover, reason=reason)
    emit(result, as_json, f"handover {handover_id}: cancelled")


@handovers.command("list")
@handle_errors
def handover_list(
    region: Annotated[str | None, typer.Option()] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only carriers past their return date.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List handovers (or only the overdue ones)."""
    from sscard.key_register.handovers import list_handovers, list_overdue_handovers

    def rows(uow: UnitOfWork) -> list[dict[str, Any]]:
        found = list_overdue_handovers(uow, region_code=region) if overdue else list_handovers(uow, region_code=region)
        return [columns_of(h, HANDOVER_COLS) for h in found]

    table(read(rows), HANDOVER_COLS, as_json)


# --- plans and incidents --------------------------------------------------------------------------


@plans.command("adopt")
@handle_errors
@staff_only
def plan_adopt(
    file: FileArg,
    region: Annotated[str, typer.Option()],
    title: Annotated[str, typer.Option()],
    effective_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Adopt a new version of a region's emergency plan."""
    from sscard.key_register.plans import adopt_emergency_plan

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        plan = adopt_emergency_plan(
            uow,
            region_code=region,
            title=title,
            effective_from=parse_date(effective_from, "effective_from"),
            filename=file.name,
            content=file.read_bytes(),
            actor=actor,
        )
        return {"version": plan.version}

    result = run(as_user, "plan.adopt", f"plan:{region}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"region {region}: emergency plan version {result['version']} adopted")


@plans.command("list")
@handle_errors
def plan_list(
    region_arg: Annotated[str | None, typer.Argument(hidden=True, show_default=False)] = None,
    region_opt: Annotated[str | None, typer.Option("--region", help="Six-digit region code.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every version of a region's plan (--region CODE; the code as the argument also works)."""
    from sscard.key_register.plans import list_plans

    region = region_opt or region_arg
    if not region:
        raise typer.BadParameter("name the region: --region CODE")
    cols = ("id", "region_code", "version", "title", "effective_from", "adopted_by")
    table(read(lambda uow: [columns_of(p, cols) for p in list_plans(uow, region_code=region)]), cols, as_json)


@incidents.command("report-loss")
@handle_errors
@staff_only
def incident_report_loss(
    carrier_id: RowIdArg,
    description: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report a lost carrier: blocked, departments notified, keys revoked and rotated, terminals blocked."""
    from sscard.key_register.incidents import measures_of, report_carrier_loss

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        incident = report_carrier_loss(uow, carrier_id=carrier_id, description=description, actor=actor)
        measures = [
            columns_of(m, ("id", "kind", "target", "status")) for m in measures_of(uow, incident_id=incident.id)
        ]
        return {"incident": incident.id, "measures": measures}

    result = run(as_user, "incident.report", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"incident {result['incident']} opened with {len(result['measures'])} measures")


@incidents.command("findings")
@handle_errors
@staff_only
def incident_findings(
    incident_id: RowIdArg,
    cause: Annotated[str | None, typer.Option()] = None,
    handling: Annotated[str | None, typer.Option()] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the cause found and the handling done."""
    from sscard.key_register.incidents import record_findings

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        record_findings(uow, incident_id=incident_id, cause=cause, handling=handling, actor=actor)
        return {}

    result = run(as_user, "incident.findings", f"incident:{incident_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"incident {incident_id}: findings recorded")


@incidents.command("confirm")
@handle_errors
@staff_only
def incident_confirm(
    incident_id: RowIdArg,
    measure_id: RowIdArg,
    note: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Confirm by hand a measure a registry could not take itself."""
    from sscard.key_register.incidents import confirm_measure

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        confirm_measure(uow, incident_id=incident_id, measure_id=measure_id, note=note, actor=actor)
        return {}

    result = run(as_user, "incident.measure_done", f"incident:{incident_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"incident {incident_id}: measure {measure_id} done")


@incidents.command("close")
@handle_errors
@staff_only
def incident_close(incident_id: RowIdArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Close an incident (only with cause, handling and every measure done)."""
    from sscard.key_register.incidents import close_incident

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        close_incident(uow, incident_id=incident_id, actor=actor)
        return {}

    result = run(as_user, "incident.close", f"incident:{incident_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"incident {incident_id}: closed")


@incidents.command("list")
@handle_errors
def incident_list(region: Annotated[str | None, typer.Option()] = None, as_json: JsonOption = False) -> None:
    """List incidents, newest first."""
    from sscard.key_register.incidents import list_incidents

    rows = read(lambda uow: [columns_of(i, INCIDENT_COLS) for i in list_incidents(uow, region_code=region)])
    table(rows, INCIDENT_COLS, as_json)


# --- reports --------------------------------------------------------------------------------------


def _write(content: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(content.decode("utf-8-sig") if not content.startswith(b"%PDF") else "use --out for a PDF")
        return
    out.write_bytes(content)
    console.print(f"written {out} ({len(content)} bytes)")


@report.command("inventory")
@handle_errors
def report_inventory(
    region: Annotated[str, typer.Option()],
    fmt: Annotated[str, typer.Option("--format", help="csv, pdf or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write to this file (needed for PDF).")] = None,
) -> None:
    """The key and carrier inventory of a region, generated from the records."""
    import json

    from fastapi.encoders import jsonable_encoder

    from sscard.key_register.pdf import inventory_pdf
    from sscard.key_register.reports import inventory_csv, inventory_report

    data = read(lambda uow: inventory_report(uow, region_code=region))
    render = {"csv": inventory_csv, "pdf": inventory_pdf}
    if fmt == "json":
        content = json.dumps(jsonable_encoder(data), ensure_ascii=False, indent=1).encode()
    elif fmt in render:
        content = render[fmt](data)
    else:
        raise typer.BadParameter("format is csv, pdf or json")
    _write(content, out)


@report.command("audit")
@handle_errors
def report_audit(
    region: Annotated[str, typer.Option()],
    start: Annotated[str, typer.Option(help="Start (ISO 8601; Beijing time without offset).")],
    end: Annotated[str, typer.Option(help="End, exclusive.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, pdf or json.")] = "csv",
    out: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """The key-management audit report of a period, with the audit chain's integrity."""
    import json

    from fastapi.encoders import jsonable_encoder

    from sscard.key_register.pdf import audit_pdf
    from sscard.key_register.reports import audit_csv, audit_report

    begin, finish = parse_time(start, "start"), parse_time(end, "end")
    data = read(lambda uow: audit_report(uow, region_code=region, start=begin, end=finish))
    render = {"csv": audit_csv, "pdf": audit_pdf}
    if fmt == "json":
        content = json.dumps(jsonable_encoder(data), ensure_ascii=False, indent=1).encode()
    elif fmt in render:
        content = render[fmt](data)
    else:
        raise typer.BadParameter("format is csv, pdf or json")
    _write(content, out)
