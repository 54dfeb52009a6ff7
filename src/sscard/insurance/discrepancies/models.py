"""A holder's discrepancy report (INS-6), tracked from ``open`` to ``answered``.

The holder's text and the agency's answer are free text that may carry personal data (the holder
may well type an ID or a phone number into it), so both are sealed like the protected fields (ID-5).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class ReportStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class DiscrepancyReport(Base):
    __tablename__ = "discrepancy_report"
    __table_args__ = (Index("ix_discrepancy_report_status_region", "status", "region_code"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # NULL: the report names no employer (a flexible worker's own payments, or "I don't know which").
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"))
    period: Mapped[date | None] = mapped_column(Date)  # first of the month the report is about
    # The person's region when reported: the agency of that region answers it (CH-2).
    region_code: Mapped[str] = mapped_column(String(6))
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[ReportStatus] = mapped_column(
        Enum(ReportStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=ReportStatus.OPEN,
    )
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    answered_by: Mapped[str | None] = mapped_column(String(64))  # staff username
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"DiscrepancyReport(id={self.id}, person={self.person_id}, status={self.status})"
