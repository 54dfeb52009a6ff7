"""Debit fixtures: the PIN tests' app client, staff and terminals, plus financial cards with a funded debit account."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401
from tests.settlement.factories import ledger_counts  # noqa: F401
from tests.staff.factories import TEST_BANK

BANK_ACTOR_ID = "bankclerk1"


def open_and_fund(uow, card, fen: int) -> int:
    """Open the card's debit account and deposit ``fen`` as a bank clerk would; the ledger account id."""
    from sscard.audit import Actor, Channel
    from sscard.debit.service import debit_account_of, deposit, open_debit_account

    actor = Actor(kind="staff", id=BANK_ACTOR_ID, channel=Channel("bank"), role="bank_clerk", region="110000")
    open_debit_account(uow, card_no=card.card_no, actor=actor)
    if fen:
        deposit(uow, card_no=card.card_no, amount_fen=fen, actor=actor, source_ref="test:fund")
    return debit_account_of(uow, card).ledger_account_id


@pytest.fixture
def debit_card(db_env):
    """``debit_card(10_000)`` → (card_no, debit ledger account id), committed; ``open_account=False``
    gives a financial card without its debit account."""
    from tests.credentials.pin.factories import make_card

    def make(fen: int = 10_000, *, bank: str = TEST_BANK, open_account: bool = True, **person) -> tuple[str, int]:
        from tests.people.factories import new_id_number

        person.setdefault("id_number", new_id_number(region="110105"))  # inside the test clerks' 110000
        with unit_of_work() as uow:
            card = make_card(uow, bank_code=bank, **person)
            account = open_and_fund(uow, card, fen) if open_account else 0
            return card.card_no, account

    return make
