"""kill -9 of the server during a burst of settlements (FIN-1, PostgreSQL): every payment a terminal was
told was ok is posted exactly once after the restart; a payment whose answer never came was posted at
most once, and asking again with its transaction id tells which; ``sscard ledger check`` passes."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from sscard.db.session import unit_of_work
from sscard.ledger.models import LedgerPosting
from sscard.settlement.models import TerminalTxn
from sscard.terminal.client import TerminalClient, TerminalError
from tests.reliability import journeys
from tests.reliability.servers import SSCARD, Server
from tests.settlement.factories import fund

WORKERS = 16
CARDS_PER_WORKER = 2
AMOUNT = 100


@pytest.fixture
def server_env(db_env) -> dict[str, str]:
    return {**os.environ, "SSCARD_DATABASE_URL": db_env.url, "SSCARD_DATABASE_SCHEMA": db_env.schema}


def _pay(
    base: str, fx, cards: list[str], prefix: str, acked: dict, unknown: dict, errors: list, stop: threading.Event
) -> None:
    with TerminalClient(base, fx.terminal, timeout=30) as terminal:
        n = 0
        while not stop.is_set():
            card_no = cards[n % len(cards)]
            txn_id = f"{prefix}-{n}"
            n += 1
            try:
                answer = terminal.settle(card_no, AMOUNT, txn_id)
            except TerminalError as exc:
                if exc.code == "SERVER_UNREACHABLE" or exc.status >= 500:
                    unknown[txn_id] = card_no  # no ok answer: its fate is unknown to the terminal
                    if exc.code == "SERVER_UNREACHABLE":
                        return  # the server is gone
                    continue  # e.g. 503 while the shared database refuses connections: go on with the next
                errors.append(f"{txn_id}: {exc.code}")
                return
            if not answer.get("ok"):
                errors.append(f"{txn_id}: {answer}")
                return
            acked[txn_id] = card_no


def _settlements_after(posting_id: int) -> tuple:
    return LedgerPosting.kind == "settlement", LedgerPosting.id > posting_id


# rules FIN-1 (contract: a 2xx answer means committed; sscard ledger check)
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_kill_9_mid_settlement_burst(client, server_env) -> None:
    fx = journeys.prepare(client, pin_cards=WORKERS * CARDS_PER_WORKER, issued_cards=0)
    from sscard.cards.models import Card

    with unit_of_work() as uow:
        for card_no in fx.pin_cards:
            person_id = uow.session.scalar(select(Card.person_id).where(Card.card_no == card_no))
            fund(uow, person_id, 10_000_000, region_code=journeys.REGION)
        # The session's database is shared with the tests that ran before (some post settlements of their
        # own, e.g. under a made-up source): only this burst's postings are counted, those after this id.
        last_before = uow.session.scalar(select(func.coalesce(func.max(LedgerPosting.id), 0)))
    acked: dict[str, str] = {}
    unknown: dict[str, str] = {}
    errors: list[str] = []
    stop = threading.Event()
    server = Server(server_env).start()
    try:
        chunks = [fx.pin_cards[i::WORKERS] for i in range(WORKERS)]
        workers = [
            threading.Thread(target=_pay, args=(server.url, fx, chunk, f"K{i}", acked, unknown, errors, stop))
            for i, chunk in enumerate(chunks)
        ]
        for worker in workers:
            worker.start()
        # Kill once the burst is well under way (a shared machine may be slow to start it).
        deadline = time.monotonic() + 60
        while len(acked) < 40 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        server.kill()  # SIGKILL to the whole process group, requests in flight
    finally:
        stop.set()
        server.kill()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    print(f"acknowledged settlements: {len(acked)}; in flight at the kill: {len(unknown)}")
    assert len(acked) >= 20, "the burst did too little to prove anything"
    assert unknown, "the kill caught no settlement in flight"

    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(TerminalTxn.txn_id, TerminalTxn.posting_id).where(TerminalTxn.terminal_id == fx.terminal.terminal_id)
        ).all()
        stored = {r.txn_id: r.posting_id for r in rows}
        refs = Counter(uow.session.scalars(select(LedgerPosting.source_ref).where(*_settlements_after(last_before))))
        postings = sum(refs.values())
    lost = [t for t in acked if stored.get(t) is None]
    assert not lost, f"{len(lost)} acknowledged settlements were not posted: {lost[:5]}"
    assert set(stored) <= set(acked) | set(unknown), "a settlement nobody asked for was posted"
    assert postings == len(stored) and all(n == 1 for n in refs.values()), "a settlement was posted twice"

    with Server(server_env).start() as restarted, TerminalClient(restarted.url, fx.terminal) as terminal:
        for txn_id, card_no in list(unknown.items()) + list(acked.items())[:5]:
            answer = terminal.settle(card_no, AMOUNT, txn_id)  # the terminal asks again: once, never twice
            assert answer["ok"], answer
    with unit_of_work() as uow:
        after_burst = select(func.count()).select_from(LedgerPosting).where(*_settlements_after(last_before))
        again = uow.session.scalar(after_burst)
    assert again == len(stored) + sum(1 for t in unknown if t not in stored)

    check = subprocess.run(
        [str(SSCARD), "ledger", "check", "--json"], env=server_env, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr
