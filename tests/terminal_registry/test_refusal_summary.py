"""Issue 17 item 10: refused terminal traffic is limited per source and summarised in the audit log.

200 unauthenticated requests used to write 200 audit rows in 1.3 s (anybody could fill the log and
hold its stream heads). Now a source's refusals are counted in a window: the first of a window is
audited (with the previous window's total), the start of a wait is audited with the count, and past
the limit the source is answered 429 ``TERMINAL_THROTTLED`` with nothing written. Refusals of a
registered, active terminal (bad MAC, replay) stay audited one by one (CH-3, CH-4, KEY-9).
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.config import reset_settings_cache
from sscard.terminal import TerminalClient
from sscard.terminal.protocol import H_MAC
from tests.credentials.query_password.conftest import fresh_address
from tests.terminal_registry.conftest import BASE

LIMIT = 20


@pytest.fixture
def limited(db_env, monkeypatch):
    monkeypatch.setenv("SSCARD_TERMINAL_REFUSALS_PER_WINDOW", str(LIMIT))
    monkeypatch.setenv("SSCARD_TERMINAL_REFUSAL_WINDOW_SECONDS", "60")
    reset_settings_cache()
    yield
    reset_settings_cache()


def _client(address: str) -> TestClient:
    from sscard.api.app import create_app

    return TestClient(create_app(), raise_server_exceptions=False, client=(address, 50000))


def _refusal_entries(after: int) -> list[AuditEntry]:
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > after, AuditEntry.action == "terminal.request.refused")
                .order_by(AuditEntry.id)
            )
        )


def _last_id() -> int:
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        return uow.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))


# rule CH-3 / CH-4: unauthenticated refusals from one source: limited (then 429 with Retry-After, nothing
# written) and summarised (one entry for the first of the window, one for the start of the wait, with
# the count; never the address); another source is unaffected, and so is a valid terminal at that source
def test_unauthenticated_refusals_are_limited_and_summarised(limited, enroll_terminal) -> None:
    address = fresh_address()
    before = _last_id()
    with _client(address) as client:
        answers = [client.post("/api/v1/terminal/echo", json={"message": str(i)}) for i in range(LIMIT + 10)]
        statuses = [r.status_code for r in answers]
        assert statuses == [401] * LIMIT + [429] * 10
        assert {r.json()["code"] for r in answers[LIMIT:]} == {"TERMINAL_THROTTLED"}
        assert all(int(r.headers["Retry-After"]) >= 1 for r in answers[LIMIT:])
        with _client(fresh_address()) as other:
            assert other.post("/api/v1/terminal/echo", json={"message": "x"}).status_code == 401
    entries = _refusal_entries(before)
    assert [e.result for e in entries] == ["TERMINAL_UNKNOWN", "throttled", "TERMINAL_UNKNOWN"]  # 30 + 1 requests
    throttled = json.loads(entries[1].details)
    assert throttled["refusals_in_window"] == LIMIT + 1 and throttled["retry_after"] == 60
    assert all(address not in e.details for e in entries)
    # A registered terminal at the throttled address still works: only refusals meet the limit.
    with _client(address) as client:
        profile = enroll_terminal()
        assert TerminalClient(BASE, profile, http=client).echo()["ok"] is True


# rule CH-3 / KEY-9: a bad MAC for a registered, active terminal is audited one by one (evidence about
# that terminal's key), within the same per-source bound
def test_refusals_of_a_registered_terminal_stay_audited_individually(limited, enroll_terminal) -> None:
    profile = enroll_terminal()
    before = _last_id()
    with _client(fresh_address()) as client:
        terminal = TerminalClient(BASE, profile, http=client)
        for _ in range(3):
            request = terminal.build_request("POST", "/terminal/echo", json_body={"message": "x"})
            request.headers[H_MAC] = "00" * 16
            assert client.send(request).json()["code"] == "MAC_INVALID"
        ghost = dataclasses.replace(profile, terminal_id="T440304EEEEEEEE")
        for _ in range(3):
            request = TerminalClient(BASE, ghost, http=client).build_request("POST", "/terminal/echo",
                                                                             json_body={"message": "x"})  # fmt: skip
            assert client.send(request).json()["code"] == "TERMINAL_UNKNOWN"
    entries = _refusal_entries(before)
    assert [(e.subject, e.result) for e in entries] == [(f"terminal:{profile.terminal_id}", "MAC_INVALID")] * 3


# rule CH-4: when a source's window is over, its next refusal is audited with the previous window's total
def test_the_next_window_carries_the_previous_total(limited) -> None:
    from sscard.api.terminal import authenticate_request
    from sscard.terminal_registry.errors import TerminalUnknown

    source, now = fresh_address(), time.time()
    before = _last_id()
    for i in range(5):
        with pytest.raises(TerminalUnknown):
            authenticate_request(method="POST", target="/api/v1/terminal/echo", headers={}, body=b"", source=source,
                                 now=now + i)  # fmt: skip
    with pytest.raises(TerminalUnknown):
        authenticate_request(method="POST", target="/api/v1/terminal/echo", headers={}, body=b"", source=source,
                             now=now + 120)  # fmt: skip
    entries = _refusal_entries(before)
    assert len(entries) == 2
    assert "previous_window_refusals" not in json.loads(entries[0].details)
    assert json.loads(entries[1].details)["previous_window_refusals"] == 5
