"""Certified cryptographic devices (KEY-4) and the alerts raised when a certificate stops being valid."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.key_register.models._types import enum_column


class DeviceState(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # certificate expired or revoked: no key may be placed or used (KEY-4)
    RETIRED = "retired"  # taken out of service for good


class CryptoDevice(Base):
    """An encryption machine (密码机) with its commercial cryptography product model certificate."""

    __tablename__ = "crypto_device"
    __table_args__ = (UniqueConstraint("model", "serial"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(64))
    manufacturer: Mapped[str] = mapped_column(String(128), default="")
    # 商用密码产品型号证书: issued per product model, so many devices share one number.
    certificate_no: Mapped[str] = mapped_column(String(64), index=True)
    certificate_issuer: Mapped[str] = mapped_column(String(128))
    certificate_valid_from: Mapped[date] = mapped_column(Date)
    certificate_valid_until: Mapped[date] = mapped_column(Date)
    certificate_revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    location: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    state: Mapped[DeviceState] = mapped_column(enum_column(DeviceState, 16), default=DeviceState.ACTIVE)
    blocked_reason: Mapped[str | None] = mapped_column(String(32))
    registered_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"CryptoDevice(id={self.id}, model={self.model!r}, serial={self.serial!r}, state={self.state})"


class DeviceAlert(Base):
    """An alert about a device's certificate; open until a security officer acknowledges it."""

    __tablename__ = "crypto_device_alert"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("crypto_device.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # certificate_expired | certificate_revoked | certificate_expiring
    detail: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
