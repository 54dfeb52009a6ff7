"""One row per statement issued: at most one per person and year (INS-4).

The unique (person, year) is what makes a batch resumable without duplicates: a re-run skips the
persons that have a row, and a row is written in the same transaction as its delivery notice and its
audit entry, after its file is in place. ``snapshot`` is the canonical JSON of the statement's data
(amounts, months, employers; no name or ID), so the statement can be shown again in either language
exactly as issued, and ``content_sha256`` binds the verification code to those figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class Statement(Base):
    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("person_id", "year"),
        # How many of a year's statements a region has: the progress of a run over the queue
        # (jobs/queued_statements.py), read every second or so while the workers render.
        Index("ix_statement_year_region", "year", "region_code"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    year: Mapped[int] = mapped_column(SmallInteger)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    # SHA-256 of the normalised verification code (the lookup); the code itself only sealed, to reprint.
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    code_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_sha256: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[str] = mapped_column(Text)
    # The delivered (Chinese) file, relative to the data directory, and its digest.
    pdf_path: Mapped[str] = mapped_column(String(255))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pdf_size: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    notices: Mapped[int] = mapped_column(SmallInteger, default=0)  # delivery notices queued (0: no contact)
    downloaded_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:  # never the code
        return f"Statement(id={self.id}, person={self.person_id}, year={self.year})"
