"""``sscard demo load``: idempotent demo regions, staff logins, persons and cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from sscard.cli.common import console, fail, handle_errors, print_json

if TYPE_CHECKING:
    from sscard.db.session import UnitOfWork
    from sscard.demo.loader import DemoReport

log = structlog.get_logger("sscard.demo")
app = typer.Typer(help="Demo data for development.", no_args_is_help=True)


@app.command("load")
@handle_errors
def load(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Load the demo data (running it again changes nothing) and print the demo logins."""
    from sscard.audit import Actor, Channel
    from sscard.config import get_settings
    from sscard.db.session import unit_of_work
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.demo.loader import load_demo

    actor = Actor.system(Channel.CLI)
    with unit_of_work() as uow:
        report = load_demo(uow, actor=actor, env=get_settings().env)
        still_demo = _still_on_the_demo_password(uow, [s.username for s in report.staff])
    # INS-4: last year's statements, once the records they show are committed (a job with units of
    # work of its own; it issues only the missing ones, so a second load adds none).
    statements_issued = 0
    if report.insurance is not None and report.insurance.statement_year:
        from sscard.jobs.statements import generate_statements
        from sscard.statements.errors import StatementFontMissing

        try:
            statements_issued = generate_statements(year=report.insurance.statement_year, actor=actor, workers=0).issued
        except StatementFontMissing as exc:  # the demo still loads; the operator installs the font
            log.warning("demo_statements_skipped", reason=exc.title)

    staff = [
        {
            "username": s.username,
            # Only while the account still has it: a changed password is nobody's to print (None).
            "password": DEMO_STAFF_PASSWORD if s.username in still_demo else None,
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
                    **_insurance_added(report),
                    "statements": statements_issued,
                },
                "staff": staff,
                "persons": report.persons,
                "employers": report.insurance.employers if report.insurance else [],
                "terminals": report.terminals,
            }
        )
        return
    _print_report(report, staff)


def _still_on_the_demo_password(uow: UnitOfWork, usernames: list[str]) -> set[str]:
    """The accounts whose password is still the published demo one (the marker set with each password)."""
    from sqlalchemy import select

    from sscard.staff.models import StaffAccount

    query = select(StaffAccount.username).where(
        StaffAccount.username.in_(usernames), StaffAccount.demo_password.is_(True)
    )
    return set(uow.session.scalars(query))


def _insurance_added(report: DemoReport) -> dict[str, int]:
    ins = report.insurance
    if ins is None:
        return {}
    return {
        "employers": ins.employers_added,
        "registrations": ins.registrations_added,
        "declarations": ins.declarations_added,
        "interest_postings": ins.interest_credited,
        "discrepancy_reports": ins.reports_added,
    }


def _print_report(report: DemoReport, staff: list[dict[str, Any]]) -> None:
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
    ins = report.insurance
    if ins is not None and ins.person_ids:
        from sscard.demo.insurance import MONTHS

        out.print(
            f"insurance: {len(ins.person_ids)} contributors with {len(ins.person_ids) * MONTHS} months declared "
            f"(this run added {ins.declarations_added}), interest for {ins.statement_year} credited; "
            "portal: GET /api/v1/portal/accounts, /insurance/declarations (after changing the initial password)"
        )
    table = Table(
        "staff login", "password", "role", "region", "bank", title="Demo staff logins (POST /api/v1/staff/login)"
    )
    for s in staff:
        table.add_row(s["username"], s["password"] or "(changed)", s["role"], s["region"], s["bank"])
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
    if ins is not None and ins.employers:
        employers = Table(*ins.employers[0].keys(), title="Demo employers (sign in at /employer/ after asking "
                          "for a temporary password: forgot password, user type employer, SMS)")  # fmt: skip
        for e in ins.employers:
            employers.add_row(*e.values())
        out.print(employers)
    for line in report.terminals:
        out.print(f"terminal: {line}")


@app.command("otp")
@handle_errors
def otp(
    username: str = typer.Argument(..., help="A demo account whose role signs in with a second factor."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the current TOTP code of a demo staff account (development only): the `otp` field of its login."""
    import pyotp

    from sscard.config import get_settings
    from sscard.db.session import unit_of_work
    from sscard.demo import data
    from sscard.staff.service import get_staff
    from sscard.staff.totp import SECOND_FACTOR_ROLES, TOTP_SECRET, requires_second_factor

    demo = {s.username: s for s in data.STAFF}
    if get_settings().env == "prod" or username not in demo:
        raise fail("only the demo accounts, and never in production", "DEMO_REFUSED")
    if not requires_second_factor(demo[username].role):
        with_one = ", ".join(sorted(r.value for r in SECOND_FACTOR_ROLES))
        raise fail(f"{username} is a {demo[username].role.value}: that role signs in with its password alone, no "
                   f"one-time code (only {with_one} have a second factor)", "DEMO_NO_SECOND_FACTOR")  # fmt: skip
    with unit_of_work() as uow:
        account = get_staff(uow, username)
        if account is None or account.totp_secret_enc is None:
            raise fail("no second factor enrolled for that demo account (run `sscard demo load`)", "DEMO_REFUSED")
        secret = TOTP_SECRET.open(account.totp_secret_enc)
    code = pyotp.TOTP(secret).now()
    if as_json:
        print_json({"username": username, "otp": code})
        return
    console.print(code)
