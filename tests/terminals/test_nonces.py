"""Nonces (rule CH-3): single use, exact under concurrency, purged once their timestamp is stale."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from sscard.audit import Actor
from sscard.security import get_security_module
from sscard.terminal.client import generate_enrollment_key
from sscard.terminal.envelope import open_envelope, public_key_bytes
from sscard.terminal.protocol import WINDOW_SECONDS, sign_request
from sscard.terminals.auth import authenticate_request, consume_nonce, purge_expired_nonces
from sscard.terminals.errors import Replay
from sscard.terminals.models import InstitutionType, TerminalNonce
from sscard.terminals.service import register_terminal
from tests.staff.factories import ensure_region
from tests.terminals.conftest import REGION, assert_chain_ok, refusals

THREADS = 16


def test_nonce_is_single_use_per_terminal(uow) -> None:
    now = int(time.time())
    assert consume_nonce(uow, terminal_id="T1", nonce="a" * 32, timestamp=now)
    assert not consume_nonce(uow, terminal_id="T1", nonce="a" * 32, timestamp=now)
    assert consume_nonce(uow, terminal_id="T2", nonce="a" * 32, timestamp=now)  # nonces are per terminal


def test_purge_removes_only_nonces_outside_the_window(uow) -> None:
    now = int(time.time())
    consume_nonce(uow, terminal_id="T1", nonce="b" * 32, timestamp=now - WINDOW_SECONDS - 5)
    consume_nonce(uow, terminal_id="T1", nonce="c" * 32, timestamp=now - WINDOW_SECONDS + 5)
    assert purge_expired_nonces(uow, now=now) >= 1
    left = set(uow.session.scalars(select(TerminalNonce.nonce).where(TerminalNonce.terminal_id == "T1")))
    assert left == {"c" * 32}


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
