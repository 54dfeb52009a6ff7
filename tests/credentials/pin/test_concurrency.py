"""PIN-5 under real parallelism on PostgreSQL: the count is exact and the lock wins.

Each try runs as a terminal request does: its own transaction, committed whatever the answer.
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from sscard.audit.models import AuditEntry
from sscard.audit.service import stream_for
from sscard.config import get_settings
from sscard.credentials.pin.errors import PinLocked, PinWrong
from sscard.credentials.pin.service import verify_card_pin
from sscard.db.session import unit_of_work
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
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


def _blocked_by(pid: int) -> bool:
    """Whether a backend waits for a lock that backend ``pid`` holds (polled for up to 30 s)."""
    for _ in range(3000):
        with unit_of_work() as uow:
            waiting = uow.session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE CAST(:pid AS integer) = ANY(pg_blocking_pids(pid))"),
                {"pid": pid},
            )
        if waiting:
            return True
        threading.Event().wait(0.01)
    return False


# rule PIN-5: a right PIN decides under the card's PIN row lock, even for a card with no PIN row on
# record (never changed, never failed): six wrong PINs sent meanwhile wait for it, are decided after it
# and are recorded after it; then the lock refuses the right PIN
def test_wrong_pins_sent_while_a_right_pin_is_decided_come_after_it(db, db_env, terminal, monkeypatch) -> None:
    _skip_unless_postgres(db)
    from sscard.credentials.pin import crypto

    card_no, client, ref = _setup(terminal)
    right = bytes.fromhex(client.pin_block(card_no, "123456"))
    wrong = [bytes.fromhex(client.pin_block(card_no, f"{700000 + i}")) for i in range(6)]
    real_check = crypto.verify_initial_pin_block
    answers: list[str] = []
    racer = threading.Thread(target=lambda: answers.extend(_try(card_no, b, ref, threading.Barrier(1)) for b in wrong))
    blocked: list[bool] = []

    def check_while_six_wrong_pins_are_sent(*args, **kwargs):
        if threading.current_thread() is threading.main_thread() and not racer.is_alive() and not blocked:
            racer.start()  # our transaction holds the card's PIN row: the first wrong PIN waits for it
            blocked.append(_blocked_by(our_pid))
        return real_check(*args, **kwargs)

    monkeypatch.setattr(crypto, "verify_initial_pin_block", check_while_six_wrong_pins_are_sent)
    with unit_of_work() as uow:
        our_pid = int(uow.session.scalar(text("SELECT pg_backend_pid()")))
        check = verify_card_pin(uow, card_no=card_no, pin_block=right, terminal=ref, actor=ref.actor())
    racer.join(timeout=60)
    assert check.pin_enabled is False and blocked == [True]
    assert answers == ["wrong"] * 6  # all six counted after the right PIN's reset: the sixth locked
    assert _try(card_no, right, ref, threading.Barrier(1)) == "locked"
    card_id = _card_id(card_no)
    with unit_of_work() as uow:
        entries = uow.session.execute(
            select(AuditEntry.action, AuditEntry.result, AuditEntry.details).order_by(AuditEntry.id)
        ).all()
    actions = [(a, r) for a, r, d in entries if a.startswith("pin.") and json.loads(d).get("card_id") == card_id]
    assert actions == [("pin.verify", "ok"), *[("pin.verify", "wrong_pin")] * 6, ("pin.lock", "ok"),
                       ("pin.verify", "locked")], actions  # fmt: skip
