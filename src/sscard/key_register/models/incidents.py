"""Emergency plans per region and security incidents with the measures taken (KEY-9)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.key_register.models._types import enum_column
from sscard.key_register.states import IncidentState


class EmergencyPlan(Base):
    """One version of a region's emergency plan for card security management (应急预案)."""

    __tablename__ = "key_emergency_plan"
    __table_args__ = (UniqueConstraint("region_code", "version"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(128))
    document_id: Mapped[int] = mapped_column(ForeignKey("key_document.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    adopted_by: Mapped[str] = mapped_column(String(64))
    adopted_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentKind(StrEnum):
    CARRIER_LOSS = "carrier_loss"
    DEVICE_COMPROMISE = "device_compromise"
    OTHER = "other"


class SecurityIncident(Base):
    __tablename__ = "key_security_incident"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    kind: Mapped[IncidentKind] = mapped_column(enum_column(IncidentKind))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("key_emergency_plan.id"))  # the plan in force
    state: Mapped[IncidentState] = mapped_column(enum_column(IncidentState, 16), default=IncidentState.REPORTED)
    description: Mapped[str] = mapped_column(String(500))
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    cause: Mapped[str | None] = mapped_column(Text)
    handling: Mapped[str | None] = mapped_column(Text)
    findings_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(64))


class MeasureKind(StrEnum):
    NOTIFY_SUPERIOR = "notify_superior"
    NOTIFY_MINISTRY = "notify_ministry"
    CARRIER_BLOCKED = "carrier_blocked"
    KEY_REVOKED = "key_revoked"
    KEY_ROTATION = "key_rotation"
    TERMINAL_BLOCKED = "terminal_blocked"
    DEPLOYMENT_ENDED = "deployment_ended"
    HANDOVER_CLOSED = "handover_closed"


class MeasureStatus(StrEnum):
    DONE = "done"
    PENDING = "pending"  # to be done (a scheduled key rotation) or confirmed by an officer


class IncidentMeasure(Base):
    """One thing done (or still to do) about an incident; the auditor's checklist."""

    __tablename__ = "key_incident_measure"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("key_security_incident.id"), index=True)
    kind: Mapped[MeasureKind] = mapped_column(enum_column(MeasureKind))
    target: Mapped[str] = mapped_column(String(64))  # key label, terminal id, department code, carrier serial
    status: Mapped[MeasureStatus] = mapped_column(enum_column(MeasureStatus, 16))
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    done_by: Mapped[str | None] = mapped_column(String(64))
    # A department notice (NOTIFY_*): done only once this outbox message is delivered (KEY-9).
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"), default=None)
