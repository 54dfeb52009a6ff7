"""Persons (PER-1). The citizen ID, phone and email are stored only encrypted, with blind indexes (ID-5)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Enum, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow


class PersonStatus(StrEnum):
    EMPLOYED = "employed"
    UNEMPLOYED = "unemployed"
    RETIRED = "retired"
    DECEASED = "deceased"


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # ID-5: AEAD ciphertext + keyed blind index; the clear number never reaches the database.
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(1))  # "M" / "F", derived from the ID (ID-4)
    birth_date: Mapped[date] = mapped_column(Date)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[PersonStatus] = mapped_column(
        Enum(PersonStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=PersonStatus.EMPLOYED,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Person(id={self.id}, region={self.region_code}, status={self.status})"
