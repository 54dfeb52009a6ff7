"""Staff login over HTTP and the ``require_staff`` dependency (CH-2)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.staff.roles import Role
from sscard.staff.sessions import FREE_FAILURES
from tests.api.conftest import bearer
from tests.staff.factories import PASSWORD

PROBLEM = "application/problem+json"


def _guarded_app() -> FastAPI:
    """The real app plus one route guarded the way channel routers guard theirs."""
    from sscard.api.app import create_app

    app = create_app()
    router = APIRouter()

    @router.post("/api/v1/_test/regions/{region_code}/activate")
    def guarded(
        region_code: str, staff: StaffPrincipal = Depends(require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR))
    ) -> dict[str, str]:
        staff.ensure_region(region_code)
        actor = staff.actor(Channel.COUNTER)
        return {"actor": actor.id, "role": actor.role, "region": actor.region}

    app.include_router(router)
    return app


@pytest.fixture
def guarded(db_env) -> TestClient:
    return TestClient(_guarded_app(), raise_server_exceptions=False)


def _login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/api/v1/staff/login", json={"username": username, "password": password})


# rule CH-2
def test_login_me_logout(client, db_env) -> None:
    from sscard.db.session import unit_of_work
    from tests.staff.factories import make_staff

    with unit_of_work() as uow:
        name = make_staff(uow, role=Role.BANK_CLERK, region_code="440300").username
    r = _login(client, name)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["role"] == "bank_clerk" and body["region"] == "440300"
    assert "password" not in r.text and "argon2" not in r.text
    token = body["access_token"]
    me = client.get("/api/v1/staff/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == name
    assert client.post("/api/v1/staff/logout", headers=bearer(token)).status_code == 204
    after = client.get("/api/v1/staff/me", headers=bearer(token))
    assert after.status_code == 401 and after.json()["code"] == "UNAUTHENTICATED"
    assert after.headers["www-authenticate"] == "Bearer"


# rule CH-2: wrong passwords are counted even though the request fails, then throttled with Retry-After
def test_login_failures_persist_and_throttle(client, db_env) -> None:
    from sscard.db.session import unit_of_work
    from tests.staff.factories import make_staff

    with unit_of_work() as uow:
        name = make_staff(uow).username
    for _ in range(FREE_FAILURES):
        r = _login(client, name, "wrong password!")
        assert r.status_code == 401 and r.json()["code"] == "INVALID_CREDENTIALS"
        assert r.headers["content-type"] == PROBLEM
    r = _login(client, name)  # the right password, during the wait
    assert r.status_code == 429 and r.json()["code"] == "LOGIN_THROTTLED"
    assert int(r.headers["retry-after"]) > 0


# rule CH-2: missing token 401, wrong role 403 ROLE_FORBIDDEN, outside region 403 OUTSIDE_REGION
def test_require_staff_role_and_region(guarded, staff_token) -> None:
    url = "/api/v1/_test/regions/{}/activate"
    r = guarded.post(url.format("440305"))
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
    r = guarded.post(url.format("440305"), headers=bearer("sst_not-a-real-token"))
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"

    auditor = staff_token(Role.AUDITOR, "440000")
    r = guarded.post(url.format("440305"), headers=bearer(auditor))
    assert r.status_code == 403 and r.json()["code"] == "ROLE_FORBIDDEN"

    sz_clerk = staff_token(Role.COUNTER_CLERK, "440300")
    ok = guarded.post(url.format("440305"), headers=bearer(sz_clerk))  # a district inside Shenzhen
    assert ok.status_code == 200
    assert ok.json()["role"] == "counter_clerk" and ok.json()["region"] == "440300"
    for outside in ("440106", "440000", "110105"):  # sibling city's district, the province, another province
        r = guarded.post(url.format(outside), headers=bearer(sz_clerk))
        assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"

    gd_supervisor = staff_token(Role.COUNTER_SUPERVISOR, "440000")
    assert guarded.post(url.format("440106"), headers=bearer(gd_supervisor)).status_code == 200


# rule CH-2: only administrators list staff, and only inside their region
def test_staff_list_for_administrators(client, staff_token) -> None:
    admin = staff_token(Role.ADMINISTRATOR, "110000")
    staff_token(Role.COUNTER_CLERK, "110105")
    staff_token(Role.COUNTER_CLERK, "440305")
    r = client.get("/api/v1/staff", headers=bearer(admin))
    assert r.status_code == 200
    regions = {s["region"] for s in r.json()}
    assert "110105" in regions and not any(code.startswith("44") for code in regions)
    assert all("password" not in key for s in r.json() for key in s)
    clerk = staff_token(Role.COUNTER_CLERK, "110000")
    assert client.get("/api/v1/staff", headers=bearer(clerk)).json()["code"] == "ROLE_FORBIDDEN"


def test_regions_are_public_reference_data(client, staff_token) -> None:
    staff_token(Role.AUDITOR, "440305")  # registers 440305 and its ancestors
    r = client.get("/api/v1/regions", params={"within": "440000"})
    assert r.status_code == 200
    assert {"440000", "440300", "440305"} <= {x["code"] for x in r.json()}
    assert client.get("/api/v1/regions/440300").json()["level"] == "city"
    assert client.get("/api/v1/regions/990000").json()["code"] == "REGION_NOT_FOUND"
