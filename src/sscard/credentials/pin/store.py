"""The PIN counter and lock in SQL (PIN-5): every change is ONE atomic statement.

Why single statements: the count is per card across all channels, and two terminals (or twenty
parallel requests) may try the same card at once. ``failures = failures + 1 … RETURNING`` lets the
database serialise them on the row, so exactly ``threshold`` failures are counted before the lock
and nothing is ever read, changed in Python and written back.

The card's PIN row is also the one lock of the card's PIN state (``lock_pin_row``): every PIN
decision takes it before it reads the state it decides on (see ``service.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, case, literal, select

from sscard.credentials.pin.models import CardPin
from sscard.db.session import UnitOfWork
from sscard.db.statements import upsert

T = cast(Table, CardPin.__table__)


@dataclass(frozen=True, slots=True)
class Failure:
    """The counter after a wrong PIN was counted."""

    failures: int
    locked: bool


def record_failure(uow: UnitOfWork, *, card_id: int, threshold: int, now: datetime) -> Failure | None:
    """Count one wrong PIN; lock at ``threshold``. None when the PIN was already locked (nothing counted)."""
    locked_expr = case((T.c.failures + 1 >= threshold, literal(now, T.c.locked_at.type)), else_=None)
    ins = upsert(uow, T).values(
        card_id=card_id,
        failures=1,
        locked_at=now if threshold <= 1 else None,
        restorable=False,
        updated_at=now,
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[T.c.card_id],
        set_={"failures": T.c.failures + 1, "locked_at": locked_expr, "updated_at": now},
        where=T.c.locked_at.is_(None),
    ).returning(T.c.failures, T.c.locked_at)
    row = uow.session.execute(stmt).one_or_none()
    if row is None:
        return None
    return Failure(failures=int(row.failures), locked=row.locked_at is not None)


def get_pin_row(uow: UnitOfWork, card_id: int) -> CardPin | None:
    """The card's PIN row as committed now (no row: never changed, never failed)."""
    return uow.session.scalar(
        select(CardPin).where(CardPin.card_id == card_id).execution_options(populate_existing=True)
    )


def lock_pin_row(uow: UnitOfWork, *, card_id: int, now: datetime) -> CardPin:
    """The card's PIN row, row-locked until commit and read under the lock (created if absent): what
    every PIN decision on a card starts with (verify, change, counter work)."""
    locked = select(CardPin).where(CardPin.card_id == card_id).with_for_update()
    locked = locked.execution_options(populate_existing=True)
    row = uow.session.scalar(locked)  # PostgreSQL: waits for a holder, then reads the row as it committed
    if row is None:
        # No row yet (or one another transaction is inserting: the insert waits for it to finish).
        ins = upsert(uow, T).values(card_id=card_id, failures=0, restorable=False, updated_at=now)
        uow.session.execute(ins.on_conflict_do_nothing(index_elements=[T.c.card_id]))
        row = uow.session.scalar(locked)
    assert row is not None  # noqa: S101 - inserted just above in this transaction, or by one committed since
    return row
