"""Bank POS consumption from the RMB debit account (FIN-2, FIN-3, PIN-2, PIN-5): one signed round trip,
idempotent by terminal + transaction id (the settlement's terminal transaction store) and, like every
money-moving route, by ``Idempotency-Key``. The common case is decided in batches in front of the stack
(``api/debit_lane.py``, ``debit/batch.py``); this route decides the rest, one request at a time.
A wrong, missing or refused PIN is remembered (counted, audited) as at verify: those answers commit
before the problem response.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from sscard.api.debit_lane import OUTCOME_KEY
from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pin_verify_lane import handed_on_terminal
from sscard.api.terminal import SIGNED_BY_TERMINAL, AuthenticatedTerminal
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound, CardTypeInvalid
from sscard.credentials.pin.errors import PinLocked, PinRequired, PinWrong
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.debit import service
from sscard.debit.errors import DebitAccountNotFound, NotABankTerminal, NotAFinancialCard
from sscard.debit.schemas import ConsumptionIn, ConsumptionOut
from sscard.idempotency.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from sscard.ledger.errors import AccountClosed, AccountNotFound, InsufficientFunds, LegInvalid, LegsUnbalanced
from sscard.people.errors import PersonNotFound
from sscard.policy.errors import PolicyInvalid
from sscard.settlement.errors import AmountInvalid, TxnConflict

router = APIRouter(prefix="/terminal/debit", tags=["terminal"], route_class=IdempotentRoute)

_REMEMBERED = (PinWrong, PinLocked, PinRequired)
# The terminal, authenticated by the batch that handed this request on (``api/debit_lane.py``).
consuming_terminal = SIGNED_BY_TERMINAL(handed_on_terminal(OUTCOME_KEY))


@router.post("/consumption", response_model=ConsumptionOut)
@raises(
    PinWrong,
    NotABankTerminal,
    CardNotFound,
    DebitAccountNotFound,
    AccountNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    NotAFinancialCard,
    InsufficientFunds,
    AccountClosed,
    TxnConflict,
    AmountInvalid,
    CardTypeInvalid,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    LegInvalid,
    LegsUnbalanced,
    PolicyInvalid,
    PinLocked,
    PinRequired,
)
def consume(
    body: ConsumptionIn,
    response: Response,
    terminal: AuthenticatedTerminal = Depends(consuming_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Pay at a bank POS terminal from the card's debit account with the card PIN (FIN-2).

    The common case never gets here: the debit lane answers it from a batch."""

    def work() -> dict[str, Any]:
        answer = service.consume(
            uow,
            terminal=terminal,
            card_no=body.card_no,
            amount_fen=body.amount_fen,
            txn_id=body.txn_id,
            pin_block=bytes.fromhex(body.pin_block) if body.pin_block else None,
            actor=terminal.actor(),
        )
        if answer.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return answer.body

    with commit_early_on(uow, *_REMEMBERED, why=Why.FAILURE_COUNTED):
        return work()
