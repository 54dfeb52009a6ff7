"""People read models. ``PersonRead`` is masked (ID-5); ``PersonReveal`` only comes from ``reveal_person``."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from sscard.people.models import (
    DisabilityKind,
    PersonCorrection,
    PersonStatus,
    QualificationCategory,
)


class PersonRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: int
    name: str
    gender: str
    # ID-5: the year only. Region, full birth date and the masked number's last four would give back
    # all but the 3-digit sequence (and its check digit) of the ID: the birth date stays out of the masked read.
    birth_year: int = Field(examples=[1990])
    region_code: str
    status: PersonStatus
    id_number_masked: str = Field(examples=["1101**********123X"])
    phone_masked: str | None = Field(default=None, examples=["138****5678"])
    email_masked: str | None = Field(default=None, examples=["z***@example.com"])
    created_at: datetime


class PersonReveal(BaseModel):
    """Full values for a role that needs them; every reveal is audited (ID-5, CH-2)."""

    model_config = ConfigDict(frozen=True)

    person_id: int
    id_number: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)


class QualificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    person_id: int
    category: QualificationCategory
    name: str
    level: str | None
    certificate_no: str | None
    issuer: str
    issued_on: date


class EmploymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    person_id: int
    employer_name: str
    employer_code: str | None
    position: str | None
    started_on: date
    ended_on: date | None


class DisabilityAssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    person_id: int
    kind: DisabilityKind
    grade: int
    diagnosis: str
    assessed_on: date
    authority: str
    conclusion_no: str | None


# --- request bodies (counter channel) -------------------------------------------------------------


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32, description="Citizen ID (18 characters or 15 legacy digits).")
    name: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    gender: str | None = Field(default=None, max_length=8, description="M/F; must agree with the ID (ID-4).")
    birth_date: date | None = Field(default=None, description="Must agree with the ID (ID-4).")
    status: PersonStatus = PersonStatus.EMPLOYED


class EvidenceIn(BaseModel):
    """CH-2: the identity document the counter checked, e.g. "resident ID card, original"."""

    model_config = ConfigDict(extra="forbid")

    evidence: str = Field(min_length=1, max_length=200)


class PersonLookup(EvidenceIn):
    id_number: str = Field(min_length=1, max_length=32)


class PersonRevealRequest(EvidenceIn):
    fields: list[str] = Field(default_factory=lambda: ["id_number", "phone", "email"], max_length=3)


class PersonStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PersonStatus


class CorrectionRead(BaseModel):
    """A citizen ID correction request: old and new numbers masked only (ID-5)."""

    model_config = ConfigDict(frozen=True)

    correction_id: int
    person_id: int
    field: str
    state: str
    old_masked: str = Field(examples=["1101**********123X"])
    new_masked: str = Field(examples=["1101**********1234"])
    reason: str
    evidence_type: str
    evidence_masked: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None

    @classmethod
    def of(cls, c: PersonCorrection) -> CorrectionRead:
        return cls(
            correction_id=c.id,
            person_id=c.person_id,
            field=c.field,
            state=c.state.value,
            old_masked=c.old_masked,
            new_masked=c.new_masked,
            reason=c.reason,
            evidence_type=c.evidence_type,
            evidence_masked=c.evidence_masked,
            requested_by=c.requested_by,
            requested_at=c.requested_at,
            decided_by=c.decided_by,
            decided_at=c.decided_at,
            decision_note=c.decision_note,
        )


class CorrectionDecided(BaseModel):
    """The decision and, once approved, the corrected person (masked)."""

    model_config = ConfigDict(frozen=True)

    correction: CorrectionRead
    person: PersonRead | None = None
