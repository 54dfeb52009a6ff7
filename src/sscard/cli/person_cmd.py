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
            f"born {read.birth_year}, gender {read.gender}",
            highlight=False,
        )


@app.command("show")
@handle_errors
def show(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a person's record, masked (ID-5), and their cards (newest first)."""
    from sscard.audit import Actor
    from sscard.cards.service import list_cards_of_person
    from sscard.db.session import unit_of_work
    from sscard.people.service import person_read, view_person

    with unit_of_work() as uow:
        person = view_person(uow, id_number=id_number, actor=Actor.cli_operator())
        data = person_read(person).model_dump(mode="json")
        cards = [
            {"card_no": c.card_no, "card_type": c.card_type.value, "state": c.state.value}
            for c in list_cards_of_person(uow, person_id=person.id)
        ]
    if as_json:
        print_json({**data, "cards": cards})
        return
    for key, value in data.items():
        console.print(f"{key:>18}  {value if value is not None else '-'}", highlight=False)
    shown = ", ".join(f"{c['card_no']} ({c['card_type']}, {c['state']})" for c in cards)
    console.print(f"{'cards':>18}  {shown or '-'}", highlight=False)


@app.command("status")
@handle_errors
def status(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number.")],
    new_status: Annotated[str, typer.Argument(help="employed | unemployed | retired | deceased")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Change a person's status; deceased cancels every live card (CARD-1)."""
    from sscard.audit import Actor
    from sscard.cards.person_status import set_person_status
    from sscard.db.session import unit_of_work
    from sscard.people.service import get_person_by_id_number_or_raise

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


DocTypeOption = Annotated[
    str,
    typer.Option(
        "--document-type",
        help="Identity document checked (CH-2): resident_id_card, temporary_id_card, household_register, "
        "residence_permit, foreign_permanent_residence, passport.",
    ),
]
DocNumberOption = Annotated[str, typer.Option("--document-number", help="Its number (recorded masked only).")]


@app.command("correct")
@handle_errors
def correct(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number on file.")],
    document_type: DocTypeOption,
    document_number: DocNumberOption,
    name: Annotated[str | None, typer.Option("--name", help="The corrected name.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The corrected mobile number.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="The corrected email address.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Correct a person's name, phone and/or email after checking the ID document (QPW-3); the holder is told
    on the old and the new contacts (CH-5)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.people.service import get_person_by_id_number_or_raise, person_read
    from sscard.record_corrections.service import correct_contact_details

    with unit_of_work() as uow:
        person = get_person_by_id_number_or_raise(uow, id_number)
        person = correct_contact_details(
            uow,
            person_id=person.id,
            name=name,
            phone=phone,
            email=email,
            document_type=document_type,
            document_number=document_number,
            actor=Actor.cli_operator(),
        )
        read = person_read(person).model_dump(mode="json")
    if as_json:
        print_json(read)
    else:
        console.print(f"person {read['person_id']} corrected: {read['name']}", highlight=False)


@app.command("correct-id")
@handle_errors
def correct_id(
    id_number: Annotated[str, typer.Argument(help="Citizen ID number on file (the wrong one).")],
    new_id: Annotated[str, typer.Option("--new-id", help="The correct citizen ID number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the number on file is wrong.")],
    document_type: DocTypeOption,
    document_number: DocNumberOption,
    as_user: Annotated[str, typer.Option("--as", help="The counter staff member asking for the correction.")],
    approver: Annotated[
        str,
        typer.Option(
            "--approver",
            help="A counter supervisor other than --as who approves it: SSCARD_SECOND_PASSWORD (and "
            "SSCARD_SECOND_OTP) or a hidden prompt.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Correct the citizen ID number on file (QPW-3): asked by one staff member, approved by a counter
    supervisor who is another; gender, birth date and region follow the new number."""
    from sscard.audit import Channel
    from sscard.cli.common import SECOND_OTP_VARIABLE, authenticate_cli_staff, second_password
    from sscard.db.session import unit_of_work
    from sscard.identity import parse_citizen_id
    from sscard.people.service import get_person_by_id_number_or_raise, person_read
    from sscard.record_corrections.service import approve_id_correction, request_id_correction

    maker = authenticate_cli_staff(as_user)
    checker = authenticate_cli_staff(approver, password=second_password(approver), otp_variable=SECOND_OTP_VARIABLE)
    new_region = parse_citizen_id(new_id).region_code
    with unit_of_work() as uow:
        person = get_person_by_id_number_or_raise(uow, id_number)
        for principal in (maker, checker):
            principal.ensure_region(person.region_code)
            principal.ensure_region(new_region)
        correction = request_id_correction(
            uow,
            person_id=person.id,
            new_id_number=new_id,
            reason=reason,
            document_type=document_type,
            document_number=document_number,
            actor=maker.actor(Channel.CLI),
        )
        person = approve_id_correction(uow, correction_id=correction.id, actor=checker.actor(Channel.CLI))
        result = {"person_id": person.id, "correction_id": correction.id, **person_read(person).model_dump(mode="json")}
    if as_json:
        print_json(result)
    else:
        console.print(
            f"person {person.id}: citizen ID corrected to {result['id_number_masked']} "
            f"(correction {correction.id}, approved by {approver})",
            highlight=False,
        )
