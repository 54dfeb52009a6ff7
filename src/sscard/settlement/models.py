"""Medical institutions and the terminal transaction store (FIN-1).

``institution``: a designated medical institution as its terminals name it (region + name); it owns
the ``settlement_clearing`` ledger account its settlements are posted against.

``terminal_txn``: one row per money-moving terminal request that was answered ok, keyed by
(terminal id, the terminal's transaction id). It keeps the digest of what was asked and the answer
that was given, so the same request again gets the first answer and moves nothing, and the same id
with another request is ``TXN_CONFLICT``. Nothing in it is specific to the medical account: ``purpose``
says what the request was (``settle``, ``refund``, ``reversal``; bank POS ``consume`` can reuse it),
``account_id``/``posting_id`` name the ledger rows it moved, ``original_id`` ties a refund or a
reversal to the transaction it undoes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class TxnPurpose(StrEnum):
    SETTLE = "settle"
    REFUND = "refund"
    REVERSAL = "reversal"


class TerminalTxn(Base):
    __tablename__ = "terminal_txn"
    __table_args__ = (
        UniqueConstraint("terminal_id", "txn_id"),
        # The daily file and reconcile read one business date (migration 0017_settlement_write_path).
        Index("ix_terminal_txn_business_date", "business_date"),
        # Only refunds and reversals have an original: settlements add nothing to this index.
        Index(
            "ix_terminal_txn_original_id",
            "original_id",
            postgresql_where=text("original_id IS NOT NULL"),
            sqlite_where=text("original_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(32))
    txn_id: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the canonical request (purpose, card, amount, options; never the PIN block).
    request_digest: Mapped[str] = mapped_column(String(64))
    # ``institution_id``, ``card_id`` and ``account_id`` name rows the writing transaction has read (the
    # account locked); no foreign key (migration 0024_payment_references: one check per row per payment),
    # ``sscard ledger check`` proves them: the institution and card exist, the posting moves ``amount_fen``
    # on ``account_id``.
    institution_id: Mapped[int] = mapped_column(ROW_ID)
    card_id: Mapped[int | None] = mapped_column(ROW_ID)
    # Not indexed: no query selects stored transactions by account (each index costs every settlement).
    account_id: Mapped[int] = mapped_column(ROW_ID)
    # Signed as seen by the holder's account: a settlement is negative, a refund or reversal positive.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_posting.id"), unique=True)
    original_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_txn.id"))
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)
    business_date: Mapped[date] = mapped_column(Date)
    # The answer the terminal was given, returned as is to a repeated request.
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"TerminalTxn(id={self.id}, {self.terminal_id}/{self.txn_id}, {self.purpose}, {self.amount_fen})"
