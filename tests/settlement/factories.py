"""Funded cards for settlement tests: an active card whose holder's medical personal account holds money."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sscard.audit.service import verify_chain
from sscard.cards.models import Card
from sscard.credentials.pin.models import CardPin
from sscard.db.session import unit_of_work
from sscard.ledger.models import AccountKind, LedgerLeg, LedgerPosting, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import check, open_account, post
from sscard.settlement.models import TerminalTxn
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.credentials.pin.factories import make_card
from tests.people.factories import CLERK


def fund(uow, person_id: int, fen: int, region_code: str = "110105") -> int:
    """Credit ``fen`` to the person's medical personal account as a contribution would; its account id."""
    medical = open_account(uow, kind=AccountKind.MEDICAL_PERSONAL.value, region_code=region_code, person_id=person_id)
    clearing = open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING.value, region_code=region_code)
    if fen:
        post(
            uow,
            kind=PostingKind.CONTRIBUTION,
            legs=[Leg(medical.id, fen), Leg(clearing.id, -fen)],
            business_date=date.today(),
            actor=CLERK,
            source_ref=f"test:fund:{person_id}",
        )
    return medical.id


@pytest.fixture
def funded_card(db_env):
    """``funded_card(10_000)`` → (card_no, medical account id), committed; ``activate=False`` for CARD-4."""

    def make(fen: int = 10_000, *, activate: bool = True, **person: object) -> tuple[str, int]:
        with unit_of_work() as uow:
            card = make_card(uow, activate=activate, **person)
            return card.card_no, fund(uow, card.person_id, fen)

    return make


@pytest.fixture
def ledger_counts(db_env):
    """``ledger_counts()`` → (postings, legs): what a refused request must leave unchanged."""

    def count() -> tuple[int, int]:
        with unit_of_work() as uow:
            postings = uow.session.scalar(select(func.count()).select_from(LedgerPosting))
            legs = uow.session.scalar(select(func.count()).select_from(LedgerLeg))
            return int(postings or 0), int(legs or 0)

    return count


def balance_of(account_id: int) -> int:
    from sscard.ledger.service import balance

    with unit_of_work() as uow:
        return balance(uow, account_id)


# What the batch tests (settlement and bank POS consumption) share: a card whose PIN the holder chose, and
# what they read back afterwards.
PIN = "740296"


def enable_pin(t, funded, fen: int, **person: Any) -> tuple[str, int]:
    """A card funded by ``funded(fen, **person)`` (``funded_card``, ``debit_card``) whose holder changed
    the initial PIN to ``PIN`` at terminal ``t`` (PIN enabled, PIN-2): (card number, account id)."""
    card_no, account = funded(fen, **person)
    body = {"card_no": card_no, "old_pin_block": t.pin_block(card_no, "123456"),
            "new_pin_block": t.pin_block(card_no, PIN)}  # fmt: skip
    t.request("POST", "/terminal/pin/change", json_body=body)
    return card_no, account


def stored(terminal_id: str, txn_id: str) -> int:
    """How many terminal transactions are stored under this terminal and transaction id (0 or 1)."""
    with unit_of_work() as uow:
        query = select(func.count()).select_from(TerminalTxn)
        query = query.where(TerminalTxn.terminal_id == terminal_id, TerminalTxn.txn_id == txn_id)
        return int(uow.session.scalar(query) or 0)


def pin_failures(card_no: str) -> int:
    with unit_of_work() as uow:
        query = select(CardPin.failures).join(Card, Card.id == CardPin.card_id).where(Card.card_no == card_no)
        return int(uow.session.scalar(query) or 0)


def ledger_and_chain_ok() -> None:
    with unit_of_work() as uow:
        report = check(uow)
        assert report.ok, report.discrepancies
        assert verify_chain(uow).ok


# The concurrency tests (settlement, bank POS consumption): many threads at once, at most this many holding
# a connection of the shared PostgreSQL at a time (its connection limit), the rest queue for one.
CONNECTIONS = 16


def in_parallel(jobs: list[Callable[[], str]]) -> list[str]:
    """Run ``jobs`` in threads released together (a barrier), at most ``CONNECTIONS`` at a time: their
    outcomes, in the order they finished."""
    barrier = threading.Barrier(len(jobs), timeout=60)
    gate = threading.BoundedSemaphore(CONNECTIONS)
    results: list[str] = []
    lock = threading.Lock()

    def run(job: Callable[[], str]) -> None:
        barrier.wait()
        with gate:
            outcome = job()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert len(results) == len(jobs), "a worker hung"
    return results


def authenticated(terminal, kind: InstitutionType) -> AuthenticatedTerminal:
    """A new terminal of ``kind`` (the ``terminal`` fixture) as the services see it once authenticated."""
    p = terminal(kind.value).profile
    return AuthenticatedTerminal(p.terminal_id, p.institution, kind, p.region_code, p.key_version, p.suite)


def posted_in(connection: Any, *, account_id: int, counter_id: int, fen: int, day: date) -> int:
    """``fen`` from ``account_id`` to ``counter_id``: a posting, its legs and both balances, written in the
    open transaction of ``connection`` (a test's other transaction, whose claim commits with its posting
    as every writer's does); the posting's id."""
    posting_id = connection.execute(
        text(
            "INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, source_ref) "
            "VALUES ('settlement', :d, now(), 'test', 'terminal', 'test:other') RETURNING id"
        ),
        {"d": day},
    ).scalar_one()
    for leg_account, amount in ((account_id, -fen), (counter_id, fen)):
        connection.execute(
            text("INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (:p, :a, :f, :d)"),
            {"p": posting_id, "a": leg_account, "f": amount, "d": day},
        )
        connection.execute(
            text("UPDATE ledger_account SET balance_fen = balance_fen + :f WHERE id = :a"),
            {"a": leg_account, "f": amount},
        )
    return int(posting_id)
