"""Terminal settlement routes (FIN-1, PIN-2, PIN-5, CARD-4): pay from the medical personal account,
refund, reverse — each one signed round trip (CH-3), idempotent by terminal + transaction id.

A wrong, missing or refused PIN is remembered (counted, audited) like at verify: those answers commit
before the problem response. A repeated request gets the first answer with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pin_verify_lane import handed_on_terminal
from sscard.api.settlement_lane import OUTCOME_KEY
from sscard.api.terminal import SIGNED_BY_TERMINAL, AuthenticatedTerminal, authenticated_terminal
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound, CardTypeInvalid
from sscard.credentials.pin.errors import PinLocked, PinRequired, PinWrong
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.ledger.errors import (
    AccountClosed,
    AccountNotFound,
    InsufficientFunds,
    LegInvalid,
    LegsUnbalanced,
    PeriodArchived,
)
from sscard.people.errors import PersonNotFound
from sscard.policy.errors import PolicyInvalid
from sscard.settlement import service
from sscard.settlement.errors import (
    AmountInvalid,
    NotAMedicalTerminal,
    RefundExceedsPayment,
    ReversalNotAllowed,
    SettlementReversed,
    TxnConflict,
    TxnNotFound,
)
from sscard.settlement.schemas import RefundIn, RefundOut, ReversalIn, ReversalOut, SettlementIn, SettlementOut

router = APIRouter(prefix="/terminal/settlement", tags=["terminal"], route_class=IdempotentRoute)

_REMEMBERED = (PinWrong, PinLocked, PinRequired)


# The terminal, authenticated by the batch that handed this request on (``api/settlement_lane.py``).
settling_terminal = SIGNED_BY_TERMINAL(handed_on_terminal(OUTCOME_KEY))


def _mark(response: Response, answer: service.Answer) -> dict[str, Any]:
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer.body


@router.post("", response_model=SettlementOut)
@raises(
    PinWrong,
    NotAMedicalTerminal,
    CardNotFound,
    AccountNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    InsufficientFunds,
    AccountClosed,
    TxnConflict,
    AmountInvalid,
    CardTypeInvalid,
    LegInvalid,
    LegsUnbalanced,
    PolicyInvalid,
    PinLocked,
    PinRequired,
)
def settle(
    body: SettlementIn,
    response: Response,
    terminal: AuthenticatedTerminal = Depends(settling_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Pay from the card holder's medical personal account (FIN-1); the PIN block when the PIN is enabled.

    The common case never gets here: the settlement lane answers it from a batch."""
    with commit_early_on(uow, *_REMEMBERED, why=Why.FAILURE_COUNTED):
        answer = service.settle(
            uow,
            terminal=terminal,
            card_no=body.card_no,
            amount_fen=body.amount_fen,
            txn_id=body.txn_id,
            pin_block=bytes.fromhex(body.pin_block) if body.pin_block else None,
            partial=body.partial,
            actor=terminal.actor(),
        )
    return _mark(response, answer)


@router.post("/refund", response_model=RefundOut)
@raises(
    NotAMedicalTerminal,
    AccountNotFound,
    TxnNotFound,
    PeriodArchived,
    InsufficientFunds,
    AccountClosed,
    RefundExceedsPayment,
    SettlementReversed,
    TxnConflict,
    AmountInvalid,
    LegInvalid,
    LegsUnbalanced,
)
def refund(
    body: RefundIn,
    response: Response,
    terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Refund part or all of one of this terminal's settlements (never more than it paid)."""
    answer = service.refund(
        uow,
        terminal=terminal,
        txn_id=body.txn_id,
        refund_txn_id=body.refund_txn_id,
        amount_fen=body.amount_fen,
        actor=terminal.actor(),
    )
    return _mark(response, answer)


@router.post("/reverse", response_model=ReversalOut)
@raises(
    NotAMedicalTerminal,
    AccountNotFound,
    TxnNotFound,
    PeriodArchived,
    InsufficientFunds,
    AccountClosed,
    ReversalNotAllowed,
    SettlementReversed,
    TxnConflict,
    LegInvalid,
    LegsUnbalanced,
)
def reverse(
    body: ReversalIn,
    response: Response,
    terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Reverse one of this terminal's settlements of today in full (before any refund)."""
    answer = service.reverse(
        uow, terminal=terminal, txn_id=body.txn_id, reversal_txn_id=body.reversal_txn_id, actor=terminal.actor()
    )
    return _mark(response, answer)
