"""``sscard person``: register persons, show them masked, change their status (PER-1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json

app = typer.Typer(help="Persons (insured people).", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    id_number: Annotated[str, typer.Option("--id", help="Citizen ID number (18 characters, or 15 legacy digits).")],
    name: Annotated[str, typer.Option("--name", help="Name as on the ID document.")],
    phone: Annotated[str | None, typer.Option("--phone", help="11-digit mainland mobile number.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    gender: Annotated[str | None, typer.Option("--gender", help="M/F: checked against the ID (ID-4).")] = None,
    birth_date: Annotated[
        str | None, typer.Option("--birth-date", help="YYYY-MM-DD: checked against the ID (ID-4).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"person_id"}.')] = False,
) -> None:
    """Register a person; prints the new person id."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.people.schemas import PersonRead
    from sscard.people.service import add_person, person_read

    born = _parse_date(birth_date) if birth_date else None
    with unit_of_work() as uow:
        person = add_person(
            uow,
            id_number=id_number,
            name=name,
            phone=phone,
            email=email,
            gender=gender,
            birth_date=born,
            actor=Actor.cli_operator(),
        )
        read: PersonRead = person_read(person)
    if as_json:
        print_json({"person_id": read.person_id})
    else:
        console.print(
            f"person {read.person_id} added: {read.id_number_masked}, region {read.region_code}, "
            f"born {read.birth_date}, gender {read.gender}",
            highlight=False,
        )


@app.command("show")
@handle_errors
def show(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a person's record, masked (ID-5)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.people.service import person_read, view_person

    with unit_of_work() as uow:
        read = person_read(view_person(uow, id_number=id_number, actor=Actor.cli_operator()))
    if as_json:
        print_json(read.model_dump(mode="json"))
        return
    for key, value in read.model_dump(mode="json").items():
        console.print(f"{key:>18}  {value if value is not None else '-'}", highlight=False)


@app.command("status")
@handle_errors
def status(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number.")],
    new_status: Annotated[str, typer.Argument(help="employed | unemployed | retired | deceased")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Change a person's status; deceased cancels every live card (CARD-1)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.people.service import get_person_by_id_number_or_raise, set_person_status

    with unit_of_work() as uow:
        person = get_person_by_id_number_or_raise(uow, id_number)
        person = set_person_status(uow, person_id=person.id, status=new_status, actor=Actor.cli_operator())
        result = {"person_id": person.id, "status": person.status.value}
    if as_json:
        print_json(result)
    else:
        console.print(f"person {result['person_id']} is now {result['status']}", highlight=False)


def _parse_date(raw: str) -> date:
    from sscard.people.errors import DateInvalid

    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DateInvalid("--birth-date is not a YYYY-MM-DD date") from None
