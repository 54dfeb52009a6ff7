"""The database goes away under a running server, on a private PostgreSQL cluster this test starts
itself (never the shared one): stopped, then frozen with SIGSTOP. Meanwhile every request is answered
503 problem+json within a bounded time (nothing hangs, nothing is answered 2xx); afterwards the same
server process serves again by itself, and the PIN counters are exact: what was refused during the
outage counted nothing."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from sscard.terminal.client import TerminalClient, TerminalError
from tests.reliability import journeys
from tests.reliability.servers import PrivatePostgres, Server, private_postgres, wait_until

# A short bound for the test; production defaults are 3 s to connect and 5 s per statement.
TIMEOUTS = {"SSCARD_DATABASE_CONNECT_TIMEOUT_S": "1", "SSCARD_DATABASE_STATEMENT_TIMEOUT_S": "1"}
# connect 1 s, or statement 1 s + 2 s grace, twice at most (a PIN batch, then its one-request path)
ANSWER_WITHIN_S = 10.0
WRONG_PIN = "111222"


@pytest.fixture
def cluster_env(monkeypatch) -> Iterator[tuple[PrivatePostgres, dict[str, str]]]:
    from sscard.audit.service import ensure_streams
    from sscard.config import reset_settings_cache
    from sscard.db import migrate
    from sscard.db.session import reset_engine_cache, unit_of_work

    with private_postgres() as cluster:
        migrate.upgrade(cluster.url, "")
        monkeypatch.setenv("SSCARD_DATABASE_URL", cluster.url)
        monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", "")
        reset_settings_cache()
        reset_engine_cache()
        with unit_of_work() as uow:
            ensure_streams(uow)
        try:
            yield cluster, {**os.environ, **TIMEOUTS}
        finally:
            reset_engine_cache()
            monkeypatch.undo()
            reset_settings_cache()


def _timed(call) -> tuple[float, object]:
    started = time.monotonic()
    try:
        outcome: object = call()
    except (TerminalError, httpx.HTTPError) as exc:
        outcome = exc
    return time.monotonic() - started, outcome


def _assert_unavailable(elapsed: float, outcome: object, what: str) -> None:
    assert elapsed < ANSWER_WITHIN_S, f"{what} took {elapsed:.1f} s"
    if isinstance(outcome, TerminalError):
        assert outcome.status == 503 and outcome.code == "DATABASE_UNAVAILABLE", (what, outcome, outcome.problem)
        return
    assert isinstance(outcome, httpx.Response), (what, outcome)
    assert outcome.status_code == 503, (what, outcome.status_code, outcome.text)
    assert outcome.headers["content-type"].startswith("application/problem+json")
    assert outcome.json()["code"] == "DATABASE_UNAVAILABLE"


def _during_outage(server: Server, terminal: TerminalClient, fx: journeys.Fixture, card_no: str) -> None:
    clerk = {"Authorization": f"Bearer {fx.clerk_token}"}
    wrong = {"card_no": card_no, "pin_block": terminal.pin_block(card_no, WRONG_PIN)}
    calls = {
        "health": lambda: httpx.get(f"{server.url}/api/v1/health", timeout=30),
        "terminal PIN verify (wrong PIN)": lambda: terminal.request("POST", "/terminal/pin/verify", json_body=wrong),
        "counter activation": lambda: httpx.post(
            f"{server.url}/api/v1/counter/cards/{fx.issued_cards[0]}/activate", headers=clerk, timeout=30
        ),
    }
    for what, call in calls.items():
        _assert_unavailable(*_timed(call), what)


def _tries_left_after_wrong_pin(terminal: TerminalClient, card_no: str) -> int:
    body = {"card_no": card_no, "pin_block": terminal.pin_block(card_no, WRONG_PIN)}
    with pytest.raises(TerminalError) as refused:
        terminal.request("POST", "/terminal/pin/verify", json_body=body)
    assert refused.value.code == "PIN_WRONG", refused.value.problem
    return refused.value.problem["tries_left"]


def _serves_again(server: Server) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 60, "the server to serve again after the database came back")


# rules PIN-5 CH-3 (contract: errors are problem+json; a 2xx answer means committed)
def test_stopped_and_frozen_database_answers_503_in_bounded_time_and_recovers(cluster_env) -> None:
    from sscard.api.app import create_app

    cluster, env = cluster_env
    with TestClient(create_app(), raise_server_exceptions=False) as app_client:
        fx = journeys.prepare(app_client, pin_cards=1, issued_cards=1)
    card_no = fx.pin_cards[0]
    with Server(env).start() as server, TerminalClient(server.url, fx.terminal, timeout=30) as terminal:
        body = {
            "card_no": card_no,
            "old_pin_block": terminal.pin_block(card_no, journeys.INITIAL_PIN),
            "new_pin_block": terminal.pin_block(card_no, journeys.GOOD_PINS[0]),
        }
        terminal.request("POST", "/terminal/pin/change", json_body=body)  # PIN-2: enabled from now on
        assert _tries_left_after_wrong_pin(terminal, card_no) == 5

        cluster.stop("fast")
        _during_outage(server, terminal, fx, card_no)
        cluster.start()
        _serves_again(server)
        assert _tries_left_after_wrong_pin(terminal, card_no) == 4, "a refused request counted a try"

        cluster.signal_all(signal.SIGSTOP)
        try:
            _during_outage(server, terminal, fx, card_no)
        finally:
            cluster.signal_all(signal.SIGCONT)
        _serves_again(server)
        assert _tries_left_after_wrong_pin(terminal, card_no) == 3, "a refused request counted a try"
        ok = terminal.request(
            "POST",
            "/terminal/pin/verify",
            json_body={"card_no": card_no, "pin_block": terminal.pin_block(card_no, journeys.GOOD_PINS[0])},
        )
        assert ok["tries_left"] == 6  # PIN-5: a correct PIN resets the count
        assert "Traceback" not in server.output()
