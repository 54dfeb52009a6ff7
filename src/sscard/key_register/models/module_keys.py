"""Tables of the security module: the key inventory mirror, key ceremonies, data-key rotations.

Never a key byte: the inventory holds metadata and KCVs; ceremony components are stored only
sealed by the module (AEAD under the data key) and only while their ceremony is open.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class SecurityKey(Base):
    """One version of one key (KEY-1..3): a mirror of the module's directory, for lists and reports."""

    __tablename__ = "security_key"
    __table_args__ = (UniqueConstraint("label", "version"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), index=True)  # ROOT, PMK/110000, TMK/110100, DATA, ZPK/BANK01
    version: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))  # national | province | city | local
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    kcv: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(16))  # active | retired | revoked
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(16))  # generated | derived | ceremony | imported
    parent: Mapped[str | None] = mapped_column(String(80))  # "<label>@<version>" it was derived from
    backend: Mapped[str] = mapped_column(String(8))  # soft | pkcs11
    suite: Mapped[str] = mapped_column(String(8))  # sm | intl
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    rotation_due: Mapped[bool] = mapped_column(Boolean, default=False)  # scheduled after an incident (KEY-9)
    rotation_reason: Mapped[str | None] = mapped_column(String(200))


class KeyCeremony(Base):
    """KEY-6: a key formed from components entered by different custodians."""

    __tablename__ = "key_ceremony"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(24))
    level: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    components_required: Mapped[int] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | completed | cancelled
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None]
    key_version: Mapped[int | None] = mapped_column(Integer)
    kcv: Mapped[str | None] = mapped_column(String(6))

    def __repr__(self) -> str:
        return f"KeyCeremony(id={self.id}, label={self.label}, state={self.state})"


class KeyCeremonyComponent(Base):
    __tablename__ = "key_ceremony_component"
    __table_args__ = (UniqueConstraint("ceremony_id", "custodian"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("key_ceremony.id", ondelete="CASCADE"), index=True)
    custodian: Mapped[str] = mapped_column(String(64))
    kcv: Mapped[str] = mapped_column(String(6))
    component_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed by the module; deleted at completion
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never the component
        return f"KeyCeremonyComponent(ceremony={self.ceremony_id}, custodian={self.custodian})"


class DataKeyRotation(Base):
    """One ``rotate-data-key`` run: resumable; progress is committed with every batch."""

    __tablename__ = "data_key_rotation"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | finished
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DataKeyRotationProgress(Base):
    __tablename__ = "data_key_rotation_progress"

    rotation_id: Mapped[int] = mapped_column(ForeignKey("data_key_rotation.id"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
