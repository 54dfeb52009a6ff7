"""Card read models: ``CardRead`` for staff, ``LossReportRead`` for the hotline (masked, minimal)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from sscard.cards.models import Card, CloseReason, LossReport, LossReportState
from sscard.cards.numbers import mask_card_no
from sscard.cards.states import CardState
from sscard.cards.types import CardApplication, CardMedium, CardType
from sscard.db.ids import RowId


class CardRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    card_no: str = Field(examples=["A00012345"])
    card_no_masked: str = Field(examples=["A0001****"])
    person_id: int
    card_type: CardType
    generation: int | None
    financial: bool
    bank_code: str | None
    medium: CardMedium
    magstripe: bool
    applications: list[CardApplication]
    state: CardState
    region_code: str
    replaces_card_id: int | None
    close_reason: CloseReason | None
    applied_at: datetime
    issued_at: datetime | None
    activated_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, card: Card) -> CardRead:
        return cls(
            card_no=card.card_no,
            card_no_masked=mask_card_no(card.card_no),
            person_id=card.person_id,
            card_type=card.card_type,
            generation=card.generation,
            financial=card.financial,
            bank_code=card.bank_code,
            medium=card.medium,
            magstripe=card.magstripe,
            applications=list(_applications(card)),
            state=card.state,
            region_code=card.region_code,
            replaces_card_id=card.replaces_card_id,
            close_reason=card.close_reason,
            applied_at=card.applied_at,
            issued_at=card.issued_at,
            activated_at=card.activated_at,
            closed_at=card.closed_at,
        )


def _applications(card: Card) -> tuple[CardApplication, ...]:
    return (CardApplication.HRSS, CardApplication.FINANCIAL) if card.financial else (CardApplication.HRSS,)


class LossReportRead(BaseModel):
    """What a hotline caller is told: which card (masked) is blocked and until when, nothing more."""

    model_config = ConfigDict(frozen=True)

    reference: int = Field(description="Report reference to quote at the counter.")
    card_no_masked: str = Field(examples=["A0001****"])
    card_type: CardType
    state: LossReportState
    reported_at: datetime
    expires_at: datetime | None = Field(description="When the block lapses unless confirmed at a counter (CARD-5).")

    @classmethod
    def of(cls, report: LossReport) -> LossReportRead:
        return cls(
            reference=report.id,
            card_no_masked=mask_card_no(report.card.card_no),
            card_type=report.card.card_type,
            state=report.state,
            reported_at=report.reported_at,
            expires_at=report.expires_at,
        )


# --- request bodies ---------------------------------------------------------------------------------


class CardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: RowId
    card_type: CardType = CardType.SOCIAL
    generation: int | None = Field(default=None, ge=1, le=3)
    financial: bool = False
    bank_code: str | None = Field(default=None, max_length=16)


class CardCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CloseReason = CloseReason.HOLDER_REQUEST


class HotlineLossReportIn(BaseModel):
    """CARD-5: the citizen ID number or the social security number (the same number, ID-1); no password."""

    model_config = ConfigDict(extra="forbid")

    id_number: str | None = Field(default=None, max_length=32)
    ss_number: str | None = Field(default=None, max_length=32)
    card_type: CardType | None = Field(default=None, description="Default: the social security card.")


class PresentedCard(BaseModel):
    """CARD-7: what the counter read from a presented card's chip and face; give the fields read."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=64)
    gender: str | None = Field(default=None, max_length=8)
    id_number: str | None = Field(default=None, max_length=32)
    card_no: str | None = Field(default=None, max_length=16)
    chip_serial: str | None = Field(default=None, max_length=64)


class FieldCheckRead(BaseModel):
    field: str
    match: bool
    recorded_masked: str


class PersonalisationCheckRead(BaseModel):
    card_no_masked: str
    matches: bool = Field(description="True when every field given matches the personalisation record.")
    fields: list[FieldCheckRead]
    chip_serial: str
    personalised_on: date
    bureau: str
    person_changed: list[str] = Field(
        description="Fields where the person record changed since personalisation: a replacement would carry them."
    )
