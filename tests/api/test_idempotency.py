"""Issue 22 item 4 (contract: Idempotency-Key): every state-changing /api/v1 route honours the header,
through one mechanism (api/idempotency.py ``IdempotentRoute``), not only the money routes."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select, text

from sscard.api.idempotency import STATE_CHANGING, IdempotentRoute
from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.people.models import Person
from sscard.staff.roles import Role
from tests.api.conftest import bearer
from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address
from tests.people.factories import new_id_number

PERSONS = "/api/v1/counter/persons"


def _counts() -> tuple[int, int]:
    with unit_of_work() as uow:
        audit = uow.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        persons = uow.session.scalar(select(func.count()).select_from(Person)) or 0
    return int(audit), int(persons)


# rule issue-22-4: a retry with the same key and body gets the first answer; nothing happens twice
def test_a_retry_returns_the_first_answer_and_changes_nothing(client, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    body = {"id_number": new_id_number(region="110105"), "name": "王五"}
    headers = {**clerk, "Idempotency-Key": "person-add-1"}
    first = client.post(PERSONS, json=body, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers, first.text
    counts = _counts()
    again = client.post(PERSONS, json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()  # not 409 PERSON_DUPLICATE
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _counts() == counts  # no second person, no audit entry
    # without the key the same request is decided again: the person exists
    assert client.post(PERSONS, json=body, headers=clerk).status_code == 409


# rule issue-22-4: the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; keys are per caller
def test_the_same_key_with_another_body_is_refused(client, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    headers = {**clerk, "Idempotency-Key": "person-add-2"}
    assert client.post(PERSONS, json={"id_number": new_id_number(region="110105"), "name": "甲"},
                       headers=headers).status_code == 201  # fmt: skip
    counts = _counts()
    other = client.post(PERSONS, json={"id_number": new_id_number(region="110105"), "name": "乙"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _counts() == counts
    # another clerk's key of the same name is that clerk's own
    mine = {**bearer(staff_token(Role.COUNTER_CLERK, "110000")), "Idempotency-Key": "person-add-2"}
    assert client.post(PERSONS, json={"id_number": new_id_number(region="110105"), "name": "丙"},
                       headers=mine).status_code == 201  # fmt: skip


# rule issue-22-4: a refused request keeps no key; asked again it is decided again
def test_a_refused_request_keeps_no_key(client, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    headers = {**clerk, "Idempotency-Key": "person-add-3"}
    number = new_id_number(region="440305")  # outside the clerk's region
    assert client.post(PERSONS, json={"id_number": number, "name": "丁"}, headers=headers).status_code == 403
    inside = {"id_number": new_id_number(region="110105"), "name": "丁"}
    assert client.post(PERSONS, json=inside, headers=headers).status_code == 201


# rule issue-22-4: two copies of a request sent at once with one key: one executes, both get its answer
def test_concurrent_copies_execute_once(db_env, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    body = {"id_number": new_id_number(region="110105"), "name": "戊"}
    headers = {**clerk, "Idempotency-Key": "person-add-race"}
    _, persons = _counts()
    start = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        with app_client(address=fresh_address()) as c:
            start.wait()
            answers.append(c.post(PERSONS, json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert sum("Idempotent-Replayed" in a.headers for a in answers) == 1
    assert _counts()[1] == persons + 1


# rule issue-22-4: built once: every state-changing /api/v1 operation goes through IdempotentRoute
def test_every_state_changing_route_honours_the_header() -> None:
    from sscard.api.app import create_app
    from tests.reliability.test_authz_matrix import app_operations

    app = create_app()
    assert any(op.startswith("POST /api/v1/") for op in app_operations(app))

    def walk(routes: list[Any]) -> Any:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                yield from route.effective_route_contexts()
            else:
                yield route

    checked = 0
    for route in walk(app.routes):
        path = getattr(route, "path_format", "") or ""
        if path.startswith("/api/v1/") and set(getattr(route, "methods", ())) & STATE_CHANGING:
            assert isinstance(getattr(route, "original_route", route), IdempotentRoute), path
            checked += 1
    assert checked >= 60


# rule ID-5 (issue-22-4): an audited disclosure is never stored under its key: every asking is audited
# again, and the revealed ID number and phone never get an unsealed copy in the key's table
def test_a_disclosure_is_audited_every_time_and_never_stored(client, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    supervisor = bearer(staff_token(Role.COUNTER_SUPERVISOR, "110000"))
    id_number = new_id_number(region="110105")
    person = client.post(PERSONS, json={"id_number": id_number, "name": "揭示", "phone": "13912345678"}, headers=clerk)
    assert person.status_code == 201, person.text
    url = f"{PERSONS}/{person.json()['person_id']}/reveal"
    headers = {**supervisor, "Idempotency-Key": "reveal-1"}
    body = {"evidence": "resident ID card, original"}

    def reveals() -> int:
        with unit_of_work() as uow:
            query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "person.reveal")
            return int(uow.session.scalar(query) or 0)

    before = reveals()
    for _ in range(2):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers, r.text
        assert r.json()["id_number"] == id_number
    assert reveals() == before + 2
    with unit_of_work() as uow:
        stored = uow.session.execute(text("SELECT answer FROM idempotent_request")).scalars().all()
    assert not [a for a in stored if a and (id_number in str(a) or "13912345678" in str(a))]


def _age_key(key: str, hours: float) -> None:
    """Move a stored key's creation ``hours`` into the past (as if it had been kept that long)."""
    from datetime import timedelta

    from sscard.db.base import utcnow
    from sscard.idempotency.models import IdempotentRequest

    with unit_of_work() as uow:
        row = uow.session.scalars(select(IdempotentRequest).where(IdempotentRequest.key == key)).one()
        row.created_at = utcnow() - timedelta(hours=hours)


# rule issue-22-4 (retention): a key older than idempotency_retention_hours is a new request
def test_a_key_past_its_retention_is_a_new_request(client, staff_token) -> None:
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    headers = {**clerk, "Idempotency-Key": "person-add-expiring"}
    first = {"id_number": new_id_number(region="110105"), "name": "庚"}
    assert client.post(PERSONS, json=first, headers=headers).status_code == 201
    _age_key("person-add-expiring", hours=23)  # within the default day: still the first request's key
    other = {"id_number": new_id_number(region="110105"), "name": "辛"}
    refused = client.post(PERSONS, json=other, headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    _age_key("person-add-expiring", hours=25)
    _, persons = _counts()
    fresh = client.post(PERSONS, json=other, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers, fresh.text
    assert _counts()[1] == persons + 1
    # and the key now answers its new request
    again = client.post(PERSONS, json=other, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == fresh.json()


# rule issue-22-4 (retention): expired answers are purged by the claims themselves, fresh ones kept
def test_expired_answers_are_purged_every_so_many_claims(db_env, monkeypatch) -> None:
    from sscard.idempotency import service
    from sscard.idempotency.models import IdempotentRequest

    def keys() -> set[str]:
        with unit_of_work() as uow:
            return set(
                uow.session.scalars(select(IdempotentRequest.key).where(IdempotentRequest.scope == "test:purge"))
            )

    with unit_of_work() as uow:
        for key in ("old-1", "old-2", "young"):
            service.begin(uow, scope="test:purge", key=key, digest="d" * 64)
    _age_key("old-1", hours=25)
    _age_key("old-2", hours=24 * 30)
    _age_key("young", hours=23)
    monkeypatch.setattr(service, "PURGE_EVERY", 3)
    monkeypatch.setattr(service, "_claims", iter([1, 2, 3]))
    with unit_of_work() as uow:
        service.begin(uow, scope="test:purge", key="new-1", digest="d" * 64)
        service.begin(uow, scope="test:purge", key="new-2", digest="d" * 64)
    assert keys() == {"old-1", "old-2", "young", "new-1", "new-2"}  # not due yet
    with unit_of_work() as uow:
        service.begin(uow, scope="test:purge", key="new-3", digest="d" * 64)  # the 3rd claim: purges
    assert keys() == {"young", "new-1", "new-2", "new-3"}


# rule issue-22-4 (retention): an old answer purged by another request while this one looks at its key
# leaves the key free: this request claims it (was NoResultFound, a 500)
def test_a_key_purged_while_it_is_read_is_claimed_anew(db_env) -> None:
    from sqlalchemy import delete

    from sscard.idempotency import service
    from sscard.idempotency.models import IdempotentRequest

    with unit_of_work() as uow:
        service.finish(
            uow, claim=service.begin(uow, scope="test:vanish", key="old", digest="a" * 64), answer={"ok": True}
        )
    _age_key("old", hours=48)
    with unit_of_work() as uow:
        execute, purged = uow.session.execute, []

        def purge_first(statement: Any, *args: Any, **kwargs: Any) -> Any:
            if statement is service._FIND and not purged:  # the purge lands between the claim and the read
                purged.append(execute(delete(IdempotentRequest).where(IdempotentRequest.key == "old")).rowcount)
            return execute(statement, *args, **kwargs)

        uow.session.execute = purge_first  # type: ignore[method-assign]
        try:
            stored = service.begin(uow, scope="test:vanish", key="old", digest="b" * 64)
        finally:
            del uow.session.execute
    assert purged == [1] and stored.answer is None  # a claim for this request, not the purged answer
    with unit_of_work() as uow:
        row = uow.session.scalars(select(IdempotentRequest).where(IdempotentRequest.key == "old")).one()
        assert row.request_digest == "b" * 64 and row.id == stored.row_id
