"""Funded cards for settlement tests: an active card whose holder's medical personal account holds money."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sscard.db.session import unit_of_work
from sscard.ledger.models import AccountKind, LedgerLeg, LedgerPosting, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import open_account, post
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
