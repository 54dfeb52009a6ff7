"""Settlements under real parallelism on PostgreSQL (FIN-1): one card, many threads, never overdrawn; one
transaction id sent many times at once moves money once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sscard.db.session import unit_of_work
from sscard.ledger.errors import InsufficientFunds
from sscard.ledger.service import check
from sscard.settlement.errors import TxnConflict
from sscard.settlement.service import settle
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.settlement.factories import authenticated, balance_of, in_parallel


def _ref(terminal) -> AuthenticatedTerminal:
    return authenticated(terminal, InstitutionType.PHARMACY)


def _pay(ref: AuthenticatedTerminal, card_no: str, amount: int, txn_id: str) -> Callable[[], str]:
    def job() -> str:
        with unit_of_work() as uow:  # one transaction per request, as the route does
            try:
                answer = settle(
                    uow,
                    terminal=ref,
                    card_no=card_no,
                    amount_fen=amount,
                    txn_id=txn_id,
                    pin_block=None,
                    actor=ref.actor(),
                )
            except InsufficientFunds:
                return "insufficient"
            except TxnConflict:
                return "conflict"
            return "replayed" if answer.replayed else "paid"

    return job


@pytest.fixture(autouse=True)
def _postgres_only(db) -> None:
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")


# rule FIN-1: 16 parallel payments of 1,000 fen from an account holding 10,500: exactly 10 are paid,
# the balance is 500, never below zero, and the ledger proves it
def test_parallel_settlements_never_overdraw(db_env, terminal, funded_card) -> None:
    ref = _ref(terminal)
    card_no, account = funded_card(10_500)
    results = in_parallel([_pay(ref, card_no, 1_000, f"PAR{i}") for i in range(16)])
    assert results.count("paid") == 10 and results.count("insufficient") == 6, results
    assert balance_of(account) == 500
    with unit_of_work() as uow:
        assert check(uow).ok


# rule FIN-1: the same transaction sent 10 times at once is paid once; the others get its first answer
def test_parallel_copies_of_one_settlement_pay_once(db_env, terminal, funded_card) -> None:
    ref = _ref(terminal)
    card_no, account = funded_card(10_000)
    other, other_account = funded_card(10_000)
    results = in_parallel([_pay(ref, card_no, 700, "ONCE")] * 10 + [_pay(ref, other, 700, "ONCE")] * 3)
    assert results.count("paid") == 1, results
    assert results.count("replayed") + results.count("conflict") == 12, results
    assert balance_of(account) + balance_of(other_account) == 20_000 - 700
    with unit_of_work() as uow:
        assert check(uow).ok
