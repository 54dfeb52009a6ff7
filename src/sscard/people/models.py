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
from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE, RowBinding, person_row


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

    # Each sealed value is bound to this row (identity/protected.py: RowBinding): one copied from
    # another person's row fails on read with PROTECTED_DATA_INVALID.
    def row(self, column: str) -> RowBinding:
        return person_row(column, self.id_number_bidx)

    @property
    def name(self) -> str:
        """The name in clear, opened by the security module (never stored in clear)."""

        return NAME.open(self.name_enc, row=self.row("name_enc"))

    @property
    def id_number(self) -> str:
        return ID_NUMBER.open(self.id_number_enc, row=self.row("id_number_enc"))

    @property
    def phone(self) -> str | None:
        return PHONE.open(self.phone_enc, row=self.row("phone_enc")) if self.phone_enc is not None else None

    @property
    def email(self) -> str | None:
        return EMAIL.open(self.email_enc, row=self.row("email_enc")) if self.email_enc is not None else None

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


class CorrectionState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PersonCorrection(Base):
    """QPW-3 / PER-1: a correction of the citizen ID on file, applied only once a counter supervisor
    other than the requester approves it (maker-checker). The new number is kept sealed until then;
    the masked old and new numbers are what every screen and audit entry shows."""

    __tablename__ = "person_correction"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))  # "id_number" (name/phone/email need no approval)
    new_value_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed as the field it replaces (ID-5)
    old_masked: Mapped[str] = mapped_column(String(64))
    new_masked: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    evidence_type: Mapped[str] = mapped_column(String(32))
    evidence_masked: Mapped[str] = mapped_column(String(32))
    state: Mapped[CorrectionState] = mapped_column(_enum(CorrectionState, 16), default=CorrectionState.PENDING)
    region_code: Mapped[str] = mapped_column(String(6), index=True)  # the person's region when requested
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"PersonCorrection(id={self.id}, person={self.person_id}, field={self.field}, state={self.state})"
