"""The RMB debit account of a financial card (FIN-2, FIN-3): open, deposit, withdraw, transfer, consume.

Money lives in the ledger (``sscard.ledger``): the holder's account of kind ``debit`` never goes below
zero (the ledger refuses with ``INSUFFICIENT_FUNDS``, the database's CHECK too), and each movement is
one balanced posting against the bank's system accounts:

* deposit:      debit +x, ``bank_cash`` −x (cash received at the bank's counter)
* withdrawal:   debit −x, ``bank_cash`` +x
* transfer:     debit(from) −x, debit(to) +x
* consumption:  debit −x, ``bank_clearing`` +x (owed to the merchant through interbank clearing)

The bank's system accounts hang on an ``institution`` row of type ``bank`` named by the bank code
(the same table the medical institutions use). Every posting names its request in ``source_ref``
(``request:<X-Request-ID>`` at the counter, ``terminal_txn:<id>`` at a POS), its actor and channel.

Consumption is decided like a medical settlement (``sscard.settlement.service.settle``): the terminal
transaction store answers a repeated request with the first answer (``TXN_CONFLICT`` for another
request under the same id), the debit account row is locked, then the card and PIN go through the
one PIN path (``verify_card_pin``: CARD-4, loss reports, PIN-2, PIN-5 counters), then the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from sscard.audit import Actor
from sscard.cards.lifecycle import audit_card
from sscard.cards.models import Card
from sscard.cards.service import ensure_card_usable, get_card_or_raise
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.service import verify_card_pin
from sscard.db.session import UnitOfWork
from sscard.debit.errors import (
    DebitAccountExists,
    DebitAccountNotFound,
    NotABankTerminal,
    NotAFinancialCard,
    TransferToSelf,
)
from sscard.debit.models import DebitAccount
from sscard.debit.notices import notify_movement
from sscard.ledger.errors import InsufficientFunds
from sscard.ledger.models import AccountKind, Institution, LedgerAccount, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import NewPosting, ensure_institution, open_account, post_many
from sscard.settlement import txn_store
from sscard.settlement.errors import AmountInvalid
from sscard.settlement.service import SettlingTerminal

#: No single counter or POS movement of a personal debit account is above ¥10,000,000: a larger amount
#: is a keying or unit error (yuan typed as fen ×100), refused as ``AMOUNT_INVALID``.
MAX_AMOUNT_FEN = 1_000_000_000
BANK_INSTITUTION_TYPE = "bank"
BANK_REGION = "000000"  # a bank's system accounts are national
POS_KINDS = frozenset({"bank_outlet"})
CONSUME = "debit_consume"  # terminal_txn.purpose of a POS consumption

_ACC = cast(Table, LedgerAccount.__table__)
_INST = cast(Table, Institution.__table__)
# One round trip for the hot path: the bank (an ``institution`` row) and its system account of a kind.
_FIND_BANK_ACCOUNT = (
    select(_INST.c.id, _ACC.c.id.label("account_id"))
    .outerjoin(_ACC, (_ACC.c.institution_id == _INST.c.id) & (_ACC.c.kind == bindparam("kind")))
    .where(_INST.c.region_code == BANK_REGION, _INST.c.name == bindparam("name"))
)
_LOCK = select(_ACC.c.id, _ACC.c.balance_fen).where(_ACC.c.id == bindparam("account_id")).with_for_update()


@dataclass(frozen=True, slots=True)
class Answer:
    """What the caller is told; ``replayed`` when it is the stored first answer of the same request."""

    body: dict[str, Any]
    replayed: bool = False


def check_amount(amount_fen: object) -> int:
    """FIN-2: a whole, positive number of fen, at most ``MAX_AMOUNT_FEN``; ``AMOUNT_INVALID`` otherwise."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise AmountInvalid(f"the amount must be a whole number of fen from 1 to {MAX_AMOUNT_FEN}")
    return amount_fen


def _bank_account(uow: UnitOfWork, *, bank_code: str, kind: AccountKind) -> int:
    """The bank's system account of ``kind`` (``bank_cash`` or ``bank_clearing``), made on first use."""
    found = uow.session.execute(_FIND_BANK_ACCOUNT, {"name": bank_code, "kind": kind.value}).one_or_none()
    if found is not None and found.account_id is not None:
        return int(found.account_id)
    bank_id = ensure_institution(uow, region_code=BANK_REGION, name=bank_code, institution_type=BANK_INSTITUTION_TYPE)
    return open_account(uow, kind=kind.value, region_code=BANK_REGION, institution_id=bank_id).id


def _financial_card(uow: UnitOfWork, card_no: str) -> Card:
    card = get_card_or_raise(uow, card_no)
    if not card.financial or not card.bank_code:
        raise NotAFinancialCard("the card has no financial function; no debit account can be linked to it")
    return card


def _card_and_account(uow: UnitOfWork, card_no: str) -> tuple[Card, DebitAccount]:
    """The financial card and its debit account in one round trip (the POS hot path)."""
    from sscard.cards.errors import CardNotFound
    from sscard.cards.numbers import normalise_card_no

    row = uow.session.execute(
        select(Card, DebitAccount)
        .outerjoin(DebitAccount, DebitAccount.card_id == Card.id)
        .where(Card.card_no == normalise_card_no(card_no))
    ).one_or_none()
    if row is None:
        raise CardNotFound("no card with this number")
    card, account = row
    if not card.financial or not card.bank_code:
        raise NotAFinancialCard("the card has no financial function; no debit account can be linked to it")
    if account is None:
        raise DebitAccountNotFound("the card has no debit account")
    return card, account


def debit_account_of(uow: UnitOfWork, card: Card) -> DebitAccount:
    found = uow.session.scalar(select(DebitAccount).where(DebitAccount.card_id == card.id))
    if found is None:
        raise DebitAccountNotFound("the card has no debit account")
    return found


def open_debit_account(uow: UnitOfWork, *, card_no: str, actor: Actor) -> dict[str, Any]:
    """FIN-3: link the card's debit account through its issuing bank (the route checked the clerk's bank).

    A replacement card of a holder who has a debit account links to the same ledger account."""
    card = ensure_card_usable(_financial_card(uow, card_no))
    if uow.session.scalar(select(DebitAccount.id).where(DebitAccount.card_id == card.id)) is not None:
        raise DebitAccountExists("the card already has its debit account")
    ledger = open_account(uow, kind=AccountKind.DEBIT.value, region_code=card.region_code, person_id=card.person_id,
                          may_go_negative=False)  # fmt: skip
    assert card.bank_code is not None  # noqa: S101 - _financial_card
    row = DebitAccount(card_id=card.id, person_id=card.person_id, bank_code=card.bank_code,
                       ledger_account_id=ledger.id, opened_by=actor.id)  # fmt: skip
    uow.session.add(row)
    uow.flush()
    audit_card(uow, card, actor=actor, action="debit.open", details={"bank_code": card.bank_code})
    return {"account_id": row.id, "bank_code": row.bank_code, "balance_fen": ledger.balance_fen}


def _lock(uow: UnitOfWork, account_id: int) -> int:
    return int(uow.session.execute(_LOCK, {"account_id": account_id}).one().balance_fen)


def _post(
    uow: UnitOfWork,
    *,
    kind: PostingKind,
    legs: list[Leg],
    actor: Actor,
    source_ref: str,
    memo: str,
    on: date | None = None,
) -> int:
    """``on``: the business date of the terminal transaction the posting belongs to (they must agree: on
    PostgreSQL the transaction names its posting by id and date, docs/partitioning.md)."""
    new = NewPosting(kind=kind.value, legs=legs, business_date=on or local_date(), source_ref=source_ref, memo=memo)
    (posting_id,) = post_many(uow, postings=[new], actor=actor)
    return posting_id


def _counter_card(uow: UnitOfWork, card_no: str) -> tuple[Card, DebitAccount]:
    card = ensure_card_usable(_financial_card(uow, card_no))  # CARD-4, CARD-5: lost, blocked, not active
    return card, debit_account_of(uow, card)


def deposit(uow: UnitOfWork, *, card_no: str, amount_fen: int, actor: Actor, source_ref: str) -> dict[str, Any]:
    """Cash paid in at the bank counter (FIN-2)."""
    check_amount(amount_fen)
    card, account = _counter_card(uow, card_no)
    cash = _bank_account(uow, bank_code=account.bank_code, kind=AccountKind.BANK_CASH)
    balance = _lock(uow, account.ledger_account_id)
    posting_id = _post(uow, kind=PostingKind.DEBIT_DEPOSIT, legs=[Leg(account.ledger_account_id, amount_fen),
                       Leg(cash, -amount_fen)], actor=actor, source_ref=source_ref, memo="deposit")  # fmt: skip
    audit_card(uow, card, actor=actor, action="debit.deposit", details={"amount_fen": amount_fen})
    return {"posting_id": posting_id, "amount_fen": amount_fen, "balance_fen": balance + amount_fen}


def _refuse_overdraft(balance: int, amount_fen: int) -> None:
    if amount_fen > balance:
        raise InsufficientFunds("the debit account's balance is too low (no credit, no overdraft)", balance_fen=balance)


def withdraw(uow: UnitOfWork, *, card_no: str, amount_fen: int, actor: Actor, source_ref: str) -> dict[str, Any]:
    """Cash paid out at the bank counter (FIN-2): never more than the balance."""
    check_amount(amount_fen)
    card, account = _counter_card(uow, card_no)
    cash = _bank_account(uow, bank_code=account.bank_code, kind=AccountKind.BANK_CASH)
    balance = _lock(uow, account.ledger_account_id)
    _refuse_overdraft(balance, amount_fen)
    posting_id = _post(uow, kind=PostingKind.DEBIT_WITHDRAWAL, legs=[Leg(account.ledger_account_id, -amount_fen),
                       Leg(cash, amount_fen)], actor=actor, source_ref=source_ref, memo="withdrawal")  # fmt: skip
    audit_card(uow, card, actor=actor, action="debit.withdraw", details={"amount_fen": amount_fen})
    notify_movement(uow, card=card, what="withdrawal", amount_fen=amount_fen, balance_fen=balance - amount_fen)
    return {"posting_id": posting_id, "amount_fen": amount_fen, "balance_fen": balance - amount_fen}


def transfer(
    uow: UnitOfWork, *, card_no: str, to_card_no: str, amount_fen: int, actor: Actor, source_ref: str
) -> dict[str, Any]:
    """From this card's debit account to another card's (FIN-2); not to itself (``TRANSFER_TO_SELF``)."""
    check_amount(amount_fen)
    card, account = _counter_card(uow, card_no)
    target_card = get_card_or_raise(uow, to_card_no)
    target = debit_account_of(uow, target_card)
    if target.ledger_account_id == account.ledger_account_id:
        raise TransferToSelf("the transfer's target is the account it is paid from")
    # Both rows locked in id order (as the ledger does): two opposite transfers cannot deadlock.
    locked = {i: _lock(uow, i) for i in sorted((account.ledger_account_id, target.ledger_account_id))}
    balance = locked[account.ledger_account_id]
    _refuse_overdraft(balance, amount_fen)
    posting_id = _post(uow, kind=PostingKind.DEBIT_TRANSFER, legs=[Leg(account.ledger_account_id, -amount_fen),
                       Leg(target.ledger_account_id, amount_fen)], actor=actor, source_ref=source_ref,
                       memo="transfer")  # fmt: skip
    audit_card(
        uow, card, actor=actor, action="debit.transfer", details={"amount_fen": amount_fen, "to_account": target.id}
    )
    notify_movement(uow, card=card, what="transfer", amount_fen=amount_fen, balance_fen=balance - amount_fen)
    return {"posting_id": posting_id, "amount_fen": amount_fen, "balance_fen": balance - amount_fen}


def consume(
    uow: UnitOfWork,
    *,
    terminal: SettlingTerminal,
    card_no: str,
    amount_fen: int,
    txn_id: str,
    pin_block: bytes | None,
    actor: Actor,
) -> Answer:
    """A payment at a bank POS terminal with the card PIN (FIN-2, FIN-3, PIN-2, PIN-5), once per txn id."""
    from sscard.cards.numbers import normalise_card_no

    digest = txn_store.request_digest(CONSUME, card_no=normalise_card_no(card_no), amount_fen=amount_fen)
    key = {"terminal_id": terminal.terminal_id, "txn_id": txn_id}
    first = txn_store.replay(uow, **key, digest=digest)
    if first is not None:
        return Answer(first, replayed=True)
    if terminal.kind not in POS_KINDS:
        raise NotABankTerminal(f"a {terminal.kind} terminal cannot take debit card payments")
    check_amount(amount_fen)
    card, account = _card_and_account(uow, card_no)
    balance = _lock(uow, account.ledger_account_id)
    check = verify_card_pin(uow, card_no=card.card_no, pin_block=pin_block, terminal=terminal, actor=actor)
    if amount_fen > balance:
        first = txn_store.replay(uow, **key, digest=digest)  # a copy that committed while we waited
        if first is not None:
            return Answer(first, replayed=True)
        _refuse_overdraft(balance, amount_fen)
    clearing = _bank_account(uow, bank_code=account.bank_code, kind=AccountKind.BANK_CLEARING)
    merchant = ensure_institution(
        uow, region_code=terminal.region_code, name=terminal.institution_name, institution_type=terminal.kind
    )
    today = local_date()
    answer: dict[str, Any] = {
        "ok": True,
        "code": None,
        "txn_id": txn_id,
        "amount_fen": amount_fen,
        "balance_fen": balance - amount_fen,
        "pin_enabled": check.pin_enabled,
        "business_date": today.isoformat(),
    }
    try:
        row_id = txn_store.claim(
            uow,
            terminal_id=terminal.terminal_id,
            txn_id=txn_id,
            purpose=CONSUME,
            digest=digest,
            institution_id=merchant,
            card_id=card.id,
            account_id=account.ledger_account_id,
            amount_fen=-amount_fen,
            business_date=today,
            answer=answer,
        )
    except txn_store.AlreadyAnswered as done:
        return Answer(done.answer, replayed=True)
    # Audit and notice before the posting: all one transaction, but the bank's clearing account (shared by
    # every consumption of the bank) is then locked only for the posting itself and the commit.
    audit_card(uow, card, actor=actor, action="debit.consume", details={"txn_id": txn_id, "amount_fen": amount_fen})
    notify_movement(uow, card=card, what="consumption", amount_fen=amount_fen, balance_fen=balance - amount_fen)
    posting_id = _post(uow, kind=PostingKind.DEBIT_CONSUMPTION, legs=[Leg(account.ledger_account_id, -amount_fen),
                       Leg(clearing, amount_fen)], actor=actor, source_ref=f"terminal_txn:{row_id}",
                       memo=f"{terminal.terminal_id}/{txn_id}", on=today)  # fmt: skip
    txn_store.attach_posting(uow, txn_row_id=row_id, posting_id=posting_id)
    return Answer(answer)


def holder_view(uow: UnitOfWork, *, person_id: int) -> list[dict[str, Any]]:
    """The holder's debit accounts with balance and movements (portal), newest movement first."""
    from sscard.cards.numbers import card_no_tail, mask_card_no
    from sscard.ledger.service import movements

    rows = uow.session.execute(
        select(DebitAccount, Card.card_no, _ACC.c.balance_fen)
        .join(Card, Card.id == DebitAccount.card_id)
        .join(_ACC, _ACC.c.id == DebitAccount.ledger_account_id)
        .where(DebitAccount.person_id == person_id)
        .order_by(DebitAccount.id)
    ).all()
    seen: dict[int, dict[str, Any]] = {}
    for account, card_no, balance in rows:
        view = seen.get(account.ledger_account_id)
        if view is None:
            moves = movements(uow, account_id=account.ledger_account_id)
            view = seen[account.ledger_account_id] = {
                "bank_code": account.bank_code,
                "cards": [],
                "card_tails": [],
                "balance_fen": int(balance),
                "movements": [
                    {
                        "posting_id": m.posting_id,
                        "kind": m.kind,
                        "business_date": m.business_date.isoformat(),
                        "amount_fen": m.amount_fen,
                    }  # fmt: skip
                    for m in reversed(moves)
                ],
            }
        view["cards"].append(mask_card_no(card_no))
        view["card_tails"].append(card_no_tail(card_no))  # the portal page's: two cards told apart (not in the API)
    return list(seen.values())


def counter_view(uow: UnitOfWork, card: Card, *, limit: int = 100) -> dict[str, Any] | None:
    """The card's debit account for the bank counter (FIN-2): balance and its latest movements, newest
    first, each with the balance after it; None when the card has no debit account yet."""
    from sscard.ledger.service import balance, movements

    account = uow.session.scalar(select(DebitAccount).where(DebitAccount.card_id == card.id))
    if account is None:
        return None
    current = balance(uow, account.ledger_account_id)
    rows: list[dict[str, Any]] = []
    after = current
    for m in reversed(movements(uow, account_id=account.ledger_account_id)):
        if len(rows) == limit:
            break
        rows.append({"kind": m.kind, "business_date": m.business_date, "amount_fen": m.amount_fen,
                     "balance_after_fen": after})  # fmt: skip
        after -= m.amount_fen
    return {"bank_code": account.bank_code, "balance_fen": current, "movements": rows}
