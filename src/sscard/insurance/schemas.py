"""What the insurance channels take and show (employer API, portal, counter)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sscard.insurance.models import InsuranceType, PremiumDecision


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32, description="The employee's citizen ID number.")
    employment_start: date
    insurance_types: list[InsuranceType] | None = Field(default=None, max_length=6)


class RegistrationOut(BaseModel):
    registration_id: int
    late: bool
    days_late: int
    deadline: date


class RegistrationRead(BaseModel):
    registration_id: int
    kind: str
    id_number_masked: str
    employment_start: date
    registered_on: date
    deadline: date
    days_late: int
    premium_decision: str | None
    ended_on: date | None
    insurance_types: list[InsuranceType]


class DeclarationItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32)
    period: str = Field(min_length=7, max_length=7, description="YYYY-MM", examples=["2025-03"])
    base_fen: int = Field(description="The contribution base in integer fen.")


class DeclarationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    declarations: list[DeclarationItem] = Field(min_length=1, max_length=1000)


class DeclarationOutcome(BaseModel):
    index: int
    status: Literal["posted", "already_present"]
    declaration_id: int


class DeclarationsOut(BaseModel):
    document_sha256: str
    results: list[DeclarationOutcome]


class DeclarationRead(BaseModel):
    declaration_id: int
    id_number_masked: str
    period: str
    revision: int
    declared_base_fen: int
    base_fen: int
    late: bool
    corrected: bool
    superseded: bool
    employer_fen: int
    individual_fen: int
    personal_account_fen: int


class SelfRegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["flexible", "self_employed"]
    start: date
    chosen_base_fen: int
    insurance_types: list[InsuranceType] | None = Field(default=None, max_length=2)


class PremiumDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: PremiumDecision
    premium_fen: int = Field(default=0, ge=0, le=10**12)
