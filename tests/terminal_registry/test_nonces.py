"""Nonces (rule CH-3): single use, exact under concurrency, purged once their timestamp is stale."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from sscard.api.terminal import authenticate_request
from sscard.audit import Actor
from sscard.security_module import get_security_module
from sscard.terminal.client import generate_enrollment_key
from sscard.terminal.envelope import open_envelope, public_key_bytes
from sscard.terminal.protocol import WINDOW_SECONDS, sign_request
from sscard.terminal_registry.auth import consume_nonce, purge_expired_nonces
from sscard.terminal_registry.errors import Replay
from sscard.terminal_registry.models import InstitutionType, TerminalNonce
from sscard.terminal_registry.service import register_terminal
from tests.staff.factories import ensure_region
from tests.terminal_registry.conftest import REGION, assert_chain_ok, refusals

# Eight copies race for one nonce: enough for real contention. Each losing copy audits its refusal on the
# terminal's stream, one after the other, so the last waits for all the others' commits; with sixteen, a
# host at load 20 passed the database's 7 s answer deadline (CI, 2026-12-06).
THREADS = 8


def test_nonce_is_single_use_per_terminal(uow) -> None:
    now = int(time.time())
    assert consume_nonce(uow, terminal_id="T1", nonce="a" * 32, timestamp=now)
    assert not consume_nonce(uow, terminal_id="T1", nonce="a" * 32, timestamp=now)
    assert consume_nonce(uow, terminal_id="T2", nonce="a" * 32, timestamp=now)  # nonces are per terminal
    # rule CH-3 (issue 26): a nonce is kept until its request's timestamp leaves the window, on either database
    # (PostgreSQL's statement computes the time from the rows it is sent)
    kept = uow.session.scalar(
        select(TerminalNonce.expires_at).where(TerminalNonce.terminal_id == "T1", TerminalNonce.nonce == "a" * 32)
    )
    assert kept.replace(tzinfo=kept.tzinfo or UTC) == datetime.fromtimestamp(now + WINDOW_SECONDS, UTC)


def test_purge_removes_only_nonces_outside_the_window(uow) -> None:
    now = int(time.time())
    consume_nonce(uow, terminal_id="T1", nonce="b" * 32, timestamp=now - WINDOW_SECONDS - 5)
    consume_nonce(uow, terminal_id="T1", nonce="c" * 32, timestamp=now - WINDOW_SECONDS + 5)
    assert purge_expired_nonces(uow, now=now) >= 1
    left = set(uow.session.scalars(select(TerminalNonce.nonce).where(TerminalNonce.terminal_id == "T1")))
    assert left == {"c" * 32}


# rule CH-3 (issue 26, surviving mutants): the purge goes by the clock it is given, or by the server's own
def test_purge_goes_by_the_clock_it_is_given(uow) -> None:
    now = int(time.time())
    terminal = f"T-{secrets.token_hex(4)}"
    consume_nonce(uow, terminal_id=terminal, nonce="d" * 32, timestamp=now - WINDOW_SECONDS - 5)
    # A clock ten days back: no nonce of this run has expired by then, so nothing goes, not even ours.
    assert purge_expired_nonces(uow, now=now - 10 * 86400) == 0
    assert uow.session.scalar(select(func.count()).where(TerminalNonce.terminal_id == terminal)) == 1
    assert purge_expired_nonces(uow) >= 1  # the server's clock: ours is stale
    assert uow.session.scalar(select(func.count()).where(TerminalNonce.terminal_id == terminal)) == 0


# rule CH-3 (issue 26, surviving mutants): every PURGE_EVERY-th accepted request of a process purges,
# with the request's clock
def test_every_nth_request_purges_by_its_clock(uow, monkeypatch) -> None:
    import itertools

    from sscard.terminal_registry import auth

    monkeypatch.setattr(auth, "PURGE_EVERY", 3)
    monkeypatch.setattr(auth, "_requests", itertools.count(1))
    assert [auth.purge_is_due(1) for _ in range(6)] == [False, False, True, False, False, True]
    assert auth.purge_is_due(2) is False and auth.purge_is_due(2) is True  # requests 7-8, then 9-10

    now = int(time.time())
    terminal = f"T-{secrets.token_hex(4)}"
    consume_nonce(uow, terminal_id=terminal, nonce="e" * 32, timestamp=now - WINDOW_SECONDS - 5)
    mine = select(func.count()).where(TerminalNonce.terminal_id == terminal)
    monkeypatch.setattr(auth, "PURGE_EVERY", 1)  # every request is due from here on
    auth.purge_when_due(uow, requests=1, now=now - 10 * 86400)  # by a clock ten days back: ours stays
    assert uow.session.scalar(mine) == 1
    auth.purge_when_due(uow, requests=1, now=now)  # by the request's clock: ours is stale
    assert uow.session.scalar(mine) == 0


def _terminal_with_key() -> tuple[str, int, bytes]:
    """A committed terminal and its key, loaded the way a terminal gets it (sealed envelope)."""
    from sscard.db.session import unit_of_work

    key_pair = generate_enrollment_key()
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        terminal = register_terminal(
            uow, institution_name="并发药房", institution_type=InstitutionType.PHARMACY, region_code=REGION,
            public_key=public_key_bytes(key_pair), suite=get_security_module().suite, actor=Actor.system(),
        )  # fmt: skip
        tid, version = terminal.terminal_id, terminal.key_version
    envelope = get_security_module().export_terminal_key(
        terminal_id=tid, region_code=REGION, key_version=version, recipient_public_key=public_key_bytes(key_pair)
    )
    return tid, version, open_envelope(key_pair, envelope, tid.encode())[:16]  # the MAC key (MAC ‖ PIN)


def test_replaying_one_request_from_many_threads_is_accepted_once(db_env) -> None:
    # rule CH-3 — N concurrent copies of one signed request: exactly one is accepted (real PostgreSQL
    # row locks on the nonce's primary key; SQLite serialises writers), the rest are REPLAY, audited.
    tid, version, key = _terminal_with_key()
    body = b'{"message":"race"}'
    target = "/api/v1/terminal/echo"
    headers = sign_request(key=key, suite=get_security_module().suite, method="POST", target=target,
                           terminal_id=tid, key_version=version, body=body).as_dict()  # fmt: skip
    barrier = threading.Barrier(THREADS)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            authenticate_request(method="POST", target=target, headers=headers, body=body)
        except Replay:
            return "REPLAY"
        return "OK"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))
    assert sorted(outcomes) == ["OK"] + ["REPLAY"] * (THREADS - 1)
    assert [e.result for e in refusals(tid)] == ["REPLAY"] * (THREADS - 1)

    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        stored = uow.session.scalar(
            select(func.count()).select_from(TerminalNonce).where(TerminalNonce.terminal_id == tid)
        )
    assert stored == 1
    assert_chain_ok()


# rule CH-3 (issue 26, surviving mutants): many nonces spent in one statement (the PIN verify batch) are each
# recorded, and only the ones not spent before are reported new
def test_many_nonces_in_one_statement_are_each_recorded(uow) -> None:
    from sscard.terminal_registry.auth import NonceUse, consume_nonces

    now = int(time.time())
    spent, fresh = NonceUse("T7", "d" * 32, now), [NonceUse("T7", "e" * 32, now), NonceUse("T8", "d" * 32, now)]
    assert consume_nonces(uow, [spent]) == {("T7", "d" * 32)}
    assert consume_nonces(uow, [spent, *fresh]) == {("T7", "e" * 32), ("T8", "d" * 32)}
    assert consume_nonces(uow, fresh) == set()  # each of the batch was recorded
    assert consume_nonces(uow, [NonceUse("T7", "f" * 32, now), NonceUse("T9", "f" * 32, now)]) == {
        ("T7", "f" * 32),
        ("T9", "f" * 32),
    }
    assert consume_nonces(uow, []) == set()
