"""People read models. ``PersonRead`` is masked (ID-5); ``PersonReveal`` only comes from ``reveal_person``."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from sscard.people.models import (
    DisabilityKind,
    PersonStatus,
    QualificationCategory,
)


class PersonRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: int
    name: str
    gender: str
    birth_date: date
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
