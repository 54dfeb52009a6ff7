"""``sscard demo load``: idempotent demo regions, staff logins, persons and cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sscard.cli.common import console, fail, handle_errors, print_json

if TYPE_CHECKING:
    from sscard.demo.loader import DemoReport

app = typer.Typer(help="Demo data for development.", no_args_is_help=True)


@app.command("load")
@handle_errors
def load(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Load the demo data (running it again changes nothing) and print the demo logins."""
    from sscard.audit import Actor, Channel
    from sscard.config import get_settings
    from sscard.db.session import unit_of_work
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.demo.loader import load_demo

    with unit_of_work() as uow:
        report = load_demo(uow, actor=Actor.system(Channel.CLI), env=get_settings().env)

    staff = [
        {
            "username": s.username,
            "password": DEMO_STAFF_PASSWORD,
            "role": s.role.value,
            "region": s.region_code,
            "bank": s.bank_code or "-",
            "totp_secret": report.totp.get(s.username, ""),
        }
        for s in report.staff
    ]
    if as_json:
        print_json(
            {
                "added": {
                    "regions": report.regions_added,
                    "staff": report.staff_added,
                    "persons": report.persons_added,
                    "cards": report.cards_added,
                },
                "staff": staff,
                "persons": report.persons,
                "terminals": report.terminals,
            }
        )
        return
    _print_report(report, staff)


def _print_report(report: DemoReport, staff: list[dict[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped or under make, Rich assumes 80 columns and cuts the ID numbers a reader must type in.
    out = console if console.is_terminal else Console(width=200)

    what = (
        f"added {report.regions_added} regions, {report.staff_added} staff, "
        f"{report.persons_added} persons, {report.cards_added} cards"
        if report.changed
        else "already loaded; nothing changed"
    )
    out.print(f"[bold]demo data[/bold]: {what}")
    table = Table(
        "staff login", "password", "role", "region", "bank", title="Demo staff logins (POST /api/v1/staff/login)"
    )
    for s in staff:
        table.add_row(s["username"], s["password"], s["role"], s["region"], s["bank"])
    out.print(table)
    second = Table("staff login", "TOTP secret", title="…these also send `otp`: `sscard demo otp USERNAME` prints it")
    for s in staff:
        if s["totp_secret"]:
            second.add_row(s["username"], s["totp_secret"])
    out.print(second)
    if report.persons:
        people = Table(*report.persons[0].keys(), title="Demo persons (fictitious)")
        for p in report.persons:
            people.add_row(*p.values())
        out.print(people)
    for line in report.terminals:
        out.print(f"terminal: {line}")


@app.command("otp")
@handle_errors
def otp(username: str = typer.Argument(..., help="A demo account whose role signs in with a second factor.")) -> None:
    """Print the current TOTP code of a demo staff account (development only): the `otp` field of its login."""
    import pyotp

    from sscard.config import get_settings
    from sscard.db.session import unit_of_work
    from sscard.demo import data
    from sscard.staff.service import get_staff
    from sscard.staff.totp import TOTP_SECRET

    if get_settings().env == "prod" or username not in {s.username for s in data.STAFF}:
        raise fail("only the demo accounts, and never in production", "DEMO_REFUSED")
    with unit_of_work() as uow:
        account = get_staff(uow, username)
        if account is None or account.totp_secret_enc is None:
            raise fail("no second factor enrolled for that demo account (run `sscard demo load`)", "DEMO_REFUSED")
        secret = TOTP_SECRET.open(account.totp_secret_enc)
    console.print(pyotp.TOTP(secret).now())
