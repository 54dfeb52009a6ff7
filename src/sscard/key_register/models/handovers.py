"""Third-party handovers of a key carrier (KEY-7): the four conditions and the supervision log."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.key_register.models._types import enum_column
from sscard.key_register.states import HandoverState


class CarrierHandover(Base):
    __tablename__ = "key_carrier_handover"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    third_party: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(200))
    due_back_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[HandoverState] = mapped_column(enum_column(HandoverState, 16), default=HandoverState.REQUESTED)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Condition 1: the handover record (交接记录), written and signed at the physical handover.
    record_no: Mapped[str | None] = mapped_column(String(64))
    record_recipient: Mapped[str | None] = mapped_column(String(64))  # the third party's representative
    record_items: Mapped[str | None] = mapped_column(String(200))  # what changed hands, seal numbers
    record_by: Mapped[str | None] = mapped_column(String(64))
    record_at: Mapped[datetime | None] = mapped_column(default=None)
    # Condition 2: the signed confidentiality agreement (保密协议).
    agreement_document_id: Mapped[int | None] = mapped_column(ForeignKey("key_document.id"))
    agreement_signed_on: Mapped[date | None] = mapped_column(Date)
    # Condition 3 lives in PlanReview; condition 4:
    supervisor: Mapped[str | None] = mapped_column(String(64))
    supervisor_assigned_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    recovered_at: Mapped[datetime | None] = mapped_column(default=None)
    recovered_by: Mapped[str | None] = mapped_column(String(64))
    closing_note: Mapped[str | None] = mapped_column(String(200))


class ReviewDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PlanReview(Base):
    """Review of the third party's security management plan; decided by someone other than the requester."""

    __tablename__ = "key_handover_plan_review"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("key_carrier_handover.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("key_document.id"))
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[ReviewDecision] = mapped_column(enum_column(ReviewDecision, 16), default=ReviewDecision.PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    comments: Mapped[str | None] = mapped_column(String(500))


class SupervisionEntry(Base):
    """What the supervisor saw of the third party's use, entered until the carrier is recovered."""

    __tablename__ = "key_handover_supervision"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("key_carrier_handover.id"), index=True)
    supervisor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    location: Mapped[str] = mapped_column(String(128))
    observation: Mapped[str] = mapped_column(String(500))
