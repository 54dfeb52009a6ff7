"""``sscard settlement file|reconcile``: the medical institutions' daily settlement (FIN-1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json

app = typer.Typer(help="Daily settlement of the medical institutions.", no_args_is_help=True)

DateOpt = Annotated[str, typer.Option("--date", help="Business day, YYYY-MM-DD (China time).")]
DirOpt = Annotated[
    Path | None, typer.Option("--dir", help="Folder of the settlement files (default: <data dir>/settlement).")
]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("the date must be YYYY-MM-DD", param_hint="--date") from None


def _dir(directory: Path | None) -> Path:
    from sscard.config import get_settings

    return directory or get_settings().data_dir / "settlement"


@app.command("file")
@handle_errors
def write_file(
    day: DateOpt, directory: DirOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Write the day's settlement file (CSV) of every institution with transactions that day."""
    from sscard.db.session import unit_of_work
    from sscard.settlement.daily import write_files

    with unit_of_work() as uow:
        paths = write_files(uow, on=_day(day), directory=_dir(directory))
    if as_json:
        print_json({"files": [str(p) for p in paths]})
    else:
        for path in paths:
            console.print(str(path), highlight=False)


@app.command("reconcile")
@handle_errors
def reconcile(
    day: DateOpt, directory: DirOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Prove the day's terminal transactions, ledger postings and settlement files agree; exit 1 naming the
    first difference."""
    from sscard.db.session import unit_of_work
    from sscard.settlement.daily import reconcile as reconcile_day

    with unit_of_work() as uow:
        report = reconcile_day(uow, on=_day(day), directory=_dir(directory))
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        console.print(
            f"settlement {report.on} reconciled: {report.institutions} institutions, "
            f"{report.transactions} transactions, net {report.net_fen} fen",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"[red]settlement difference[/red] {report.differences[0]} ({len(report.differences)} found)",
            highlight=False,
            soft_wrap=True,  # one line, however long the path and the rows it names
        )
    if not report.ok:
        raise typer.Exit(1)
