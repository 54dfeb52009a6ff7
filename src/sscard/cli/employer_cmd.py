"""``sscard employer``: register employers and their employees' insurance (INS-1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from sscard.cli.common import console, fail, handle_errors, print_json

app = typer.Typer(help="Employers and their employees' registrations.", no_args_is_help=True)


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: {value[:20]!r} is not a YYYY-MM-DD date", "DATE_INVALID") from None


@app.command("add")
@handle_errors
def add(
    uscc: Annotated[str, typer.Option("--uscc", help="Unified social credit code (18 characters).")],
    name: Annotated[str, typer.Option("--name", help="Registered name.")],
    region: Annotated[str, typer.Option("--region", help="Six-digit region code of the employer.")],
    industry_class: Annotated[str | None, typer.Option("--industry-class", help="Work-injury class (1-8).")] = None,
    contact_name: Annotated[str | None, typer.Option("--contact-name", help="The employer's contact person.")] = None,
    contact_phone: Annotated[
        str | None,
        typer.Option(
            "--contact-phone",
            help="The contact's mobile number: where the sign-in account's temporary password is sent (QPW-5).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"employer_id"}.')] = False,
) -> None:
    """Register an employer (its credit code checked per GB 32100) with a sign-in account.

    The account has no password: the employer requests a temporary one (forgot password, user type
    employer), sent by SMS to ``--contact-phone``; without a contact phone it cannot sign in."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.employers.accounts import create_account
    from sscard.employers.service import add_employer
    from sscard.people.validation import normalise_phone

    phone = normalise_phone(contact_phone) if contact_phone is not None else None
    with unit_of_work() as uow:
        employer = add_employer(
            uow,
            uscc=uscc,
            name=name,
            region_code=region,
            industry_class=industry_class,
            contact_name=contact_name,
            contact_phone=phone,
            actor=Actor.cli_operator(),
        )
        create_account(uow, employer=employer, actor=Actor.cli_operator())
        employer_id, code = employer.id, employer.uscc
    if as_json:
        print_json({"employer_id": employer_id})
    else:
        console.print(f"employer {employer_id} added: {code} {name}, region {region}", highlight=False)


@app.command("register-employee")
@handle_errors
def register_employee(
    uscc: Annotated[str, typer.Option("--uscc", help="The employer's credit code.")],
    id_number: Annotated[str, typer.Option("--id", help="The employee's citizen ID number.")],
    start: Annotated[str, typer.Option("--start", help="Employment start, YYYY-MM-DD.")],
    registered: Annotated[str | None, typer.Option("--registered", help="Registration date (default today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"registration_id", "late", "days_late"}.')] = False,
) -> None:
    """Register an employee for social insurance (INS-1): due within 30 days of the employment start."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.employers.service import get_employer_by_uscc_or_raise
    from sscard.insurance.service import register_employee as register
    from sscard.people.service import get_person_by_id_number_or_raise

    start_date = _date(start, "--start")
    registered_on = _date(registered, "--registered") if registered else None
    with unit_of_work() as uow:
        employer = get_employer_by_uscc_or_raise(uow, uscc)
        person = get_person_by_id_number_or_raise(uow, id_number)
        registration = register(
            uow,
            employer=employer,
            person=person,
            employment_start=start_date,
            registered_on=registered_on,
            actor=Actor.cli_operator(),
        )
        answer = {"registration_id": registration.id, "late": registration.late, "days_late": registration.days_late}
    if as_json:
        print_json(answer)
    elif answer["late"]:
        console.print(f"registration {answer['registration_id']}: LATE by {answer['days_late']} days", highlight=False)
    else:
        console.print(f"registration {answer['registration_id']}: on time", highlight=False)
