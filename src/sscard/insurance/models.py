"""Registrations, participation, declaration documents, declarations and their computed parts.

A declaration is keyed by (employer, person, period) and numbered by ``revision``: the same base again
is "already present"; a correction is a new revision (``corrected``), whose predecessor is marked
``superseded`` and whose posting is reversed. Original documents are kept byte for byte with their
SHA-256 (INS-7); the digest also goes into the hash-chained audit entry.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


def _enum(cls: type[StrEnum], length: int = 24) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class RegistrationKind(StrEnum):
    EMPLOYEE = "employee"
    FLEXIBLE = "flexible"  # 灵活就业人员: registers themself (INS-2)
    SELF_EMPLOYED = "self_employed"  # 个体工商户: registers themself (INS-2)


class InsuranceType(StrEnum):
    BASIC_PENSION = "basic_pension"
    EMPLOYEE_MEDICAL = "employee_medical"
    RESIDENT_MEDICAL = "resident_medical"
    UNEMPLOYMENT = "unemployment"
    WORK_INJURY = "work_injury"
    MATERNITY = "maternity"


class PremiumDecision(StrEnum):
    """INS-1: what the agency decided about a late registration's premium (滞纳金)."""

    WAIVED = "waived"
    CHARGED = "charged"


class DocumentSource(StrEnum):
    API = "api"
    CSV = "csv"
    PORTAL = "portal"


class InsuranceRegistration(Base):
    __tablename__ = "insurance_registration"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)  # NULL: self
    kind: Mapped[RegistrationKind] = mapped_column(_enum(RegistrationKind))
    region_code: Mapped[str] = mapped_column(String(6))
    employment_start: Mapped[date] = mapped_column(Date)
    registered_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)  # employment_start + 30 days (INS-1)
    days_late: Mapped[int] = mapped_column(Integer, default=0)  # 0: on time
    premium_decision: Mapped[PremiumDecision | None] = mapped_column(_enum(PremiumDecision, 16))
    premium_fen: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    # Flexible / self-employed: the base they chose within the region's bounds (INS-2).
    chosen_base_fen: Mapped[int | None] = mapped_column(BigInteger)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def late(self) -> bool:
        return self.days_late > 0

    def __repr__(self) -> str:
        return f"InsuranceRegistration(id={self.id}, kind={self.kind}, days_late={self.days_late})"


class InsuranceParticipation(Base):
    __tablename__ = "insurance_participation"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("insurance_registration.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    insurance_type: Mapped[InsuranceType] = mapped_column(_enum(InsuranceType))
    start_date: Mapped[date] = mapped_column(Date)
    stop_date: Mapped[date | None] = mapped_column(Date)


class DeclarationDocument(Base):
    """INS-7: the original request body or uploaded file, byte for byte, with its SHA-256."""

    __tablename__ = "declaration_document"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"), index=True)
    source: Mapped[DocumentSource] = mapped_column(_enum(DocumentSource, 16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed (ID-5): it holds full citizen IDs
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))

    def __repr__(self) -> str:  # never the content (it holds ID numbers)
        return f"DeclarationDocument(id={self.id}, source={self.source}, sha256={self.sha256[:12]}…)"


class ContributionDeclaration(Base):
    __tablename__ = "contribution_declaration"
    __table_args__ = (
        UniqueConstraint("employer_id", "person_id", "period", "revision"),
        # Self-declared (employer NULL): NULL never collides in a unique constraint, so its own index.
        Index(
            "uq_contribution_declaration_self",
            "person_id",
            "period",
            "revision",
            unique=True,
            sqlite_where=text("employer_id IS NULL"),
            postgresql_where=text("employer_id IS NULL"),
        ),
        Index("ix_contribution_declaration_person_period", "person_id", "period"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("insurance_registration.id"), index=True)
    period: Mapped[date] = mapped_column(Date)  # first day of the month
    revision: Mapped[int] = mapped_column(Integer, default=1)
    declared_base_fen: Mapped[int] = mapped_column(BigInteger)  # as declared
    base_fen: Mapped[int] = mapped_column(BigInteger)  # clamped to the policy bounds
    document_id: Mapped[int] = mapped_column(ForeignKey("declaration_document.id"), index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # declared after its period's month
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)  # revision > 1
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)  # a later revision replaced it
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_posting.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"ContributionDeclaration(id={self.id}, period={self.period}, revision={self.revision})"


class ContributionPart(Base):
    __tablename__ = "contribution_part"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("contribution_declaration.id"), index=True)
    # The declaration's period, with its id: on PostgreSQL both tables are partitioned by it and the part
    # names its declaration by (declaration_id, period) (migration 0021, docs/partitioning.md).
    period: Mapped[date] = mapped_column(Date)
    insurance_type: Mapped[InsuranceType] = mapped_column(_enum(InsuranceType))
    employer_fen: Mapped[int] = mapped_column(BigInteger)
    individual_fen: Mapped[int] = mapped_column(BigInteger)
    personal_account_fen: Mapped[int] = mapped_column(BigInteger)
