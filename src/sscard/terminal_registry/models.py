"""The terminal registry and the nonces of accepted terminal requests (CH-3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class InstitutionType(StrEnum):
    HOSPITAL = "hospital"
    PHARMACY = "pharmacy"
    CLINIC = "clinic"
    COMMUNITY_HEALTH_STATION = "community_health_station"
    KIOSK = "kiosk"
    BANK_OUTLET = "bank_outlet"
    SERVICE_OUTLET = "service_outlet"
    # PIN-4 telephone service: the call centre's secure keypad (IVR). The caller keys the PINs on the
    # phone, the IVR enciphers them under its own terminal key and signs the request like any terminal.
    IVR = "ivr"


class TerminalStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # refused until unblocked (e.g. a stolen device, KEY-9)
    RETIRED = "retired"  # final: the id is never reused


def _enum(cls: type[StrEnum], length: int) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Terminal(Base):
    __tablename__ = "terminal"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(32), unique=True)
    institution_name: Mapped[str] = mapped_column(String(200))
    institution_type: Mapped[InstitutionType] = mapped_column(_enum(InstitutionType, 32))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[TerminalStatus] = mapped_column(_enum(TerminalStatus, 16), default=TerminalStatus.ACTIVE)
    # Algorithm suite of the terminal key (sm: SM4-CMAC, intl: AES-CMAC) and its version; the key
    # itself is derived inside the security module from (region, terminal id, version), KEY-3.
    suite: Mapped[str] = mapped_column(String(8))
    key_version: Mapped[int] = mapped_column(SmallInteger, default=1)
    # SHA-256 of the P-256 public key the terminal enrolled with (the key envelope's recipient).
    public_key_fingerprint: Mapped[str] = mapped_column(String(64))
    enrolled_by: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    status_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Terminal({self.terminal_id}, {self.institution_type}, region={self.region_code}, {self.status})"


class TerminalNonce(Base):
    """One row per accepted request: the primary key makes a nonce single-use, exactly, under races.

    ``expires_at`` = request timestamp + the window: after it, the timestamp check alone refuses a
    replay, so the row can go.
    """

    __tablename__ = "terminal_nonce"

    terminal_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
