"""The batched path of bank POS consumption (FIN-2, FIN-3): many payments, one transaction (group commit).

The common case at a bank outlet's POS is a new transaction id, the right PIN of an active financial
card whose PIN is enabled and has no failure on record, an amount below the notice threshold, and a
debit account that holds it. Such requests that arrive while a batch is in the database are decided
together in the next one (``db/group_commit.py``), as medical settlements are (``settlement/batch.py``,
whose authentication and write this batch shares: ``settlement/txn_batch.py``): one read of the
terminals and their outlets, the debit accounts locked in one statement (with each one's bank clearing
account), the cards' PIN rows in another, the nonces spent and the audit heads locked in a third, then
every payment's stored transaction, posting, legs and balances in one statement, one audit append, one
commit. The lane (``api/debit_lane.py``) answers a request only after that commit: a 2xx means committed.

What the batch accepts is decided by the single path's rules (``service.consume``), the PIN by the one
PIN decision (``rules.decision.decide_verify``, ``batched=True``). Everything else is handed back:
- ``None``: not authenticated here (the route authenticates it and refuses it with its code);
- ``Authenticated``: authentic, its nonce spent with the batch, but the single path's to decide: a
  transaction id already stored (a replay, or ``TXN_CONFLICT``) or used twice in the batch, a terminal
  that is not a bank POS, an amount out of range, a card that is not active, not financial or has no
  PIN row or no debit account, a PIN not enabled, a failure on record, a lock, no PIN block, a wrong
  PIN (counted there, PIN-5), too little money (``INSUFFICIENT_FUNDS``), an amount at or above the
  holder's notice threshold (the notice is queued there), an outlet or bank clearing account seen for
  the first time, a threshold not cached yet. The route runs ``service.consume`` after this batch's commit.
- ``Consumed``: paid, stored, posted, audited and committed with the batch; the answer to give.

Locks, in the single path's order: the debit accounts (id order, one statement), the PIN rows (card
order), the audit heads (stream order), the bank clearing accounts (id order). Payments from one
account in one batch are decided in arrival order against a running balance, so none overdraws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple, cast

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Table, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sscard.audit import AuditEvent
from sscard.cards.lifecycle import card_event
from sscard.cards.models import Card
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin.batch_verify import Authenticated, pin_block_matches
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.rules.decision import Accept, decide_verify, verify_details
from sscard.credentials.pin.rules.threshold import LockoutThresholds
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import UnitOfWork
from sscard.db.statements import member_of, per_dialect
from sscard.debit.models import DebitAccount
from sscard.debit.service import BANK_REGION, CONSUME, MAX_AMOUNT_FEN, POS_KINDS
from sscard.ledger.models import AccountKind, Institution, LedgerAccount, PostingKind
from sscard.policy.service import get_effective_policy
from sscard.settlement.txn_batch import BatchFacts, Payment, PaymentBatch, Threshold, run_batch, run_batch_pg
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import Terminal


class ConsumeAttempt(NamedTuple):
    """One signed consumption request as received, its body already validated."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    card_no: str
    amount_fen: int
    txn_id: str
    pin_block: bytes | None
    received_at: float


@dataclass(frozen=True, slots=True)
class Consumed:
    """Paid and committed with the batch: the answer the single path would have given."""

    terminal: AuthenticatedTerminal
    answer: dict[str, Any]


Outcome = Consumed | Authenticated | None
DECIDED = Counter(
    "sscard_debit_batch_total", "Debit consumptions decided by batches (counted before their commit).", ["outcome"]
)
_WRITTEN_AS = {"kind": PostingKind.DEBIT_CONSUMPTION.value, "purpose": CONSUME}

_ACC = cast(Table, LedgerAccount.__table__)
_CLEARING = _ACC.alias("clearing")
_INST = cast(Table, Institution.__table__)
_BANK = _INST.alias("bank")
_CARD = cast(Table, Card.__table__)
_DEBIT = cast(Table, DebitAccount.__table__)
_TERMINAL = cast(Table, Terminal.__table__)
# In the SQL, not parameters (the pipeline driver sends only the lists); constants, never from input.
_BANK_REGION: ColumnElement[Any] = literal_column(f"'{BANK_REGION}'")
_BANK_CLEARING: ColumnElement[Any] = literal_column(f"'{AccountKind.BANK_CLEARING.value}'")

# The batch's debit accounts, locked in id order before any PIN row (the single path's order), each with
# its bank's clearing account (made by the single path on the bank's first consumption).
DEBIT_ACCOUNTS = per_dialect(
    lambda dialect: (
        select(
            _CARD.c.card_no,
            _CARD.c.financial,
            _CARD.c.bank_code,
            _ACC.c.id,
            _ACC.c.balance_fen,
            _ACC.c.closed_at,
            _CLEARING.c.id.label("clearing_id"),
            _CLEARING.c.closed_at.label("clearing_closed_at"),
        )  # fmt: skip
        .select_from(_CARD)
        .join(_DEBIT, _DEBIT.c.card_id == _CARD.c.id)
        .join(_ACC, _ACC.c.id == _DEBIT.c.ledger_account_id)
        .outerjoin(_BANK, (_BANK.c.region_code == _BANK_REGION) & (_BANK.c.name == _DEBIT.c.bank_code))
        .outerjoin(_CLEARING, (_CLEARING.c.institution_id == _BANK.c.id) & (_CLEARING.c.kind == _BANK_CLEARING))
        .where(member_of(_CARD.c.card_no, "card_nos", dialect))
        .order_by(_ACC.c.id)
        .with_for_update(of=_ACC)
    )
)
# Each terminal's outlet (the ``institution`` row the single path makes on the outlet's first consumption).
OUTLETS = per_dialect(
    lambda dialect: (
        select(_TERMINAL.c.terminal_id, _INST.c.id)
        .select_from(_TERMINAL)
        .join(_INST, (_INST.c.region_code == _TERMINAL.c.region_code) & (_INST.c.name == _TERMINAL.c.institution_name))
        .where(member_of(_TERMINAL.c.terminal_id, "terminal_ids", dialect))
    )
)


class NoticeThresholds(LockoutThresholds):
    """The holders' notice thresholds (``debit_notify_threshold_fen``, FIN-2), cached per (region, card type)
    and forgotten with the policy's generation exactly as the lockout thresholds are (``rules/threshold.py``)."""

    def read(self, uow: UnitOfWork, region_code: str, card_type: CardType) -> int:
        return get_effective_policy(uow, region_code=region_code, card_type=card_type).debit_notify_threshold_fen


def _decide(
    attempts: list[ConsumeAttempt],
    authentic: list[AuthenticatedTerminal | None],
    facts: BatchFacts,
    thresholds: list[Threshold],
) -> tuple[list[Outcome], list[Payment], list[AuditEvent]]:
    """Each attempt's outcome by the single path's rules (module docstring), the payments accepted and
    their audit entries (the PIN's and the consumption's, on the card's stream)."""
    lockout, notice = thresholds
    today = local_date()
    balances: dict[int, int] = {}
    stored = set(facts.stored)
    outcomes: list[Outcome] = []
    paid: list[Payment] = []
    events: list[AuditEvent] = []
    for i, (attempt, terminal) in enumerate(zip(attempts, authentic, strict=True)):
        if terminal is None:
            outcomes.append(None)
            continue
        key = (terminal.terminal_id, attempt.txn_id)
        card_no = facts.card_nos[i]
        card, account, outlet = facts.cards.get(card_no), facts.accounts.get(card_no), facts.terminals.get(key[0])
        amount = attempt.amount_fen
        # Both thresholds asked first, whatever else hands this one on: a cache that lacks them reads them
        # all after this batch's commit, so a new card region costs one handed-on payment, not three.
        limit = notice(card.region_code, card.card_type) if card is not None else None
        threshold = lockout(card.region_code, card.card_type) if card is not None else None
        if (
            key in stored
            or terminal.kind not in POS_KINDS
            or isinstance(amount, bool)
            or not 0 < amount <= MAX_AMOUNT_FEN
            or card is None
            or account is None
            or not account.financial
            or not account.bank_code
            or account.closed_at is not None
            or account.clearing_id is None
            or account.clearing_closed_at is not None
            or outlet is None
        ):
            outcomes.append(Authenticated(terminal))
            continue
        if limit is None or amount >= limit:  # the holder's notice is queued on the single path
            outcomes.append(Authenticated(terminal))
            continue
        decision = decide_verify(
            card_state=card.state, row=card, threshold=threshold,
            pin_entered=attempt.pin_block is not None, batched=True,
            pin_is_right=partial(pin_block_matches, card, attempt, terminal),
        )  # fmt: skip
        if not isinstance(decision, Accept):
            outcomes.append(Authenticated(terminal))  # a wrong PIN is counted on the single path (PIN-5)
            continue
        balance = balances.get(account.id, account.balance_fen)
        if amount > balance:
            outcomes.append(Authenticated(terminal))  # INSUFFICIENT_FUNDS is the single path's answer
            continue
        stored.add(key)  # the same id again in this batch: the single path answers it after the commit
        balances[account.id] = balance - amount
        answer: dict[str, Any] = {
            "ok": True, "code": None, "txn_id": attempt.txn_id, "amount_fen": amount,
            "balance_fen": balance - amount, "pin_enabled": decision.pin_enabled, "business_date": today.isoformat(),
        }  # fmt: skip
        actor = terminal.actor()
        details = verify_details(pin_entered=True, pin_enabled=decision.pin_enabled)
        events.append(card_event(card, actor=actor, action="pin.verify", details=details))
        consumed = {"txn_id": attempt.txn_id, "amount_fen": amount}
        events.append(card_event(card, actor=actor, action="debit.consume", details=consumed))
        request = {"card_no": card_no, "amount_fen": amount}  # the single path's digest (CONSUME)
        paid.append(Payment(terminal.terminal_id, attempt.txn_id, request, outlet.id, card.id, account.id,
                            account.clearing_id, amount, answer, actor))  # fmt: skip
        outcomes.append(Consumed(terminal, answer))
    return outcomes, paid, events


CONSUMPTION = PaymentBatch(
    accounts=DEBIT_ACCOUNTS, by_terminal=OUTLETS, decide=_decide, kind=PostingKind.DEBIT_CONSUMPTION.value,
    purpose=CONSUME, decided=DECIDED,
)  # fmt: skip


def consume_batch(
    uow: UnitOfWork,
    attempts: list[ConsumeAttempt],
    *,
    thresholds: LockoutThresholds | None = None,
    notices: NoticeThresholds | None = None,
) -> list[Outcome]:
    """Decide ``attempts`` in ``uow`` on SQLAlchemy (SQLite, and the tests' direct calls; the server on
    PostgreSQL runs ``consume_batch_pg``); see the module docstring."""
    caches = [
        LockoutThresholds() if thresholds is None else thresholds,
        NoticeThresholds() if notices is None else notices,
    ]
    return run_batch(uow, attempts, CONSUMPTION, caches)


async def consume_batch_pg(
    connection: AsyncConnection,
    attempts: list[ConsumeAttempt],
    *,
    thresholds: LockoutThresholds,
    notices: NoticeThresholds,
) -> list[Outcome]:
    """The batch on PostgreSQL, straight on libpq's pipeline, in three round trips (``txn_batch.run_batch_pg``:
    (1) BEGIN, the terminals, the policy's generation, the stored transaction ids, the outlets; (2) the debit
    accounts locked, the PIN rows locked and read, the nonces spent with the audit heads locked, in this
    order; (3) the bank clearing accounts locked in id order, the payments written, the audit append, COMMIT)."""
    return await run_batch_pg(connection, attempts, CONSUMPTION, [thresholds, notices])


class DebitBatcher(GroupCommitter[ConsumeAttempt, Outcome]):
    """This process's batcher of bank POS consumptions (the lane's channel: it owns each batch's unit of
    work), with the threshold caches its batches share. The PIN verify lane's batch settings."""

    def __init__(self) -> None:
        settings = get_settings()
        self.thresholds = LockoutThresholds()
        self.notices = NoticeThresholds()
        super().__init__(
            "debit-consume",
            partial(consume_batch, thresholds=self.thresholds, notices=self.notices),
            on_failure=lambda _attempt: None,  # rolled back: the single path does everything
            max_batch=settings.pin_verify_batch,
            connections=settings.pin_verify_connections,
            linger=settings.pin_verify_linger_ms / 1000,
            in_loop=partial(consume_batch_pg, thresholds=self.thresholds, notices=self.notices),
        )


@lru_cache(maxsize=1)
def debit_batcher() -> DebitBatcher:
    """This process's batcher of bank POS consumptions."""
    return DebitBatcher()
