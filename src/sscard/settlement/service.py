"""Medical settlement at terminals (FIN-1, PIN-2, PIN-5, CARD-4): pay, refund, reverse — each once.

A payment is decided in one transaction, in this order:

1. a request whose (terminal, transaction id) was answered before gets that answer again and moves
   nothing; the same id with another card, amount or option is ``TXN_CONFLICT`` (``txn_store``);
2. the terminal must stand in a designated medical institution (``TERMINAL_NOT_MEDICAL``), the amount
   be 1 fen .. ``MAX_AMOUNT_FEN`` (``AMOUNT_INVALID``), the card exist (``CARD_NOT_FOUND``);
3. the holder's medical personal account row is locked (FOR UPDATE), so payments from one account are
   decided one after the other and never overdraw;
4. the card and its PIN go through the PIN path itself (``credentials.pin.service.verify_card_pin``):
   it locks the card's PIN row before reading it and asks the one PIN decision
   (``rules.decision.decide_verify``): card states (CARD-4, loss reports), a lock (PIN-5), the PIN
   required exactly when enabled (PIN-2), a wrong PIN counted toward the lock as at verify;
5. the balance, read under the lock, decides: all of it, or ``INSUFFICIENT_FUNDS`` unless the terminal
   asked for a partial payment, which pays what the account holds and answers the remainder;
6. the transaction is claimed in the store (a copy of this request that committed while we waited for
   the lock is found there, and its answer given), posted (``settlement``: medical account −, the institution's
   ``settlement_clearing`` +), and audited on the card's stream.

Lock order: medical account → PIN row → audit head (the card's stream) → clearing account. A
contribution locks personal accounts before any audit head, so no cycle can form with it.

Refunds and reversals need no PIN and no card check: they put money back into the holder's account
(which a replacement card inherits, CARD-5). Both lock the account, then read what was paid and
refunded so far under that lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import func, select

from sscard.audit import Actor
from sscard.cards.errors import CardNotFound
from sscard.cards.lifecycle import audit_card
from sscard.cards.models import Card
from sscard.cards.numbers import normalise_card_no
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.service import verify_card_pin
from sscard.db.session import UnitOfWork
from sscard.ledger.errors import InsufficientFunds, PeriodArchived
from sscard.ledger.models import PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import NewPosting, post_many
from sscard.settlement import txn_store
from sscard.settlement.accounts import clearing_account_of, lock_account, lock_medical_account
from sscard.settlement.errors import (
    AmountInvalid,
    NotAMedicalTerminal,
    RefundExceedsPayment,
    ReversalNotAllowed,
    SettlementReversed,
    TxnNotFound,
)
from sscard.settlement.models import TerminalTxn, TxnPurpose

#: FIN-1 / PIN-4: designated medical institutions (not kiosks, bank or service outlets).
MEDICAL_KINDS = frozenset({"hospital", "pharmacy", "clinic", "community_health_station"})
#: Above any medical personal account's balance (2 % of at most 300 % of the average wage a month for a
#: working life is far below ¥1,000,000): a larger amount is a keying or a unit error, not a payment.
MAX_AMOUNT_FEN = 100_000_000


class SettlingTerminal(Protocol):
    """The authenticated terminal (``terminals.auth.AuthenticatedTerminal``)."""

    @property
    def terminal_id(self) -> str: ...
    @property
    def institution_name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def region_code(self) -> str: ...
    @property
    def key_version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """What the terminal is told; ``replayed`` when it is the stored first answer of the same request."""

    body: dict[str, Any]
    replayed: bool = False


def _check_amount(amount_fen: int | None, *, what: str = "amount") -> None:
    if amount_fen is None:
        return
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise AmountInvalid(f"the {what} must be a whole number of fen from 1 to {MAX_AMOUNT_FEN}")


def _ensure_medical(terminal: SettlingTerminal) -> None:
    if terminal.kind not in MEDICAL_KINDS:
        raise NotAMedicalTerminal(
            f"a {terminal.kind} terminal cannot settle against the medical personal account; "
            f"settlement is offered at {', '.join(sorted(MEDICAL_KINDS))} terminals"
        )


def _card(uow: UnitOfWork, card_no: str) -> Card:
    card = uow.session.scalar(select(Card).where(Card.card_no == normalise_card_no(card_no)))
    if card is None:
        raise CardNotFound("no card with this number")
    return card


def settle(
    uow: UnitOfWork,
    *,
    terminal: SettlingTerminal,
    card_no: str,
    amount_fen: int,
    txn_id: str,
    pin_block: bytes | None,
    partial: bool = False,
    actor: Actor,
) -> Answer:
    """Pay ``amount_fen`` from the card holder's medical personal account at a medical terminal (FIN-1)."""
    digest = txn_store.request_digest(
        TxnPurpose.SETTLE, card_no=normalise_card_no(card_no), amount_fen=amount_fen, partial=partial
    )
    key = {"terminal_id": terminal.terminal_id, "txn_id": txn_id}
    tid, own_id = terminal.terminal_id, txn_id
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    _ensure_medical(terminal)
    _check_amount(amount_fen)
    card = _card(uow, card_no)
    medical = lock_medical_account(uow, person_id=card.person_id)
    check = verify_card_pin(uow, card_no=card.card_no, pin_block=pin_block, terminal=terminal, actor=actor)
    balance = medical[1] if medical is not None else 0
    paid = min(amount_fen, balance) if partial else amount_fen
    if medical is None or paid <= 0 or paid > balance:
        first = txn_store.replay(uow, **key, digest=digest)  # a copy that committed while we waited may have paid
        if first is not None:
            return Answer(first, replayed=True)
        raise InsufficientFunds(
            "the medical personal account's balance is too low"
            + ("" if partial else "; the terminal may ask for a partial payment"),
            balance_fen=balance,
        )
    institution_id, clearing_id = clearing_account_of(
        uow, region_code=terminal.region_code, name=terminal.institution_name, institution_type=terminal.kind
    )
    today = local_date()
    answer: dict[str, Any] = {
        "ok": True,
        "code": None,
        "txn_id": txn_id,
        "amount_fen": amount_fen,
        "paid_fen": paid,
        "remainder_fen": amount_fen - paid,
        "balance_fen": balance - paid,
        "pin_enabled": check.pin_enabled,
        "business_date": today.isoformat(),
    }
    try:
        row_id = txn_store.claim(
            uow,
            terminal_id=tid,
            txn_id=own_id,
            purpose=TxnPurpose.SETTLE,
            digest=digest,
            institution_id=institution_id,
            card_id=card.id,
            account_id=medical[0],
            amount_fen=-paid,
            business_date=today,
            answer=answer,
        )
    except txn_store.AlreadyAnswered as done:  # a copy committed while we waited for the account's lock
        return Answer(done.answer, replayed=True)
    _post(
        uow,
        kind=PostingKind.SETTLEMENT,
        row_id=row_id,
        legs=[Leg(medical[0], -paid), Leg(clearing_id, paid)],
        today=today,
        actor=actor,
        memo=f"{terminal.terminal_id}/{txn_id}",
    )
    audit_card(
        uow,
        card,
        actor=actor,
        action="settlement.pay",
        details={"txn_id": txn_id, "amount_fen": amount_fen, "paid_fen": paid, "institution_id": institution_id},
    )
    return Answer(answer)


def _post(
    uow: UnitOfWork,
    *,
    kind: str,
    row_id: int,
    legs: list[Leg],
    today: date,
    actor: Actor,
    memo: str,
    reverses_id: int | None = None,
) -> int:
    new = NewPosting(
        kind=kind,
        legs=legs,
        business_date=today,
        source_ref=f"terminal_txn:{row_id}",
        memo=memo,
        reverses_id=reverses_id,
    )
    (posting_id,) = post_many(uow, postings=[new], actor=actor)
    txn_store.attach_posting(uow, txn_row_id=row_id, posting_id=posting_id)
    return posting_id


def _original(uow: UnitOfWork, terminal: SettlingTerminal, txn_id: str) -> TerminalTxn:
    original = txn_store.get_txn(uow, terminal_id=terminal.terminal_id, txn_id=txn_id)
    if original is None and txn_store.is_archived(uow, terminal_id=terminal.terminal_id, txn_id=txn_id):
        raise PeriodArchived(f"terminal {terminal.terminal_id}'s transaction {txn_id} is of an archived month")
    if original is None or original.purpose != TxnPurpose.SETTLE:
        raise TxnNotFound(f"terminal {terminal.terminal_id} has no settlement {txn_id}")
    return original


def _refunded(uow: UnitOfWork, original_id: int) -> int:
    total = uow.session.scalar(
        select(func.coalesce(func.sum(TerminalTxn.amount_fen), 0)).where(
            TerminalTxn.original_id == original_id, TerminalTxn.purpose == TxnPurpose.REFUND.value
        )
    )
    return int(total or 0)


def _audit_original(uow: UnitOfWork, original: TerminalTxn, *, actor: Actor, action: str, **details: object) -> None:
    if original.card_id is not None:
        card = uow.session.get_one(Card, original.card_id)
        audit_card(uow, card, actor=actor, action=action, details=dict(details))


def refund(
    uow: UnitOfWork,
    *,
    terminal: SettlingTerminal,
    txn_id: str,
    refund_txn_id: str,
    amount_fen: int | None,
    actor: Actor,
) -> Answer:
    """Pay back part or all of a settlement (never more than it paid, in total), once per refund id."""
    digest = txn_store.request_digest(TxnPurpose.REFUND, original=txn_id, amount_fen=amount_fen)
    key = {"terminal_id": terminal.terminal_id, "txn_id": refund_txn_id}
    own_id = refund_txn_id
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    _ensure_medical(terminal)
    _check_amount(amount_fen, what="refund amount")
    original = _original(uow, terminal, txn_id)
    balance = lock_account(uow, original.account_id)  # refunds of one account are decided one at a time
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    uow.session.refresh(original)
    if original.reversed:
        raise SettlementReversed(f"settlement {txn_id} was reversed")
    paid, refunded = -original.amount_fen, _refunded(uow, original.id)
    amount = paid - refunded if amount_fen is None else amount_fen
    if amount <= 0 or refunded + amount > paid:
        raise RefundExceedsPayment(
            f"settlement {txn_id} paid {paid} fen, of which {refunded} fen were refunded already",
            paid_fen=paid,
            refunded_fen=refunded,
        )
    clearing_id = _clearing_of(uow, original)
    today = local_date()
    answer: dict[str, Any] = {
        "ok": True,
        "code": None,
        "txn_id": refund_txn_id,
        "original_txn_id": txn_id,
        "refunded_fen": amount,
        "refundable_fen": paid - refunded - amount,
        "balance_fen": balance + amount,
        "business_date": today.isoformat(),
    }
    return _give_back(
        uow,
        original=original,
        purpose=TxnPurpose.REFUND,
        kind=PostingKind.SETTLEMENT_REFUND,
        own_id=own_id,
        digest=digest,
        amount=amount,
        today=today,
        answer=answer,
        clearing_id=clearing_id,
        actor=actor,
        memo=f"{terminal.terminal_id}/{refund_txn_id} refunds {txn_id}",
        action="settlement.refund",
        txn_id=refund_txn_id,
        original_txn_id=txn_id,
    )


def _give_back(
    uow: UnitOfWork,
    *,
    original: TerminalTxn,
    purpose: TxnPurpose,
    kind: str,
    own_id: str,
    digest: str,
    amount: int,
    today: date,
    answer: dict[str, Any],
    clearing_id: int,
    actor: Actor,
    memo: str,
    action: str,
    txn_id: str,
    original_txn_id: str,
    reverses_id: int | None = None,
) -> Answer:
    """Money back to the account a settlement paid from (a refund or a reversal): claim the terminal's
    own transaction id, post it against the institution's clearing account, audit it on the card."""
    try:
        row_id = txn_store.claim(
            uow,
            terminal_id=original.terminal_id,
            txn_id=own_id,
            purpose=purpose,
            digest=digest,
            institution_id=original.institution_id,
            card_id=original.card_id,
            account_id=original.account_id,
            amount_fen=amount,
            business_date=today,
            answer=answer,
            original_id=original.id,
        )
    except txn_store.AlreadyAnswered as done:  # cannot happen under the account's lock; answered as such
        return Answer(done.answer, replayed=True)
    _post(
        uow,
        kind=kind,
        row_id=row_id,
        legs=[Leg(original.account_id, amount), Leg(clearing_id, -amount)],
        today=today,
        actor=actor,
        memo=memo,
        reverses_id=reverses_id,
    )
    _audit_original(
        uow, original, actor=actor, action=action, txn_id=txn_id, original_txn_id=original_txn_id, amount_fen=amount
    )
    return Answer(answer)


def _clearing_of(uow: UnitOfWork, original: TerminalTxn) -> int:
    from sscard.ledger.models import AccountKind
    from sscard.ledger.service import get_account

    account = get_account(uow, kind=AccountKind.SETTLEMENT_CLEARING.value, institution_id=original.institution_id)
    assert account is not None  # noqa: S101 - the settlement was posted against it
    return account.id


def reverse(uow: UnitOfWork, *, terminal: SettlingTerminal, txn_id: str, reversal_txn_id: str, actor: Actor) -> Answer:
    """Undo a settlement of today in full (before any refund), once per reversal id."""
    digest = txn_store.request_digest(TxnPurpose.REVERSAL, original=txn_id)
    key = {"terminal_id": terminal.terminal_id, "txn_id": reversal_txn_id}
    own_id = reversal_txn_id
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    _ensure_medical(terminal)
    original = _original(uow, terminal, txn_id)
    balance = lock_account(uow, original.account_id)
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    uow.session.refresh(original)
    today = local_date()
    if original.reversed:
        raise SettlementReversed(f"settlement {txn_id} was reversed already")
    if original.business_date != today or _refunded(uow, original.id):
        raise ReversalNotAllowed(
            f"settlement {txn_id} is of {original.business_date} or was refunded; refund it instead"
        )
    amount = -original.amount_fen
    answer: dict[str, Any] = {
        "ok": True,
        "code": None,
        "txn_id": reversal_txn_id,
        "original_txn_id": txn_id,
        "reversed_fen": amount,
        "balance_fen": balance + amount,
        "business_date": today.isoformat(),
    }
    given = _give_back(
        uow,
        original=original,
        purpose=TxnPurpose.REVERSAL,
        kind=PostingKind.SETTLEMENT_REVERSAL,
        own_id=own_id,
        digest=digest,
        amount=amount,
        today=today,
        answer=answer,
        clearing_id=_clearing_of(uow, original),
        actor=actor,
        memo=f"{terminal.terminal_id}/{reversal_txn_id} reverses {txn_id}",
        action="settlement.reverse",
        txn_id=reversal_txn_id,
        original_txn_id=txn_id,
        reverses_id=original.posting_id,
    )
    if not given.replayed:
        original.reversed = True
        uow.flush()
    return given
