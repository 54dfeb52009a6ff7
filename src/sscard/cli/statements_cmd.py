"""``sscard statements``: yearly personal-account statements (INS-4; contract.md "Insurance records")."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sscard.cli.common import console, err_console, fail, handle_errors, print_json

app = typer.Typer(help="Yearly personal-account statements (INS-4).", no_args_is_help=True)

PROGRESS_EVERY_S = 5.0  # non-TTY progress line interval


@app.command("generate")
@handle_errors
def generate(
    year: Annotated[int, typer.Option("--year", help="The finished year the statements cover.")],
    region: Annotated[
        str | None, typer.Option("--region", help="Only this region (a province covers its cities).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="In-process rendering processes (default: one per CPU; 0 = render in this process). "
            "Not used over the queue, where each `sscard worker --processes N` sets its own.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=5000, help="Statements per batch (one transaction; one message).")
    ] = 50,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process", help="Render here even when SSCARD_BROKER_URL is set (default then: `sscard worker`s)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue every contributor's statement of YEAR not issued yet: resumable, each exactly once.

    With SSCARD_BROKER_URL set, the batches go to the queue and `sscard worker` processes (on any
    machine sharing the database and data directory) render them; this command shows their progress
    and ends when all are issued. Stopped meanwhile, the queued batches are still done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from sscard.audit import Actor
    from sscard.jobs.statements import generate_statements
    from sscard.regions.codes import is_region_code

    if region is not None and not is_region_code(region):
        raise fail("a region code is six digits", "INVALID_REGION")
    out = err_console if as_json else console
    tty = out.is_terminal
    progress = Progress(
        TextColumn("statements {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=out, disable=not tty,
    )  # fmt: skip
    state = {"task": None, "done": 0, "total": 0, "last": time.monotonic()}

    def on_start(total: int, already: int) -> None:
        state.update(total=total, done=already)
        state["task"] = progress.add_task(str(year), total=total, completed=already)
        if already:
            out.print(f"resuming: {already:,} of {total:,} statements of {year} already issued", highlight=False)

    def on_batch(size: int) -> None:
        state["done"] = int(state["done"] or 0) + size
        if state["task"] is not None:
            progress.advance(state["task"], size)  # type: ignore[arg-type]
        now = time.monotonic()
        if not tty and now - float(state["last"] or 0) >= PROGRESS_EVERY_S:
            state["last"] = now
            out.print(f"statements {year}: {state['done']:,}/{state['total']:,}", highlight=False)

    def on_stall(waited: float) -> None:
        out.print(
            f"statements {year}: no statement issued for {waited:.0f} s: is a `sscard worker` running "
            "for this broker and namespace?",
            highlight=False,
        )

    with progress:
        result = generate_statements(
            year=year, region=region, actor=Actor.cli_operator(), workers=workers, batch_size=batch_size,
            on_start=on_start, on_batch=on_batch, over_queue=False if in_process else None, on_stall=on_stall,
        )  # fmt: skip
    summary = {
        "year": result.year,
        "region": result.region,
        "contributors": result.contributors,
        "already_issued": result.already,
        "issued": result.issued,
        "seconds": round(result.seconds, 2),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{result.issued:,} statements issued, {result.already:,} already issued, "
            f"{result.contributors:,} contributors ({result.seconds:.1f} s)",
            highlight=False,
        )


@app.command("show")
@handle_errors
def show(
    id_number: Annotated[str, typer.Option("--id", help="The person's citizen ID.")],
    year: Annotated[int, typer.Option("--year")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF ('-' for stdout).")],
    lang: Annotated[str, typer.Option("--lang", help="zh (default) or en.")] = "zh",
) -> None:
    """Write one person's statement of YEAR as PDF (issued now if the batch has not reached them)."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.statements.service import show_statement

    if lang not in ("zh", "en"):
        raise fail("--lang is zh or en", "INVALID_LANG", exit_code=2)
    if str(out) != "-" and not out.resolve().parent.is_dir():
        raise fail(f"no directory {out.resolve().parent}", "INVALID_OUT", exit_code=2)
    with unit_of_work() as uow:
        pdf = show_statement(uow, id_number=id_number, year=year, lang=lang, actor=Actor.cli_operator())  # type: ignore[arg-type]
    if str(out) == "-":
        sys.stdout.buffer.write(pdf)
        return
    from sscard.statements.files import write_atomically

    write_atomically(out.name, pdf, root=out.resolve().parent, private=False)
    err_console.print(f"wrote {out} ({len(pdf):,} bytes, {lang})", highlight=False)


@app.command("verify")
@handle_errors
def verify(
    code: Annotated[str, typer.Argument(help="The verification code printed on the statement.")],
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf", exists=True, dir_okay=False, help="Also check that this file is the statement as issued."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a statement's verification code (and, with --pdf, the file itself); exit 1 if not genuine."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.statements.service import pdf_matches, verify_code

    with unit_of_work() as uow:
        found = verify_code(uow, code=code, actor=Actor.cli_operator())
        intact = None if pdf is None else pdf_matches(uow, code=code, pdf=pdf.read_bytes())
    answer = {
        "genuine": True,
        "year": found.year,
        "name_masked": found.name_masked,
        "region_code": found.region_code,
        "issued_on": found.issued_on.isoformat(),
        "accounts": found.totals,
        "content_sha256": found.content_sha256,
        "pdf_intact": intact,
    }
    if as_json:
        print_json(answer)
    else:
        from sscard.statements.render import yuan

        console.print(f"genuine: statement {found.year} of {found.name_masked} ({found.region_code})", highlight=False)
        for kind, totals in found.totals.items():
            console.print(
                f"  {kind}: " + ", ".join(f"{k.removesuffix('_fen')} {yuan(v)}" for k, v in totals.items()),
                soft_wrap=True,
            )
        if intact is not None:
            console.print(
                "  the PDF is the statement as issued" if intact else "  the PDF DIFFERS from the statement as issued"
            )
    if intact is False:
        raise typer.Exit(1)
