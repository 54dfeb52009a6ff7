"""The 12345 hotline's automatic voice query (INS-5): no password, non-sensitive facts only (seed 004)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import READS, TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.hotline import OPERATOR, hotline_call
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal
from sscard.audit import Channel
from sscard.cards.errors import CardIllegalTransition, LossReportInvalid
from sscard.db.session import UnitOfWork
from sscard.hotline.voice import VoiceAnswer, answer_voice_query
from sscard.identity.citizen_id import InvalidCitizenId

router = APIRouter(prefix="/hotline", tags=["hotline"], route_class=IdempotentRoute)

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
    contributions_up_to_date: str = Field(
        description="`yes` (declared up to last month), `no`, or `unknown` (no insurance record at all)."
    )
    contributions_paid_through: str | None = Field(
        description="The newest month declared, `YYYY-MM`; no amount and no employer is ever disclosed (INS-5)."
    )
    contributions_note_zh: str
    as_of: datetime

    @classmethod
    def of(cls, answer: VoiceAnswer) -> VoiceQueryRead:
        return cls(
            cards=[VoiceCardRead(**vars(c)) for c in answer.cards],
            contributions_up_to_date=answer.contributions_up_to_date,
            contributions_paid_through=answer.contributions_paid_through,
            contributions_note_zh=answer.contributions_note_zh,
            as_of=answer.as_of,
        )


@router.get("/voice-query", response_model=VoiceQueryRead, dependencies=_ADMIT)
@raises(CardIllegalTransition, InvalidCitizenId, LossReportInvalid)
def voice_query_get(
    id_number: str | None = Query(default=None, max_length=32),
    ss_number: str | None = Query(default=None, max_length=32),
    staff: StaffPrincipal = Depends(OPERATOR),
    uow: UnitOfWork = TRANSACTION,
    reads: UnitOfWork = READS,
) -> VoiceQueryRead:
    """Answer the voice menu: the caller's card states and contribution status, without a password."""
    return VoiceQueryRead.of(_answer(uow, reads, staff, id_number, ss_number))


@router.post("/voice-query", response_model=VoiceQueryRead, dependencies=_ADMIT)
@raises(CardIllegalTransition, InvalidCitizenId, LossReportInvalid)
def voice_query_post(
    body: VoiceQueryIn,
    staff: StaffPrincipal = Depends(OPERATOR),
    uow: UnitOfWork = TRANSACTION,
    reads: UnitOfWork = READS,
) -> VoiceQueryRead:
    """The same query with the number in the body (it then stays out of URLs and access logs)."""
    return VoiceQueryRead.of(_answer(uow, reads, staff, body.id_number, body.ss_number))


def _answer(
    uow: UnitOfWork, reads: UnitOfWork, staff: StaffPrincipal, id_number: str | None, ss_number: str | None
) -> VoiceAnswer:
    """The voice answer for the operator's region (another region's number: not registered, CH-2); the
    facts read on the replica when one is configured, the audit entry written on the primary."""
    actor = staff.actor(Channel.HOTLINE)
    return answer_voice_query(
        uow, id_number=id_number, ss_number=ss_number, actor=actor, within=staff.covers, reads=reads
    )
