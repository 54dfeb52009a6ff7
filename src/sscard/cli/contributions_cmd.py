"""``sscard contributions import``: monthly declarations from a CSV (INS-3), with progress, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sscard.cli.common import batch_size_option, handle_errors
from sscard.cli.import_cmd import IN_PROCESS, over_queue, run_import_job

app = typer.Typer(help="Social insurance contributions.", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV with header uscc,id_number,period,base_fen.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    batch_size: Annotated[int | None, batch_size_option(2000)] = None,
    max_shown: Annotated[int, typer.Option("--show-errors", min=0, help="Print at most this many bad rows.")] = 1000,
    in_process: Annotated[bool, IN_PROCESS] = False,
) -> None:
    """Import declarations; idempotent per (employer, person, period), resumable, bad lines reported by line.

    With SSCARD_BROKER_URL set, the file's line ranges go to the queue and `sscard worker` processes
    post them; the result is the same.

    Exit 0 when every row is in, 3 when the import finished with rejected rows, 1 when the file was
    refused (e.g. not UTF-8: convert it with iconv -f GBK -t UTF-8)."""
    from sscard.audit import Actor
    from sscard.jobs.contributions_import import DEFAULT_BATCH_SIZE, import_contributions

    run_import_job(
        lambda reporter: import_contributions(
            path=file,
            actor=Actor.cli_operator(),
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            observer=reporter,
            over_queue=over_queue(in_process),
            on_wait=reporter.waiting,
        ),
        as_json=as_json,
        max_shown=max_shown,
    )
