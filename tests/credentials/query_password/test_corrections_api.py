"""Record corrections over HTTP (QPW-3, PER-1): what is keyed on the citizen ID keeps working after the
ID on file is corrected — portal login, the counter's lookup by ID, the card — and the two-person rule."""

from __future__ import annotations

from sqlalchemy import select

from sscard.credentials.query_password.models import QueryPassword
from sscard.credentials.query_password.rules import initial_query_password
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.credentials.query_password.factories import id_ending_in_x
from tests.credentials.query_password.test_portal_api import LOGIN, _holder, bearer
from tests.people.factories import new_id_number

COUNTER = "/api/v1/counter"


def _doc(number: str) -> dict[str, str]:
    return {"document_type": "resident_id_card", "document_number": number}


def _ask(client, headers, person_id: int, new_number: str):
    return client.post(
        f"{COUNTER}/persons/{person_id}/corrections/id-number",
        headers=headers,
        json={"new_id_number": new_number, "reason": "登记时号码录入错误", "evidence": _doc(new_number)},
    )


def _issue_card(client, headers, person_id: int) -> str:
    r = client.post(f"{COUNTER}/cards", headers=headers, json={"person_id": person_id, "card_type": "social"})
    assert r.status_code == 201, r.text
    return str(r.json()["card_no"])


def _reinitialised_at(person_id: int):
    with unit_of_work() as uow:
        return uow.session.scalar(select(QueryPassword.reinitialised_at).where(QueryPassword.person_id == person_id))


# rule QPW-3 / QPW-1 / QPW-7: a wrong ID on file no longer blocks the holder for good: after the approved
# correction the holder signs in with the right ID and its initial password (re-initialised: the failures
# counted under the right number are cleared); the old number opens nothing; card and lookup follow
def test_wrong_id_corrected_then_login_with_the_right_one(client, staff_headers) -> None:
    person_id, wrong, wrong_initial = _holder(login_free_failures=2, login_hard_lock_failures=4)
    region = wrong[:6]
    right = id_ending_in_x(region)
    clerk = staff_headers(Role.COUNTER_CLERK, region[:2] + "0000")
    supervisor = staff_headers(Role.COUNTER_SUPERVISOR, region[:2] + "0000")
    card_no = _issue_card(client, clerk, person_id)
    for _ in range(4):  # the holder tries the right number, which is on nobody's record: throttled
        client.post(LOGIN, json={"id_number": right, "password": initial_query_password(right)})
    blocked = client.post(LOGIN, json={"id_number": right, "password": initial_query_password(right)})
    assert blocked.status_code in (423, 429), blocked.text

    r = _ask(client, clerk, person_id, right)
    assert r.status_code == 201, r.text
    asked = r.json()
    assert asked["state"] == "pending" and right not in r.text and asked["new_masked"].endswith(right[-4:])
    assert client.post(LOGIN, json={"id_number": wrong, "password": wrong_initial}).status_code == 200  # not yet

    r = client.post(f"{COUNTER}/corrections/{asked['correction_id']}/approve", headers=supervisor, json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["correction"]["state"] == "approved" and body["person"]["id_number_masked"].endswith(right[-4:])
    assert right not in r.text

    assert client.post(LOGIN, json={"id_number": wrong, "password": wrong_initial}).status_code == 401
    login = client.post(LOGIN, json={"id_number": right, "password": initial_query_password(right)})
    assert login.status_code == 200, login.text
    assert login.json()["must_change_password"] is True
    assert _reinitialised_at(person_id) is not None  # the initial password's expiry starts again
    found = client.post(f"{COUNTER}/persons/lookup", headers=clerk, json={"id_number": right, "evidence": "居民身份证"})
    assert found.status_code == 200 and found.json()["person_id"] == person_id
    gone = client.post(f"{COUNTER}/persons/lookup", headers=clerk, json={"id_number": wrong, "evidence": "居民身份证"})
    assert gone.status_code == 404 and gone.json()["code"] == "PERSON_NOT_FOUND"
    cards = client.get(f"{COUNTER}/persons/{person_id}/cards", headers=clerk).json()
    assert [c["card_no"] for c in cards] == [card_no]
    assert client.get(f"{COUNTER}/cards/{card_no}", headers=clerk).status_code == 200


# rule QPW-3 / QPW-6: a password the holder set does not depend on the ID: it is kept, with the new ID
def test_own_password_kept_across_an_id_correction(client, staff_headers) -> None:
    person_id, wrong, initial = _holder()
    region = wrong[:6]
    token = client.post(LOGIN, json={"id_number": wrong, "password": initial}).json()["access_token"]
    own = "Quiet-harbour 7391 lantern"
    changed = client.post(
        "/api/v1/portal/password", headers=bearer(token), json={"old_password": initial, "new_password": own}
    )
    assert changed.status_code == 204, changed.text
    right = new_id_number(region=region)
    clerk = staff_headers(Role.COUNTER_CLERK, region[:2] + "0000")
    supervisor = staff_headers(Role.COUNTER_SUPERVISOR, region[:2] + "0000")
    correction_id = _ask(client, clerk, person_id, right).json()["correction_id"]
    r = client.post(f"{COUNTER}/corrections/{correction_id}/approve", headers=supervisor, json={"note": "核验无误"})
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/portal/me", headers=bearer(token)).status_code == 401  # sessions ended
    login = client.post(LOGIN, json={"id_number": right, "password": own})
    assert login.status_code == 200 and login.json()["must_change_password"] is False
    assert client.post(LOGIN, json={"id_number": right, "password": initial_query_password(right)}).status_code == 401
    assert _reinitialised_at(person_id) is None


# rule QPW-3 / CH-2: two different staff members, the approver a supervisor; bad input has a clear code
def test_http_refusals(client, staff_headers) -> None:
    person_id, number, _ = _holder()
    region = number[:6]
    clerk = staff_headers(Role.COUNTER_CLERK, region[:2] + "0000")
    supervisor = staff_headers(Role.COUNTER_SUPERVISOR, region[:2] + "0000")
    right = new_id_number(region=region)
    correction_id = _ask(client, supervisor, person_id, right).json()["correction_id"]
    approve = f"{COUNTER}/corrections/{correction_id}/approve"
    r = client.post(approve, headers=clerk, json={})
    assert r.status_code == 403 and r.json()["code"] == "ROLE_FORBIDDEN"
    r = client.post(approve, headers=supervisor, json={})
    assert r.status_code == 403 and r.json()["code"] == "SELF_APPROVAL"
    assert client.get(f"{COUNTER}/corrections/{correction_id}", headers=clerk).json()["state"] == "pending"
    bad = right[:-1] + ("0" if right[-1] != "0" else "1")
    cases = [
        (_ask(client, clerk, person_id, bad), 422, "ID_CHECKSUM"),
        (_ask(client, clerk, 2**31 - 5, right), 404, "PERSON_NOT_FOUND"),
        (_ask(client, clerk, person_id, new_id_number(region=region)), 409, "CORRECTION_PENDING"),
        (
            client.post(
                f"{COUNTER}/persons/{person_id}/corrections/contact",
                headers=clerk,
                json={"name": "黄勇", "evidence": _doc(number)},
            ),
            422,
            "CORRECTION_NO_CHANGE",
        ),
        (client.get(f"{COUNTER}/corrections/{2**31 - 7}", headers=clerk), 404, "CORRECTION_NOT_FOUND"),
    ]
    for r, status, code in cases:
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
