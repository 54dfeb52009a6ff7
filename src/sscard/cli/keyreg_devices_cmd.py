"""``sscard keys devices``: certified cryptographic devices (KEY-4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sscard.cli.common import RowIdArg, handle_errors, staff_only
from sscard.cli.keyreg_common import OFFICER_ONLY, AsOption, JsonOption, columns_of, emit, parse_date, read, run, table

if TYPE_CHECKING:  # imported when a command runs (keyreg_common.py)
    from sscard.db.session import UnitOfWork

devices = typer.Typer(help="Certified cryptographic devices (KEY-4).", no_args_is_help=True)
DEVICE_COLS = ("id", "model", "serial", "certificate_no", "certificate_valid_until", "state", "region_code", "location")


@devices.command("add")
@handle_errors
@staff_only
def device_add(
    model: Annotated[str, typer.Option()],
    serial: Annotated[str, typer.Option()],
    certificate_no: Annotated[str, typer.Option(help="Commercial cryptography product model certificate number.")],
    valid_from: Annotated[str, typer.Option(help="Certificate valid from (YYYY-MM-DD).")],
    valid_until: Annotated[str, typer.Option(help="Certificate valid until (YYYY-MM-DD).")],
    location: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="Six-digit region code.")],
    issuer: Annotated[str, typer.Option(help="Certificate issuer.")] = "国家密码管理局",
    manufacturer: Annotated[str, typer.Option()] = "",
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an encryption machine with its model certificate."""
    from sscard.key_register.devices import register_device

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        device = register_device(
            uow,
            model=model,
            serial=serial,
            manufacturer=manufacturer,
            certificate_no=certificate_no,
            certificate_issuer=issuer,
            certificate_valid_from=parse_date(valid_from, "valid_from"),
            certificate_valid_until=parse_date(valid_until, "valid_until"),
            location=location,
            region_code=region,
            actor=actor,
        )
        return columns_of(device, DEVICE_COLS)

    result = run(as_user, "device.register", f"device:{model}/{serial}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"device {result['id']} registered: {model} / {serial}")


@devices.command("list")
@handle_errors
def device_list(
    region: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """List devices with their certificates and state."""
    from sscard.key_register.devices import list_devices

    rows = read(lambda uow: [columns_of(d, DEVICE_COLS) for d in list_devices(uow, region_code=region)])
    table(rows, DEVICE_COLS, as_json)


@devices.command("renew")
@handle_errors
@staff_only
def device_renew(
    device_id: RowIdArg,
    certificate_no: Annotated[str, typer.Option()],
    valid_from: Annotated[str, typer.Option()],
    valid_until: Annotated[str, typer.Option()],
    issuer: Annotated[str, typer.Option()] = "国家密码管理局",
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a device's new certificate (a device blocked for its old one returns to service)."""
    from sscard.key_register.devices import renew_certificate

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        device = renew_certificate(
            uow,
            device_id=device_id,
            certificate_no=certificate_no,
            certificate_issuer=issuer,
            certificate_valid_from=parse_date(valid_from, "valid_from"),
            certificate_valid_until=parse_date(valid_until, "valid_until"),
            actor=actor,
        )
        return columns_of(device, DEVICE_COLS)

    result = run(as_user, "device.certificate_renew", f"device:{device_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"device {device_id}: certificate {certificate_no}, {result['state']}")


@devices.command("revoke-certificate")
@handle_errors
@staff_only
def device_revoke(
    certificate_no: str,
    reason: Annotated[str, typer.Option()],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a revoked model certificate: every device on it is blocked and alerted."""
    from sscard.key_register.devices import revoke_certificate

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        found = revoke_certificate(uow, certificate_no=certificate_no, reason=reason, actor=actor)
        return {"blocked": [d.id for d in found]}

    result = run(as_user, "device.certificate_revoke", f"cert:{certificate_no}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"blocked devices: {', '.join(map(str, result['blocked']))}")


@devices.command("retire")
@handle_errors
@staff_only
def device_retire(
    device_id: RowIdArg, reason: Annotated[str, typer.Option()], as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Take a device out of service for good."""
    from sscard.key_register.devices import retire_device

    def work(uow: UnitOfWork, actor: Any) -> dict[str, Any]:
        return columns_of(retire_device(uow, device_id=device_id, reason=reason, actor=actor), DEVICE_COLS)

    result = run(as_user, "device.retire", f"device:{device_id}", work, roles=OFFICER_ONLY)
    emit(result, as_json, f"device {device_id} retired")


@devices.command("sweep")
@handle_errors
def device_sweep(as_json: JsonOption = False) -> None:
    """Check every certificate now: block lapsed or revoked devices, warn of those expiring soon (run daily)."""
    from sscard.db.session import unit_of_work
    from sscard.key_register.devices import sweep_certificates

    with unit_of_work() as uow:
        report = sweep_certificates(uow)
    result = {"blocked": report.blocked, "warned": report.warned}
    emit(result, as_json, f"{len(report.blocked)} blocked, {len(report.warned)} warned")


@devices.command("alerts")
@handle_errors
def device_alerts(
    region: Annotated[str | None, typer.Option()] = None,
    include_acknowledged: Annotated[bool, typer.Option("--all")] = False,
    as_json: JsonOption = False,
) -> None:
    """List device certificate alerts."""
    from sscard.key_register.devices import list_alerts

    cols = ("id", "device_id", "kind", "region_code", "raised_at", "acknowledged_by", "detail")

    def rows(uow: UnitOfWork) -> list[dict[str, Any]]:
        return [columns_of(a, cols) for a in list_alerts(uow, region_code=region, open_only=not include_acknowledged)]

    table(read(rows), cols, as_json)
