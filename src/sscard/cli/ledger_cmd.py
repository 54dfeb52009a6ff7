"""``sscard ledger``: prove the double-entry ledger (FIN, INS-3)."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json

app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@app.command("check")
@handle_errors
def check(as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """Prove the ledger: legs of every posting sum to zero, every balance equals its legs (plus its balance
    carried at the cut, once older months are archived), none below zero, every terminal transaction
    posted on its account (its institution and card exist)."""
    from sscard.db.session import unit_of_work
    from sscard.ledger.service import check as check_ledger

    with unit_of_work() as uow:
        report = check_ledger(uow)
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        carried = (
            ""
            if report.carried_before is None
            else (f", from {report.carried_before} on (earlier months archived: each balance carried at the cut)")
        )
        console.print(f"ledger ok: {report.accounts} accounts, {report.postings} postings, {report.legs} legs{carried}")
    else:
        first = report.discrepancies[0]
        console.print(
            f"[red]ledger discrepancy[/red] {first.kind} {first.ref}: {first.detail} "
            f"({len(report.discrepancies)} found)",
            highlight=False,
            soft_wrap=True,  # one line, however long
        )
    if not report.ok:
        raise typer.Exit(1)
