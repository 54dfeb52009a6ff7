"""The 12345 hotline channel: oral loss report (CARD-5). No password, by rule; the answer is minimal."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sscard.api.deps import get_uow
from sscard.audit import Actor, Channel
from sscard.cards.schemas import HotlineLossReportIn, LossReportRead
from sscard.cards.service import report_loss_by_hotline
from sscard.db.session import UnitOfWork

router = APIRouter(prefix="/hotline", tags=["hotline"])

HOTLINE_CALLER = Actor(kind="caller", id="hotline-12345", channel=Channel.HOTLINE, role="caller")

_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "No card that can be reported lost for this number (`LOSS_REPORT_NO_CARD`)."},
    422: {"description": "Neither or two different numbers (`LOSS_REPORT_INVALID`), or an invalid ID (`ID_*`)."},
}


@router.post("/loss-reports", status_code=status.HTTP_201_CREATED, response_model=LossReportRead, responses=_ERRORS)
def report_loss(body: HotlineLossReportIn, uow: UnitOfWork = Depends(get_uow)) -> LossReportRead:
    """Block the caller's card at once; the block lapses after the policy days unless confirmed at a counter."""
    report = report_loss_by_hotline(
        uow, id_number=body.id_number, ss_number=body.ss_number, card_type=body.card_type, actor=HOTLINE_CALLER
    )
    return LossReportRead.of(report)
