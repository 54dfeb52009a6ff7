"""Persons (PER-1) and what their record holds (PER-2).

The citizen ID, phone and email are stored only encrypted, with blind indexes (ID-5). Insurance
participation, contributions and personal accounts live in the insurance domain.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class PersonStatus(StrEnum):
    EMPLOYED = "employed"
    UNEMPLOYED = "unemployed"
    RETIRED = "retired"
    DECEASED = "deceased"


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    # ID-5: AEAD ciphertext + keyed blind index; the clear number never reaches the database.
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The name is sealed too, with a keyed blind index for exact search: in clear, with the gender,
    # birth date and region below it would narrow the citizen ID to about 500 candidates.
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    gender: Mapped[str] = mapped_column(String(1))  # "M" / "F", derived from the ID (ID-4)
    birth_date: Mapped[date] = mapped_column(Date)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    status: Mapped[PersonStatus] = mapped_column(
        Enum(PersonStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=PersonStatus.EMPLOYED,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def name(self) -> str:
        """The name in clear, opened by the security module (never stored in clear)."""
        from sscard.identity.protected import NAME

        return NAME.open(self.name_enc)

    def __repr__(self) -> str:
        return f"Person(id={self.id}, region={self.region_code}, status={self.status})"


def _enum(cls: type[StrEnum], length: int = 32) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class QualificationCategory(StrEnum):
    VOCATIONAL_SKILL = "vocational_skill"  # 职业技能等级 (levels 1-5)
    PROFESSIONAL_TITLE = "professional_title"  # 专业技术职称
    PRACTICE_QUALIFICATION = "practice_qualification"  # 执业资格 (licensed professions)


class Qualification(Base):
    """PER-2: a professional qualification or skill certificate."""

    __tablename__ = "person_qualification"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    category: Mapped[QualificationCategory] = mapped_column(_enum(QualificationCategory))
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str | None] = mapped_column(String(32))
    certificate_no: Mapped[str | None] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(128))
    issued_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmploymentRecord(Base):
    """PER-2: one period of employment; ``ended_on`` is empty while it lasts."""

    __tablename__ = "person_employment"
    __table_args__ = (CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="end_after_start"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    employer_name: Mapped[str] = mapped_column(String(128))
    # Unified social credit code (GB 32100); the employer registry arrives with the insurance domain.
    employer_code: Mapped[str | None] = mapped_column(String(18))
    position: Mapped[str | None] = mapped_column(String(64))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DisabilityKind(StrEnum):
    WORK_INJURY = "work_injury"  # 工伤
    OCCUPATIONAL_DISEASE = "occupational_disease"  # 职业病


class DisabilityAssessment(Base):
    """PER-2: a labour-ability (disability) assessment; grade 1 is the most severe (GB/T 16180)."""

    __tablename__ = "person_disability_assessment"
    __table_args__ = (CheckConstraint("grade >= 1 AND grade <= 10", name="grade_range"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[DisabilityKind] = mapped_column(_enum(DisabilityKind))
    grade: Mapped[int] = mapped_column(SmallInteger)
    diagnosis: Mapped[str] = mapped_column(String(128))
    assessed_on: Mapped[date] = mapped_column(Date)
    authority: Mapped[str] = mapped_column(String(128))
    conclusion_no: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
