"""``sscard partitions``: the monthly partitions of the history that grows without bound (PostgreSQL;
docs/partitioning.md). On SQLite, the embedded default, nothing is partitioned: each command says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from sscard.cli.common import console, fail, handle_errors, print_json

if TYPE_CHECKING:
    from sscard.db.session import UnitOfWork

app = typer.Typer(
    help="Monthly partitions of the history: audit, terminal transactions, contributions, the ledger (PostgreSQL).",
    no_args_is_help=True,
)
_NOT_PARTITIONED = "nothing is partitioned on this database (SQLite, or PostgreSQL before migration 0020)"


_YEAR_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}", re.ASCII)


def _month(value: str) -> date:
    """YYYY-MM in ASCII digits, nothing else (int() alone took "2024-1_0" and full-width digits)."""
    if not _YEAR_MONTH.fullmatch(value) or not 1 <= int(value[5:]) <= 12 or int(value[:4]) < 1:
        raise typer.BadParameter(f"{value!r}: expected YYYY-MM")
    return date(int(value[:4]), int(value[5:]), 1)


@app.command("list")
@handle_errors
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every partition, attached or archived, with its rows."""
    from sscard.db.partitions import list_partitions
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        found = list_partitions(uow.session.connection())
    rows = [{"table": p.table, "partition": p.name, "month": None if p.month is None else f"{p.month:%Y-%m}",
             "rows": p.rows, "state": "attached" if p.attached else "archived"} for p in found]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(_NOT_PARTITIONED)
    for r in rows:
        console.print(f"{r['table']}  {r['partition']}  {r['month'] or 'default'}  {r['rows']} rows  {r['state']}",
                      highlight=False)  # fmt: skip


@contextmanager
def _partitioned(as_json: bool) -> Iterator[UnitOfWork | None]:
    """A unit of work on a partitioned database (None, said, on SQLite); a refusal is exit 1."""
    from sscard.db.partitions import PartitionError, is_partitioned
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        if not is_partitioned(uow.session.connection(), "audit_entry"):
            if as_json:
                print_json({"partitioned": False})
            else:
                console.print(_NOT_PARTITIONED)
            yield None
            return
        try:
            yield uow  # committed by unit_of_work at the end of the block, rolled back on a refusal
        except PartitionError as exc:
            raise fail(str(exc), exc.code) from None


@app.command("ensure")
@handle_errors
def ensure(
    months_ahead: Annotated[
        int, typer.Option("--months-ahead", min=0, max=1200, help="Months after the current one (0 or more).")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create the partitions of this month and the next ones (idempotent; run it monthly, e.g. from cron).

    A month whose rows went to the default partition (nobody created it in time) gets its partition
    too, its rows moved there."""
    from sscard.audit import Actor
    from sscard.audit.service import record_event
    from sscard.db.partitions import ensure as ensure_partitions

    with _partitioned(as_json) as uow:
        if uow is None:
            return
        created = ensure_partitions(uow.session.connection(), months_ahead=months_ahead)
        if created:  # rows may have moved out of a default partition: a change like any other, audited
            record_event(uow, actor=Actor.cli_operator(), action="partitions.ensure", subject="partitions",
                         details={"created": created})  # fmt: skip
    if as_json:
        print_json({"partitioned": True, "created": created})
    else:
        console.print(f"created {len(created)} partitions: {', '.join(created)}" if created else "all partitions exist")


@app.command("detach")
@handle_errors
def detach(
    before: Annotated[str, typer.Option("--before", help="YYYY-MM: archive every month before this one.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Archive the months before BEFORE: each is detached and kept as a table of its own (dump it, then drop
    it). The audit chain is verified first; afterwards it verifies from each stream's archived head. The
    ledger's postings and legs leave with their months, each account's balance at the cut carried first
    (refused when the ledger does not prove); an archived period's balances and statements are then
    refused as PERIOD_ARCHIVED.

    Months younger than SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS (default 24) are refused
    (PARTITION_TOO_RECENT): the last full year and the current one stay attached for yearly statements,
    contribution discrepancy reports, settlement refunds and reconciliation, and the yearly audit."""
    from sscard.audit import Actor
    from sscard.audit.detach import detach_before
    from sscard.db.partitions import dump_hint

    month = _month(before)
    with _partitioned(as_json) as uow:
        if uow is None:
            return
        done = detach_before(uow, before=month, actor=Actor.cli_operator())
        hints = [dump_hint(uow.session.connection(), name) for name, _, _ in done.partitions]
    if as_json:
        print_json({"partitioned": True, "archived": [
            {"partition": name, "month": f"{m:%Y-%m}", "rows": rows, "dump": hint}
            for (name, m, rows), hint in zip(done.partitions, hints, strict=True)]})  # fmt: skip
        return
    if not done.partitions:
        console.print(f"no attached month before {month:%Y-%m}: nothing archived")
    for (name, m, rows), hint in zip(done.partitions, hints, strict=True):
        console.print(f"archived {m:%Y-%m}: {rows} rows, kept as table {name}", highlight=False)
        console.print(f"  {hint}", highlight=False, soft_wrap=True)
