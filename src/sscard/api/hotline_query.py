"""The 12345 hotline's automatic voice query (INS-5): no password, non-sensitive facts only (seed 004)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import TRANSACTION
from sscard.api.hotline import THROTTLED, hotline_call
from sscard.credentials.query_password.voice import VoiceAnswer, answer_voice_query
from sscard.db.session import UnitOfWork

router = APIRouter(prefix="/hotline", tags=["hotline"])

_ERRORS: dict[int | str, dict[str, str]] = {
    422: {"description": "Neither or two different numbers (`LOSS_REPORT_INVALID`), or an invalid ID (`ID_*`)."},
    **THROTTLED,
}
_ADMIT = [Depends(hotline_call("hotline.voice_query"))]


class VoiceQueryIn(BaseModel):
    """The caller's citizen ID number or social security number (the same number, ID-1); no password."""

    model_config = ConfigDict(extra="forbid")

    id_number: str | None = Field(default=None, max_length=32)
    ss_number: str | None = Field(default=None, max_length=32)


class VoiceCardRead(BaseModel):
    card_no_masked: str
    card_type: str
    state: str
    state_zh: str


class VoiceQueryRead(BaseModel):
    cards: list[VoiceCardRead]
    contributions_up_to_date: str = Field(description="`yes`, `no` or `unknown` (no contribution records yet).")
    contributions_note_zh: str
    as_of: datetime

    @classmethod
    def of(cls, answer: VoiceAnswer) -> VoiceQueryRead:
        return cls(
            cards=[VoiceCardRead(**vars(c)) for c in answer.cards],
            contributions_up_to_date=answer.contributions_up_to_date,
            contributions_note_zh=answer.contributions_note_zh,
            as_of=answer.as_of,
        )


@router.get("/voice-query", response_model=VoiceQueryRead, responses=_ERRORS, dependencies=_ADMIT)
def voice_query_get(
    id_number: str | None = Query(default=None, max_length=32),
    ss_number: str | None = Query(default=None, max_length=32),
    uow: UnitOfWork = TRANSACTION,
) -> VoiceQueryRead:
    """Answer the voice menu: the caller's card states and contribution status, without a password."""
    return VoiceQueryRead.of(answer_voice_query(uow, id_number=id_number, ss_number=ss_number))


@router.post("/voice-query", response_model=VoiceQueryRead, responses=_ERRORS, dependencies=_ADMIT)
def voice_query_post(body: VoiceQueryIn, uow: UnitOfWork = TRANSACTION) -> VoiceQueryRead:
    """The same query with the number in the body (it then stays out of URLs and access logs)."""
    return VoiceQueryRead.of(answer_voice_query(uow, id_number=body.id_number, ss_number=body.ss_number))
