"""``sscard card``: issue, activate, show, report loss, confirm, replace, cancel (CARD-1..CARD-6)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from sscard.cli.common import console, fail, handle_errors, print_json

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(help="Social security, medical-insurance and rural cooperative medical cards.", no_args_is_help=True)

CardTypeOption = Annotated[str, typer.Option("--type", help="social | medical | rural")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
EvidenceOption = Annotated[
    str, typer.Option("--evidence", help="The identity document checked, e.g. 'resident ID card' (CH-2).")
]


def card_as_typed(fn: Callable[P, R]) -> Callable[P, R]:
    """The operator typed the card number: a card that is not there is named as typed, not masked as in
    the API's answers and the logs (``A0000****`` names nothing the operator can check)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from sscard.cards.errors import CardNotFound

        try:
            return fn(*args, **kwargs)
        except CardNotFound as exc:
            typed = kwargs.get("card_no")
            raise fail(f"no card {typed}" if isinstance(typed, str) else exc.detail, exc.code) from None

    return wrapper


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(text, highlight=False)


@app.command("issue")
@handle_errors
def issue(
    id_number: Annotated[str, typer.Argument(help="The holder's citizen ID number.")],
    card_type: CardTypeOption = "social",
    as_json: JsonOption = False,
) -> None:
    """Issue a card to a registered person; prints the card number."""
    from sscard.audit import Actor
    from sscard.cards.service import issue_card
    from sscard.credentials.pin.issuance import notify_card_issued
    from sscard.db.session import unit_of_work
    from sscard.people.service import get_person_by_id_number_or_raise

    with unit_of_work() as uow:
        person = get_person_by_id_number_or_raise(uow, id_number)
        card = issue_card(uow, person_id=person.id, card_type=card_type, actor=Actor.cli_operator())
        notify_card_issued(uow, card=card, actor=Actor.cli_operator())  # PIN-12: the rule, never the PIN
        card_no, ctype = card.card_no, card.card_type.value
    _emit(
        as_json,
        {"card_no": card_no},
        f"{ctype} card {card_no} issued; activate it with: sscard card activate {card_no}",
    )


@app.command("activate")
@handle_errors
@card_as_typed
def activate(
    card_no: Annotated[str, typer.Argument(help="Card number.")],
    as_json: JsonOption = False,
) -> None:
    """Activate an issued card (CARD-4: only an activated card can be used)."""
    from sscard.audit import Actor
    from sscard.cards.service import activate_card
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        number = activate_card(uow, card_no=card_no, actor=Actor.cli_operator()).card_no
    _emit(as_json, {"card_no": number}, f"card {number} is active")


@app.command("show")
@handle_errors
@card_as_typed
def show(card_no: Annotated[str, typer.Argument(help="Card number.")], as_json: JsonOption = False) -> None:
    """Show a card: type, medium, applications, state and dates."""
    from sscard.cards.schemas import CardRead
    from sscard.cards.service import get_card_or_raise
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        data = CardRead.of(get_card_or_raise(uow, card_no)).model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        shown = ", ".join(value) if isinstance(value, list) else ("-" if value is None else value)
        console.print(f"{key:>16}  {shown}", highlight=False)


@app.command("report-loss")
@handle_errors
def report_loss(
    id_number: Annotated[str, typer.Argument(help="The holder's citizen ID / social security number.")],
    card_type: Annotated[str | None, typer.Option("--type", help="social | medical | rural")] = None,
    as_json: JsonOption = False,
) -> None:
    """Oral loss report: blocks the card at once, lapses after the policy days unless confirmed (CARD-5)."""
    from sscard.audit import Actor
    from sscard.cards.schemas import LossReportRead
    from sscard.cards.service import report_loss_by_hotline
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        report = report_loss_by_hotline(uow, id_number=id_number, card_type=card_type, actor=Actor.cli_operator())
        read = LossReportRead.of(report)
    expires = read.expires_at.isoformat(timespec="minutes") if read.expires_at else "-"
    _emit(
        as_json,
        read.model_dump(mode="json"),
        f"card {read.card_no_masked} blocked (report {read.reference}); lapses at {expires} unless confirmed",
    )


@app.command("confirm-loss")
@handle_errors
@card_as_typed
def confirm(card_no: Annotated[str, typer.Argument()], evidence: EvidenceOption, as_json: JsonOption = False) -> None:
    """Make a loss formal after checking the holder's ID document."""
    from sscard.audit import Actor
    from sscard.cards.service import confirm_loss
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        report = confirm_loss(uow, card_no=card_no, actor=Actor.cli_operator(), evidence=evidence)
        data = {"card_no": report.card.card_no, "state": report.card.state.value, "report": report.id}
    _emit(as_json, data, f"card {data['card_no']} is lost (formal report {data['report']}); replace it to reissue")


@app.command("withdraw-loss")
@handle_errors
@card_as_typed
def withdraw(card_no: Annotated[str, typer.Argument()], evidence: EvidenceOption, as_json: JsonOption = False) -> None:
    """The holder found the card: withdraw the provisional report and unblock it."""
    from sscard.audit import Actor
    from sscard.cards.service import withdraw_loss
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        card = withdraw_loss(uow, card_no=card_no, actor=Actor.cli_operator(), evidence=evidence)
        data = {"card_no": card.card_no, "state": card.state.value}
    _emit(as_json, data, f"card {data['card_no']} is {data['state']} again")


@app.command("replace")
@handle_errors
@card_as_typed
def replace(
    card_no: Annotated[str, typer.Argument(help="The lost or damaged card.")], as_json: JsonOption = False
) -> None:
    """Replace a lost or damaged card with a new card number; the old one becomes invalid (CARD-2)."""
    from sscard.audit import Actor
    from sscard.cards.service import replace_card
    from sscard.credentials.pin.issuance import notify_card_issued
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        new = replace_card(uow, card_no=card_no, actor=Actor.cli_operator())
        notify_card_issued(uow, card=new, actor=Actor.cli_operator())  # PIN-12
        data = {"card_no": new.card_no, "replaces": card_no.strip().upper()}
    _emit(as_json, data, f"card {data['replaces']} replaced by {data['card_no']} (issued; activate it)")


@app.command("cancel")
@handle_errors
@card_as_typed
def cancel(
    card_no: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="holder_request | issued_in_error | holder_deceased")] = (
        "holder_request"
    ),
    as_json: JsonOption = False,
) -> None:
    """Cancel a card for good."""
    from sscard.audit import Actor
    from sscard.cards.service import cancel_card
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        card = cancel_card(uow, card_no=card_no, actor=Actor.cli_operator(), reason=reason)
        data = {"card_no": card.card_no, "state": card.state.value}
    _emit(as_json, data, f"card {data['card_no']} cancelled")


@app.command("expire-loss-reports")
@handle_errors
def expire(as_json: JsonOption = False) -> None:
    """Batch: lift every provisional loss report whose policy days have passed (CARD-5)."""
    from sscard.cards.service import expire_loss_reports
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        count = expire_loss_reports(uow, now=utcnow())
    _emit(as_json, {"expired": count}, f"{count} provisional loss report(s) expired")
