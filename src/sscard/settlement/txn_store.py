"""The terminal transaction store: terminal + transaction id → request digest + first answer.

General by design (FIN-1 here; bank POS consumption, FIN-2, can reuse it as is):

* ``request_digest(purpose, **fields)`` — what makes two requests "the same": the purpose and the
  fields that move money (card, amount, options, the original transaction), canonical JSON, SHA-256,
  keyed with the security module's blind index (a card number has few enough unknown digits to be
  confirmed offline against a bare hash read from the database or a backup).
  Never the PIN block: ISO 9564 format 4 enciphers the same PIN differently every time.
* ``replay(uow, terminal_id=, txn_id=, digest=)`` — the first answer of the same request again, None
  when the id is new, ``TXN_CONFLICT`` when the id was used for another request.
* ``claim(uow, ...)`` — records the transaction in the transaction that moves the money, before it is
  posted; an id another transaction claimed meanwhile (PostgreSQL waits for that one to end first) is
  ``TXN_CONFLICT`` for another request, or ``AlreadyAnswered`` with that answer for the same request.

Only answered-ok requests are stored: a refused request moved nothing, so asking again is decided
again (a wrong PIN is counted again, as at verify). Callers lock the account they move first, so two
copies of one request on one account are decided one after the other: the second's ``claim`` finds the
first's row (a refusal it would give instead, such as too little money left, must ask ``replay`` first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, upsert
from sscard.security_module import get_security_module
from sscard.settlement.errors import TxnConflict
from sscard.settlement.models import TerminalTxn

T = cast(Table, TerminalTxn.__table__)
DIGEST_PURPOSE = "terminal_txn_request"  # the blind index's purpose: no other index shares these values
# The canonical request's encoder, built once (``json.dumps`` with these arguments builds one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_FIND = select(T.c.request_digest, T.c.answer).where(
    T.c.terminal_id == bindparam("terminal_id"), T.c.txn_id == bindparam("txn_id")
)


class AlreadyAnswered(Exception):  # noqa: N818 - not an error: the outcome of a race, handled by the caller
    """The same request was answered by a transaction that committed while this one waited: its answer."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("already answered")
        self.answer = answer


def request_digest(purpose: str, **fields: object) -> str:
    """The keyed digest of the canonical request (see the module docstring); every path, the terminal
    batches' included, stores this one.

    Digests stored before it was keyed (bare SHA-256) match no new one: a retry of such a transaction
    gets ``TXN_CONFLICT`` and moves nothing (terminals retry within minutes, so only a retry straddling
    the upgrade meets it). The same holds across a rotation of the security module's index key."""
    return request_digests(purpose, [fields])[0]


def request_digests(purpose: str, requests: Sequence[Mapping[str, object]]) -> list[str]:
    """``request_digest`` of many requests of one purpose (a terminal batch's payments), in order: the
    security module's index key is looked up once for all of them, not once a payment."""
    canonical = [
        hashlib.sha256(_CANONICAL.encode({"purpose": purpose, **fields}).encode()).digest() for fields in requests
    ]
    keyed = get_security_module().blind_indexes([(digest, DIGEST_PURPOSE) for digest in canonical])
    return [digest.hex() for digest in keyed]


def replay(uow: UnitOfWork, *, terminal_id: str, txn_id: str, digest: str) -> dict[str, Any] | None:
    """The stored answer of this very request, None for a new id; ``TXN_CONFLICT`` for another request."""
    row = uow.session.execute(_FIND, {"terminal_id": terminal_id, "txn_id": txn_id}).one_or_none()
    if row is None:
        return None
    if row.request_digest != digest:
        raise TxnConflict(f"transaction id {txn_id} of terminal {terminal_id} was used for another request")
    return dict(row.answer)


def claim(
    uow: UnitOfWork,
    *,
    terminal_id: str,
    txn_id: str,
    purpose: str,
    digest: str,
    institution_id: int,
    card_id: int | None,
    account_id: int,
    amount_fen: int,
    business_date: date,
    answer: dict[str, Any],
    original_id: int | None = None,
) -> int:
    """Record an answered transaction (in the transaction that moves its money); its row id."""
    from sscard.db.base import utcnow

    values = {
        "terminal_id": terminal_id,
        "txn_id": txn_id,
        "purpose": purpose,
        "request_digest": digest,
        "institution_id": institution_id,
        "card_id": card_id,
        "account_id": account_id,
        "amount_fen": amount_fen,
        "original_id": original_id,
        "reversed": False,
        "business_date": business_date,
        "answer": answer,
        "created_at": utcnow(),
    }
    if dialect_of(uow) == "postgresql":
        row_id = _insert_unless_taken(uow, values)
    else:
        stmt = upsert(uow, T).values(values).on_conflict_do_nothing(index_elements=[T.c.terminal_id, T.c.txn_id])
        row_id = uow.session.scalar(stmt.returning(T.c.id))
    if row_id is None:  # claimed by a transaction that committed meanwhile
        first = replay(uow, terminal_id=terminal_id, txn_id=txn_id, digest=digest)  # TXN_CONFLICT if another request
        if first is None:  # pragma: no cover - the conflicting row exists
            raise TxnConflict(f"transaction id {txn_id} of terminal {terminal_id} is being used")
        raise AlreadyAnswered(first)
    return int(row_id)


# The idempotency key, kept unique across the monthly partitions by ``terminal_txn_key`` (migration
# 0020_partitions, docs/partitioning.md) under the name the table's own constraint had.
_TXN_KEY = "uq_terminal_txn_terminal_id_txn_id"


def _insert_unless_taken(uow: UnitOfWork, values: dict[str, Any]) -> int | None:
    """PostgreSQL: the row's id, None when the terminal's transaction id is taken. ``ON CONFLICT`` needs
    a unique index on the partitioned table itself; the key table gives the same outcome: an insert
    waits for a transaction holding the same key and fails if it commits (rolled back to a savepoint)."""
    try:
        with uow.session.begin_nested():
            return int(uow.session.execute(insert(T).values(values).returning(T.c.id)).scalar_one())
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != _TXN_KEY:
            raise
        return None


def attach_posting(uow: UnitOfWork, *, txn_row_id: int, posting_id: int) -> None:
    """Name the ledger posting that moved the transaction's money."""
    uow.session.execute(update(T).where(T.c.id == txn_row_id).values(posting_id=posting_id))


def get_txn(uow: UnitOfWork, *, terminal_id: str, txn_id: str) -> TerminalTxn | None:
    """The stored transaction (ORM row), or None."""
    query = select(TerminalTxn).where(TerminalTxn.terminal_id == terminal_id, TerminalTxn.txn_id == txn_id)
    return uow.session.scalars(query.execution_options(populate_existing=True)).one_or_none()


# PostgreSQL: the key row ``sscard partitions detach`` leaves behind (docs/partitioning.md).
# One statement, so one snapshot: the key kept and its row gone. A key and a row read apart would call a
# transaction committed between the two reads (a copy of the request in flight) archived.
_ARCHIVED_KEY = text(
    "SELECT 1 FROM terminal_txn_key AS k WHERE k.terminal_id = :terminal_id AND k.txn_id = :txn_id "
    "AND NOT EXISTS (SELECT 1 FROM terminal_txn AS t WHERE t.id = k.id)"
)


def is_archived(uow: UnitOfWork, *, terminal_id: str, txn_id: str) -> bool:
    """Whether the terminal's transaction id names a row of an archived month: its key is kept (so the id
    stays taken) while its row left with the month. Call it after ``get_txn`` found no row. Never on
    SQLite (nothing is archived there)."""
    if dialect_of(uow) != "postgresql":
        return False
    return uow.session.execute(_ARCHIVED_KEY, {"terminal_id": terminal_id, "txn_id": txn_id}).first() is not None
