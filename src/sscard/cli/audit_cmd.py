"""``sscard audit``: verify the hash chain (CH-4)."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.audit import Actor
from sscard.cli.common import console, err_console, handle_errors, print_json

app = typer.Typer(help="Audit log.", no_args_is_help=True)


@app.command("verify")
@handle_errors
def verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Exit 0 when every chain is intact; exit 1 naming the first bad entry.

    Walks every entry from the first; each stream found intact gets a checkpoint, where the audit
    report's check starts (run this nightly)."""
    from sscard.audit.service import checkpoint_chain
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        report, checkpoints = checkpoint_chain(uow, actor=Actor.cli_operator())
        uow.commit()
    p = report.problem
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "entries": report.entries,
                "streams": report.streams,
                "checkpoints": checkpoints,
                "first_bad": None
                if p is None
                else {"entry_id": p.entry_id, "stream": p.stream, "seq": p.seq, "reason": p.reason},
            }
        )
    elif p is None:
        console.print(f"audit chain intact: {report.entries} entries in {report.streams} streams")
    else:
        where = f"entry {p.entry_id}" if p.entry_id is not None else "end of stream"
        err_console.print(f"audit chain BROKEN at {where} (stream {p.stream}, seq {p.seq}): {p.reason}")
    if p is not None:
        raise typer.Exit(1)
