"""Key carriers (KEY-5): their register, the keys each holds, every use, PSAM deployments (KEY-8) and
witnessed destruction."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.key_register.models._types import enum_column
from sscard.key_register.states import CarrierState, CarrierType


class KeyCarrier(Base):
    """One carrier distributed by the ministry, registered on receipt with the receipt's particulars."""

    __tablename__ = "key_carrier"
    __table_args__ = (UniqueConstraint("carrier_type", "serial"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_type: Mapped[CarrierType] = mapped_column(enum_column(CarrierType))
    serial: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    state: Mapped[CarrierState] = mapped_column(enum_column(CarrierState, 16), default=CarrierState.RECEIVED)
    holder: Mapped[str] = mapped_column(String(128))  # staff username, institution or third party
    location: Mapped[str] = mapped_column(String(128))
    # One ministry delivery receipt may list several carriers (KEY-5): same number, date and sender.
    receipt_no: Mapped[str] = mapped_column(String(64), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    received_from: Mapped[str] = mapped_column(String(128))
    # Changed only by an atomic UPDATE (uses are logged from terminals and consoles concurrently).
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"KeyCarrier(id={self.id}, type={self.carrier_type}, serial={self.serial!r}, state={self.state})"


class CarrierKey(Base):
    """A key (named by its inventory label, never its value) loaded on a carrier."""

    __tablename__ = "key_carrier_key"
    __table_args__ = (UniqueConstraint("carrier_id", "key_label"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    key_label: Mapped[str] = mapped_column(String(64), index=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(64))


class CarrierUsage(Base):
    """The carrier's log: every use and every movement, with who, where and why (KEY-5)."""

    __tablename__ = "key_carrier_usage"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # use | receive | deploy | store | hand_over | recover | ...
    used_by: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=1)


class PsamForm(StrEnum):
    """Physical form of a PSAM in use (KEY-8)."""

    PLUG_IN = "plug_in"  # ID-000 plug-in card in a terminal's SAM slot
    FULL_SIZE = "full_size"  # ID-1 card in a card reader
    EMBEDDED = "embedded"  # soldered security module inside the terminal


class PsamUsageMode(StrEnum):
    """How the terminal holding the PSAM is operated (KEY-8)."""

    ATTENDED = "attended"  # operated by staff at a counter or pharmacy desk
    UNATTENDED = "unattended"  # self-service kiosk
    BACK_OFFICE = "back_office"  # batch personalisation or settlement equipment, not public-facing


class PsamDeployment(Base):
    """Where a PSAM is used: the terminal or institution, its form, surroundings and mode (KEY-8)."""

    __tablename__ = "psam_deployment"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    terminal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    institution: Mapped[str | None] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    physical_form: Mapped[PsamForm] = mapped_column(enum_column(PsamForm, 16))
    environment: Mapped[str] = mapped_column(String(200))
    usage_mode: Mapped[PsamUsageMode] = mapped_column(enum_column(PsamUsageMode, 16))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(32))  # recovered | lost | stored


class CarrierDestruction(Base):
    """A destruction: requested with method and place, complete with two witnesses' signatures (KEY-8)."""

    __tablename__ = "key_carrier_destruction"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("key_carrier.id"), index=True)
    method: Mapped[str] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class DestructionSignature(Base):
    __tablename__ = "key_carrier_destruction_signature"
    __table_args__ = (UniqueConstraint("destruction_id", "signer"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    destruction_id: Mapped[int] = mapped_column(ForeignKey("key_carrier_destruction.id"), index=True)
    signer: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    statement: Mapped[str] = mapped_column(String(200))
