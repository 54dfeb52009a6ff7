"""``sscard audit``: verify the hash chain (CH-4)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from sscard.audit import Actor
from sscard.cli.common import console, err_console, handle_errors, print_json

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

app = typer.Typer(help="Audit log.", no_args_is_help=True)
PROGRESS_EVERY_S = 5.0  # a progress line this often when stderr is not a terminal


class _WalkProgress:
    """A full walk of a national log takes hours: a Rich bar on a terminal, a line every few seconds
    otherwise (cron mail, a log file), on stderr so ``--json`` stays one object on stdout."""

    def __init__(self) -> None:
        self.started = self.last_line_at = time.perf_counter()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, walked: int, to_walk: int) -> None:
        if err_console.is_terminal:
            if self.bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self.bar = Progress(TextColumn("verifying the audit chain"), BarColumn(), MofNCompleteColumn(),
                                    TimeRemainingColumn(), console=err_console, transient=True)  # fmt: skip
                self.bar.start()
                self.task = self.bar.add_task("walk", total=to_walk)
            assert self.task is not None  # noqa: S101 - set with the bar
            self.bar.update(self.task, completed=walked, total=to_walk)
            return
        now = time.perf_counter()
        if now - self.last_line_at >= PROGRESS_EVERY_S:
            self.last_line_at = now
            rate = walked / max(now - self.started, 1e-9)  # a zero interval on a coarse clock
            err_console.print(f"progress: {walked:,} of {to_walk:,} entries ({rate:,.0f} entries/s)", highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command("verify")
@handle_errors
def verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Exit 0 when every chain is intact; exit 1 naming the first bad entry.

    Walks every entry from the first; each stream found intact gets a checkpoint, where the audit
    report's check starts (run this nightly)."""
    from sscard.audit.service import checkpoint_chain
    from sscard.db.session import unit_of_work

    progress = _WalkProgress()
    try:
        with unit_of_work() as uow:
            report, checkpoints = checkpoint_chain(uow, actor=Actor.cli_operator(), progress=progress)
            uow.commit()
    finally:
        progress.stop()
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
