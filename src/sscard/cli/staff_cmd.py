"""``sscard staff``: staff accounts (CH-2)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sscard.cli.common import console, fail, handle_errors, print_json
from sscard.staff.roles import Role

app = typer.Typer(help="Staff accounts, roles and regions.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on stdin", "STAFF_INVALID")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
@handle_errors
def add(
    username: Annotated[str, typer.Option(help="Login name (lowercase letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option(help="The one role this account acts under.")],
    region: Annotated[str, typer.Option(help="Six-digit code of a registered region.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the consoles.")] = "",
    bank: Annotated[
        str | None, typer.Option("--bank", help="Bank code of the outlet (required for bank_clerk, PIN-6).")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a staff account; the password is prompted for (hidden) or read from stdin."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.staff.service import create_staff

    password = _read_password(password_stdin)
    with unit_of_work() as uow:
        account = create_staff(
            uow,
            username=username,
            password=password,
            role=role,
            region_code=region,
            display_name=display_name,
            bank_code=bank,
            actor=Actor.cli_operator(),
        )
        result = {"username": account.username, "role": account.role.value, "region": account.region_code}
        if account.bank_code:
            result["bank"] = account.bank_code
    if as_json:
        print_json(result)
    else:
        console.print(f"staff account {result['username']} created: {result['role']} in {result['region']}")


@app.command("list")
@handle_errors
def list_(
    region: Annotated[str | None, typer.Option(help="Only accounts inside this region.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List staff accounts (never their password hashes)."""
    from sscard.db.session import unit_of_work
    from sscard.staff.service import list_staff

    with unit_of_work() as uow:
        rows = [
            {"username": a.username, "role": a.role.value, "region": a.region_code, "active": a.active}
            for a in list_staff(uow, region_code=region)
        ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("username", "role", "region", "active")
    for r in rows:
        table.add_row(str(r["username"]), str(r["role"]), str(r["region"]), "yes" if r["active"] else "no")
    console.print(table)


@app.command("deactivate")
@handle_errors
def deactivate(
    username: Annotated[str, typer.Argument(help="The account to close.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Deactivate an account and end its sessions."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.staff.service import deactivate_staff

    with unit_of_work() as uow:
        deactivate_staff(uow, username=username, actor=Actor.cli_operator())
    if as_json:
        print_json({"username": username, "active": False})
        return
    console.print(f"staff account {username} deactivated")


@app.command("unlock")
@handle_errors
def unlock(
    username: Annotated[str, typer.Argument(help="The username to unlock (known or not).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Lift the hard lock and any wait after failed logins (audited)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.staff.sessions import unlock_staff

    with unit_of_work() as uow:
        cleared = unlock_staff(uow, username=username, actor=Actor.cli_operator())
    if as_json:
        print_json({"username": username, "unlocked": bool(cleared)})
        return
    console.print(f"{username}: " + ("unlocked" if cleared else "was not locked or waiting"))


@app.command("reset-otp")
@handle_errors
def reset_otp(
    username: Annotated[str, typer.Argument(help="The account whose second factor is lost.")],
    reason: Annotated[str, typer.Option(help="Why (audited), e.g. the ticket of the lost phone.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Forget an account's TOTP second factor and end its sessions; it enrols again at next login (audited)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.staff.service import get_staff_or_raise
    from sscard.staff.totp import reset_second_factor

    with unit_of_work() as uow:
        account = get_staff_or_raise(uow, username)
        reset_second_factor(uow, account=account, actor=Actor.cli_operator(), reason=reason)
    if as_json:
        print_json({"username": username, "second_factor": "reset"})
        return
    console.print(f"{username}: second factor reset; it enrols again at the next login")
