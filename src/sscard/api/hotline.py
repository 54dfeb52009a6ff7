"""The 12345 hotline channel: oral loss report (CARD-5). No password, by rule; the answer is minimal.

No password from the caller, but the channel itself is authenticated (contract.md): the operator's
staff session (role ``hotline_operator``), acting within the operator's region (CH-2). A number of
another region is answered exactly as an unknown number.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request, status

from sscard.api.deps import TRANSACTION
from sscard.api.source import client_address
from sscard.audit import Channel
from sscard.cards.errors import LossReportNoCard
from sscard.cards.hotline_guard import admit_hotline_call
from sscard.cards.schemas import HotlineLossReportIn, LossReportRead
from sscard.cards.service import report_loss_by_hotline
from sscard.db.session import UnitOfWork
from sscard.staff.deps import StaffPrincipal, require_staff
from sscard.staff.roles import Role

router = APIRouter(prefix="/hotline", tags=["hotline"])

THROTTLED: dict[int | str, dict[str, str]] = {
    429: {"description": "`HOTLINE_THROTTLED`: too many calls from this source address; see `Retry-After`."}
}
OPERATOR = require_staff(Role.HOTLINE_OPERATOR)
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "`UNAUTHENTICATED`: the hotline operator's staff session is required."},
    403: {"description": "`ROLE_FORBIDDEN`: only the hotline operator role."},
    404: {"description": "No card that can be reported lost for this number (`LOSS_REPORT_NO_CARD`)."},
    422: {"description": "Neither or two different numbers (`LOSS_REPORT_INVALID`), or an invalid ID (`ID_*`)."},
    **THROTTLED,
}


def hotline_call(action: str) -> Callable[[Request], None]:
    """A route dependency: count the call against its source address, refuse with 429 past the limit."""

    def admit(request: Request) -> None:
        admit_hotline_call(source=client_address(request.scope), action=action)

    return admit


@router.post(
    "/loss-reports",
    status_code=status.HTTP_201_CREATED,
    response_model=LossReportRead,
    responses=_ERRORS,
    dependencies=[Depends(hotline_call("card.report_loss"))],
)
def report_loss(
    body: HotlineLossReportIn, staff: StaffPrincipal = Depends(OPERATOR), uow: UnitOfWork = TRANSACTION
) -> LossReportRead:
    """Block the caller's card at once; the block lapses after the policy days unless confirmed at a counter.

    The holder is told on the phone and e-mail on file (CH-5). An unknown number, one of another region
    and one without a card that can be blocked all get the same 404 ``LOSS_REPORT_NO_CARD``, audited.
    """
    with uow.committed_before(LossReportNoCard):  # the refusal's audit entry outlives the 404
        report = report_loss_by_hotline(
            uow,
            id_number=body.id_number,
            ss_number=body.ss_number,
            card_type=body.card_type,
            actor=staff.actor(Channel.HOTLINE),
            within=staff.covers,
        )
    return LossReportRead.of(report)
