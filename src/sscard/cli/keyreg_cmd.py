"""``sscard keys`` (register part): the key-management register — devices (KEY-4), carriers (KEY-5), PSAM (KEY-8),
handovers (KEY-7), plans and incidents (KEY-9), reports. Changes are audited, refusals too.

Every change is made by a named staff member who authenticates: ``--as USERNAME`` (a security officer or
key custodian) with the password from a hidden prompt, ``SSCARD_STAFF_PASSWORD`` or stdin. Read-outs
(list, usage, report) need no --as.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sscard.cli import keyreg_devices_cmd, keyreg_records_cmd
from sscard.cli.common import RowIdArg, handle_errors, staff_only
from sscard.cli.keyreg_common import OFFICER_ONLY, AsOption, JsonOption, columns_of, emit, parse_date, read, run, table
from sscard.key_register.states import CarrierState, CarrierType

if TYPE_CHECKING:  # imported when a command runs (keyreg_common.py)
    from sscard.db.session import UnitOfWork
    from sscard.key_register.models import KeyCarrier

carriers = typer.Typer(help="Key carriers received from the ministry (KEY-5).", no_args_is_help=True)
psam = typer.Typer(help="PSAM cards: deployment and recovery (KEY-8).", no_args_is_help=True)


def register(keys_app: typer.Typer) -> None:
    """Mount the officers' register under ``sscard keys``: devices, carriers, psam, handovers, plans, ..."""
    keys_app.add_typer(keyreg_devices_cmd.devices, name="devices")
    keys_app.add_typer(carriers, name="carriers")
    keys_app.add_typer(psam, name="psam")
    keyreg_records_cmd.register(keys_app)


CARRIER_COLS = ("id", "carrier_type", "serial", "state", "region_code", "holder", "location", "usage_count")


# --- carriers -----------------------------------------------------------------------------------


@carriers.command("receive")
@handle_errors
@staff_only
def carrier_receive(
    carrier_type: Annotated[CarrierType, typer.Option("--type")],
    serial: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option()],
    receipt_no: Annotated[str, typer.Option(help="Number of the ministry's delivery receipt.")],
    received_on: Annotated[str, typer.Option(help="Date of the receipt (YYYY-MM-DD).")],
    received_from: Annotated[str, typer.Option(help="Who delivered it.")],
    location: Annotated[str, typer.Option(help="Where it is kept.")],
    holder: Annotated[str | None, typer.Option()] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a carrier received from the ministry, with its receipt."""
    from sscard.key_register.carriers import receive_carrier

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        carrier = receive_carrier(
            uow,
            carrier_type=carrier_type,
            serial=serial,
            region_code=region,
            receipt_no=receipt_no,
            received_on=parse_date(received_on, "received_on"),
            received_from=received_from,
            location=location,
            holder=holder,
            actor=actor,
        )
        return columns_of(carrier, CARRIER_COLS)

    result = run(as_user, "carrier.receive", f"carrier:{carrier_type.value}/{serial}", work)
    emit(result, as_json, f"carrier {result['id']} received: {carrier_type.value} {serial}")


@carriers.command("list")
@handle_errors
def carrier_list(
    region: Annotated[str | None, typer.Option()] = None,
    carrier_type: Annotated[CarrierType | None, typer.Option("--type")] = None,
    state: Annotated[CarrierState | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """List carriers by region, type and state."""
    from sscard.key_register.carriers import list_carriers

    def rows(uow: UnitOfWork) -> list[dict[str, Any]]:
        found = list_carriers(uow, region_code=region, carrier_type=carrier_type, state=state)
        return [columns_of(c, CARRIER_COLS) for c in found]

    table(read(rows), CARRIER_COLS, as_json)


@carriers.command("usage")
@handle_errors
def carrier_usage(carrier_id: RowIdArg, as_json: JsonOption = False) -> None:
    """Show the carrier's log: every use and movement with who, where and why."""
    from sscard.key_register.carriers import usage_log

    cols = ("at", "kind", "used_by", "role", "location", "purpose", "count")
    table(read(lambda uow: [columns_of(u, cols) for u in usage_log(uow, carrier_id=carrier_id)]), cols, as_json)


def _move(name: str, carrier_id: int, as_user: str | None, as_json: bool, **kwargs: Any) -> None:
    from sscard.key_register import carriers as service

    fns: dict[str, Callable[..., KeyCarrier]] = {
        "deploy": service.deploy_carrier,
        "store": service.store_carrier,
        "recover": service.recover_carrier,
    }
    fn = fns[name]
    result = run(
        as_user,
        f"carrier.{name}",
        f"carrier:{carrier_id}",
        lambda uow, actor: columns_of(fn(uow, carrier_id=carrier_id, actor=actor, **kwargs), CARRIER_COLS),
    )
    emit(result, as_json, f"carrier {carrier_id} is now {result['state']}")


@carriers.command("deploy")
@handle_errors
@staff_only
def carrier_deploy(
    carrier_id: RowIdArg,
    holder: Annotated[str, typer.Option()],
    location: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a key card into service (PSAM cards: `sscard keys psam deploy`)."""
    _move("deploy", carrier_id, as_user, as_json, holder=holder, location=location, purpose=purpose)


@carriers.command("store")
@handle_errors
@staff_only
def carrier_store(
    carrier_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a carrier into custody (the safe)."""
    _move("store", carrier_id, as_user, as_json, location=location, purpose=purpose)


@carriers.command("recover")
@handle_errors
@staff_only
def carrier_recover(
    carrier_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a carrier from service."""
    _move("recover", carrier_id, as_user, as_json, location=location, purpose=purpose)


@carriers.command("use")
@handle_errors
@staff_only
def carrier_use(
    carrier_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    count: Annotated[int, typer.Option(min=1)] = 1,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Log a use of the carrier with where and why."""
    from sscard.key_register.carriers import record_carrier_use

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        entry = record_carrier_use(
            uow, carrier_id=carrier_id, location=location, purpose=purpose, count=count, actor=actor
        )
        return {"id": entry.id}

    result = run(as_user, "carrier.use", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"use of carrier {carrier_id} logged")


@carriers.command("load-key")
@handle_errors
@staff_only
def carrier_load_key(
    carrier_id: RowIdArg, key_label: str, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Record that the carrier holds the key with this inventory label."""
    from sscard.key_register.carriers import load_key

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        return {"id": load_key(uow, carrier_id=carrier_id, key_label=key_label, actor=actor).id}

    result = run(as_user, "carrier.load_key", f"carrier:{carrier_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"carrier {carrier_id} holds {key_label}")


@carriers.command("destroy")
@handle_errors
@staff_only
def carrier_destroy(
    carrier_id: RowIdArg,
    method: Annotated[str, typer.Option()],
    place: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a destruction; it takes effect after two different witnesses sign (`sign`)."""
    from sscard.key_register.destruction import request_destruction

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        record = request_destruction(uow, carrier_id=carrier_id, method=method, place=place, reason=reason, actor=actor)
        return {"destruction": record.id}

    result = run(as_user, "carrier.destruction_request", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"destruction {result['destruction']} recorded; two witnesses must sign")


@carriers.command("sign")
@handle_errors
def carrier_sign(
    destruction_id: RowIdArg,
    as_user: Annotated[str, typer.Option("--as", help="The witness signing (required).")],
    statement: Annotated[str, typer.Option()] = "witnessed the destruction",
    as_json: JsonOption = False,
) -> None:
    """Sign a destruction as a witness; the second different witness destroys the carrier."""
    from sscard.key_register.destruction import sign_destruction

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        record = sign_destruction(uow, destruction_id=destruction_id, statement=statement, actor=actor)
        return {"done": record.completed_at is not None}

    result = run(as_user, "carrier.destruction_sign", f"destruction:{destruction_id}", work)
    emit(result, as_json, "carrier destroyed" if result["done"] else "signed; one more witness needed")


# --- PSAM ---------------------------------------------------------------------------------------


@psam.command("list")
@handle_errors
def psam_list(region: Annotated[str | None, typer.Option()] = None, as_json: JsonOption = False) -> None:
    """The PSAM register with each card's deployment in force."""
    from sscard.key_register.psam import psam_register

    def rows(uow: UnitOfWork) -> list[dict[str, Any]]:
        out = []
        for e in psam_register(uow, region_code=region):
            row = columns_of(e.carrier, CARRIER_COLS)
            d = e.deployment
            row["bound_to"] = (d.terminal_id or d.institution) if d else ""
            row["form"], row["mode"] = (d.physical_form.value, d.usage_mode.value) if d else ("", "")
            out.append(row)
        return out

    table(read(rows), ("id", "serial", "state", "region_code", "bound_to", "form", "mode", "usage_count"), as_json)


@psam.command("deploy")
@handle_errors
@staff_only
def psam_deploy(
    carrier_id: RowIdArg,
    form: Annotated[str, typer.Option(help="plug_in, full_size or embedded.")],
    environment: Annotated[str, typer.Option(help="The external environment of the deployment.")],
    mode: Annotated[str, typer.Option(help="attended, unattended or back_office.")],
    terminal: Annotated[str | None, typer.Option()] = None,
    institution: Annotated[str | None, typer.Option()] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy a PSAM into a terminal or institution with its form, environment and mode."""
    from sscard.key_register.psam import deploy_psam

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        deployment = deploy_psam(
            uow,
            carrier_id=carrier_id,
            terminal_id=terminal,
            institution=institution,
            physical_form=form,
            environment=environment,
            usage_mode=mode,
            actor=actor,
        )
        return {"id": deployment.id}

    result = run(as_user, "carrier.deploy", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"PSAM {carrier_id} deployed")


@psam.command("recover")
@handle_errors
@staff_only
def psam_recover(
    carrier_id: RowIdArg,
    location: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a PSAM from its terminal."""
    from sscard.key_register.psam import recover_psam

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        carrier = recover_psam(uow, carrier_id=carrier_id, location=location, reason=reason, actor=actor)
        return {"state": carrier.state.value}

    result = run(as_user, "carrier.recover", f"carrier:{carrier_id}", work)
    emit(result, as_json, f"PSAM {carrier_id} recovered")
