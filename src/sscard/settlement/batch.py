"""The batched path of medical settlement (FIN-1): many payments, one transaction (group commit).

The common case at a pharmacy's or hospital's terminal is a new transaction id, the right PIN of an
active card whose PIN is enabled and has no failure on record, and a medical personal account that
holds the amount. Such requests that arrive while a batch is in the database are decided together
in the next one (``db/group_commit.py``, as ``credentials/pin/batch_verify.py`` does for PIN
verifications): one read of the terminals, the medical accounts locked in one statement, the cards'
PIN rows in another, the nonces spent and the audit heads locked in a third, one multi-row claim in
the transaction store, the postings, legs and balances of all of them, one audit append, one commit.
The lane (``api/settlement_lane.py``) answers a request only after that commit: a 2xx means committed.

What the batch accepts is decided by the same rules as the single path (``service.settle``), and the
PIN by the one PIN decision (``rules.decision.decide_verify``, ``batched=True``). Everything else is
handed back undecided, exactly as the PIN batch does:
- ``None``: not authenticated here (malformed headers, unknown terminal, wrong MAC, a nonce already
  spent): the route authenticates the request itself and refuses it with its contract code;
- ``Authenticated``: authentic, its nonce spent with the batch, but not this batch's to decide: a
  transaction id already stored (a replay, or ``TXN_CONFLICT``) or used twice in the batch, a
  terminal that is not medical, an amount out of range, a card that is not active or has no PIN row,
  a PIN not enabled, a failure on record, a lock, no PIN block, a wrong PIN (counted there, PIN-5),
  too little money (``INSUFFICIENT_FUNDS`` or a partial payment of nothing), an institution seen for
  the first time. The route runs ``service.settle`` in its own transaction after this batch's commit.
- ``Settled``: paid, stored, posted, audited and committed with the batch; the answer to give.

Locks, in the single path's order (``service.py``): the medical accounts (id order, one statement),
then the PIN rows (card order, the statement that reads them), then the audit heads (stream order),
then the clearing accounts (id order, by ``ledger.post_many``). Payments from one account in one
batch are decided in arrival order against a running balance, so none overdraws. A claim that finds
its id taken by a transaction that committed meanwhile fails the batch as a whole: it is rolled back
and every request takes the single path, which gives the stored answer or ``TXN_CONFLICT``.
Authentication and that write are shared with the debit consumption batch (``settlement/txn_batch.py``).
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
from sscard.config import get_settings
from sscard.credentials.pin.batch_verify import (
    Authenticated,
    pin_block_matches,
)
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.rules.decision import Accept, decide_verify, verify_details
from sscard.credentials.pin.rules.threshold import LockoutThresholds
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import UnitOfWork
from sscard.db.statements import member_of, per_dialect
from sscard.ledger.models import AccountKind, Institution, LedgerAccount, PostingKind
from sscard.settlement.models import TerminalTxn, TxnPurpose
from sscard.settlement.service import MAX_AMOUNT_FEN, MEDICAL_KINDS
from sscard.settlement.txn_batch import BatchFacts, Payment, PaymentBatch, Threshold, run_batch, run_batch_pg
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import Terminal


class SettleAttempt(NamedTuple):
    """One signed settlement request as received, its body already validated."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    card_no: str
    amount_fen: int
    txn_id: str
    pin_block: bytes | None
    partial: bool
    received_at: float


@dataclass(frozen=True, slots=True)
class Settled:
    """Paid and committed with the batch: the answer the single path would have given."""

    terminal: AuthenticatedTerminal
    answer: dict[str, Any]


Outcome = Settled | Authenticated | None
# How many the batches paid, and how many they handed on to the single path (``outcome``).
DECIDED = Counter(
    "sscard_settlement_batch_total", "Settlements decided by batches (counted before their commit).", ["outcome"]
)

_ACC = cast(Table, LedgerAccount.__table__)
_INST = cast(Table, Institution.__table__)
_TXN = cast(Table, TerminalTxn.__table__)
_CARD = cast(Table, Card.__table__)
_TERMINAL = cast(Table, Terminal.__table__)
# In the SQL, not parameters (the pipeline driver sends only the lists); built from the enum, never from input.
_MEDICAL: ColumnElement[Any] = literal_column(f"'{AccountKind.MEDICAL_PERSONAL.value}'")
_CLEARING: ColumnElement[Any] = literal_column(f"'{AccountKind.SETTLEMENT_CLEARING.value}'")

# The batch's medical accounts, locked in id order before any PIN row (the single path's order).
MEDICAL_ACCOUNTS = per_dialect(
    lambda dialect: (
        select(_CARD.c.card_no, _ACC.c.id, _ACC.c.balance_fen, _ACC.c.closed_at)
        .select_from(_CARD)
        .join(_ACC, (_ACC.c.person_id == _CARD.c.person_id) & (_ACC.c.kind == _MEDICAL))
        .where(member_of(_CARD.c.card_no, "card_nos", dialect))
        .order_by(_ACC.c.id)
        .with_for_update(of=_ACC)
    )
)
# Each terminal's institution and its clearing account (both made by the single path on first use).
CLEARING = per_dialect(
    lambda dialect: (
        select(_TERMINAL.c.terminal_id, _INST.c.id, _ACC.c.id.label("account_id"), _ACC.c.closed_at)
        .select_from(_TERMINAL)
        .join(_INST, (_INST.c.region_code == _TERMINAL.c.region_code) & (_INST.c.name == _TERMINAL.c.institution_name))
        .join(_ACC, (_ACC.c.institution_id == _INST.c.id) & (_ACC.c.kind == _CLEARING))
        .where(member_of(_TERMINAL.c.terminal_id, "terminal_ids", dialect))
    )
)


def _decide(
    attempts: list[SettleAttempt],
    authentic: list[AuthenticatedTerminal | None],
    facts: BatchFacts,
    thresholds: list[Threshold],
) -> tuple[list[Outcome], list[Payment], list[AuditEvent]]:
    """Each attempt's outcome by the single path's rules (module docstring), the payments accepted and
    their audit entries (the PIN's and the payment's, on the card's stream)."""
    today = local_date()
    balances: dict[int, int] = {}
    stored = set(facts.stored)
    outcomes: list[Outcome] = []
    paid_rows: list[Payment] = []
    events: list[AuditEvent] = []
    for i, (attempt, terminal) in enumerate(zip(attempts, authentic, strict=True)):
        if terminal is None:
            outcomes.append(None)
            continue
        key = (terminal.terminal_id, attempt.txn_id)
        card_no = facts.card_nos[i]
        card, account, clearing = facts.cards.get(card_no), facts.accounts.get(card_no), facts.terminals.get(key[0])
        amount = attempt.amount_fen
        if (
            key in stored
            or terminal.kind not in MEDICAL_KINDS
            or isinstance(amount, bool)
            or not 0 < amount <= MAX_AMOUNT_FEN
            or card is None
            or account is None
            or account.closed_at is not None
            or clearing is None
            or clearing.closed_at is not None
        ):
            outcomes.append(Authenticated(terminal))
            continue
        decision = decide_verify(
            card_state=card.state, row=card, threshold=thresholds[0](card.region_code, card.card_type),
            pin_entered=attempt.pin_block is not None, batched=True,
            pin_is_right=partial(pin_block_matches, card, attempt, terminal),
        )  # fmt: skip
        if not isinstance(decision, Accept):
            outcomes.append(Authenticated(terminal))  # a wrong PIN is counted on the single path (PIN-5)
            continue
        balance = balances.get(account.id, account.balance_fen)
        paid = min(amount, balance) if attempt.partial else amount
        if paid <= 0 or paid > balance:
            outcomes.append(Authenticated(terminal))  # INSUFFICIENT_FUNDS is the single path's answer
            continue
        stored.add(key)  # the same id again in this batch: the single path answers it after the commit
        balances[account.id] = balance - paid
        answer: dict[str, Any] = {
            "ok": True, "code": None, "txn_id": attempt.txn_id, "amount_fen": amount, "paid_fen": paid,
            "remainder_fen": amount - paid, "balance_fen": balance - paid, "pin_enabled": decision.pin_enabled,
            "business_date": today.isoformat(),
        }  # fmt: skip
        request = {"card_no": card_no, "amount_fen": amount, "partial": attempt.partial}  # the single path's digest
        actor = terminal.actor()
        details = verify_details(pin_entered=True, pin_enabled=decision.pin_enabled)
        events.append(card_event(card, actor=actor, action="pin.verify", details=details))
        pay = {"txn_id": attempt.txn_id, "amount_fen": amount, "paid_fen": paid, "institution_id": clearing.id}
        events.append(card_event(card, actor=actor, action="settlement.pay", details=pay))
        paid_rows.append(Payment(terminal.terminal_id, attempt.txn_id, request, clearing.id, card.id, account.id,
                               clearing.account_id, paid, answer, actor))  # fmt: skip
        outcomes.append(Settled(terminal, answer))
    return outcomes, paid_rows, events


_WRITTEN_AS = {"kind": PostingKind.SETTLEMENT.value, "purpose": TxnPurpose.SETTLE.value}


SETTLEMENT = PaymentBatch(
    accounts=MEDICAL_ACCOUNTS, by_terminal=CLEARING, decide=_decide, kind=PostingKind.SETTLEMENT.value,
    purpose=TxnPurpose.SETTLE.value, decided=DECIDED,
)  # fmt: skip


def settle_batch(
    uow: UnitOfWork, attempts: list[SettleAttempt], *, thresholds: LockoutThresholds | None = None
) -> list[Outcome]:
    """Decide ``attempts`` in ``uow`` on SQLAlchemy (SQLite, and the tests' direct calls; the server on
    PostgreSQL runs ``settle_batch_pg``); see the module docstring."""
    return run_batch(uow, attempts, SETTLEMENT, [LockoutThresholds() if thresholds is None else thresholds])


async def settle_batch_pg(
    connection: AsyncConnection, attempts: list[SettleAttempt], *, thresholds: LockoutThresholds
) -> list[Outcome]:
    """The batch on PostgreSQL, straight on libpq's pipeline, in three round trips (``txn_batch.run_batch_pg``:
    (1) BEGIN, the terminals with their clearing accounts, the policy's generation, the stored transaction ids;
    (2) the medical accounts locked, the PIN rows locked and read, the nonces spent with the audit heads
    locked, in this order; (3) the clearing accounts locked in id order, the payments written, the audit
    append, COMMIT)."""
    return await run_batch_pg(connection, attempts, SETTLEMENT, [thresholds])


class SettlementBatcher(GroupCommitter[SettleAttempt, Outcome]):
    """This process's batcher of terminal settlements (the lane's channel: it owns each batch's unit of
    work), with the lockout threshold cache its batches share (``rules/threshold.py``)."""

    def __init__(self) -> None:
        settings = get_settings()
        self.thresholds = LockoutThresholds()
        super().__init__(
            "settlement",
            partial(settle_batch, thresholds=self.thresholds),
            on_failure=lambda _attempt: None,  # rolled back: the single path does everything
            max_batch=settings.pin_verify_batch,
            connections=settings.pin_verify_connections,
            linger=settings.pin_verify_linger_ms / 1000,
            in_loop=partial(settle_batch_pg, thresholds=self.thresholds),
        )


@lru_cache(maxsize=1)
def settlement_batcher() -> SettlementBatcher:
    """This process's batcher of terminal settlements."""
    return SettlementBatcher()
