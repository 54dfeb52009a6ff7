"""The portal over HTTP (contract.md): login, the QPW-2 gate, the liability notice, PIN-10."""

from __future__ import annotations

from sqlalchemy import select

from sscard.credentials.query_password.models import NoticeAcknowledgement
from sscard.credentials.query_password.notices import LIABILITY_NOTICE
from sscard.db.session import unit_of_work
from sscard.policy.service import set_policy
from tests.credentials.query_password.factories import ADMIN, make_holder
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region

LOGIN = "/api/v1/portal/login"
PROBLEM = "application/problem+json"


def _holder(**policy) -> tuple[int, str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        if policy:
            set_policy(uow, region_code=region, values=policy, reason="api test", actor=ADMIN)
        person, number, initial = make_holder(uow, region=region, x=True)
        return person.id, number, initial


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# rule QPW-1 / QPW-2 / QPW-4: initial login → must change; the liability notice comes with it
def test_login_with_initial_password(client) -> None:
    _, number, initial = _holder()
    r = client.post(LOGIN, json={"id_number": number, "password": initial})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["must_change_password"] is True and body["access_token"].startswith("pst_")
    assert body["liability_notice"]["version"] == LIABILITY_NOTICE.version
    assert "负责" in body["liability_notice"]["text_zh"]


# rule QPW-2: until changed, everything but the change, the notice and logout answers 403
def test_gate_until_changed(client) -> None:
    person_id, number, initial = _holder()
    token = client.post(LOGIN, json={"id_number": number, "password": initial}).json()["access_token"]
    r = client.get("/api/v1/portal/me", headers=bearer(token))
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    assert client.get("/api/v1/portal/liability-notice", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/portal/me").status_code == 401
    assert client.get("/api/v1/portal/me", headers=bearer("pst_forged")).json()["code"] == "UNAUTHENTICATED"


# rule QPW-4: the acknowledgement is recorded with its time and the notice version
def test_acknowledge_notice(client) -> None:
    person_id, number, initial = _holder()
    token = client.post(LOGIN, json={"id_number": number, "password": initial}).json()["access_token"]
    url = "/api/v1/portal/liability-notice/acknowledgements"
    assert (
        client.post(url, json={"version": "1999-1"}, headers=bearer(token)).json()["code"] == "NOTICE_VERSION_UNKNOWN"
    )
    assert client.post(url, json={"version": LIABILITY_NOTICE.version}, headers=bearer(token)).status_code == 204
    with unit_of_work() as uow:
        acks = uow.session.scalars(
            select(NoticeAcknowledgement).where(NoticeAcknowledgement.person_id == person_id)
        ).all()
    assert len(acks) == 1 and acks[0].notice_version == LIABILITY_NOTICE.version and acks[0].acknowledged_at


# contract: 401 INVALID_CREDENTIALS, 429 LOGIN_THROTTLED with Retry-After, 423 ACCOUNT_LOCKED
def test_error_answers(client) -> None:
    _, number, initial = _holder(login_free_failures=2, login_hard_lock_failures=4, login_wait_base_seconds=1)
    r = client.post(LOGIN, json={"id_number": number, "password": "not-the-password"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_CREDENTIALS"
    assert "not-the-password" not in r.text and number not in r.text
    client.post(LOGIN, json={"id_number": number, "password": "not-the-password"})
    client.post(LOGIN, json={"id_number": number, "password": "not-the-password"})  # 3rd: a wait starts
    r = client.post(LOGIN, json={"id_number": number, "password": initial})
    assert r.status_code == 429 and r.json()["code"] == "LOGIN_THROTTLED" and int(r.headers["Retry-After"]) >= 1
    import time

    time.sleep(1.1)
    r = client.post(LOGIN, json={"id_number": number, "password": "not-the-password"})  # 4th: hard lock
    assert r.status_code == 423 and r.json()["code"] == "ACCOUNT_LOCKED"
    assert client.post(LOGIN, json={"id_number": number, "password": initial}).status_code == 423


# contract: malformed bodies are problem+json, never 500; the password is never echoed
def test_bad_bodies(client) -> None:
    r = client.post(LOGIN, json={"id_number": "x"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    r = client.post(LOGIN, json={"id_number": "110101199001011237", "password": "s3cret-value", "pin": "123456"})
    assert r.status_code == 422 and "s3cret-value" not in r.text and "123456" not in r.text


# rule PIN-10: no portal route takes a card PIN (no field named like one in any portal request)
def test_no_portal_route_takes_a_pin(client) -> None:
    spec = client.get("/api/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def fields(ref_or_schema: dict) -> set[str]:
        if "$ref" in ref_or_schema:
            return fields(schemas[ref_or_schema["$ref"].rsplit("/", 1)[1]])
        return set(ref_or_schema.get("properties", {}))

    portal = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/portal/")}
    assert "/api/v1/portal/login" in portal and "/api/v1/portal/password" in portal
    for path, ops in portal.items():
        for op in ops.values():
            names = {prm["name"] for prm in op.get("parameters", [])}
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                names |= fields(body)
            assert not any("pin" in n.lower() for n in names), (path, names)
