"""Terminal PIN verification in shared transactions (credentials/pin/batch_verify.py, db/group_commit.py).

The batch decides only the common case (right PIN, enabled, no failure on record) and hands
everything else back; these tests hold it to that, and to the nonce and audit rules it shares with
the one-request path (CH-3, CH-4, PIN-5).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import func, select, text

from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.credentials.pin import batch_verify
from sscard.credentials.pin.batch_verify import Authenticated, PinVerifyAttempt, Verified, verify_batch
from sscard.credentials.pin.models import CardPin
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import unit_of_work
from sscard.terminal.client import TerminalError
from sscard.terminal_registry.models import TerminalNonce
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number

REGION = "130102"
PIN = "802461"


def _new_card(region: str = REGION) -> tuple[str, int]:
    with unit_of_work() as uow:
        card = make_card(uow, id_number=new_id_number(region=region))
        return card.card_no, card.id


def _enabled_card(t, region: str = REGION) -> tuple[str, int]:
    card_no, card_id = _new_card(region)
    body = {"card_no": card_no, "old_pin_block": t.pin_block(card_no, "123456"),
            "new_pin_block": t.pin_block(card_no, PIN)}  # fmt: skip
    t.request("POST", "/terminal/pin/change", json_body=body)
    return card_no, card_id


def _attempt(t, card_no: str, pin: str | None) -> PinVerifyAttempt:
    block = t.pin_block(card_no, pin) if pin else None
    request = t.build_request("POST", "/terminal/pin/verify", json_body={"card_no": card_no, "pin_block": block})
    return PinVerifyAttempt(method="POST", target=request.url.raw_path.decode(), headers=request.headers,
                            body=request.content, card_no=card_no, pin_block=bytes.fromhex(block) if block else None,
                            received_at=time.time())  # fmt: skip


def _audited(card_id: int, result: str = "ok") -> int:
    with unit_of_work() as uow:
        return int(uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "pin.verify", AuditEntry.result == result,
                AuditEntry.details.contains(f'"card_id":{card_id},'),
            )
        ) or 0)  # fmt: skip


def _nonces(terminal_id: str) -> int:
    with unit_of_work() as uow:
        statement = select(func.count()).select_from(TerminalNonce).where(TerminalNonce.terminal_id == terminal_id)
        return int(uow.session.scalar(statement) or 0)


def _failures(card_id: int) -> int:
    with unit_of_work() as uow:
        return int(uow.session.scalar(select(CardPin.failures).where(CardPin.card_id == card_id)) or 0)


# rules PIN-2 PIN-5 CH-3 CH-4
def test_a_batch_decides_the_common_case_and_hands_back_everything_else(terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    tid = pharmacy.profile.terminal_id
    plain, plain_id = _enabled_card(pharmacy)
    other, other_id = _enabled_card(pharmacy)
    initial, _ = _new_card()
    right = _attempt(pharmacy, plain, PIN)
    forged = _attempt(pharmacy, other, PIN)
    forged = forged._replace(body=forged.body + b" ")
    before = _nonces(tid)

    with unit_of_work() as uow:
        batch = [right, right, _attempt(pharmacy, other, "111357"), _attempt(pharmacy, initial, None), forged]
        outcomes = verify_batch(uow, batch)

    assert isinstance(outcomes[0], Verified)
    assert outcomes[0].check.pin_enabled is True and outcomes[0].check.tries_left == 6
    assert outcomes[1] is None  # the same request twice: the second is the one-request path's REPLAY
    assert isinstance(outcomes[2], Authenticated)  # a wrong PIN is counted by verify_card_pin, not here
    assert isinstance(outcomes[3], Authenticated)  # PIN not enabled: the campaign rules decide there
    assert outcomes[4] is None  # MAC does not match: refused (and audited) by the one-request path
    assert _nonces(tid) == before + 3  # right, wrong, no PIN: spent; the replay and the forgery: not
    assert _audited(plain_id) == 1
    assert _failures(other_id) == 0 and _audited(other_id, "wrong_pin") == 0
    with unit_of_work() as uow:
        assert verify_chain(uow).ok


# rule PIN-11: a block that does not decipher to a format-4 PIN fails alone, not its batch
def test_a_malformed_pin_block_is_handed_back_without_failing_the_batch(client, terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy)
    body = {"card_no": card_no, "pin_block": "00" * 16}  # deciphers to no format-4 PIN field

    def malformed():
        return pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body)

    request = malformed()
    bad = PinVerifyAttempt(method="POST", target=request.url.raw_path.decode(), headers=request.headers,
                           body=request.content, card_no=card_no, pin_block=bytes(16),
                           received_at=time.time())  # fmt: skip
    with unit_of_work() as uow:
        outcomes = verify_batch(uow, [bad, _attempt(pharmacy, card_no, PIN)])
    assert isinstance(outcomes[0], Authenticated) and isinstance(outcomes[1], Verified)
    answer = client.send(malformed())  # a fresh signature: the batch spent the first one's nonce
    assert answer.status_code == 422 and answer.json()["code"] == "PIN_BLOCK_MALFORMED"
    assert _audited(card_id) == 1


# rules CH-3 CH-4: the one-request path refuses what the batch handed back
def test_a_replayed_verify_request_is_refused(client, terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy)
    body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
    request = pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body)
    decided = batch_verify.pin_verifier().items
    assert client.send(request).json()["ok"] is True
    assert batch_verify.pin_verifier().items == decided + 1  # it went through a batch
    replay = client.send(request)
    assert replay.status_code == 401 and replay.json()["code"] == "REPLAY"
    assert _audited(card_id) == 1


# rules PIN-5: a failure on record or a lock takes the counting path
def test_failures_on_record_and_locks_are_decided_by_the_full_rules(terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy)

    def verify(pin: str) -> dict:
        body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, pin)}
        return pharmacy.request("POST", "/terminal/pin/verify", json_body=body)

    with pytest.raises(TerminalError) as wrong:
        verify("111357")
    assert wrong.value.code == "PIN_WRONG" and wrong.value.problem["tries_left"] == 5
    assert verify(PIN)["ok"] and _failures(card_id) == 0  # the right PIN reset the count
    for tries_left in range(5, -1, -1):
        with pytest.raises(TerminalError) as wrong:
            verify("111357")
        assert wrong.value.problem["tries_left"] == tries_left
    with pytest.raises(TerminalError) as locked:
        verify(PIN)
    assert locked.value.code == "PIN_LOCKED"


# CH-4: a batch that fails as a whole loses nothing: every request goes the one-request way
def test_a_failed_batch_falls_back_to_one_request_at_a_time(terminal, monkeypatch) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy)
    before = _nonces(pharmacy.profile.terminal_id)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away mid-batch")

    # Used by the batch on either driver (SQLAlchemy on SQLite, psycopg's pipeline on PostgreSQL),
    # after the nonce was spent: the rollback must take the nonce back.
    monkeypatch.setattr(batch_verify, "card_event", broken)
    # The one-request path, watched for this card: the process-wide count of batched items is not
    # evidence here (another test of this process may still have a batch in flight).
    from sscard.api import terminal_pin

    single: list[str] = []
    one_request = terminal_pin.verify_card_pin

    def watched(uow, **kwargs):
        single.append(kwargs["card_no"])
        return one_request(uow, **kwargs)

    monkeypatch.setattr(terminal_pin, "verify_card_pin", watched)
    body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
    assert pharmacy.request("POST", "/terminal/pin/verify", json_body=body)["ok"] is True
    assert single == [card_no]  # the one-request path decided it, once
    assert _audited(card_id) == 1
    assert _nonces(pharmacy.profile.terminal_id) == before + 1  # the batch's nonce was rolled back


# rule PIN-5: wrong PINs that lock the card while a batch decides its right PIN are recorded after it
def test_a_lock_racing_a_batch_is_recorded_after_the_pin_the_batch_accepted(db, terminal, monkeypatch) -> None:
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")
    from sscard.audit.service import stream_for
    from sscard.config import get_settings
    from sscard.credentials.pin.errors import PinLocked, PinWrong
    from sscard.credentials.pin.service import verify_card_pin
    from sscard.terminal_registry.auth import AuthenticatedTerminal
    from sscard.terminal_registry.models import InstitutionType

    pharmacy = terminal("pharmacy", REGION)
    p = pharmacy.profile
    ref = AuthenticatedTerminal(p.terminal_id, p.institution, InstitutionType.PHARMACY, p.region_code, p.key_version,
                                p.suite)  # fmt: skip
    card_no, card_id = _enabled_card(pharmacy)
    wrong_block = bytes.fromhex(pharmacy.pin_block(card_no, "111357"))
    answers: list[str] = []

    def six_wrong_pins() -> None:
        for _ in range(6):
            with unit_of_work() as uow:  # each try commits, as the route does
                try:
                    verify_card_pin(uow, card_no=card_no, pin_block=wrong_block, terminal=ref, actor=ref.actor())
                except (PinWrong, PinLocked) as exc:
                    answers.append(type(exc).__name__)

    racer = threading.Thread(target=six_wrong_pins)
    real_check = batch_verify.pin_block_matches

    def check_while_the_card_is_locked(card, attempt, terminal, check):
        # After the batch read the card: the wrong PINs may lock it now. They can only finish after
        # the batch commits (they wait for the card's audit head), so waiting for them here times out.
        racer.start()
        racer.join(timeout=1.0)
        return real_check(card, attempt, terminal, check)

    monkeypatch.setattr(batch_verify, "pin_block_matches", check_while_the_card_is_locked)
    with unit_of_work() as uow:
        outcomes = verify_batch(uow, [_attempt(pharmacy, card_no, PIN)])
    racer.join(timeout=30)
    assert isinstance(outcomes[0], Verified)
    assert answers == ["PinWrong"] * 6  # all six counted: the sixth locked the card
    stream = stream_for(f"card:{card_no}", get_settings().audit_streams)
    with unit_of_work() as uow:
        actions = [(a, r) for a, r in uow.session.execute(
            select(AuditEntry.action, AuditEntry.result)
            .where(AuditEntry.stream == stream, AuditEntry.details.contains(f'"card_id":{card_id},'),
                   AuditEntry.action.in_(["pin.verify", "pin.lock"]))
            .order_by(AuditEntry.seq)
        )]  # fmt: skip
    # The chain shows the order decided: the accepted PIN, then the six wrong ones and the lock.
    assert actions.index(("pin.verify", "ok")) < actions.index(("pin.lock", "ok")), actions


def _in_the_database_for(uow, seconds: float) -> None:
    """Hold the batch in a statement (PostgreSQL), or in its thread (SQLite has no sleep function)."""
    if uow.session.get_bind().dialect.name == "postgresql":
        uow.session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    else:
        time.sleep(seconds)


def test_requests_that_arrive_during_a_batch_share_the_next_one(db_env) -> None:
    sizes: list[int] = []
    threads: set[str] = set()
    first_batch_running = threading.Event()

    def batch(uow, items: list[int]) -> list[int]:
        sizes.append(len(items))
        threads.add(threading.current_thread().name)
        if len(sizes) == 1:
            first_batch_running.set()
            _in_the_database_for(uow, 0.2)  # the others arrive meanwhile
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter("test", batch, on_failure=lambda i: -i)

    async def go() -> list[int]:
        first = asyncio.create_task(committer.submit(0))
        await asyncio.to_thread(first_batch_running.wait, 5)
        rest = [asyncio.create_task(committer.submit(i)) for i in range(1, 10)]
        outcomes = [await first, *[await t for t in rest]]
        await committer.close()
        return outcomes

    assert asyncio.run(go()) == [i * 10 for i in range(10)]
    assert sizes == [1, 9]
    # PostgreSQL: the batches run in the event loop (asyncio driver); SQLite: in a thread of their own.
    assert threads == ({"MainThread"} if db_env.backend == "postgresql" else {"test-0"})


def test_under_load_a_batch_lingers_for_as_many_as_the_last_one_and_never_at_low_load(db_env) -> None:
    if db_env.backend != "postgresql":
        pytest.skip("batches linger in the event loop, where they run on PostgreSQL")
    sizes: list[int] = []

    def batch(uow, items: list[int]) -> list[int]:
        sizes.append(len(items))
        return items

    async def go() -> None:
        loop = asyncio.get_running_loop()
        quiet: GroupCommitter[int, int] = GroupCommitter("test-quiet", batch, on_failure=lambda i: -i, linger=5.0)
        started = loop.time()
        assert await quiet.submit(1) == 1 and await quiet.submit(2) == 2
        assert loop.time() - started < 2.5  # a lone request never waits for company
        await quiet.close()

        busy: GroupCommitter[int, int] = GroupCommitter("test-busy", batch, on_failure=lambda i: -i, linger=5.0)
        assert await asyncio.gather(*(busy.submit(i) for i in range(5))) == list(range(5))  # load: a batch of 5
        started = loop.time()
        waiting = [asyncio.ensure_future(busy.submit(i)) for i in range(5, 8)]
        await asyncio.sleep(0.3)
        assert not any(w.done() for w in waiting)  # the next batch waits for as many as the last one had
        waiting += [asyncio.ensure_future(busy.submit(i)) for i in (8, 9)]
        assert await asyncio.gather(*waiting) == list(range(5, 10))
        assert loop.time() - started < 2.5  # the fifth request ended the wait, not the timer
        await busy.close()

    asyncio.run(go())
    assert sizes == [1, 1, 5, 5]


def test_a_failed_batch_is_rolled_back_and_every_item_gets_the_fallback(db_env) -> None:
    from datetime import UTC, datetime

    def batch(uow, items: list[int]) -> list[int]:
        uow.session.add(TerminalNonce(terminal_id="TROLLBACK", nonce="n" * 32, expires_at=datetime.now(UTC)))
        uow.flush()
        raise RuntimeError("deadlock detected")

    committer: GroupCommitter[int, int] = GroupCommitter("test-fail", batch, on_failure=lambda i: -i)

    async def go() -> list[int]:
        outcomes = list(await asyncio.gather(*(committer.submit(i) for i in range(1, 4))))
        await committer.close()
        return outcomes

    assert sorted(asyncio.run(go())) == [-3, -2, -1]
    assert _nonces("TROLLBACK") == 0


# A batch that cannot reach the database leaves no request hanging: each takes the one-request path
def test_a_batch_without_a_connection_gives_every_item_its_fallback(db_env, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from sscard.db import group_commit

    def unreachable(self):
        raise OperationalError("connect", {}, Exception("connection refused"))

    async def unreachable_async(self):
        unreachable(self)

    monkeypatch.setattr(group_commit._InThreads, "_connection", unreachable)
    monkeypatch.setattr(group_commit._InLoop, "_connection", unreachable_async)
    committer: GroupCommitter[int, int] = GroupCommitter("test-down", lambda uow, items: items, on_failure=lambda i: -i)

    async def go() -> list[int]:
        first = await asyncio.wait_for(asyncio.gather(*(committer.submit(i) for i in (1, 2))), 10)
        again = await asyncio.wait_for(committer.submit(3), 10)  # the runner lives on after the failure
        await committer.close()
        return [*first, again]

    assert asyncio.run(go()) == [-1, -2, -3]
