"""The 12345 hotline's automatic voice query (INS-5): no password, non-sensitive facts only (seed 004)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import TRANSACTION
from sscard.api.hotline import OPERATOR, THROTTLED, hotline_call
from sscard.audit import Channel
from sscard.credentials.query_password.voice import VoiceAnswer, answer_voice_query
from sscard.db.session import UnitOfWork
from sscard.staff.deps import StaffPrincipal

router = APIRouter(prefix="/hotline", tags=["hotline"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "`UNAUTHENTICATED`: the hotline operator's staff session is required."},
    403: {"description": "`ROLE_FORBIDDEN`: only the hotline operator role."},
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
    staff: StaffPrincipal = Depends(OPERATOR),
    uow: UnitOfWork = TRANSACTION,
) -> VoiceQueryRead:
    """Answer the voice menu: the caller's card states and contribution status, without a password."""
    return VoiceQueryRead.of(_answer(uow, staff, id_number, ss_number))


@router.post("/voice-query", response_model=VoiceQueryRead, responses=_ERRORS, dependencies=_ADMIT)
def voice_query_post(
    body: VoiceQueryIn, staff: StaffPrincipal = Depends(OPERATOR), uow: UnitOfWork = TRANSACTION
) -> VoiceQueryRead:
    """The same query with the number in the body (it then stays out of URLs and access logs)."""
    return VoiceQueryRead.of(_answer(uow, staff, body.id_number, body.ss_number))


def _answer(uow: UnitOfWork, staff: StaffPrincipal, id_number: str | None, ss_number: str | None) -> VoiceAnswer:
    """The voice answer for the operator's region (another region's number: not registered, CH-2)."""
    actor = staff.actor(Channel.HOTLINE)
    return answer_voice_query(uow, id_number=id_number, ss_number=ss_number, actor=actor, within=staff.covers)
