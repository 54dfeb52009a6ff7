"""Concurrent double issue on two connections: exactly one card wins (CARD-2).

The index-only race (both sides past the service check) needs PostgreSQL; SQLite serialises writers.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from sscard.cards import service as card_service
from sscard.cards.errors import CardLiveExists
from sscard.cards.models import Card
from sscard.db.session import unit_of_work
from tests.people.factories import CLERK, add_test_person


def _race(engine, person_id: int) -> list[object]:
    results: list[object] = [None, None]

    def worker(i: int) -> None:
        try:
            with unit_of_work(engine) as uow:
                results[i] = card_service.issue_card(uow, person_id=person_id, actor=CLERK).card_no
        except Exception as exc:  # noqa: BLE001 - the test inspects what each side got
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


# rule CARD-2: two transactions issuing at the same moment, on two connections: one card, one refusal
@pytest.mark.parametrize("bypass_person_lock", [False, True], ids=["service", "index-only"])
def test_concurrent_double_issue(db, monkeypatch, bypass_person_lock: bool) -> None:
    if bypass_person_lock and db.backend != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE), so both sides cannot pass the check at once")
    with unit_of_work(db.engine) as uow:
        person_id = add_test_person(uow).id

    if bypass_person_lock:
        # Take away the row lock and make both sides pass the live-card check before either
        # inserts: only the partial unique index is left to stop the second card.
        from sscard.people.service import get_person_or_raise

        barrier = threading.Barrier(2, timeout=20)
        real_live_card = card_service.live_card

        def racing_live_card(uow, **kwargs):
            found = real_live_card(uow, **kwargs)
            barrier.wait()
            return found

        monkeypatch.setattr(card_service, "lock_person_or_raise", get_person_or_raise)
        monkeypatch.setattr(card_service, "live_card", racing_live_card)

    results = _race(db.engine, person_id)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, CardLiveExists)]
    assert len(winners) == 1 and len(losers) == 1, results
    with unit_of_work(db.engine) as uow:
        assert uow.session.scalar(select(func.count()).where(Card.person_id == person_id)) == 1
