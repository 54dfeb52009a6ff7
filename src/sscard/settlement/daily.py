"""The institutions' daily settlement (FIN-1, INS-7): one CSV file per institution and business day, and the
reconciliation that proves the terminal transactions, the ledger postings and the files agree.

File ``<dir>/<YYYY-MM-DD>/institution-<id>.csv``, UTF-8, header then one line per answered transaction of
that day in the order they were recorded (``COLUMNS``): ``amount_fen`` is signed as the holder's medical
account saw it (a payment negative, a refund or reversal positive); what the institution is owed for the
day is minus their sum.

``reconcile`` checks, and names the first difference it finds:
1. every terminal transaction of the day has its posting: of the matching kind and day, traceable to it
   (``source_ref``), two legs — the holder's account by the transaction's amount, the institution's
   ``settlement_clearing`` account by the opposite;
2. every settlement posting of the day belongs to a terminal transaction (nothing posted behind the store);
3. every institution with transactions has its file, and the file's lines are exactly those transactions;
   no other file is in the day's folder.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import aliased

from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.db.partitions import archived_before
from sscard.db.session import UnitOfWork
from sscard.ledger import archive
from sscard.ledger.errors import PeriodArchived
from sscard.ledger.models import AccountKind, Institution, LedgerAccount, LedgerLeg, LedgerPosting, PostingKind
from sscard.settlement.models import TerminalTxn, TxnPurpose

COLUMNS = ("institution_id", "terminal_id", "txn_id", "purpose", "original_txn_id", "card", "amount_fen", "posting_id")
KIND_OF = {
    TxnPurpose.SETTLE.value: PostingKind.SETTLEMENT.value,
    TxnPurpose.REFUND.value: PostingKind.SETTLEMENT_REFUND.value,
    TxnPurpose.REVERSAL.value: PostingKind.SETTLEMENT_REVERSAL.value,
}
SETTLEMENT_KINDS = frozenset(KIND_OF.values())


@dataclass
class DayReport:
    on: date
    institutions: int = 0
    transactions: int = 0
    net_fen: int = 0  # signed as the holders' accounts saw it
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "date": self.on.isoformat(),
            "institutions": self.institutions,
            "transactions": self.transactions,
            "net_fen": self.net_fen,
            "differences": self.differences,
        }


def _rows(uow: UnitOfWork, on: date) -> dict[int, list[tuple[str, ...]]]:
    original = aliased(TerminalTxn)
    query = (
        select(TerminalTxn, original.txn_id, Card.card_no)
        .outerjoin(original, original.id == TerminalTxn.original_id)
        .outerjoin(Card, Card.id == TerminalTxn.card_id)
        .where(TerminalTxn.business_date == on)
        .order_by(TerminalTxn.id)
    )
    out: dict[int, list[tuple[str, ...]]] = {}
    for txn, original_txn_id, card_no in uow.session.execute(query).all():
        out.setdefault(txn.institution_id, []).append(
            (
                str(txn.institution_id),
                txn.terminal_id,
                txn.txn_id,
                txn.purpose,
                original_txn_id or "",
                mask_card_no(card_no) if card_no else "",
                str(txn.amount_fen),
                str(txn.posting_id or ""),
            )
        )
    return out


def _csv(rows: Iterable[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def file_path(directory: Path, on: date, institution_id: int) -> Path:
    return directory / on.isoformat() / f"institution-{institution_id}.csv"


def refuse_archived(uow: UnitOfWork, on: date) -> None:
    """PERIOD_ARCHIVED for a day whose terminal transactions or ledger legs ``sscard partitions detach``
    archived: its file would be empty and its reconciliation a false "0 transactions" (or a false
    difference against the file written before the archive)."""
    what = f"the settlement day {on:%Y-%m-%d}"
    archive.refuse_before(uow.session, on, what)
    first = archived_before(uow.session.connection(), "terminal_txn")
    if first is not None and on < first:
        raise PeriodArchived(f"{what}: terminal transactions before {first:%Y-%m-%d} are archived")


def write_files(uow: UnitOfWork, *, on: date, directory: Path) -> list[Path]:
    """Write the day's settlement file of every institution with transactions that day; the paths."""
    refuse_archived(uow, on)
    written = []
    for institution_id, rows in sorted(_rows(uow, on).items()):
        path = file_path(directory, on, institution_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_csv(rows), encoding="utf-8")
        written.append(path)
    return written


def _check_postings(uow: UnitOfWork, on: date, report: DayReport) -> None:
    clearing = {
        row.institution_id: row.id
        for row in uow.session.execute(
            select(LedgerAccount.id, LedgerAccount.institution_id).where(
                LedgerAccount.kind == AccountKind.SETTLEMENT_CLEARING.value
            )
        )
    }
    txns = {t.id: t for t in uow.session.scalars(select(TerminalTxn).where(TerminalTxn.business_date == on))}
    postings = {
        p.id: p
        for p in uow.session.scalars(
            select(LedgerPosting).where(LedgerPosting.business_date == on, LedgerPosting.kind.in_(SETTLEMENT_KINDS))
        )
    }
    wanted = [p.id for p in postings.values()] + [t.posting_id for t in txns.values() if t.posting_id]
    legs: dict[int, list[tuple[int, int]]] = {}
    for leg in uow.session.scalars(select(LedgerLeg).where(LedgerLeg.posting_id.in_(wanted)).order_by(LedgerLeg.id)):
        legs.setdefault(leg.posting_id, []).append((leg.account_id, leg.amount_fen))
    for txn in sorted(txns.values(), key=lambda t: t.id):
        name = f"transaction {txn.terminal_id}/{txn.txn_id} (terminal_txn:{txn.id})"
        posting = uow.session.get(LedgerPosting, txn.posting_id) if txn.posting_id else None
        expected = sorted([(txn.account_id, txn.amount_fen), (clearing.get(txn.institution_id, -1), -txn.amount_fen)])
        if posting is None:
            report.differences.append(f"{name}: no ledger posting")
        elif (posting.kind, posting.business_date, posting.source_ref) != (
            KIND_OF[txn.purpose],
            on,
            f"terminal_txn:{txn.id}",
        ):
            report.differences.append(
                f"{name}: posting {posting.id} is {posting.kind} of {posting.business_date} from {posting.source_ref}"
            )
        elif sorted(legs.get(posting.id, [])) != expected:
            report.differences.append(f"{name}: posting {posting.id} legs {legs.get(posting.id)} != {expected}")
    referenced = {t.posting_id for t in txns.values()}
    for posting in sorted(postings.values(), key=lambda p: p.id):
        if posting.id not in referenced:
            report.differences.append(
                f"posting {posting.id} ({posting.kind} from {posting.source_ref}) "
                "has no terminal transaction of that day"
            )


def reconcile(uow: UnitOfWork, *, on: date, directory: Path) -> DayReport:
    """Prove that the day's terminal transactions, ledger postings and settlement files agree."""
    refuse_archived(uow, on)
    report = DayReport(on)
    rows = _rows(uow, on)
    report.institutions = len(rows)
    report.transactions = sum(len(r) for r in rows.values())
    report.net_fen = sum(int(row[6]) for r in rows.values() for row in r)
    _check_postings(uow, on, report)
    names = {row.id: row.name for row in uow.session.execute(select(Institution.id, Institution.name))}
    for institution_id, expected in sorted(rows.items()):
        path = file_path(directory, on, institution_id)
        who = f"institution {institution_id} ({names.get(institution_id, '?')})"
        if not path.exists():
            report.differences.append(f"{who}: settlement file {path} is missing")
            continue
        found = [tuple(line) for line in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))]
        if not found or found[0] != COLUMNS:
            report.differences.append(f"{who}: {path} does not start with the header {','.join(COLUMNS)}")
            continue
        for number, (want, got) in enumerate(zip(expected, found[1:], strict=False), start=2):
            if want != got:
                report.differences.append(
                    f"{who}: {path} line {number} is {','.join(got)}, the transaction is {','.join(want)}"
                )
                break
        else:
            if len(found) - 1 != len(expected):
                report.differences.append(
                    f"{who}: {path} has {len(found) - 1} lines, there were {len(expected)} transactions"
                )
    day_dir = directory / on.isoformat()
    if day_dir.is_dir():
        known = {file_path(directory, on, i).name for i in rows}
        for extra in sorted(p for p in day_dir.iterdir() if p.name not in known):
            report.differences.append(f"{extra} names no institution with transactions on {on}")
    return report
