"""The atomic PIN counter (PIN-5) and the status it means (PIN-2), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta, timezone

import pytest

from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.status import DEFAULT_LOCKOUT_THRESHOLD, pin_status_of
from sscard.credentials.pin.store import Failure, get_pin_row, lock_pin_row, record_failure
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from tests.credentials.pin.factories import make_card


# rule PIN-2: no row = never changed: not enabled, nothing counted (issuing writes no credential row)
def test_no_row_means_initial_not_enabled() -> None:
    status = pin_status_of(None, threshold=6)
    assert (status.enabled, status.locked, status.tries_left) == (False, False, 6)


# rule PIN-5: a threshold lowered by policy below the current count locks at once
def test_lowered_threshold_locks() -> None:
    row = CardPin(card_id=1, failures=4, locked_at=None, restorable=False)
    assert pin_status_of(row, threshold=6).tries_left == 2
    assert pin_status_of(row, threshold=4).locked


# rule PIN-5: six consecutive failures lock; the seventh is not counted; a right PIN is then refused
def test_six_failures_lock(uow) -> None:
    card = make_card(uow)
    assert get_pin_row(uow, card.id) is None
    counted = [record_failure(uow, card_id=card.id, threshold=6, now=utcnow()) for _ in range(7)]
    assert [c.failures for c in counted[:6] if c] == [1, 2, 3, 4, 5, 6]
    assert [c.locked for c in counted[:6] if c] == [False] * 5 + [True]
    assert counted[6] is None
    status = pin_status_of(get_pin_row(uow, card.id), threshold=6)
    assert status.locked and status.tries_left == 0 and status.failures == 6


# rule PIN-5: the count read under the row lock is the committed one; reset there, counting starts over
def test_right_pin_resets_count(uow) -> None:
    card = make_card(uow)
    for _ in range(5):
        record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
    row = lock_pin_row(uow, card_id=card.id, now=utcnow())
    assert row.failures == 5
    row.failures = 0  # what a right PIN does under the lock (service.verify_card_pin)
    uow.flush()
    first = record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
    assert first is not None and first.failures == 1 and not first.locked


def test_lock_pin_row_creates_once(uow) -> None:
    card = make_card(uow)
    row = lock_pin_row(uow, card_id=card.id, now=utcnow())
    assert row.failures == 0 and row.pvv is None
    assert lock_pin_row(uow, card_id=card.id, now=utcnow()).card_id == card.id


# rule PIN-5: 20 parallel wrong tries on separate connections count exactly 6 and lock
def test_parallel_failures_count_exactly_threshold(db) -> None:
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")
    with unit_of_work(db.engine) as uow:
        card_id = make_card(uow).id
    barrier = threading.Barrier(20, timeout=30)
    results: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        with unit_of_work(db.engine) as uow:
            outcome = record_failure(uow, card_id=card_id, threshold=DEFAULT_LOCKOUT_THRESHOLD, now=utcnow())
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    counted = sorted(r.failures for r in results if r is not None)  # type: ignore[attr-defined]
    assert counted == [1, 2, 3, 4, 5, 6]
    assert results.count(None) == 14
    with unit_of_work(db.engine) as uow:
        status = pin_status_of(get_pin_row(uow, card_id), threshold=6)
    assert status.locked and status.failures == 6


# rule PIN-5 (issue 26, surviving mutants): get_pin_row, and lock_pin_row under the lock, read the count as
# the database holds it now, not a copy the session loaded before an atomic failure count changed it
def test_get_pin_row_sees_a_count_made_after_it_was_loaded(uow) -> None:
    card = make_card(uow)
    record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
    loaded = get_pin_row(uow, card.id)
    assert loaded is not None and loaded.failures == 1
    record_failure(uow, card_id=card.id, threshold=6, now=utcnow())  # one UPDATE statement, past the ORM
    again = get_pin_row(uow, card.id)
    assert again is not None and again.failures == 2
    record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
    assert lock_pin_row(uow, card_id=card.id, now=utcnow()).failures == 3


# rule PIN-5 (issue 26, surviving mutants of record_failure's first insert): a region whose policy locks
# after ONE wrong PIN locks on the very first failure, when the card has no PIN row yet
def test_a_threshold_of_one_locks_on_the_first_failure(uow) -> None:
    card = make_card(uow)
    now = utcnow()
    first = record_failure(uow, card_id=card.id, threshold=1, now=now)
    assert first == Failure(failures=1, locked=True)
    row = get_pin_row(uow, card.id)
    assert row is not None and row.locked_at == now
    assert record_failure(uow, card_id=card.id, threshold=1, now=utcnow()) is None


# rule PIN-5: with a threshold of two the first failure (the row's insert) does not lock, the second does
def test_a_threshold_of_two_locks_on_the_second_failure(uow) -> None:
    card = make_card(uow)
    assert record_failure(uow, card_id=card.id, threshold=2, now=utcnow()) == Failure(failures=1, locked=False)
    row = get_pin_row(uow, card.id)
    assert row is not None and row.locked_at is None
    assert record_failure(uow, card_id=card.id, threshold=2, now=utcnow()) == Failure(failures=2, locked=True)


# rule PIN-8/PIN-5: the row a first failure creates has nothing to restore (no change was made) and
# carries the time of that failure, not the time the statement ran
def test_the_row_of_a_first_failure_is_not_restorable_and_carries_its_time(uow) -> None:
    card = make_card(uow)
    then = utcnow() - timedelta(days=3)
    record_failure(uow, card_id=card.id, threshold=6, now=then)
    row = get_pin_row(uow, card.id)
    assert row is not None
    assert row.restorable is False and row.locked_at is None and row.failures == 1
    assert row.updated_at == then
    later = then + timedelta(hours=1)
    record_failure(uow, card_id=card.id, threshold=6, now=later)
    assert get_pin_row(uow, card.id).updated_at == later


# rule PIN-5: the lock time is the instant given, whatever timezone the caller's clock is in (the column
# stores UTC; a lock time shifted by hours would end a time-limited lock at the wrong moment)
def test_the_lock_time_is_the_instant_given_in_any_timezone(uow) -> None:
    card = make_card(uow)
    now = utcnow().astimezone(timezone(timedelta(hours=8)))
    record_failure(uow, card_id=card.id, threshold=2, now=now)  # the insert
    counted = record_failure(uow, card_id=card.id, threshold=2, now=now)  # the update: the lock time in SQL
    assert counted == Failure(failures=2, locked=True)
    row = get_pin_row(uow, card.id)
    assert row is not None and row.locked_at == now and row.updated_at == now


# rule PIN-2/PIN-5: the row lock_pin_row creates for a card with none is that card's, initial (not enabled,
# nothing counted, nothing to restore) and carries the time given
def test_lock_pin_row_creates_the_cards_initial_row(uow) -> None:
    card, newer = make_card(uow), make_card(uow)
    record_failure(uow, card_id=newer.id, threshold=6, now=utcnow())  # the newest PIN row is another card's
    then = utcnow() - timedelta(days=2)
    row = lock_pin_row(uow, card_id=card.id, now=then)
    assert (row.card_id, row.failures, row.pvv, row.locked_at, row.restorable) == (card.id, 0, None, None, False)
    assert row.updated_at == then
    assert get_pin_row(uow, make_card(uow).id) is None  # only the card asked for has a row
