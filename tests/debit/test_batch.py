"""Bank POS consumption in shared transactions (debit/batch.py, api/debit_lane.py).

The batch pays only the common case (a new transaction id, the right PIN of an active financial card whose
PIN is enabled and has no failure on record, an amount below the notice threshold, money enough) and hands
everything else back to the single path (``service.consume``), which answers it with its contract code.
Each test runs the batch on both of its drivers where they exist: SQLAlchemy (SQLite, and PostgreSQL) and
libpq's pipeline (PostgreSQL, the server's), then asks the real app for the requests handed back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sscard.audit.models import AuditEntry
from sscard.credentials.pin import batch_db
from sscard.credentials.pin.batch_verify import Authenticated
from sscard.db.session import get_async_engine, unit_of_work
from sscard.debit.batch import DEBIT_ACCOUNTS, DECIDED, ConsumeAttempt, Consumed, consume_batch, consume_batch_pg
from sscard.notify.models import OutboxMessage
from sscard.settlement.models import TerminalTxn
from sscard.terminal.client import TerminalError
from tests.debit.factories import PATH, PIN, body_of, consume, enabled, opened
from tests.debit.factories import attempt as _attempt
from tests.debit.factories import caches as _caches
from tests.people.factories import new_phone
from tests.settlement.factories import balance_of, posted_in
from tests.settlement.factories import ledger_and_chain_ok as _ledger_and_chain_ok
from tests.settlement.factories import pin_failures as _failures
from tests.settlement.factories import stored as _stored


def _run(driver: str, attempts: list[ConsumeAttempt], card_nos: list[str]) -> list[Any]:
    thresholds, notices = _caches(card_nos)
    if driver == "pipeline":

        async def go() -> list[Any]:
            engine = get_async_engine()
            assert engine is not None
            async with engine.connect() as connection:
                return await consume_batch_pg(connection, attempts, thresholds=thresholds, notices=notices)

        return asyncio.run(go())
    with unit_of_work() as uow:
        return consume_batch(uow, attempts, thresholds=thresholds, notices=notices)


@pytest.fixture(params=["sqlalchemy", "pipeline"])
def driver(request, db) -> str:
    if request.param == "pipeline" and db.backend != "postgresql":
        pytest.skip("libpq's pipeline runs on PostgreSQL only")
    return request.param


def _count(model, *where) -> int:
    with unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _consumed_entries(terminal_id: str, txn_id: str) -> int:
    """The ``debit.consume`` audit entries of one consumption (CH-4: exactly one when paid)."""
    return _count(AuditEntry, AuditEntry.action == "debit.consume", AuditEntry.actor_id == terminal_id,
                  AuditEntry.details.contains(f'"txn_id":"{txn_id}"'))  # fmt: skip


# rules FIN-2 PIN-2 PIN-5 CARD-4 CH-3: a batch pays the common case once and hands back a replayed txn, a
# conflicting txn, a payment the balance no longer covers (in the middle of the batch), a wrong PIN, a blocked
# card, a card whose PIN is not enabled and an amount at the notice threshold; the single path then answers
# each with its code, counts the wrong PIN once, queues the notice; one debit.consume entry per payment
def test_a_batch_pays_the_common_case_and_hands_back_the_rest(terminal, debit_card, driver) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    tid = pos.profile.terminal_id
    opened(pos, debit_card)
    good, good_account = enabled(kiosk, debit_card, 10_000)
    other, other_account = enabled(kiosk, debit_card, 10_000)
    low, low_account = enabled(kiosk, debit_card, 500)
    wrong, wrong_account = enabled(kiosk, debit_card, 10_000)
    id_number = new_id_number(region="110105")
    lost, lost_account = enabled(kiosk, debit_card, 10_000, id_number=id_number)
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    plain, plain_account = debit_card(10_000)  # PIN not enabled: the single path (a campaign prompt, PIN-9)
    rich, rich_account = enabled(kiosk, debit_card, 500_000, phone=new_phone())
    cards = [good, other, low, wrong, lost, plain, rich]
    first = _run(driver, [_attempt(pos, good, 1_000, "A0")], cards)
    assert isinstance(first[0], Consumed) and first[0].answer["balance_fen"] == 9_000

    attempts = [
        _attempt(pos, good, 1_000, "A0"),  # replayed (stored by the batch before)
        _attempt(pos, good, 2_000, "A1"),  # paid
        _attempt(pos, other, 3_000, "A1"),  # the same id for another request: TXN_CONFLICT
        _attempt(pos, low, 400, "L1"),  # paid: 100 left
        _attempt(pos, low, 200, "L2"),  # insufficient in the middle of the batch
        _attempt(pos, low, 100, "L3"),  # paid: what is left
        _attempt(pos, wrong, 100, "W1", pin="000000"),  # a wrong PIN
        _attempt(pos, lost, 100, "X1"),  # a blocked card
        _attempt(pos, plain, 100, "N1", pin=None),  # PIN not enabled, no PIN block
        _attempt(pos, rich, 100_000, "R1"),  # at the notice threshold (policy default ¥1,000)
        _attempt(pos, rich, 99_999, "R2"),  # below it: paid, no notice
    ]
    notices_before = _count(OutboxMessage, OutboxMessage.topic == "debit.consumption")
    outcomes = _run(driver, attempts, cards)
    paid = [isinstance(o, Consumed) for o in outcomes]
    assert paid == [False, True, False, True, False, True, False, False, False, False, True]
    assert all(isinstance(o, Authenticated) for o, p in zip(outcomes, paid, strict=True) if not p)
    assert outcomes[1].answer["balance_fen"] == 7_000 and outcomes[1].answer["pin_enabled"] is True
    assert [outcomes[i].answer["balance_fen"] for i in (3, 5, 10)] == [100, 0, 400_001]
    assert balance_of(good_account) == 7_000 and balance_of(low_account) == 0
    assert balance_of(other_account) == 10_000 and balance_of(wrong_account) == 10_000
    assert balance_of(lost_account) == 10_000 and balance_of(plain_account) == 10_000
    assert balance_of(rich_account) == 400_001
    assert _stored(tid, "A1") == 1 and _stored(tid, "L2") == 0 and _stored(tid, "W1") == 0 and _stored(tid, "R1") == 0
    assert _failures(wrong) == 0  # the batch counts nothing: the single path does (PIN-5)
    assert [_consumed_entries(tid, t) for t in ("A0", "A1", "L1", "L2", "L3", "R1", "R2")] == [1, 1, 1, 0, 1, 0, 1]
    assert _count(OutboxMessage, OutboxMessage.topic == "debit.consumption") == notices_before  # R2 is below it
    _ledger_and_chain_ok()

    # What the route answers for the requests handed back (each a request of its own, with a new nonce).
    assert consume(pos, good, 1_000, "A0")["balance_fen"] == 9_000  # the first answer again
    for card_no, amount, txn_id, code in [(other, 3_000, "A1", "TXN_CONFLICT"), (low, 200, "L2", "INSUFFICIENT_FUNDS"),
                                          (lost, 100, "X1", "CARD_BLOCKED")]:  # fmt: skip
        with pytest.raises(TerminalError) as info:
            consume(pos, card_no, amount, txn_id)
        assert info.value.code == code
    with pytest.raises(TerminalError) as info:
        consume(pos, wrong, 100, "W1", pin="000000")
    assert info.value.code == "PIN_WRONG" and _failures(wrong) == 1  # counted once, by the single path
    assert consume(pos, plain, 100, "N1", pin=None)["pin_enabled"] is False
    assert consume(pos, rich, 100_000, "R1")["balance_fen"] == 300_001
    assert _count(OutboxMessage, OutboxMessage.topic == "debit.consumption") == notices_before + 1
    assert balance_of(good_account) == 7_000 and balance_of(other_account) == 10_000
    assert balance_of(plain_account) == 9_900 and _consumed_entries(tid, "R1") == 1
    _ledger_and_chain_ok()


# rules CH-3 FIN-2: the batch's answer is the answer stored; a replayed nonce is not authenticated here
def test_the_batch_answer_is_stored_and_a_replayed_nonce_is_refused(terminal, debit_card, driver) -> None:
    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    opened(pos, debit_card)
    card_no, account = enabled(kiosk, debit_card, 5_000)
    attempt = _attempt(pos, card_no, 1_234, "S1")
    (consumed,) = _run(driver, [attempt], [card_no])
    assert isinstance(consumed, Consumed)
    with unit_of_work() as uow:
        txn = uow.session.scalars(select(TerminalTxn).where(TerminalTxn.txn_id == "S1",
                                  TerminalTxn.terminal_id == pos.profile.terminal_id)).one()  # fmt: skip
        assert txn.answer == consumed.answer and txn.posting_id is not None and txn.amount_fen == -1_234
        assert txn.purpose == "debit_consume"
    assert _run(driver, [attempt], [card_no]) == [None]  # the same nonce again: REPLAY on the single path
    assert balance_of(account) == 5_000 - 1_234
    assert consume(pos, card_no, 1_234, "S1") == consumed.answer
    with pytest.raises(TerminalError) as info:
        consume(pos, card_no, 1_235, "S1")
    assert info.value.code == "TXN_CONFLICT"
    assert balance_of(account) == 5_000 - 1_234
    _ledger_and_chain_ok()


# rule FIN-2: a transaction id claimed by another transaction while the batch ran fails the batch as a
# whole (rolled back: nothing of it kept), or is read as claimed after the lock; never paid twice
def test_a_txn_claimed_meanwhile_is_never_paid_twice(terminal, debit_card, driver, db) -> None:
    if db.backend != "postgresql":
        pytest.skip("needs two transactions at once")
    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    tid = pos.profile.terminal_id
    opened(pos, debit_card)
    card_no, account = enabled(kiosk, debit_card, 5_000)
    other, other_account = enabled(kiosk, debit_card, 5_000)
    holder = db.engine.connect()
    result: list[Any] = []
    try:
        transaction = holder.begin()
        # The other transaction holds the debit account's lock and has claimed "M2" (not yet committed),
        # with the posting of its 1 fen to the bank's clearing account (`ledger check` proves the pair).
        clearing = holder.execute(DEBIT_ACCOUNTS["postgresql"], {"card_nos": [other]}).one().clearing_id
        outlet = holder.execute(text("SELECT i.id FROM institution i JOIN terminal t ON t.region_code = "
                                     "i.region_code AND t.institution_name = i.name WHERE t.terminal_id = :t"),
                                {"t": tid}).scalar_one()  # fmt: skip
        day = date(2026, 1, 1)
        posting_id = posted_in(holder, account_id=other_account, counter_id=clearing, fen=1, day=day)
        txn_row = {"terminal_id": tid, "txn_id": "M2", "purpose": "debit_consume", "request_digest": "0" * 64,
                   "institution_id": outlet, "card_id": None, "account_id": other_account, "amount_fen": -1,
                   "posting_id": posting_id, "reversed": False, "business_date": day,
                   "answer": {"ok": True}}  # fmt: skip
        holder.execute(TerminalTxn.__table__.insert().values(**txn_row))
        attempts = [_attempt(pos, card_no, 100, "M1"), _attempt(pos, other, 100, "M2")]

        def batch() -> None:
            try:
                result.append(_run(driver, attempts, [card_no, other]))
            except Exception as exc:  # noqa: BLE001 - what the batcher would turn into the single path for all
                result.append(exc)

        thread = threading.Thread(target=batch)
        thread.start()
        time.sleep(1.0)  # the batch now waits for the other transaction's lock
        transaction.commit()
        thread.join(30)
    finally:
        holder.close()
    assert len(result) == 1
    outcome = result[0]
    if isinstance(outcome, Exception):  # its write met the claim: the whole batch was rolled back
        assert _stored(tid, "M1") == 0 and balance_of(account) == 5_000
    else:  # it read the claim after the lock: M2 handed back, M1 paid
        assert isinstance(outcome[0], Consumed) and isinstance(outcome[1], Authenticated)
        assert _stored(tid, "M1") == 1 and balance_of(account) == 4_900
    assert balance_of(other_account) == 4_999  # the other transaction's 1 fen only
    with pytest.raises(TerminalError) as info:
        consume(pos, other, 100, "M2")
    assert info.value.code == "TXN_CONFLICT"
    _ledger_and_chain_ok()


# rule CARD-4: a card blocked while the batch waits for its account's lock is read blocked (the PIN rows
# are read after the accounts are locked) and handed back; the single path refuses it, nothing moves
def test_a_card_blocked_mid_batch_is_not_paid(terminal, debit_card, driver, db) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    if db.backend != "postgresql":
        pytest.skip("needs two transactions at once")
    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    opened(pos, debit_card)
    id_number = new_id_number(region="110105")
    card_no, account = enabled(kiosk, debit_card, 5_000, id_number=id_number)
    holder = db.engine.connect()
    result: list[Any] = []
    try:
        transaction = holder.begin()
        holder.execute(text("SELECT id FROM ledger_account WHERE id = :id FOR UPDATE"), {"id": account})
        attempt = _attempt(pos, card_no, 100, "B1")
        thread = threading.Thread(target=lambda: result.append(_run(driver, [attempt], [card_no])))
        thread.start()
        time.sleep(1.0)  # the batch waits for the account's lock
        with unit_of_work() as uow:
            report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)  # committed while the batch waits
        transaction.commit()
        thread.join(30)
    finally:
        holder.close()
    assert result and isinstance(result[0][0], Authenticated)
    assert balance_of(account) == 5_000 and _consumed_entries(pos.profile.terminal_id, "B1") == 0
    with pytest.raises(TerminalError) as info:
        consume(pos, card_no, 100, "B1")
    assert info.value.code == "CARD_BLOCKED"
    assert balance_of(account) == 5_000


def _policy_generation() -> tuple[int, int]:
    """What the batch's threshold caches key on (``rules/threshold.py``): any policy version saved anywhere."""
    with unit_of_work() as uow:
        return tuple(uow.session.execute(batch_db.POLICY_GENERATION, batch_db.generation_params()).one())


# rule FIN-2 (the lane): a consumption the batch pays is answered 200 by the lane, with the route's body,
# the request id and the stored answer; the same request again is the route's replay
def test_the_lane_answers_after_commit(terminal, debit_card, client) -> None:
    pos, kiosk = terminal("bank_outlet"), terminal("kiosk")
    opened(pos, debit_card)
    card_no, account = enabled(kiosk, debit_card, 5_000)
    balance = 5_000
    # A first payment warms the batch's caches (lockout and notice thresholds of the card's region): with a
    # cold cache the batch hands a request on to the route, which then pays it. The caches forget whenever
    # any policy version is saved, and the tests in other processes share this database and save them; so
    # a round whose payment the route paid counts only if the policy changed meanwhile, and is tried again.
    for round_no in range(5):
        generation = _policy_generation()
        warm = client.send(pos.build_request("POST", PATH, json_body=body_of(pos, card_no, 100, f"H0-{round_no}", PIN)))
        balance -= 100
        assert warm.status_code == 200 and warm.json()["balance_fen"] == balance, warm.text
        txn_id = f"H1-{round_no}"
        request = pos.build_request("POST", PATH, json_body=body_of(pos, card_no, 600, txn_id, PIN))
        request.headers["X-Request-ID"] = f"lane-test-{round_no}"
        paid_before = DECIDED.labels("paid")._value.get()
        response = client.send(request)
        balance -= 600
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == f"lane-test-{round_no}"
        assert "Idempotent-Replayed" not in response.headers
        assert response.json()["balance_fen"] == balance and balance_of(account) == balance
        if DECIDED.labels("paid")._value.get() == paid_before + 1:
            break  # the lane's batch paid it, not the route
        assert _policy_generation() != generation, "the batch handed a payment on with its caches warm"
    else:
        pytest.fail("the policy changed under every round: the lane was never seen paying")
    assert _stored(pos.profile.terminal_id, txn_id) == 1 and _consumed_entries(pos.profile.terminal_id, txn_id) == 1
    again = client.send(pos.build_request("POST", PATH, json_body=body_of(pos, card_no, 600, txn_id, PIN)))
    assert again.status_code == 200 and again.json() == response.json()
    assert again.headers["Idempotent-Replayed"] == "true" and balance_of(account) == balance
    _ledger_and_chain_ok()
