"""What the balances' readers add once the ledger's oldest months are archived (PostgreSQL;
docs/partitioning.md, "Archiving the ledger").

``sscard partitions detach`` records each account's balance at the cut (``ledger_carried_balance``, in the
transaction that detaches the postings and legs dated before it). Every leg still attached is dated on or
after the latest cut, so an account's balance on a day from the cut on is its carried balance plus its
attached legs up to that day; a day before the cut is archived (``PeriodArchived``), never a wrong figure.
On SQLite, and before any ledger month was archived, there is no cut and nothing is carried.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Subquery, column, func, select, table, text
from sqlalchemy.orm import Session

from sscard.db.partitions import LEDGER_CUT_SQL
from sscard.ledger.errors import PeriodArchived

CARRIED = table("ledger_carried_balance", column("account_id"), column("carried_before"), column("balance_fen"))


def cut(session: Session) -> date | None:
    """The first business date whose legs are all attached, when older ones are archived; else None."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.execute(text(LEDGER_CUT_SQL)).scalar_one_or_none()


def refuse_before(session: Session, day: date | None, what: str) -> date | None:
    """The cut, after refusing ``what`` when it needs the legs of business days before ``day`` that were
    archived (``day`` None: nothing before the cut is needed, the carried balance stands for it)."""
    first = cut(session)
    if first is not None and day is not None and day < first:
        raise PeriodArchived(f"{what}: the ledger before {first:%Y-%m-%d} is archived")
    return first


def carried_at(first: date | None) -> Subquery | None:
    """(account_id, balance_fen) of every account at the cut ``first``; None when nothing is carried."""
    if first is None:
        return None
    return select(CARRIED.c.account_id, CARRIED.c.balance_fen).where(CARRIED.c.carried_before == first).subquery()


def carried_balance(session: Session, account_id: int, first: date | None) -> int:
    """The account's balance at the cut ``first`` (0 without one, or when it had no leg before it)."""
    if first is None:
        return 0
    query = select(func.coalesce(func.sum(CARRIED.c.balance_fen), 0)).where(
        CARRIED.c.account_id == account_id, CARRIED.c.carried_before == first
    )
    return int(session.scalar(query) or 0)
