"""HTTP shapes of the insurance record (portal and counter) and of discrepancy reports (INS-5, INS-6).

Amounts are integer fen; months are ``YYYY-MM``; dates ISO.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sscard.insurance.accounts.records import (
    AccountView,
    DeclarationPage,
    MovementPage,
    ParticipationView,
)
from sscard.insurance.discrepancies.service import MAX_TEXT, ReportView

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
AccountKindName = Literal["pension_personal", "medical_personal"]


def month_text(d: date) -> str:
    return d.strftime("%Y-%m")


def parse_month(value: str) -> date:
    """``YYYY-MM`` → the first of that month (ValueError otherwise)."""
    m = _MONTH.match(value.strip())
    if not m:
        raise ValueError("a month is YYYY-MM, e.g. 2025-03")
    return date(int(m.group(1)), int(m.group(2)), 1)


class ParticipationRead(BaseModel):
    insurance_type: str
    start_date: date
    stop_date: date | None
    active: bool
    registration_id: int
    registration_kind: str = Field(description="employee | flexible | self_employed")
    employer_id: int | None
    employer_name: str | None
    employer_uscc: str | None
    registered_on: date
    days_late: int = Field(description="days after the 30-day deadline (INS-1); 0 on time")
    premium_decision: str | None

    @classmethod
    def of(cls, v: ParticipationView, today: date) -> ParticipationRead:
        active = v.start_date <= today and (v.stop_date is None or v.stop_date > today)
        return cls(active=active, **asdict(v))


class PartRead(BaseModel):
    insurance_type: str
    employer_fen: int
    individual_fen: int
    personal_account_fen: int


class DeclarationMonthRead(BaseModel):
    declaration_id: int
    period: str = Field(description="YYYY-MM")
    revision: int
    declared_base_fen: int
    base_fen: int = Field(description="the base contributions were computed on (within the policy bounds)")
    employer_fen: int
    individual_fen: int
    personal_account_fen: int = Field(description="the share credited to the personal accounts")
    late: bool = Field(description="declared after its month (INS-7)")
    corrected: bool = Field(description="a correction of an earlier declaration (INS-7)")
    superseded: bool = Field(description="replaced by a later correction")
    declared_at: datetime
    parts: list[PartRead]


class EmployerDeclarationsRead(BaseModel):
    employer_id: int | None = Field(description="null: the person's own declarations (flexible worker)")
    employer_name: str | None
    employer_uscc: str | None
    months: list[DeclarationMonthRead]


class DeclarationPageRead(BaseModel):
    total: int
    limit: int
    offset: int
    employers: list[EmployerDeclarationsRead]

    @classmethod
    def of(cls, page: DeclarationPage, *, limit: int, offset: int) -> DeclarationPageRead:
        return cls(
            total=page.total,
            limit=limit,
            offset=offset,
            employers=[
                EmployerDeclarationsRead(
                    employer_id=g.employer_id,
                    employer_name=g.employer_name,
                    employer_uscc=g.employer_uscc,
                    months=[
                        DeclarationMonthRead(
                            declaration_id=m.declaration_id,
                            period=month_text(m.period),
                            revision=m.revision,
                            declared_base_fen=m.declared_base_fen,
                            base_fen=m.base_fen,
                            employer_fen=m.employer_fen,
                            individual_fen=m.individual_fen,
                            personal_account_fen=m.personal_account_fen,
                            late=m.late,
                            corrected=m.corrected,
                            superseded=m.superseded,
                            declared_at=m.declared_at,
                            parts=[PartRead(**asdict(p)) for p in m.parts],
                        )
                        for m in g.months
                    ],
                )
                for g in page.employers
            ],
        )


class AccountRead(BaseModel):
    kind: AccountKindName
    balance_fen: int = Field(description="derived from the account's postings")
    opened_at: datetime

    @classmethod
    def of(cls, v: AccountView) -> AccountRead:
        return cls(kind=v.kind, balance_fen=v.balance_fen, opened_at=v.opened_at)  # type: ignore[arg-type]


class MovementRead(BaseModel):
    business_date: date
    kind: str = Field(description="contribution | contribution_reversal | interest | ...")
    amount_fen: int = Field(description="positive: credited; negative: debited")
    balance_after_fen: int
    reference: str = Field(description="where it came from, e.g. declaration:123 or interest:2025:7")
    memo: str | None


class MovementPageRead(BaseModel):
    kind: AccountKindName
    year: int | None
    total: int
    limit: int
    offset: int
    opening_balance_fen: int
    closing_balance_fen: int
    movements: list[MovementRead]

    @classmethod
    def of(cls, page: MovementPage, *, year: int | None, limit: int, offset: int) -> MovementPageRead:
        return cls(
            kind=page.account_kind,  # type: ignore[arg-type]
            year=year,
            total=page.total,
            limit=limit,
            offset=offset,
            opening_balance_fen=page.opening_balance_fen,
            closing_balance_fen=page.closing_balance_fen,
            movements=[
                MovementRead(
                    business_date=m.business_date,
                    kind=m.kind,
                    amount_fen=m.amount_fen,
                    balance_after_fen=m.balance_after_fen,
                    reference=m.source_ref,
                    memo=m.memo,
                )
                for m in page.movements
            ],
        )


# --- discrepancy reports (INS-6) ------------------------------------------------------------------


class DiscrepancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employer_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="the employer it is about")
    period: str | None = Field(default=None, max_length=7, description="YYYY-MM: the month it is about")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="what is wrong, in the holder's words")

    @field_validator("period")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None:
            parse_month(value)
        return value

    def period_date(self) -> date | None:
        return parse_month(self.period) if self.period else None


class DiscrepancyAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=MAX_TEXT)


class DiscrepancyRead(BaseModel):
    id: int
    employer_id: int | None
    period: str | None
    text: str
    status: Literal["open", "answered"]
    answer: str | None
    created_at: datetime
    answered_at: datetime | None

    @classmethod
    def of(cls, v: ReportView) -> DiscrepancyRead:
        return cls(
            id=v.id,
            employer_id=v.employer_id,
            period=month_text(v.period) if v.period else None,
            text=v.text,
            status=v.status.value,  # type: ignore[arg-type]
            answer=v.answer,
            created_at=v.created_at,
            answered_at=v.answered_at,
        )


class CounterDiscrepancyRead(DiscrepancyRead):
    person_id: int
    region_code: str
    answered_by: str | None

    @classmethod
    def of(cls, v: ReportView) -> CounterDiscrepancyRead:
        base = DiscrepancyRead.of(v).model_dump()
        return cls(**base, person_id=v.person_id, region_code=v.region_code, answered_by=v.answered_by)


class DiscrepancyQueueRead(BaseModel):
    total: int
    limit: int
    offset: int
    reports: list[CounterDiscrepancyRead]
