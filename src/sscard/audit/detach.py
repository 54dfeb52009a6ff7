"""Archive the oldest months (``sscard partitions detach``; docs/partitioning.md): the audit chain's,
and with them the other partitioned tables' (``terminal_txn``: whole months, nothing more to check; their
ids and idempotency keys stay taken in ``terminal_txn_key``; the contribution declarations and their parts,
whose archived months are closed; the ledger's postings and legs, each account's balance at the cut
recorded first in ``ledger_carried_balance``, which the balances' readers and ``sscard ledger check`` add).

Only whole months, only a chain found intact, only a clean cut: every stream's archived entries must
be the start of that stream (no entry still attached may come before an archived one in its stream;
clocks of two servers a few milliseconds apart at a month's end could make it so: then archive a
month less). The horizons move and the months are detached in one transaction, audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

from sscard.audit.actor import Actor
from sscard.audit.archive import record_horizons
from sscard.audit.service import record_event, verify_chain
from sscard.config import get_settings
from sscard.db.partitions import (
    PARTITIONED,
    PartitionError,
    PartitionTooRecent,
    add_months,
    carry_ledger,
    default_holds_before,
    detach_month,
    detach_months,
    is_partitioned,
    month_start,
    months_before,
)
from sscard.db.session import UnitOfWork

TABLE = "audit_entry"


@dataclass(frozen=True)
class Detached:
    partitions: list[tuple[str, date, int]] = field(default_factory=list)  # (table, month, rows)


def detach_before(uow: UnitOfWork, *, before: date, actor: Actor) -> Detached:
    """Detach every month that ends on or before ``before`` (a month's first day), of every partitioned table."""
    connection = uow.session.connection()
    if not is_partitioned(connection, TABLE):
        return Detached()
    now = datetime.now(UTC)
    if before != month_start(before) or before > month_start(now):
        raise PartitionError(f"--before {before:%Y-%m}: only whole months before the current one can be archived")
    min_age = get_settings().partition_detach_min_age_months
    latest = add_months(month_start(now), -min_age)
    if before > latest:
        raise PartitionTooRecent(
            f"--before {before:%Y-%m}: months of the last {min_age} stay attached "
            f"(SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS); the latest allowed is --before {latest:%Y-%m}"
        )
    archivable = list(PARTITIONED)
    for table in archivable:  # every table checked before anything is detached
        if default_holds_before(connection, table, before):
            raise PartitionError(f"the default partition of {table} holds rows of these months: run ensure first")
    carried = carry_ledger(connection, before, at=now)  # refused when the ledger does not prove
    months = months_before(connection, TABLE, before)
    detached: list[tuple[str, date, int]] = []
    if months:
        report = verify_chain(uow, since_checkpoints=True)
        if not report.ok:
            raise PartitionError("the audit chain is not intact (sscard audit verify): nothing archived")
        tails = _tails(connection, before)
        _check_clean_cut(connection, tails, before)
        record_horizons(connection, tails, before=before, at=now)
        detached = [(name, month, detach_month(connection, TABLE, name, month, at=now)) for name, month in months]
    for table in archivable:
        if table != TABLE:
            detached += detach_months(connection, table, before, at=now)
    if not detached:
        return Detached()
    record_event(uow, actor=actor, action="audit.archive", subject="audit",
                 details={"before": f"{before:%Y-%m}", "partitions": [n for n, _, _ in detached],
                          "entries": sum(rows for _, _, rows in detached),
                          "carried": None if carried is None else {"accounts": carried.accounts,
                                                                   "total_fen": carried.total_fen}})  # fmt: skip
    return Detached([(name, month, rows) for name, month, rows in detached])


def _tails(connection: Connection, before: date) -> dict[int, tuple[int, bytes]]:
    """Each stream's last entry in the months to archive: its new horizon (stream → (seq, hash))."""
    rows = connection.execute(
        text(
            "SELECT DISTINCT ON (stream) stream, seq, hash FROM audit_entry "
            "WHERE at < CAST(:before AS timestamptz) ORDER BY stream, seq DESC"
        ),
        {"before": f"{before.isoformat()} 00:00:00+00"},
    )
    return {r.stream: (r.seq, bytes(r.hash)) for r in rows}


def _check_clean_cut(connection: Connection, tails: dict[int, tuple[int, bytes]], before: date) -> None:
    query = text(
        "SELECT seq FROM audit_entry WHERE stream = :stream AND seq <= :seq "
        "AND at >= CAST(:before AS timestamptz) ORDER BY seq LIMIT 1"
    )
    for stream, (seq, _hash) in sorted(tails.items()):
        bound = {"stream": stream, "seq": seq, "before": f"{before.isoformat()} 00:00:00+00"}
        early = connection.execute(query, bound).scalar_one_or_none()
        if early is not None:
            raise PartitionError(
                f"stream {stream}: entry {early} is dated {before:%Y-%m} or later but comes before entry {seq} "
                "of an earlier month (clocks apart at the month's end): archive one month less"
            )
