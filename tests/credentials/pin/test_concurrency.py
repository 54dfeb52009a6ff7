"""PIN-5 under real parallelism on PostgreSQL: the count is exact and the lock wins.

Each try runs as a terminal request does: its own transaction, committed whatever the answer.
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.audit.service import stream_for
from sscard.config import get_settings
from sscard.credentials.pin.errors import PinLocked, PinWrong
from sscard.credentials.pin.service import verify_card_pin
from sscard.db.session import unit_of_work
from sscard.terminals.auth import AuthenticatedTerminal
from sscard.terminals.models import InstitutionType
from tests.credentials.pin.factories import make_card


def _setup(terminal) -> tuple[str, object, AuthenticatedTerminal]:
    client = terminal("pharmacy", "110105")
    p = client.profile
    ref = AuthenticatedTerminal(p.terminal_id, p.institution, InstitutionType.PHARMACY, p.region_code,
                                p.key_version, p.suite)  # fmt: skip
    with unit_of_work() as uow:
        card_no = make_card(uow).card_no
    return card_no, client, ref


def _card_id(card_no: str) -> int:
    from sscard.cards.models import Card

    with unit_of_work() as uow:
        return int(uow.session.scalar(select(Card.id).where(Card.card_no == card_no)))


def _try(card_no: str, block: bytes, ref: AuthenticatedTerminal, barrier: threading.Barrier) -> str:
    barrier.wait()
    with unit_of_work() as uow:  # committed on every answer, as the route does
        try:
            verify_card_pin(uow, card_no=card_no, pin_block=block, terminal=ref, actor=ref.actor())
            return "ok"
        except PinWrong:
            return "wrong"
        except PinLocked:
            return "locked"


def _parallel(jobs: list[tuple[str, bytes, AuthenticatedTerminal]]) -> list[str]:
    barrier = threading.Barrier(len(jobs), timeout=30)
    results: list[str] = []
    lock = threading.Lock()

    def run(job: tuple[str, bytes, AuthenticatedTerminal]) -> None:
        outcome = _try(*job, barrier)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == len(jobs), "a worker hung"
    return results


def _skip_unless_postgres(db) -> None:
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")


# rule PIN-5: 20 parallel wrong PIN tries count exactly 6 and lock; no right PIN is accepted afterwards
def test_twenty_parallel_wrong_tries_lock_at_six(db, db_env, terminal) -> None:
    _skip_unless_postgres(db)
    card_no, client, ref = _setup(terminal)
    wrong = [(card_no, bytes.fromhex(client.pin_block(card_no, f"{900000 + i}")), ref) for i in range(20)]
    results = _parallel(wrong)
    assert results.count("wrong") == 6 and results.count("locked") == 14, results
    right = [(card_no, bytes.fromhex(client.pin_block(card_no, "123456")), ref) for _ in range(5)]
    assert _parallel(right) == ["locked"] * 5


# rule PIN-5: right and wrong PINs racing — once the lock is committed, no right PIN is accepted
def test_right_pins_racing_the_lock(db, db_env, terminal) -> None:
    _skip_unless_postgres(db)
    card_no, client, ref = _setup(terminal)
    jobs = [(card_no, bytes.fromhex(client.pin_block(card_no, f"{800000 + i}")), ref) for i in range(20)]
    jobs += [(card_no, bytes.fromhex(client.pin_block(card_no, "123456")), ref) for _ in range(4)]
    results = _parallel(jobs)
    assert results.count("wrong") + results.count("locked") + results.count("ok") == 24
    # The card's audit stream is ordered by commit (its head row is locked until commit): after the
    # pin.lock entry there is no accepted verification.
    stream = stream_for(f"card:{card_no}", get_settings().audit_streams)
    with unit_of_work() as uow:
        entries = uow.session.execute(
            select(AuditEntry.action, AuditEntry.result, AuditEntry.details)
            .where(AuditEntry.stream == stream, AuditEntry.action.like("pin.%"))
            .order_by(AuditEntry.seq)
        ).all()
    card_id = _card_id(card_no)
    actions = [(a, r) for a, r, d in entries if json.loads(d).get("card_id") == card_id]
    if ("pin.lock", "ok") in actions:
        after = actions[actions.index(("pin.lock", "ok")) :]
        assert ("pin.verify", "ok") not in after, actions


# rule PIN-5: a right PIN whose card was locked between its read and its decision is refused, even
# with no PIN row on record when it read (a card never changed and never failed)
def test_a_lock_committed_after_a_right_pins_read_wins(db, db_env, terminal, monkeypatch) -> None:
    _skip_unless_postgres(db)
    from sscard.credentials.pin import crypto

    card_no, client, ref = _setup(terminal)
    right = bytes.fromhex(client.pin_block(card_no, "123456"))
    wrong = [bytes.fromhex(client.pin_block(card_no, f"{700000 + i}")) for i in range(6)]
    real_check = crypto.verify_initial_pin_block
    racing = threading.Event()

    def check_after_six_wrong_pins(*args, **kwargs):
        if threading.current_thread() is threading.main_thread() and not racing.is_set():
            racing.set()  # our transaction has read the card: lock it in six others, committed
            racer = threading.Thread(
                target=lambda: [_try(card_no, block, ref, threading.Barrier(1)) for block in wrong]
            )
            racer.start()
            racer.join(timeout=30)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(crypto, "verify_initial_pin_block", check_after_six_wrong_pins)
    with unit_of_work() as uow, pytest.raises(PinLocked):
        verify_card_pin(uow, card_no=card_no, pin_block=right, terminal=ref, actor=ref.actor())
    card_id = _card_id(card_no)
    with unit_of_work() as uow:
        entries = uow.session.execute(
            select(AuditEntry.action, AuditEntry.result, AuditEntry.details).order_by(AuditEntry.id)
        ).all()
    actions = [(a, r) for a, r, d in entries if a.startswith("pin.") and json.loads(d).get("card_id") == card_id]
    assert actions[-2:] == [("pin.lock", "ok"), ("pin.verify", "locked")], actions
