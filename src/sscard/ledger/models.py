"""Ledger accounts, postings and legs.

Every posting has two or more signed legs that sum to zero; a credit to a personal account is a
positive leg on it and a negative leg on a system account (the clearing account of its region).
``balance_fen`` is a cache of the sum of an account's legs, updated under a row lock in the same
transaction as the legs; ``sscard ledger check`` proves it. Postings and legs are append-only: a
correction is a reversing posting (``reverses_id``) plus a new one, never an edit.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class AccountKind(StrEnum):
    PENSION_PERSONAL = "pension_personal"  # one per person (INS-3)
    MEDICAL_PERSONAL = "medical_personal"  # one per person (INS-3, FIN-1)
    CONTRIBUTION_CLEARING = "contribution_clearing"  # per region: money received from declarations
    INTEREST_EXPENSE = "interest_expense"  # per region: credited interest
    SETTLEMENT_CLEARING = "settlement_clearing"  # per medical institution (institution_id): FIN-1 settlements
    DEBIT = "debit"  # FIN-2: the RMB debit account of a financial card's holder (never negative)
    BANK_CASH = "bank_cash"  # per bank (institution_id of the bank): cash paid in and out at its counters
    BANK_CLEARING = "bank_clearing"  # per bank: what its POS consumption owes the merchants (interbank clearing)


#: Kinds owned by a person; the others are system accounts of a region.
PERSONAL_KINDS = frozenset({AccountKind.PENSION_PERSONAL, AccountKind.MEDICAL_PERSONAL})


class PostingKind(StrEnum):
    CONTRIBUTION = "contribution"
    CONTRIBUTION_REVERSAL = "contribution_reversal"
    INTEREST = "interest"
    REVERSAL = "reversal"  # a reversal of any other kind
    SETTLEMENT = "settlement"  # FIN-1: a payment from the medical personal account at a terminal
    SETTLEMENT_REFUND = "settlement_refund"  # FIN-1: money of a settlement paid back to the account
    SETTLEMENT_REVERSAL = "settlement_reversal"  # FIN-1: a settlement undone the same day
    DEBIT_DEPOSIT = "debit_deposit"  # FIN-2: cash paid in at the bank counter
    DEBIT_WITHDRAWAL = "debit_withdrawal"  # FIN-2: cash paid out at the bank counter
    DEBIT_TRANSFER = "debit_transfer"  # FIN-2: from one debit account to another
    DEBIT_CONSUMPTION = "debit_consumption"  # FIN-2: a payment at a bank POS terminal with the card PIN


class Institution(Base):
    """An institution that holds system accounts of its own (a designated medical institution's
    settlement clearing, FIN-1); its terminals name it by region, name and type."""

    __tablename__ = "institution"
    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(200))
    institution_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Institution(id={self.id}, region={self.region_code}, {self.institution_type})"


class LedgerAccount(Base):
    """On PostgreSQL the table keeps room in each page (fillfactor, migration 0017_settlement_write_path)
    so that a balance update is a HOT update, which writes none of the indexes below."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        # A personal account never goes below zero: the database refuses it even if the code slips.
        CheckConstraint("may_go_negative OR balance_fen >= 0", name="non_negative"),
        Index(
            "uq_ledger_account_personal",
            "kind",
            "person_id",
            unique=True,
            sqlite_where=text("person_id IS NOT NULL"),
            postgresql_where=text("person_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_account_system",
            "kind",
            "region_code",
            unique=True,
            sqlite_where=text("person_id IS NULL AND institution_id IS NULL"),
            postgresql_where=text("person_id IS NULL AND institution_id IS NULL"),
        ),
        # Issue 20: system accounts of one institution (a medical institution's settlement clearing).
        Index(
            "uq_ledger_account_institution",
            "kind",
            "institution_id",
            unique=True,
            sqlite_where=text("institution_id IS NOT NULL"),
            postgresql_where=text("institution_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    # Kept as a string (not an enum column) so issue 20 adds kinds without a migration.
    kind: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # Set on the system accounts of one institution (issue 20, migration 0010_settlement).
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    may_go_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"LedgerAccount(id={self.id}, kind={self.kind}, region={self.region_code})"


class LedgerPosting(Base):
    __tablename__ = "ledger_posting"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    business_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    # Where it came from, e.g. "declaration:123": every posting is traceable to its document. Not indexed
    # (migration 0017): nothing looks postings up by it but a year's interest (``uq_ledger_posting_interest``).
    source_ref: Mapped[str] = mapped_column(String(64))
    # A posting is reversed at most once (unique), by a posting naming it here.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_posting.id"), unique=True)
    memo: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"LedgerPosting(id={self.id}, kind={self.kind}, source={self.source_ref})"


class LedgerLeg(Base):
    __tablename__ = "ledger_leg"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("ledger_posting.id"), index=True)
    # No foreign key (migration 0024_payment_references): every writer locks the account first, and
    # ``sscard ledger check`` proves that it exists (``leg_without_account``).
    account_id: Mapped[int] = mapped_column(ROW_ID, index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The posting's business date: on PostgreSQL the legs are partitioned by its month (migration 0021,
    # docs/partitioning.md); a posting's legs are written with it, all in one month.
    posted_on: Mapped[date] = mapped_column(Date)


def leg_posting() -> ColumnElement[bool]:
    """The join of a leg to its posting, by id and by date: both are partitioned by that date's month on
    PostgreSQL (migrations 0022, 0023), and the date lets each probe read one month's partition instead of
    every attached month's. ``ledger check`` joins by id alone, to find a leg filed under another date."""
    return and_(LedgerPosting.id == LedgerLeg.posting_id, LedgerPosting.business_date == LedgerLeg.posted_on)
