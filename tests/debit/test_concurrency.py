"""Debit consumption under real parallelism on PostgreSQL (FIN-2): 50 consumptions on one account never
overdraw and the ledger balances; one transaction id sent many times at once moves money once.

50 threads start together; at most ``CONNECTIONS`` (tests/settlement/factories.py ``in_parallel``) hold a database
connection at a time (the shared PostgreSQL's connection limit), the rest queue for one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sscard.db.session import unit_of_work
from sscard.debit.service import consume
from sscard.ledger.errors import InsufficientFunds
from sscard.ledger.service import check
from sscard.settlement.errors import TxnConflict
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.settlement.factories import authenticated, balance_of, in_parallel


@pytest.fixture(autouse=True)
def _postgres_only(db) -> None:
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")


def _ref(terminal) -> AuthenticatedTerminal:
    return authenticated(terminal, InstitutionType.BANK_OUTLET)


def _pay(ref: AuthenticatedTerminal, card_no: str, amount: int, txn_id: str) -> Callable[[], str]:
    def job() -> str:
        try:
            with unit_of_work() as uow:  # one transaction per request, as the route does
                answer = consume(uow, terminal=ref, card_no=card_no, amount_fen=amount, txn_id=txn_id,
                                 pin_block=None, actor=ref.actor())  # fmt: skip
        except InsufficientFunds:
            return "insufficient"
        except TxnConflict:
            return "conflict"
        return "replayed" if answer.replayed else "paid"

    return job


# rule FIN-2: 50 parallel consumptions of 1,000 fen from an account holding 10,500: exactly 10 are paid,
# the balance is 500, never below zero, and the ledger proves it
def test_50_parallel_consumptions_never_overdraw(db_env, terminal, debit_card) -> None:
    ref = _ref(terminal)
    card_no, account = debit_card(10_500)
    results = in_parallel([_pay(ref, card_no, 1_000, f"PAR{i}") for i in range(50)])
    assert results.count("paid") == 10 and results.count("insufficient") == 40
    assert balance_of(account) == 500
    with unit_of_work() as uow:
        report = check(uow)
    assert report.ok, report.discrepancies


# rule FIN-2: the same transaction id sent 20 times at once moves money once; every copy sees the first answer
def test_same_txn_id_at_once_moves_once(db_env, terminal, debit_card) -> None:
    ref = _ref(terminal)
    card_no, account = debit_card(10_000)
    results = in_parallel([_pay(ref, card_no, 700, "SAME1") for _ in range(20)])
    assert results.count("paid") == 1 and results.count("replayed") == 19
    assert balance_of(account) == 9_300
    with unit_of_work() as uow:
        assert check(uow).ok


# rule FIN-2 (the batched path, debit/batch.py): 50 consumptions of 1,000 fen from an account holding
# 10,500, decided by 5 pipelined batches at once (each on its own connection, as the server's workers
# run them), and whatever they hand back by the single path in parallel threads, as the route would:
# exactly 10 are paid, the balance is 500, never below zero, and the ledger proves it
def test_50_parallel_batched_consumptions_never_overdraw(db_env, terminal, debit_card) -> None:
    import asyncio

    from sscard.credentials.pin.batch_verify import Authenticated
    from sscard.db.session import get_async_engine
    from sscard.debit.batch import Consumed, consume_batch_pg
    from tests.debit.factories import attempt, caches, enabled, opened

    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    opened(pos, debit_card)
    card_no, account = enabled(kiosk, debit_card, 10_500)
    attempts = [attempt(pos, card_no, 1_000, f"BPAR{i}") for i in range(50)]
    thresholds, notices = caches([card_no])

    async def batches() -> list:
        engine = get_async_engine()
        assert engine is not None

        async def one(chunk: list) -> list:
            async with engine.connect() as connection:
                return await consume_batch_pg(connection, chunk, thresholds=thresholds, notices=notices)

        chunks = [attempts[i::5] for i in range(5)]
        done = await asyncio.gather(*(one(chunk) for chunk in chunks))
        pairs = zip(chunks, done, strict=True)
        return [(a, o) for chunk, outcomes in pairs for a, o in zip(chunk, outcomes, strict=True)]

    decided = asyncio.run(batches())
    batched = sum(isinstance(o, Consumed) for _, o in decided)
    handed_on = [(a, o) for a, o in decided if isinstance(o, Authenticated)]
    assert batched + len(handed_on) == 50

    def single(a, o) -> Callable[[], str]:
        def job() -> str:
            try:
                with unit_of_work() as uow:
                    answer = consume(uow, terminal=o.terminal, card_no=a.card_no, amount_fen=a.amount_fen,
                                     txn_id=a.txn_id, pin_block=a.pin_block, actor=o.terminal.actor())  # fmt: skip
            except InsufficientFunds:
                return "insufficient"
            return "replayed" if answer.replayed else "paid"

        return job

    results = in_parallel([single(a, o) for a, o in handed_on]) if handed_on else []
    assert batched + results.count("paid") == 10 and results.count("insufficient") == len(handed_on) - (10 - batched)
    assert batched >= 1  # the batches paid some (each batch locks the account first, then spends what is left)
    assert balance_of(account) == 500
    with unit_of_work() as uow:
        report = check(uow)
    assert report.ok, report.discrepancies
