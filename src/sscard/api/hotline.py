"""The 12345 hotline channel: oral loss report (CARD-5). No password, by rule; the answer is minimal.

No password from the caller, but the channel itself is authenticated (contract.md): the operator's
staff session (role ``hotline_operator``), acting within the operator's region (CH-2). A number of
another region is answered exactly as an unknown number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, Request, status

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.source import client_address
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.cards.errors import (
    CardIllegalTransition,
    CardTypeInvalid,
    HotlineThrottled,
    LossReportInvalid,
    LossReportNoCard,
)
from sscard.cards.hotline_guard import admit_hotline_call
from sscard.cards.schemas import HotlineLossReportIn, LossReportRead
from sscard.cards.service import report_loss_by_hotline
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork, unit_of_work
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.notify.errors import NotifyInvalid
from sscard.policy.errors import PolicyInvalid
from sscard.staff.roles import Role

router = APIRouter(prefix="/hotline", tags=["hotline"], route_class=IdempotentRoute)

OPERATOR = require_staff(Role.HOTLINE_OPERATOR)


def admit_call(*, source: str, action: str, now: datetime | None = None) -> None:
    """Count the call in a unit of work of its own, kept when the call is refused (``HotlineThrottled``)."""
    with unit_of_work() as uow, commit_early_on(uow, HotlineThrottled, why=Why.FAILURE_COUNTED):
        admit_hotline_call(uow, source=source, action=action, now=now)


def hotline_call(action: str) -> Callable[[Request], None]:
    """A route dependency: count the call against its source address, refuse with 429 past the limit."""

    @raises(HotlineThrottled)
    def admit(request: Request) -> None:
        admit_call(source=client_address(request.scope), action=action)

    return admit


@router.post(
    "/loss-reports",
    status_code=status.HTTP_201_CREATED,
    response_model=LossReportRead,
    dependencies=[Depends(hotline_call("card.report_loss"))],
)
@raises(
    LossReportNoCard,
    CardIllegalTransition,
    CardTypeInvalid,
    InvalidCitizenId,
    LossReportInvalid,
    NotifyInvalid,
    PolicyInvalid,
)
def report_loss(
    body: HotlineLossReportIn, staff: StaffPrincipal = Depends(OPERATOR), uow: UnitOfWork = TRANSACTION
) -> LossReportRead:
    """Block the caller's card at once; the block lapses after the policy days unless confirmed at a counter.

    The holder is told on the phone and e-mail on file (CH-5). An unknown number, one of another region
    and one without a card that can be blocked all get the same 404 ``LOSS_REPORT_NO_CARD``, audited.
    """
    with commit_early_on(uow, LossReportNoCard, why=Why.REFUSAL_AUDITED):  # the refusal's audit entry outlives the 404
        report = report_loss_by_hotline(
            uow,
            id_number=body.id_number,
            ss_number=body.ss_number,
            card_type=body.card_type,
            actor=staff.actor(Channel.HOTLINE),
            within=staff.covers,
        )
    return LossReportRead.of(report)
