"""``sscard audit``: verify the hash chain (CH-4) and the staff members' signatures (non-repudiation)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sscard.cli.common import console, err_console, handle_errors, print_json

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from sscard.audit.anchors import Anchor, AnchorStatus
    from sscard.audit.service import VerifyReport

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
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Exit 0 when every chain is intact; exit 1 naming the first bad entry.

    Walks every entry from the first and compares every stream with its checkpoint and with the latest
    anchor (audit/anchors.py; the whole anchor file is checked too). Each stream found intact gets a
    checkpoint, where the audit report's check starts, and the heads are anchored: a line appended to
    the anchor file (run this nightly, where the anchor file lives)."""
    from sscard.audit import Actor
    from sscard.audit.service import verify_and_anchor
    from sscard.db.session import unit_of_work

    progress = _WalkProgress()
    try:
        with unit_of_work() as uow:
            report, checkpoints, anchor = verify_and_anchor(uow, actor=Actor.cli_operator(), progress=progress)
    finally:
        progress.stop()
    p = report.problem
    anchors = _anchor_summary(report.anchors, anchor)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "entries": report.entries,
                "streams": report.streams,
                "checkpoints": checkpoints,
                "problems": len(report.problems),
                "first_bad": None
                if p is None
                else {"entry_id": p.entry_id, "stream": p.stream, "seq": p.seq, "reason": p.reason},
                "anchors": anchors,
                "archived_before": None if report.archived_before is None else f"{report.archived_before:%Y-%m}",
            }
        )
    else:
        if p is None and report.anchor_problem is None:
            console.print(f"audit chain intact: {report.entries} entries in {report.streams} streams{_covers(report)}")
        if p is not None:
            where = f"entry {p.entry_id}" if p.entry_id is not None else "end of stream"
            err_console.print(f"audit chain BROKEN at {where} (stream {p.stream}, seq {p.seq}): {p.reason}")
        if report.anchor_problem is not None:
            err_console.print(f"audit anchors BROKEN: {report.anchor_problem}")
        (console if report.anchor_problem is None else err_console).print(_anchor_line(anchors), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify-signatures")
@handle_errors
def verify_signatures(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Exit 0 when every signed staff operation carries a valid SM2 signature; exit 1 listing the others.

    Non-repudiation (GB/T 39786 level 3, docs/compliance.md): each audit entry of a signed operation
    (PIN reset, card cancellation, key and carrier steps ...) must be signed by its actor's registered
    key over the entry as stored now (audit/signatures.py). Read-only: nothing is written."""
    from sscard.audit.signatures import verify_signatures as verify_all
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        report = verify_all(uow)
    problems = [{"entry_id": p.entry_id, "action": p.action, "signer": p.signer, "reason": p.reason}
                for p in report.problems]  # fmt: skip
    if as_json:
        print_json({"ok": report.ok, "checked": report.checked, "valid": report.valid, "problems": problems})
    elif report.ok:
        console.print(f"audit signatures valid: {report.valid} signed operations checked")
    else:
        for p in problems:
            err_console.print(
                f"entry {p['entry_id']} ({p['action']} by {p['signer']}): signature {p['reason']}", highlight=False
            )
        err_console.print(f"audit signatures BROKEN: {len(problems)} of {report.checked} signed operations")
    if not report.ok:
        raise typer.Exit(1)


@app.command("anchor")
@handle_errors
def anchor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Anchor the stream heads now, without a walk (e.g. from cron, every few minutes).

    Appends a MACed digest of every head to the anchor file (SSCARD_AUDIT_ANCHOR_FILE, default
    <data dir>/audit/anchors.jsonl), records it in the database and notifies the auditors. Exit 1
    when a stream does not continue the previous anchor (tampering: named, and kept anchored as it
    was) or when the anchor file does not match the database's record of it (nothing written)."""
    from sscard.audit import Actor
    from sscard.audit.anchors import anchor_now
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        written = anchor_now(uow, actor=Actor.cli_operator())
    out = {
        "ok": not written.faults,
        "n": written.n,
        "at": written.at.isoformat(),
        "streams": len(written.heads),
        "entries": written.entries,
        "digest": written.digest.hex(),
        "faults": [{"stream": s, "seq": q, "reason": r} for s, q, r in written.faults],
    }
    if as_json:
        print_json(out)
    else:
        console.print(f"anchor {written.n}: {out['streams']} streams, {written.entries} entries, "
                      f"digest {out['digest']}", highlight=False)  # fmt: skip
        for s, q, r in written.faults:
            err_console.print(f"TAMPERING: stream {s}, seq {q}: {r}", highlight=False)
    if written.faults:
        raise typer.Exit(1)


def _covers(report: VerifyReport) -> str:
    """The range the walk covered when older months are archived (``sscard partitions detach``)."""
    if report.archived_before is None:
        return ""
    return (f", from {report.archived_before:%Y-%m} on (earlier months archived: each stream walked "
            "from its archived last entry's hash)")  # fmt: skip


def _anchor_summary(status: AnchorStatus | None, written: Anchor | None) -> dict[str, Any]:
    """What the check found in the anchor file, and the anchor this run wrote."""
    latest = None if status is None else status.latest
    age = None if status is None else status.age()
    return {
        "file": None if status is None else status.path,
        "checked": 0 if status is None else status.count,
        "latest": None if latest is None else {"n": latest.n, "at": latest.at.isoformat()},
        "age_s": None if age is None else round(age.total_seconds()),
        "problem": None if status is None else status.problem,
        "written": None if written is None else {"n": written.n, "faults": len(written.faults)},
    }


def _anchor_line(summary: dict[str, Any]) -> str:
    latest = summary["latest"]
    if latest is None:
        checked = "not anchored before this run"
    else:
        checked = f"checked against anchor {latest['n']} of {latest['at'][:19]} UTC ({summary['age_s']} s old)"
    written = summary["written"]
    wrote = "" if written is None else f"; anchor {written['n']} written to {summary['file']}"
    return f"anchors: {checked}{wrote}"
