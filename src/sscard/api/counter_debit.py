"""Bank counter routes of the RMB debit account (FIN-2, FIN-3): open, deposit, withdraw, transfer.

Bank clerks only, acting on cards issued through their own bank (``CARD_OTHER_BANK`` otherwise) and in
their region (``OUTSIDE_REGION``). Money-moving requests accept ``Idempotency-Key`` (contract.md).
Each posting's ``source_ref`` is the request's id (``request:<X-Request-ID>``), its actor the clerk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound
from sscard.cards.service import get_card_or_raise
from sscard.db.session import UnitOfWork
from sscard.debit import service
from sscard.debit.errors import DebitAccountExists, DebitAccountNotFound, NotAFinancialCard, TransferToSelf
from sscard.debit.schemas import AmountIn, DebitAccountOut, MovementOut, TransferIn
from sscard.idempotency.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from sscard.ledger.errors import AccountClosed, AccountNotFound, InsufficientFunds, LegInvalid, LegsUnbalanced
from sscard.settlement.errors import AmountInvalid
from sscard.staff.errors import CardOtherBank, OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter/cards/{card_no}/debit", tags=["counter"], route_class=IdempotentRoute)
BANK_STAFF = require_staff(Role.BANK_CLERK)


def _actor(staff: StaffPrincipal) -> Actor:
    return staff.actor(Channel(ROLE_CHANNEL[staff.role]))


def _bank_card(uow: UnitOfWork, staff: StaffPrincipal, card_no: str) -> None:
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)


def _ref(request: Request) -> str:
    return f"request:{getattr(request.state, 'request_id', '') or 'unknown'}"


@router.post("", response_model=DebitAccountOut, status_code=201)
@raises(
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    NotAFinancialCard,
    DebitAccountExists,
)
def open_account(
    card_no: str, staff: StaffPrincipal = Depends(BANK_STAFF), uow: UnitOfWork = TRANSACTION
) -> dict[str, Any]:
    """Open the card's RMB debit account, linked through the issuing bank (FIN-3)."""
    _bank_card(uow, staff, card_no)
    return service.open_debit_account(uow, card_no=card_no, actor=_actor(staff))


# What every cash movement at the counter can be refused with (deposit, withdrawal, transfer).
_MOVEMENT_ERRORS = (
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    DebitAccountNotFound,
    AccountNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    NotAFinancialCard,
    InsufficientFunds,
    AccountClosed,
    AmountInvalid,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    LegInvalid,
    LegsUnbalanced,
)


@router.post("/deposit", response_model=MovementOut)
@raises(*_MOVEMENT_ERRORS)
def deposit(
    card_no: str,
    body: AmountIn,
    request: Request,
    staff: StaffPrincipal = Depends(BANK_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Cash paid in at the counter (FIN-2)."""
    return _move(uow, staff, card_no, request, service.deposit, amount_fen=body.amount_fen)


@router.post("/withdrawal", response_model=MovementOut)
@raises(*_MOVEMENT_ERRORS)
def withdraw(
    card_no: str,
    body: AmountIn,
    request: Request,
    staff: StaffPrincipal = Depends(BANK_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """Cash paid out at the counter (FIN-2): never more than the balance (``INSUFFICIENT_FUNDS``)."""
    return _move(uow, staff, card_no, request, service.withdraw, amount_fen=body.amount_fen)


@router.post("/transfer", response_model=MovementOut)
@raises(*_MOVEMENT_ERRORS, TransferToSelf)
def transfer(
    card_no: str,
    body: TransferIn,
    request: Request,
    staff: StaffPrincipal = Depends(BANK_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> dict[str, Any]:
    """From this card's debit account to another card's debit account (FIN-2); not to itself."""
    return _move(uow, staff, card_no, request, service.transfer, to_card_no=body.to_card_no,
                 amount_fen=body.amount_fen)  # fmt: skip


def _move(
    uow: UnitOfWork,
    staff: StaffPrincipal,
    card_no: str,
    request: Request,
    movement: Callable[..., dict[str, Any]],
    **amounts: Any,
) -> dict[str, Any]:
    """A counter movement on the bank's own card (``Idempotency-Key``: api/idempotency.py)."""
    _bank_card(uow, staff, card_no)
    return movement(uow, card_no=card_no, actor=_actor(staff), source_ref=_ref(request), **amounts)
