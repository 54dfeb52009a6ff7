"""Medical settlement in shared transactions (settlement/batch.py, api/settlement_lane.py).

The batch pays only the common case (a new transaction id, the right PIN of an active card whose PIN is
enabled and has no failure on record, money enough) and hands everything else back to the single path
(``service.settle``), which answers it with its contract code. Each test runs the batch on both of its
drivers where they exist: SQLAlchemy (SQLite, and PostgreSQL) and libpq's pipeline (PostgreSQL, the
server's), and then asks the real app for the requests handed back.
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
from sscard.cards.models import Card
from sscard.credentials.pin.batch_db import POLICY_GENERATION, generation_params
from sscard.credentials.pin.batch_verify import Authenticated
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration
from sscard.db.session import get_async_engine, unit_of_work
from sscard.ledger.models import LedgerAccount
from sscard.settlement.batch import SettleAttempt, Settled, settle_batch, settle_batch_pg
from sscard.settlement.models import TerminalTxn
from sscard.terminal.client import TerminalError
from tests.settlement.factories import PIN, balance_of, posted_in
from tests.settlement.factories import enable_pin as _enabled
from tests.settlement.factories import ledger_and_chain_ok as _ledger_and_chain_ok
from tests.settlement.factories import pin_failures as _failures
from tests.settlement.factories import stored as _stored


def _attempt(t, card_no: str, amount: int, txn_id: str, *, pin: str | None = PIN, partial: bool = False):
    body: dict[str, Any] = {"card_no": card_no, "amount_fen": amount, "txn_id": txn_id}
    if pin is not None:
        body["pin_block"] = t.pin_block(card_no, pin)
    if partial:
        body["partial"] = True
    request = t.build_request("POST", "/terminal/settlement", json_body=body)
    return SettleAttempt(method="POST", target=request.url.raw_path.decode(), headers=request.headers,
                         body=request.content, card_no=card_no, amount_fen=amount, txn_id=txn_id,
                         pin_block=bytes.fromhex(body["pin_block"]) if pin else None, partial=partial,
                         received_at=time.time())  # fmt: skip


def _thresholds(card_nos: list[str]) -> LockoutThresholds:
    """A threshold cache that knows the cards' regions (the pipeline driver reads missing ones after its commit)."""
    cache = LockoutThresholds()
    with unit_of_work() as uow:
        connection = uow.session.connection()
        cache.observe(PolicyGeneration(*connection.execute(POLICY_GENERATION, generation_params()).one()))
        for card in uow.session.scalars(select(Card).where(Card.card_no.in_(card_nos))):
            cache.get_or_read(uow, card.region_code, card.card_type)
    return cache


def _run(driver: str, attempts: list[SettleAttempt], card_nos: list[str]) -> list[Any]:
    thresholds = _thresholds(card_nos)
    if driver == "pipeline":

        async def go() -> list[Any]:
            engine = get_async_engine()
            assert engine is not None
            async with engine.connect() as connection:
                return await settle_batch_pg(connection, attempts, thresholds=thresholds)

        return asyncio.run(go())
    with unit_of_work() as uow:
        return settle_batch(uow, attempts, thresholds=thresholds)


@pytest.fixture(params=["sqlalchemy", "pipeline"])
def driver(request, db) -> str:
    if request.param == "pipeline" and db.backend != "postgresql":
        pytest.skip("libpq's pipeline runs on PostgreSQL only")
    return request.param


def _opened(pharmacy, funded_card) -> None:
    """The institution's clearing account is made by its first settlement (the single path's)."""
    card_no, _ = funded_card(1_000)
    pharmacy.settle(card_no, 1, f"OPEN{time.time_ns() % 10**9}")


def _terminal_and_card(terminal, funded_card, kind: str = "pharmacy", **person: Any) -> tuple[Any, str, int]:
    """A terminal whose institution has settled once, and a card of 5,000 fen whose PIN is enabled
    (``_enabled``): (the terminal, the card's number, its account)."""
    t = terminal(kind)
    _opened(t, funded_card)
    card_no, account = _enabled(t, funded_card, 5_000, **person)
    return t, card_no, account


def _behind_a_lock(db, account_id: int, run: Any, *, first: Any = None, meanwhile: Any = None) -> Any:
    """``run()`` in a thread while another transaction holds ``account_id``'s row lock (and did ``first(its
    connection)``): given a second to reach the lock and wait, then ``meanwhile()``, then the other
    transaction commits. What ``run()`` returned, or the exception it raised."""
    holder = db.engine.connect()
    result: list[Any] = []

    def batch() -> None:
        try:
            result.append(run())
        except Exception as exc:  # noqa: BLE001 - what the batcher would turn into the single path for all
            result.append(exc)

    try:
        transaction = holder.begin()
        holder.execute(text("SELECT id FROM ledger_account WHERE id = :id FOR UPDATE"), {"id": account_id})
        if first is not None:
            first(holder)
        thread = threading.Thread(target=batch)
        thread.start()
        time.sleep(1.0)  # the batch now waits for the other transaction's lock
        if meanwhile is not None:
            meanwhile()
        transaction.commit()
        thread.join(30)
    finally:
        holder.close()
    assert len(result) == 1
    return result[0]


# rules FIN-1 PIN-2 PIN-5 CH-3: a batch pays the common case once, hands back a replayed txn, a conflicting
# txn, a payment the balance no longer covers (in the middle of the batch), a wrong PIN and a blocked card;
# the single path then answers each with its code, counts the wrong PIN once, and the ledger balances
def test_a_batch_pays_the_common_case_and_hands_back_the_rest(terminal, funded_card, driver) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    pharmacy = terminal("pharmacy")
    tid = pharmacy.profile.terminal_id
    _opened(pharmacy, funded_card)
    good, good_account = _enabled(pharmacy, funded_card, 10_000)
    other, other_account = _enabled(pharmacy, funded_card, 10_000)
    low, low_account = _enabled(pharmacy, funded_card, 500)
    wrong, wrong_account = _enabled(pharmacy, funded_card, 10_000)
    id_number = new_id_number()
    lost, lost_account = _enabled(pharmacy, funded_card, 10_000, id_number=id_number)
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    cards = [good, other, low, wrong, lost]
    first = _run(driver, [_attempt(pharmacy, good, 1_000, "A0")], cards)
    assert isinstance(first[0], Settled) and first[0].answer["balance_fen"] == 9_000

    attempts = [
        _attempt(pharmacy, good, 1_000, "A0"),  # replayed (stored by the batch before)
        _attempt(pharmacy, good, 2_000, "A1"),  # paid
        _attempt(pharmacy, other, 3_000, "A1"),  # the same id for another request: TXN_CONFLICT
        _attempt(pharmacy, low, 400, "L1"),  # paid: 100 left
        _attempt(pharmacy, low, 200, "L2"),  # insufficient in the middle of the batch
        _attempt(pharmacy, low, 100, "L3"),  # paid: what is left
        _attempt(pharmacy, wrong, 100, "W1", pin="000000"),  # a wrong PIN
        _attempt(pharmacy, lost, 100, "X1"),  # a blocked card
    ]
    outcomes = _run(driver, attempts, cards)
    paid = [isinstance(o, Settled) for o in outcomes]
    assert paid == [False, True, False, True, False, True, False, False]
    assert all(isinstance(o, Authenticated) for o, p in zip(outcomes, paid, strict=True) if not p)
    assert outcomes[1].answer["balance_fen"] == 7_000
    assert [outcomes[i].answer["balance_fen"] for i in (3, 5)] == [100, 0]
    assert balance_of(good_account) == 7_000 and balance_of(low_account) == 0
    assert balance_of(other_account) == 10_000 and balance_of(wrong_account) == 10_000
    assert balance_of(lost_account) == 10_000
    assert _stored(tid, "A1") == 1 and _stored(tid, "L2") == 0 and _stored(tid, "W1") == 0
    assert _failures(wrong) == 0  # the batch counts nothing: the single path does (PIN-5)
    _ledger_and_chain_ok()

    # What the route answers for the requests handed back (each a request of its own, with a new nonce).
    assert pharmacy.settle(good, 1_000, "A0", pin=PIN)["balance_fen"] == 9_000  # the first answer again
    for card_no, amount, txn_id, code in [(other, 3_000, "A1", "TXN_CONFLICT"), (low, 200, "L2", "INSUFFICIENT_FUNDS"),
                                          (lost, 100, "X1", "CARD_BLOCKED")]:  # fmt: skip
        with pytest.raises(TerminalError) as info:
            pharmacy.settle(card_no, amount, txn_id, pin=PIN)
        assert info.value.code == code
    with pytest.raises(TerminalError) as info:
        pharmacy.settle(wrong, 100, "W1", pin="000000")
    assert info.value.code == "PIN_WRONG" and _failures(wrong) == 1  # counted once, by the single path
    assert balance_of(good_account) == 7_000 and balance_of(other_account) == 10_000
    _ledger_and_chain_ok()


# rules CH-3 FIN-1: the batch's answer is the answer stored; a replayed nonce is not authenticated here
def test_the_batch_answer_is_stored_and_a_replayed_nonce_is_refused(terminal, funded_card, driver) -> None:
    pharmacy, card_no, account = _terminal_and_card(terminal, funded_card, "clinic")
    attempt = _attempt(pharmacy, card_no, 1_234, "S1")
    (settled,) = _run(driver, [attempt], [card_no])
    assert isinstance(settled, Settled)
    with unit_of_work() as uow:
        txn = uow.session.scalars(select(TerminalTxn).where(TerminalTxn.txn_id == "S1",
                                  TerminalTxn.terminal_id == pharmacy.profile.terminal_id)).one()  # fmt: skip
        assert txn.answer == settled.answer and txn.posting_id is not None and txn.amount_fen == -1_234
    assert _run(driver, [attempt], [card_no]) == [None]  # the same nonce again: REPLAY on the single path
    assert balance_of(account) == 5_000 - 1_234
    assert pharmacy.settle(card_no, 1_234, "S1", pin=PIN) == settled.answer


# rule FIN-1: idempotency is by terminal + transaction id: the batch finds a stored id of its own terminal
# (handed back: the single path replays it) and pays the same id at another terminal as a new payment
def test_a_stored_txn_id_is_the_terminals_own(terminal, funded_card, driver) -> None:
    clinic, pharmacy = terminal("clinic"), terminal("pharmacy")
    _opened(clinic, funded_card)
    _opened(pharmacy, funded_card)
    card_no, account = _enabled(clinic, funded_card, 5_000)
    (first,) = _run(driver, [_attempt(clinic, card_no, 100, "T1")], [card_no])
    assert isinstance(first, Settled)
    again, other = _run(driver, [_attempt(clinic, card_no, 100, "T1"), _attempt(pharmacy, card_no, 200, "T1")],
                        [card_no])  # fmt: skip
    assert isinstance(again, Authenticated) and isinstance(other, Settled)
    assert other.answer["balance_fen"] == 5_000 - 300 and balance_of(account) == 5_000 - 300
    assert _stored(clinic.profile.terminal_id, "T1") == 1 and _stored(pharmacy.profile.terminal_id, "T1") == 1
    assert clinic.settle(card_no, 100, "T1", pin=PIN) == first.answer  # the first answer again, nothing moved
    assert balance_of(account) == 5_000 - 300
    _ledger_and_chain_ok()


# rule FIN-1: an institution's first settlement opens its clearing account on the single path: in a batch
# with a terminal whose institution has settled before, that terminal's request is handed back and the
# other's paid (the pipeline reads each terminal's clearing row in the statement of its facts, left-joined)
def test_a_first_settlement_is_handed_back_beside_a_paid_one(
    terminal, funded_card, driver, client, staff_headers
) -> None:
    from sscard.staff.roles import Role
    from sscard.terminal.client import TerminalClient, enroll

    opened = terminal("pharmacy")
    token = staff_headers(Role.SECURITY_OFFICER, "110000")["Authorization"].split()[1]
    profile = enroll("http://testserver", staff_token=token, institution=f"新开诊所{time.time_ns()}",
                     institution_type="clinic", region_code="110105", http=client)  # fmt: skip
    new = TerminalClient("http://testserver", profile, http=client)  # an institution that never settled
    _opened(opened, funded_card)
    card_no, account = _enabled(opened, funded_card, 5_000)
    paid, handed_back = _run(driver, [_attempt(opened, card_no, 100, "N1"), _attempt(new, card_no, 200, "N2")],
                             [card_no])  # fmt: skip
    assert isinstance(paid, Settled) and paid.answer["balance_fen"] == 5_000 - 100
    assert isinstance(handed_back, Authenticated) and _stored(new.profile.terminal_id, "N2") == 0
    assert balance_of(account) == 5_000 - 100
    assert new.settle(card_no, 200, "N2", pin=PIN)["balance_fen"] == 5_000 - 300  # the single path opens it
    _ledger_and_chain_ok()


# rule FIN-1: a transaction id claimed by another transaction while the batch ran fails the batch as a
# whole (rolled back: nothing of it kept), and the single path then answers each request
def test_a_txn_claimed_meanwhile_fails_the_whole_batch(terminal, funded_card, driver, db) -> None:
    if db.backend != "postgresql":
        pytest.skip("needs two transactions at once")
    pharmacy, card_no, account = _terminal_and_card(terminal, funded_card)
    tid = pharmacy.profile.terminal_id
    other, other_account = _enabled(pharmacy, funded_card, 5_000)

    def claim(holder) -> None:
        # The other transaction (holding the medical account's lock) claims "M2", not yet committed, with the
        # posting of its 1 fen as the single path writes it (`ledger check` proves the pair).
        institution, day = _institution(tid), date(2026, 1, 1)
        clearing = holder.execute(
            text("SELECT id FROM ledger_account WHERE institution_id = :i AND kind = 'settlement_clearing'"),
            {"i": institution},
        ).scalar_one()
        posting_id = posted_in(holder, account_id=other_account, counter_id=clearing, fen=1, day=day)
        txn_row = {"terminal_id": tid, "txn_id": "M2", "purpose": "settle", "request_digest": "0" * 64,
                   "institution_id": institution, "card_id": None, "account_id": other_account,
                   "amount_fen": -1, "posting_id": posting_id, "reversed": False, "business_date": day,
                   "answer": {"ok": True}}  # fmt: skip
        holder.execute(TerminalTxn.__table__.insert().values(**txn_row))

    attempts = [_attempt(pharmacy, card_no, 100, "M1"), _attempt(pharmacy, other, 100, "M2")]
    outcome = _behind_a_lock(db, other_account, lambda: _run(driver, attempts, [card_no, other]), first=claim)
    if isinstance(outcome, Exception):  # its write met the claim: the whole batch was rolled back
        assert _stored(tid, "M1") == 0 and balance_of(account) == 5_000
    else:  # it read the claim after the lock: M2 handed back, M1 paid
        assert isinstance(outcome[0], Settled) and isinstance(outcome[1], Authenticated)
        assert _stored(tid, "M1") == 1 and balance_of(account) == 4_900
    assert balance_of(other_account) == 4_999  # the other transaction's 1 fen only
    with pytest.raises(TerminalError) as info:
        pharmacy.settle(other, 100, "M2", pin=PIN)
    assert info.value.code == "TXN_CONFLICT"
    _ledger_and_chain_ok()


def _institution(terminal_id: str) -> int:
    from sscard.ledger.models import Institution
    from sscard.terminal_registry.models import Terminal

    with unit_of_work() as uow:
        t = uow.session.scalars(select(Terminal).where(Terminal.terminal_id == terminal_id)).one()
        query = select(Institution.id).where(
            Institution.region_code == t.region_code, Institution.name == t.institution_name
        )
        return int(uow.session.scalar(query) or 0)


# rule FIN-1: a transaction id of an archived month (its row detached, its key kept in terminal_txn_key:
# docs/partitioning.md) is taken: the batch hands it back and pays the others, instead of failing its whole
# write on the key; the single path refuses it, nothing is paid twice
def test_an_archived_txn_id_is_handed_back(terminal, funded_card, driver, db) -> None:
    if db.backend != "postgresql":
        pytest.skip("terminal_txn_key is PostgreSQL's")
    pharmacy, card_no, account = _terminal_and_card(terminal, funded_card)
    tid = pharmacy.profile.terminal_id
    (first,) = _run(driver, [_attempt(pharmacy, card_no, 100, "Z1")], [card_no])
    assert isinstance(first, Settled)
    with db.engine.begin() as c:  # what a detach leaves: the key, not the row (as ``partitions.ensure`` moves)
        c.execute(text("SET LOCAL sscard.partition_move = 'on'"))
        c.execute(text("DELETE FROM terminal_txn WHERE terminal_id = :t AND txn_id = 'Z1'"), {"t": tid})
    assert _stored(tid, "Z1") == 0
    archived, new = _run(driver, [_attempt(pharmacy, card_no, 100, "Z1"), _attempt(pharmacy, card_no, 200, "Z2")],
                         [card_no])  # fmt: skip
    assert isinstance(archived, Authenticated) and isinstance(new, Settled)
    assert balance_of(account) == 5_000 - 300 and _stored(tid, "Z2") == 1
    with pytest.raises(TerminalError) as info:
        pharmacy.settle(card_no, 100, "Z1", pin=PIN)
    assert info.value.code == "TXN_CONFLICT"
    assert balance_of(account) == 5_000 - 300


# rule CARD-4: a card blocked while the batch waits for its account's lock is read blocked (the PIN rows
# are read after the accounts are locked) and handed back; the single path refuses it, nothing moves
def test_a_card_blocked_mid_batch_is_not_paid(terminal, funded_card, driver, db) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    if db.backend != "postgresql":
        pytest.skip("needs two transactions at once")
    id_number = new_id_number()
    pharmacy, card_no, account = _terminal_and_card(terminal, funded_card, id_number=id_number)

    def block() -> None:  # committed while the batch waits
        with unit_of_work() as uow:
            report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)

    attempt = _attempt(pharmacy, card_no, 100, "B1")
    outcome = _behind_a_lock(db, account, lambda: _run(driver, [attempt], [card_no]), meanwhile=block)
    assert isinstance(outcome, list) and isinstance(outcome[0], Authenticated)
    assert balance_of(account) == 5_000
    with pytest.raises(TerminalError) as info:
        pharmacy.settle(card_no, 100, "B1", pin=PIN)
    assert info.value.code == "CARD_BLOCKED"
    with unit_of_work() as uow:
        assert uow.session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.id == account)) == 5_000
        paid = AuditEntry.action == "settlement.pay"
        entries = uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(paid, AuditEntry.details.contains('"txn_id":"B1"'))
        )
        assert entries == 0


# rules PIN-5 FIN-1: the payment batch follows the policy's generation as the PIN verify batch does — a policy
# change committed before a batch starts makes it forget the thresholds it knew (hand back, then read afresh)
def test_a_policy_change_reaches_the_next_payment_batch(terminal, funded_card, db) -> None:
    from sscard.audit import Actor, Channel
    from sscard.policy.service import set_policy
    from tests.people.factories import new_id_number
    from tests.staff.factories import ensure_region

    if db.backend != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL only")
    region = "150108"  # a region of its own: its policy changes here
    admin = Actor(kind="staff", id="admin1", channel=Channel.ADMIN, role="administrator", region="000000")
    t, card_no, _ = _terminal_and_card(terminal, funded_card, id_number=new_id_number(region=region))
    thresholds = _thresholds([card_no])

    async def batch(txn_id: str) -> Any:
        engine = get_async_engine()
        assert engine is not None
        async with engine.connect() as connection:
            return (await settle_batch_pg(connection, [_attempt(t, card_no, 1, txn_id)], thresholds=thresholds))[0]

    assert isinstance(asyncio.run(batch("G1")), Settled)  # the threshold known: paid in the batch
    with unit_of_work() as uow:
        ensure_region(uow, region)
        set_policy(uow, region_code=region, actor=admin, reason="stricter lockout", values={"pin_lockout_threshold": 4})
    assert isinstance(asyncio.run(batch("G2")), Authenticated)  # the generation moved: nothing stale decided
    assert isinstance(asyncio.run(batch("G3")), Settled)  # read afresh after that batch
