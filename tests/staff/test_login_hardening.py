"""Issue 17 item 8: staff login hardening — no username enumeration, per-source and per-account
limits, a hard lock an administrator lifts (API and CLI), and a TOTP second factor for security
officers, key custodians, auditors and administrators (enrolment, recovery)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from sscard.audit.models import AuditEntry
from sscard.config import reset_settings_cache
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.errors import DomainError
from sscard.staff.roles import Role
from sscard.staff.sessions import authenticate_staff
from tests.api.conftest import bearer
from tests.staff.factories import PASSWORD, TOTP_SECRET, current_otp, make_staff

# These tests check the staff password hash itself, the login's equal work and its throttle: they
# keep the production Argon2id parameters (tests/conftest.py makes them cheap elsewhere).
pytestmark = pytest.mark.real_password_hashing

LOGIN = "/api/v1/staff/login"


@pytest.fixture
def client(db_env):
    from fastapi.testclient import TestClient

    from sscard.api.app import create_app
    from tests.credentials.query_password.conftest import fresh_address

    with TestClient(create_app(), raise_server_exceptions=False, client=(fresh_address(), 50000)) as c:
        yield c


def _answer(uow, username: str, password: str, now, **kwargs) -> tuple[str, str | None]:
    try:
        authenticate_staff(uow, username=username, password=password, now=now, **kwargs)
    except DomainError as exc:
        return exc.code, exc.detail if exc.code != "LOGIN_THROTTLED" else None
    return "OK", None


# rule CH-2 / QPW-7 (as for the portal): a known and an unknown username get the same answers, failure
# after failure: 401 while free, 429 during the waits, 423 at the hard lock (even the right password)
def test_known_and_unknown_usernames_answer_alike(uow) -> None:
    known = make_staff(uow).username
    unknown = known + "-nobody"
    now = utcnow()
    answers = {}
    for name in (known, unknown):
        seq = []
        for i in range(12):
            # Each attempt after the previous wait has passed: the count goes on, the waits grow.
            seq.append(_answer(uow, name, "wrong guess", now + timedelta(hours=i)))
        seq.append(_answer(uow, name, PASSWORD, now + timedelta(days=1)))
        answers[name] = seq
    assert answers[known] == answers[unknown]
    codes = [code for code, _ in answers[known]]
    assert codes[:9] == ["INVALID_CREDENTIALS"] * 9 and codes[9:] == ["ACCOUNT_LOCKED"] * 4
    # During a wait, both are refused with 429, the right password included.
    other, ghost = make_staff(uow).username, "ghost-" + known
    for name in (other, ghost):
        for _ in range(5):
            _answer(uow, name, "wrong guess", now)
    assert _answer(uow, other, PASSWORD, now)[0] == _answer(uow, ghost, PASSWORD, now)[0] == "LOGIN_THROTTLED"


# rule CH-2 (staff login, as QPW-7 for holders), per source: one source trying many usernames waits,
# whatever the usernames
def test_failures_are_limited_per_source(uow, monkeypatch) -> None:
    monkeypatch.setenv("SSCARD_STAFF_LOGIN_SOURCE_FAILURES", "3")
    reset_settings_cache()
    try:
        account = make_staff(uow)
        now, source = utcnow(), "198.51.100.77"
        for i in range(3):
            assert _answer(uow, f"spray{i}-{account.username}", "x", now, source=source)[0] == "INVALID_CREDENTIALS"
        assert _answer(uow, f"spray9-{account.username}", "x", now, source=source)[0] == "INVALID_CREDENTIALS"
        assert _answer(uow, account.username, PASSWORD, now, source=source)[0] == "LOGIN_THROTTLED"
        assert _answer(uow, account.username, PASSWORD, now, source="198.51.100.78")[0] == "OK"
    finally:
        reset_settings_cache()


# rule CH-2: the hard lock is lifted by an administrator of the region (API), audited; by the CLI too
def test_an_administrator_unlocks(client, monkeypatch) -> None:
    monkeypatch.setenv("SSCARD_STAFF_LOGIN_SOURCE_FAILURES", "1000")
    monkeypatch.setenv("SSCARD_STAFF_LOGIN_HARD_LOCK_FAILURES", "3")
    reset_settings_cache()
    try:
        with unit_of_work() as uow:
            clerk = make_staff(uow, region_code="110105").username
            admin = make_staff(uow, role=Role.ADMINISTRATOR, region_code="110000")
            far_admin = make_staff(uow, role=Role.ADMINISTRATOR, region_code="440000")
            from tests.staff.factories import login_token

            token, far_token = login_token(uow, admin), login_token(uow, far_admin)
        for _ in range(3):
            client.post(LOGIN, json={"username": clerk, "password": "wrong guess"})
        assert client.post(LOGIN, json={"username": clerk, "password": PASSWORD}).status_code == 423
        assert client.post(f"/api/v1/staff/{clerk}/unlock", headers=bearer(far_token)).status_code == 403
        assert client.post(f"/api/v1/staff/{clerk}/unlock", headers=bearer(token)).status_code == 204
        assert client.post(LOGIN, json={"username": clerk, "password": PASSWORD}).status_code == 200
        with unit_of_work() as uow:
            entry = uow.session.scalar(
                select(AuditEntry).where(AuditEntry.action == "staff.unlock").order_by(AuditEntry.id.desc())
            )
            assert entry.subject == f"staff:{clerk}" and entry.actor_id == admin.username

        from typer.testing import CliRunner

        from sscard.cli.main import app

        for _ in range(3):
            client.post(LOGIN, json={"username": clerk, "password": "wrong guess"})
        assert client.post(LOGIN, json={"username": clerk, "password": PASSWORD}).status_code == 423
        result = CliRunner().invoke(app, ["staff", "unlock", clerk])
        assert result.exit_code == 0 and "unlocked" in result.stdout
        assert client.post(LOGIN, json={"username": clerk, "password": PASSWORD}).status_code == 200
    finally:
        reset_settings_cache()


# rule CH-2 (second factor): an enrolled auditor needs its TOTP code; a wrong code is refused and counted
def test_second_factor_roles_need_a_code(client) -> None:
    with unit_of_work() as uow:
        auditor = make_staff(uow, role=Role.AUDITOR, region_code="110000").username
        clerk = make_staff(uow, region_code="110000").username
    no_code = client.post(LOGIN, json={"username": auditor, "password": PASSWORD})
    assert (no_code.status_code, no_code.json()["code"]) == (401, "OTP_REQUIRED")
    wrong_password = client.post(LOGIN, json={"username": auditor, "password": "wrong guess"})
    assert wrong_password.json()["code"] == "INVALID_CREDENTIALS"  # the code is asked only after the password
    wrong = client.post(LOGIN, json={"username": auditor, "password": PASSWORD, "otp": "000000"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "OTP_INVALID")
    ok = client.post(LOGIN, json={"username": auditor, "password": PASSWORD, "otp": current_otp()})
    assert ok.status_code == 200 and ok.json()["second_factor"] == "verified"
    plain = client.post(LOGIN, json={"username": clerk, "password": PASSWORD})
    assert plain.status_code == 200 and plain.json()["second_factor"] == "none"
    with unit_of_work() as uow:
        results = uow.session.scalars(
            select(AuditEntry.result).where(
                AuditEntry.subject == f"staff:{auditor}", AuditEntry.action == "staff.login"
            )
        ).all()
        assert "locked" not in results and "otp_invalid" in " ".join(
            uow.session.scalars(select(AuditEntry.details).where(AuditEntry.subject == f"staff:{auditor}")).all()
        )


# rule CH-2 (second factor): enrolment at the console API — the secret shown once as an otpauth URI,
# confirmed with a first code; until then the session may only enrol; the secret is sealed at rest and
# never in the audit; recovery by an administrator (audited) ends the sessions and asks to enrol again
def test_enrolment_and_recovery(client) -> None:
    with unit_of_work() as uow:
        officer = make_staff(uow, role=Role.SECURITY_OFFICER, region_code="110000", enrol=False).username
        from tests.staff.factories import login_token

        admin_token = login_token(uow, make_staff(uow, role=Role.ADMINISTRATOR, region_code="110000"))
    first = client.post(LOGIN, json={"username": officer, "password": PASSWORD})
    assert first.status_code == 200 and first.json()["second_factor"] == "enrolment_required"
    enrolling = bearer(first.json()["access_token"])
    refused = client.get("/api/v1/security/devices", headers=enrolling)
    assert (refused.status_code, refused.json()["code"]) == (403, "SECOND_FACTOR_ENROLMENT_REQUIRED")
    assert client.get("/api/v1/staff/me", headers=enrolling).status_code == 200
    uri = client.post("/api/v1/staff/totp/enrol", headers=enrolling).json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/") and "issuer=sscard" in uri
    secret = pyotp.parse_uri(uri).secret
    bad = client.post("/api/v1/staff/totp/confirm", json={"otp": "000000"}, headers=enrolling)
    assert (bad.status_code, bad.json()["code"]) == (401, "OTP_INVALID")
    good = client.post("/api/v1/staff/totp/confirm", json={"otp": pyotp.TOTP(secret).now()}, headers=enrolling)
    assert good.status_code == 204
    assert client.get("/api/v1/security/devices", headers=enrolling).status_code == 200  # now a full session
    again = client.post("/api/v1/staff/totp/enrol", headers=enrolling)
    assert again.status_code == 409  # enrolled: only an administrator's reset starts over
    assert client.post(LOGIN, json={"username": officer, "password": PASSWORD}).json()["code"] == "OTP_REQUIRED"
    login = client.post(LOGIN, json={"username": officer, "password": PASSWORD, "otp": pyotp.TOTP(secret).now()})
    assert login.status_code == 200 and login.json()["second_factor"] == "verified"
    with unit_of_work() as uow:
        stored = uow.session.execute(
            text("SELECT totp_secret_enc FROM staff_account WHERE username = :u"), {"u": officer}
        ).scalar_one()
        assert secret.encode() not in bytes(stored)
        details = " ".join(uow.session.scalars(select(AuditEntry.details)).all())
        assert secret not in details and TOTP_SECRET not in details

    reset = client.post(f"/api/v1/staff/{officer}/totp/reset", json={"reason": "phone lost, ticket 42"},
                        headers=bearer(admin_token))  # fmt: skip
    assert reset.status_code == 204
    assert client.get("/api/v1/staff/me", headers=bearer(login.json()["access_token"])).status_code == 401
    after = client.post(LOGIN, json={"username": officer, "password": PASSWORD})
    assert after.json()["second_factor"] == "enrolment_required"
    with unit_of_work() as uow:
        entry = uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "staff.totp.reset").order_by(AuditEntry.id.desc())
        )
        assert entry.subject == f"staff:{officer}" and "ticket 42" in entry.details


# rule CH-2: the roles that sign in with a second factor (security officer, key custodian, auditor, administrator)
@pytest.mark.parametrize("role", [Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.AUDITOR, Role.ADMINISTRATOR])
def test_the_second_factor_roles(role) -> None:
    from sscard.staff.totp import requires_second_factor

    assert requires_second_factor(role)
    assert not any(requires_second_factor(r) for r in (Role.COUNTER_CLERK, Role.BANK_CLERK, Role.HOTLINE_OPERATOR))
