"""A PIN change racing verifies on one card: the answers must be those of some serial order (PIN-2, PIN-5).

Real concurrency on PostgreSQL through the real app: threads send signed terminal requests through
one ``TestClient``, so the verifies run in the app's event loop, where the common case (a right PIN,
no failure on record) is decided in batches (``credentials/pin/batch_verify.py``), and everything
else (wrong PINs, a failure on record, a lock) on the one-request path in the thread pool; the
change runs on its own route.

Each round, on a fresh card whose PIN is OLD (enabled, no failure): one change OLD → NEW and
``VERIFIES`` verifies, half with OLD and half with NEW, each from a terminal of its own (so the
card's audit chain says which entry is whose), released together. Recorded per operation: its
answer (with ``tries_left``) and its wall-clock interval; after the round, the card's PIN state.
Then two checks:

1. linearizability: some serial order of the operations, consistent with their real-time order
   (an operation that ended before another started comes first), gives every answer the rules give
   (the model below) and ends in the state read back;
2. the card's audit chain (ordered by commit: a transaction holds the stream head until it
   commits) is such an order itself: replayed through the model it gives every answer, and it
   respects the real-time order.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from sscard.api import terminal_pin
from sscard.audit.models import AuditEntry
from sscard.audit.service import stream_for
from sscard.config import get_settings
from sscard.credentials.pin.counter_ops import get_card_pin_status
from sscard.credentials.pin.service import card_policy
from sscard.db.session import unit_of_work
from sscard.terminal.client import TerminalClient, TerminalError
from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401 - fixtures
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number

REGION = "140105"
OLD, NEW = "802461", "730952"  # neither is simple, nor a birth date in any form (PIN-3); no phone on file
ROUNDS = 40
VERIFIES = 10  # per round: half with OLD, half with NEW (up to 5 wrong in a row each side of the change)

# The real app on PostgreSQL only: real concurrency (SQLite's BEGIN IMMEDIATE serialises every writer).
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


# --- the rules, as a model of one card's PIN state --------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinModel:
    pin: str  # the PIN that is right now
    failures: int
    threshold: int

    @property
    def locked(self) -> bool:
        return self.failures >= self.threshold


@dataclass(frozen=True, slots=True)
class Op:
    name: str  # the terminal's id: one operation per terminal per round
    kind: str  # "verify", "change" or "observe" (the state read after the round)
    pin: str  # the PIN entered (the old PIN for a change)
    answer: tuple[Any, ...]
    start: float
    end: float


def apply(state: PinModel, op: Op) -> tuple[tuple[Any, ...], PinModel]:
    """What the rules answer to ``op`` in ``state``, and the state after it."""
    if op.kind == "observe":
        return ("state", state.failures, state.locked), state
    if state.locked:  # rule PIN-5: a locked PIN refuses everything, even the right PIN, and counts nothing
        return ("locked",), state
    if op.pin != state.pin:  # rule PIN-5: a wrong PIN counts, the threshold-th locks
        failures = state.failures + 1
        return ("wrong", max(0, state.threshold - failures)), PinModel(state.pin, failures, state.threshold)
    if op.kind == "change":  # rule PIN-2 / PIN-4: the right current PIN; the new one is enabled
        return ("changed",), PinModel(NEW, 0, state.threshold)
    return ("ok", state.threshold), PinModel(state.pin, 0, state.threshold)  # rule PIN-5: reset by a right PIN


def linearization(ops: list[Op], initial: PinModel) -> list[Op] | None:
    """A serial order of ``ops`` consistent with their real-time order in which every answer is the
    model's (Wing & Gong's search, memoised on the set done and the model state); None if none."""
    n = len(ops)
    dead: set[tuple[int, PinModel]] = set()

    def search(done: int, state: PinModel) -> list[Op] | None:
        if done == (1 << n) - 1:
            return []
        if (done, state) in dead:
            return None
        pending = [i for i in range(n) if not done & (1 << i)]
        first_end = min(ops[i].end for i in pending)
        for i in pending:
            if ops[i].start > first_end:  # another pending operation ended before this one started
                continue
            answer, after = apply(state, ops[i])
            if answer != ops[i].answer:
                continue
            rest = search(done | (1 << i), after)
            if rest is not None:
                return [ops[i], *rest]
        dead.add((done, state))
        return None

    return search(0, initial)


def replay_problems(order: list[Op], initial: PinModel) -> list[str]:
    """Why ``order`` (the audit chain's) is not a serial history of these answers; empty if it is."""
    problems = []
    state = initial
    for position, op in enumerate(order):
        answer, state = apply(state, op)
        if answer != op.answer:
            problems.append(f"#{position} {op.kind}({_which(op.pin)}) answered {op.answer}, in this order {answer}")
        later_done = [o for o in order[position + 1 :] if o.end < op.start]
        if later_done:
            problems.append(f"#{position} {op.kind}({_which(op.pin)}) started after {len(later_done)} later ones ended")
    return problems


def _which(pin: str) -> str:
    return {OLD: "old", NEW: "new"}.get(pin, "?")


# --- running a round --------------------------------------------------------------------------------


@dataclass
class Terminals:
    changer: TerminalClient
    verifiers: list[TerminalClient]


def _answer_of(kind: str, call) -> tuple[Any, ...]:
    try:
        body = call()
    except TerminalError as exc:
        if exc.code == "PIN_WRONG":
            return ("wrong", exc.problem["tries_left"])
        if exc.code == "PIN_LOCKED":
            return ("locked",)
        return ("error", exc.code)  # never expected: fails the round with its code
    return ("changed",) if kind == "change" else ("ok", body["tries_left"])


def _card_with_old_pin(changer: TerminalClient) -> tuple[str, int, int]:
    with unit_of_work() as uow:
        card = make_card(uow, id_number=new_id_number(region=REGION))
        card_no, card_id, threshold = card.card_no, card.id, card_policy(uow, card).pin_lockout_threshold
    body = {"card_no": card_no, "old_pin_block": changer.pin_block(card_no, "123456"),
            "new_pin_block": changer.pin_block(card_no, OLD)}  # fmt: skip
    changer.request("POST", "/terminal/pin/change", json_body=body)
    return card_no, card_id, threshold


def _round(terminals: Terminals) -> tuple[list[Op], PinModel, list[Op]]:
    """One race; the operations as observed, the model's initial state, and the audit chain's order."""
    card_no, card_id, threshold = _card_with_old_pin(terminals.changer)
    changer = terminals.changer
    jobs: list[tuple[TerminalClient, str, str, dict[str, str]]] = [
        (
            changer,
            "change",
            OLD,
            {
                "card_no": card_no,
                "old_pin_block": changer.pin_block(card_no, OLD),
                "new_pin_block": changer.pin_block(card_no, NEW),
            },
        )  # fmt: skip
    ]
    for i, verifier in enumerate(terminals.verifiers):
        pin = OLD if i % 2 == 0 else NEW
        jobs.append((verifier, "verify", pin, {"card_no": card_no, "pin_block": verifier.pin_block(card_no, pin)}))
    barrier = threading.Barrier(len(jobs), timeout=60)
    ops: list[Op] = []
    lock = threading.Lock()

    def run(t: TerminalClient, kind: str, pin: str, body: dict[str, str]) -> None:
        path = "/terminal/pin/change" if kind == "change" else "/terminal/pin/verify"
        barrier.wait()
        start = time.monotonic()
        answer = _answer_of(kind, lambda: t.request("POST", path, json_body=body))
        end = time.monotonic()
        with lock:
            ops.append(Op(t.profile.terminal_id, kind, pin, answer, start, end))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(ops) == len(jobs), "an operation hung"
    after = time.monotonic()
    with unit_of_work() as uow:
        status = get_card_pin_status(uow, card_no=card_no)
    ops.append(Op("observe", "observe", "", ("state", status.failures, status.locked), after, time.monotonic()))
    return ops, PinModel(OLD, 0, threshold), _chain_order(card_no, card_id, ops)


def _chain_order(card_no: str, card_id: int, ops: list[Op]) -> list[Op]:
    """The round's operations in the order of their entries in the card's audit chain (its stream is
    ordered by commit); the state read last. Each operation has exactly one pin.verify / pin.change entry."""
    stream = stream_for(f"card:{card_no}", get_settings().audit_streams)
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.details)
            .where(AuditEntry.stream == stream, AuditEntry.action.in_(["pin.verify", "pin.change"]))
            .order_by(AuditEntry.seq)
        ).all()
    by_terminal = {op.name: op for op in ops if op.kind != "observe"}
    entries = [actor for actor, _action, details in rows if json.loads(details).get("card_id") == card_id]
    round_entries = [actor for actor in entries if actor in by_terminal][-len(by_terminal) :]
    assert sorted(round_entries) == sorted(by_terminal), "not one audit entry per operation"
    return [*(by_terminal[actor] for actor in round_entries), ops[-1]]


# rules PIN-2 PIN-5: a change racing verifies with the old and the new PIN, on both verify paths
def test_a_pin_change_racing_verifies_is_linearizable(db, client, terminal, monkeypatch) -> None:  # noqa: F811
    terminals = Terminals(terminal("pharmacy", REGION), [terminal("hospital", REGION) for _ in range(VERIFIES)])
    one_by_one: list[bool] = []  # the one-request path's accepted verifications
    real_verify = terminal_pin.verify_card_pin

    def counted(*args, **kwargs):
        check = real_verify(*args, **kwargs)
        one_by_one.append(True)
        return check

    monkeypatch.setattr(terminal_pin, "verify_card_pin", counted)
    not_linearizable: list[str] = []
    chain_not_serial: list[str] = []
    answers: dict[tuple[Any, ...], int] = {}
    for n in range(ROUNDS):
        ops, initial, chain = _round(terminals)
        for op in ops:
            key = (op.kind, _which(op.pin), op.answer[0])
            answers[key] = answers.get(key, 0) + 1
        if linearization(ops, initial) is None:
            story = ", ".join(f"{op.kind}({_which(op.pin)})→{op.answer}" for op in sorted(ops, key=lambda o: o.start))
            not_linearizable.append(f"round {n}: {story}")
        problems = replay_problems(chain, initial)
        if problems:
            chain_not_serial.append(f"round {n}: {'; '.join(problems)}")
    # Both verify paths ran and accepted PINs: right PINs of a card with no failure on record in
    # batches, the rest (wrong PINs, right PINs after a failure) one by one.
    accepted = answers.get(("verify", "old", "ok"), 0) + answers.get(("verify", "new", "ok"), 0)
    assert 0 < len(one_by_one) < accepted, (len(one_by_one), answers)
    assert answers.get(("verify", "new", "wrong"), 0) + answers.get(("verify", "old", "wrong"), 0) > 0, answers
    assert not [k for k in answers if k[2] == "error"], answers
    assert not not_linearizable and not chain_not_serial, (
        f"no serial order in {len(not_linearizable)}/{ROUNDS} rounds:\n"
        + "\n".join(not_linearizable)
        + f"\nthe audit chain's order is not a serial history in {len(chain_not_serial)}/{ROUNDS} rounds:\n"
        + "\n".join(chain_not_serial)
    )
