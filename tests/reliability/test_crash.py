"""kill -9 of the server in the middle of a burst (PostgreSQL): every change a client was told had
succeeded is in effect after the restart, nothing happened twice, and the audit chain is intact.

Before issue 16's fix 2 of 566 acknowledged terminal PIN changes were gone after such a kill: the
answer left before the COMMIT. A change whose answer never came may or may not have happened
(the client must retry it with the PIN it believes current); either is accepted, nothing else.
"""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from sscard.terminal.client import TerminalClient
from tests.reliability import journeys
from tests.reliability.servers import SSCARD, Server

PIN_WORKERS = 24
CARDS_PER_WORKER = 2
ACTIVATIONS = 150


def enough(ledger: journeys.Ledger) -> bool:
    with ledger.lock:
        return sum(ledger.pin_changes_acked.values()) >= 20 and len(ledger.activated) >= 3


@pytest.fixture
def server_env(db_env) -> dict[str, str]:
    return {**os.environ, "SSCARD_DATABASE_URL": db_env.url, "SSCARD_DATABASE_SCHEMA": db_env.schema}


# rules PIN-4 PIN-5 CARD-1 CH-4 (contract: a 2xx answer means committed)
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_kill_9_mid_burst_loses_no_acknowledged_change(client, server_env) -> None:
    fx = journeys.prepare(client, pin_cards=PIN_WORKERS * CARDS_PER_WORKER, issued_cards=ACTIVATIONS)
    ledger = journeys.Ledger()
    stop = threading.Event()
    server = Server(server_env).start()
    try:
        base = server.url
        chunks = [fx.pin_cards[i::PIN_WORKERS] for i in range(PIN_WORKERS)]
        workers = [threading.Thread(target=journeys.change_pins, args=(base, fx, c, ledger, stop)) for c in chunks]
        thirds = [fx.issued_cards[i::3] for i in range(3)]
        workers += [threading.Thread(target=journeys.activate_cards, args=(base, fx, t, ledger, stop)) for t in thirds]
        # Kill once the burst has done enough to prove something, never before 2.5 s of it.
        journeys.run_until(lambda: enough(ledger), workers, at_least=2.5, at_most=60)
        server.kill()  # SIGKILL to the whole process group, requests in flight
    finally:
        stop.set()
        server.kill()
    for worker in workers:
        worker.join(timeout=60)

    assert not ledger.errors, ledger.errors
    acked_changes = sum(ledger.pin_changes_acked.values())
    in_flight = len(ledger.pin_change_unknown) + len(ledger.activation_unknown)
    print(f"acknowledged: {acked_changes} PIN changes, {len(ledger.activated)} activations; in flight: {in_flight}")
    assert acked_changes >= 20 and ledger.activated, "the burst did too little to prove anything"
    assert in_flight, "the kill caught no request in flight"

    with Server(server_env).start() as restarted, TerminalClient(restarted.url, fx.terminal) as terminal:
        lost, unknown_applied = [], set()
        for card_no in fx.pin_cards:
            if journeys.pin_in_effect(terminal, card_no, ledger.acked_pin.get(card_no, journeys.INITIAL_PIN)):
                continue
            in_flight = ledger.pin_change_unknown.get(card_no)
            if in_flight and journeys.pin_in_effect(terminal, card_no, in_flight):
                unknown_applied.add(card_no)
                continue
            lost.append(card_no)
        assert not lost, f"{len(lost)} acknowledged PIN changes were lost: {lost}"

        # Nothing twice: one ok pin.change entry per acknowledged change (plus the in-flight one that
        # did happen), one card.activate per activated card.
        ids = journeys.card_ids(fx.pin_cards + fx.issued_cards)
        changes = journeys.ok_entries("pin.change")
        for card_no in fx.pin_cards:
            expected = ledger.pin_changes_acked[card_no] + (card_no in unknown_applied)
            assert changes[ids[card_no]] == expected, (card_no, changes[ids[card_no]], expected)
        states = journeys.card_states(fx.issued_cards)
        activations = journeys.ok_entries("card.activate")
        for card_no in ledger.activated:
            assert states[card_no] == "active", f"acknowledged activation of {card_no} lost"
        for card_no in fx.issued_cards:
            assert activations[ids[card_no]] == (states[card_no] == "active"), card_no

    verify = subprocess.run(
        [str(SSCARD), "audit", "verify", "--json"], env=server_env, capture_output=True, text=True, timeout=300
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
