"""A 2xx answer means committed (contract, "HTTP"): no route may start its answer before its
transaction has committed, and a commit that fails answers an error, never a success.

Three proofs, on SQLite and PostgreSQL:
- the walk: every route of the app, every yield dependency in its tree, must end before the answer
  (FastAPI's ``scope="function"``), so a new route cannot slip back to the after-the-answer default;
- the journey: real state-changing requests, with the order of every COMMIT and the answer's first
  byte recorded by an observer outside the product;
- the failure: a commit that raises answers 503 problem+json and keeps nothing; a route wired the
  old way is stopped by ``AnswerAfterCommitGuard`` before any byte leaves, and keeps nothing.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sscard.db.session import UnitOfWork, unit_of_work
from sscard.staff.roles import Role
from tests.people.factories import new_id_number
from tests.reliability.app_routes import operations

COUNTER = "/api/v1/counter"


def _dependants(dependant) -> Iterator:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _ends_after_the_answer(dependant) -> bool:
    """A yield dependency whose exit FastAPI runs after the answer was sent (scope "request")."""
    call = dependant.call
    yields = inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call)
    return yields and dependant.scope != "function"


# rule CH-4 (contract: a 2xx answer means committed)
def test_every_route_commits_before_it_answers() -> None:
    from sscard.api.app import create_app
    from sscard.api.deps import get_uow

    ops = list(operations(create_app()))
    late = sorted(f"{m} {path}" for m, path, r in ops if any(map(_ends_after_the_answer, _dependants(r.dependant))))
    assert not late, f"these operations would answer before their transaction ends: {late}"
    # The walk saw the transactions it guards (an empty walk would pass anything).
    transactional = [(m, r) for m, _, r in ops if any(d.call is get_uow for d in _dependants(r.dependant))]
    writes = [m for m, _ in transactional if m in {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(transactional) >= 100 and len(writes) >= 50, (len(transactional), len(writes))


class _Observer:
    """Records, outside the product, each COMMIT and the moment each answer starts."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def note(self, kind: str, what: str) -> None:
        with self._lock:
            self.events.append((kind, what))

    def wrap(self, app):
        async def observed(scope, receive, send):
            async def observed_send(message):
                if message["type"] == "http.response.start":
                    self.note("answer", f"{scope['method']} {scope['path']} {message['status']}")
                await send(message)

            if scope["type"] == "http":
                self.note("request", f"{scope['method']} {scope['path']}")
            await app(scope, receive, observed_send)

        return observed


@pytest.fixture
def observed(db_env, monkeypatch) -> Iterator[tuple[TestClient, _Observer]]:
    from sscard.api.app import create_app

    observer = _Observer()
    real_commit = UnitOfWork.commit

    def commit(self: UnitOfWork) -> None:
        real_commit(self)
        observer.note("commit", "")

    monkeypatch.setattr(UnitOfWork, "commit", commit)
    with TestClient(observer.wrap(create_app()), raise_server_exceptions=False) as c:
        yield c, observer


def _requests_with_their_events(events: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    requests: list[list[tuple[str, str]]] = []
    for event in events:
        if event[0] == "request":
            requests.append([])
        elif requests:
            requests[-1].append(event)
    return requests


# rule CARD-1 / PIN-6 / QPW-2 (contract: a 2xx answer means committed)
def test_state_changes_commit_before_their_answer_starts(observed, staff_headers) -> None:
    client, observer = observed
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    supervisor = staff_headers(Role.COUNTER_SUPERVISOR, "110000")
    operator = staff_headers(Role.HOTLINE_OPERATOR, "110000")
    observer.events.clear()
    number = new_id_number(region="110105")
    person = client.post(f"{COUNTER}/persons", json={"id_number": number, "name": "王五"}, headers=clerk)
    assert person.status_code == 201, person.text
    card = client.post(f"{COUNTER}/cards", json={"person_id": person.json()["person_id"]}, headers=clerk)
    assert card.status_code == 201, card.text
    card_no = card.json()["card_no"]
    assert client.post(f"{COUNTER}/cards/{card_no}/activate", headers=clerk).status_code == 200
    reveal = client.post(
        f"{COUNTER}/persons/{person.json()['person_id']}/reveal",
        json={"evidence": "resident ID card"},
        headers=supervisor,
    )
    assert reveal.status_code == 200
    login = client.post("/api/v1/portal/login", json={"id_number": number, "password": number[-8:].replace("X", "0")})
    assert login.status_code == 200, login.text
    assert client.post("/api/v1/hotline/loss-reports", json={"id_number": number}, headers=operator).status_code == 201

    requests = _requests_with_their_events(observer.events)
    assert len(requests) == 6
    for events in requests:
        kinds = [kind for kind, _ in events]
        assert "commit" in kinds and "answer" in kinds, events
        assert kinds.index("answer") > max(i for i, k in enumerate(kinds) if k == "commit"), (
            f"answered before its commit: {events}"
        )


_LATE_REGION = (
    "INSERT INTO region (code, name_zh, name_en, level, created_at)"
    " VALUES ('659009', '迟', 'Late', 'district', CURRENT_TIMESTAMP)"
)


def _commit_fails(self: UnitOfWork) -> None:
    self.session.rollback()
    raise OperationalError(
        "COMMIT", {}, ConnectionError("server closed the connection unexpectedly"), connection_invalidated=True
    )


# rule CARD-1 (contract: a commit failure answers an error, never a success)
def test_a_failed_commit_answers_503_and_keeps_nothing(client, staff_headers, monkeypatch) -> None:
    from sscard.cards.models import Card

    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    person = client.post(
        f"{COUNTER}/persons", json={"id_number": new_id_number(region="110105"), "name": "赵六"}, headers=clerk
    )
    card_no = client.post(f"{COUNTER}/cards", json={"person_id": person.json()["person_id"]}, headers=clerk).json()[
        "card_no"
    ]

    monkeypatch.setattr(UnitOfWork, "commit", _commit_fails)
    r = client.post(f"{COUNTER}/cards/{card_no}/activate", headers=clerk)
    monkeypatch.undo()

    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "DATABASE_UNAVAILABLE"
    with unit_of_work() as uow:
        state = uow.session.query(Card.state).filter(Card.card_no == card_no).scalar()
    assert str(getattr(state, "value", state)) == "issued"


# rule CH-4 (contract: a 2xx answer means committed)
def test_a_route_wired_to_commit_after_its_answer_is_stopped(db_env) -> None:
    from sscard.api.deps import get_uow
    from sscard.api.middleware import AnswerAfterCommitGuard, ErrorBoundary
    from sscard.api.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(AnswerAfterCommitGuard)
    app.add_middleware(ErrorBoundary)

    @app.post("/late")
    def late(uow: UnitOfWork = Depends(get_uow)) -> dict[str, str]:  # scope "request": the old wiring
        uow.session.execute(text(_LATE_REGION))
        return {"ok": "yes"}

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/late")
    assert r.status_code == 500 and r.json()["code"] == "INTERNAL_ERROR"
    with unit_of_work() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM region WHERE code = '659009'")).scalar() == 0
