"""``sscard import``: bulk imports (contract.md: ``sscard import persons FILE.csv``)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from sscard.cli.common import (
    EXIT_REJECTED_ROWS,
    batch_size_option,
    console,
    err_console,
    fail,
    handle_errors,
    print_json,
    row_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress, TaskID

    from sscard.imports.batches import BatchResult
    from sscard.imports.rows import Rejection
    from sscard.imports.service import ImportStart, ImportSummary

app = typer.Typer(help="Bulk imports.", no_args_is_help=True)

PROGRESS_EVERY_S = 5.0  # non-TTY progress line interval


class _Reporter:
    """Prints each rejected row as it is committed, and progress: a Rich bar on a terminal, lines otherwise."""

    def __init__(self, *, as_json: bool, max_shown: int) -> None:
        self.out = err_console if as_json else console
        self.max_shown = max_shown
        self.shown = 0
        self.hidden = 0
        self.rows = 0
        self.total = 0
        self.done = 0
        self.t0 = time.perf_counter()
        self.last_line_at = self.t0
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.stop_request: _StopRequest | None = None

    def started(self, start: ImportStart) -> None:
        self.total, self.done = start.file_size, start.start_offset
        if start.resumed_after_line is not None:
            err_console.print(
                f"resuming import job {start.job_id} after line {start.resumed_after_line}", highlight=False
            )
        if start.reopened is not None:
            accounted, data_lines = start.reopened
            err_console.print(
                f"import job {start.job_id} was marked finished but accounts for {accounted:,} of the file's "
                f"{data_lines:,} data lines; importing the whole file again (persons already in count as already "
                "present)",
                highlight=False,
                soft_wrap=True,
            )

    def _start_bar(self) -> None:
        # Started at the first committed batch, not before: the worker processes are forked by then,
        # so no child inherits the bar's refresh thread mid-flight.
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("import", total=self.total, completed=self.done, rows=0)

    def batch_committed(self, result: BatchResult) -> None:
        if self.stop_request is not None:
            self.stop_request.check()
        for rejection in result.rejections:
            self._print_rejection(rejection)
        self.rows += result.batch.rows
        self.done = result.batch.end_offset
        if self.progress is None and err_console.is_terminal:
            self._start_bar()
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, rows=self.rows)
            return
        now = time.perf_counter()
        if now - self.last_line_at >= PROGRESS_EVERY_S:
            self.last_line_at = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            rate = self.rows / (now - self.t0)
            err_console.print(f"progress: {pct:.0f}% ({self.rows:,} rows, {rate:,.0f} rows/s)", highlight=False)

    def waiting(self, waited: float | None) -> None:
        """Over the queue, between workers' ranges: a stop asked for is honoured; a long wait is said."""
        if self.stop_request is not None:
            self.stop_request.check()
        if waited is not None:
            err_console.print(
                f"no line range done for {waited:.0f} s: is a `sscard worker` running for this broker and namespace?",
                highlight=False,
            )

    def _print_rejection(self, r: Rejection) -> None:
        if self.shown >= self.max_shown:
            self.hidden += 1
            return
        self.shown += 1
        shown = f" [{r.value_masked}]" if r.value_masked else ""
        self.out.print(f"line {r.line}: {r.code} — {r.message}{shown}", markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


IN_PROCESS = typer.Option(
    "--in-process", help="Import here even when SSCARD_BROKER_URL is set (default then: `sscard worker`s)."
)


def over_queue(in_process: bool) -> bool:
    """Over the queue when a broker is configured, unless asked otherwise."""
    from sscard.jobs.broker import configured

    return not in_process and configured()


@app.command("persons")
@handle_errors
def persons(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV with header id_number,name,phone,email.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    batch_size: Annotated[int | None, batch_size_option(5000)] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, max=64, hidden=True)] = None,
    max_shown: Annotated[int, typer.Option("--show-errors", min=0, help="Print at most this many bad rows.")] = 1000,
    in_process: Annotated[bool, IN_PROCESS] = False,
) -> None:
    """Import persons; idempotent and resumable. Bad rows are reported by line and the rest continue.

    With SSCARD_BROKER_URL set, the file's line ranges go to the queue and `sscard worker` processes (on
    any machine sharing the database and data directory) import them; the result is the same.

    Exit 0 when every row is in, 3 when the import finished with rejected rows (`sscard import errors JOB`
    lists them), 1 when the file was refused (e.g. not UTF-8: convert it with iconv -f GBK -t UTF-8)."""
    from sscard.audit import Actor
    from sscard.imports.service import DEFAULT_BATCH_SIZE
    from sscard.jobs.person_import import import_persons

    run_import_job(
        lambda reporter: import_persons(
            path=file,
            actor=Actor.cli_operator(),
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            workers=workers,
            observer=reporter,
            over_queue=over_queue(in_process),
            on_wait=reporter.waiting,
        ),
        as_json=as_json,
        max_shown=max_shown,
    )


def run_import_job(run: Callable[[_Reporter], ImportSummary], *, as_json: bool, max_shown: int) -> None:
    """Run an import job (persons, contributions) with progress, bad rows by line and its summary.

    SIGTERM ends the run as Ctrl-C does: the batch in flight is rolled back, the worker processes are
    stopped, and the committed batches stay for a re-run to resume after.
    """
    reporter = _Reporter(as_json=as_json, max_shown=max_shown)
    stop = _StopRequest()
    reporter.stop_request = stop
    in_main = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = {sig: signal.signal(sig, stop.handler) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    try:
        summary = run(reporter)
    except BaseException:
        if stop.signum is None:
            raise
        # Whatever the interrupt surfaced as (it may have hit a database call mid-way), the cause is the stop.
        reporter.stop()
        raise fail(
            "interrupted; the committed batches are kept — run the same command again to resume",
            "INTERRUPTED",
            128 + stop.signum,
        ) from None
    finally:
        reporter.stop()
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
    if reporter.hidden:
        reporter.out.print(
            f"… and {reporter.hidden} more bad rows: `sscard import errors {summary.job_id}` lists them all",
            markup=False,
            highlight=False,
        )
    _print_summary(summary, as_json=as_json)
    if summary.job_totals[2]:
        # Done, but not every row is in: a distinct exit code, so a script or scheduler notices.
        raise typer.Exit(EXIT_REJECTED_ROWS)


class _StopRequest:
    """SIGINT/SIGTERM: stop after the batch in flight (``check`` runs at every committed batch, a
    fraction of a second apart). Raising from the handler itself would land anywhere, inside a
    database call or the worker pool's own bookkeeping, and leave tracebacks behind; a second signal
    still stops at once."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: now
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt


def _print_summary(s: ImportSummary, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "job_id": s.job_id,
                "rows": s.rows,
                "imported": s.imported,
                "already_present": s.already_present,
                "rejected": s.rejected,
                "elapsed_s": round(s.elapsed, 3),
                "rows_per_s": round(s.rows_per_second, 1),
                "batches": s.batches,
                "resumed_after_line": s.resumed_after_line,
                "previously_finished": s.previously_finished,
                "job_totals": dict(zip(("imported", "already_present", "rejected"), s.job_totals, strict=True)),
                "data_lines": s.data_lines,
                "blank_lines": s.blank_lines,
                "reopened": s.reopened,
            }
        )
        return
    if s.previously_finished:
        imported, already, rejected = s.job_totals
        console.print(
            f"this file was already imported completely by job {s.job_id} "
            f"({imported:,} imported, {already:,} already present, {rejected:,} rejected); nothing to do",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(
        f"job {s.job_id}: {s.imported:,} imported, {s.already_present:,} already present, "
        f"{s.rejected:,} rejected of {s.rows:,} rows in {s.elapsed:.1f} s ({s.rows_per_second:,.0f} rows/s)",
        highlight=False,
        soft_wrap=True,
    )
    if s.blank_lines:
        console.print(f"the file has {s.blank_lines:,} blank line(s), skipped", highlight=False)
    if s.resumed_after_line is not None or s.reopened:
        imported, already, rejected = s.job_totals
        console.print(
            f"whole file (all runs): {imported:,} imported, {already:,} already present, {rejected:,} rejected",
            highlight=False,
            soft_wrap=True,
        )


@app.command("errors")
@handle_errors
def errors(
    job_id: Annotated[int, typer.Argument(callback=row_id, help="Import job id (printed by `sscard import persons`).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the rejected rows of an import job (line, reason code, masked value)."""
    from sscard.db.session import unit_of_work
    from sscard.imports.service import get_job_or_raise, list_row_errors

    with unit_of_work() as uow:
        get_job_or_raise(uow=uow, job_id=job_id)
        rows = list_row_errors(uow=uow, job_id=job_id)
    for r in rows:
        if as_json:
            print_json({"line": r.line, "code": r.code, "value": r.value_masked, "message": r.message})
        else:
            shown = f" [{r.value_masked}]" if r.value_masked else ""
            console.print(
                f"line {r.line}: {r.code} — {r.message}{shown}", markup=False, highlight=False, soft_wrap=True
            )
