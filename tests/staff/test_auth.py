"""Staff accounts and sessions (CH-2): Argon2id, throttling, expiry, revocation, audit (CH-4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from sscard.audit import Channel
from sscard.audit.models import AuditEntry
from sscard.db.base import utcnow
from sscard.errors import Unauthenticated
from sscard.staff.errors import (
    InvalidCredentials,
    InvalidStaffInput,
    LoginThrottled,
    OutsideRegion,
    PasswordTooWeak,
    UsernameTaken,
)
from sscard.staff.models import StaffAccount, StaffSession
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import Role
from sscard.staff.service import create_staff, deactivate_staff
from sscard.staff.sessions import FREE_FAILURES, authenticate_staff, logout_staff, resolve_session, throttle_wait
from tests.staff.factories import PASSWORD, TEST_ACTOR, ensure_region, make_staff

# These tests check the staff password hash itself, the login's equal work and its throttle: they
# keep the production Argon2id parameters (tests/conftest.py makes them cheap elsewhere).
pytestmark = pytest.mark.real_password_hashing


def _audit(uow, subject: str) -> list[AuditEntry]:
    return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)))


# rule CH-2: the password is stored only as an Argon2id hash, never in clear, never in repr
def test_password_stored_as_argon2id(uow) -> None:
    account = make_staff(uow, role=Role.AUDITOR, region_code="110000")
    stored = uow.session.execute(
        text("SELECT password_hash FROM staff_account WHERE id = :id"), {"id": account.id}
    ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert "argon2" not in repr(account) and PASSWORD not in repr(account)
    # rule CH-4: account creation is audited without the password
    [entry] = _audit(uow, f"staff:{account.username}")
    assert entry.action == "staff.create" and PASSWORD not in entry.details and "argon2" not in entry.details


def test_create_staff_rejects_bad_input(uow) -> None:
    ensure_region(uow, "110000")
    ok = {"password": PASSWORD, "role": Role.COUNTER_CLERK, "region_code": "110000", "actor": TEST_ACTOR}
    with pytest.raises(InvalidStaffInput):
        create_staff(uow, username="A b", **ok)
    with pytest.raises(InvalidStaffInput):
        create_staff(uow, username="valid.name", **{**ok, "role": "janitor"})
    with pytest.raises(PasswordTooWeak):
        create_staff(uow, username="valid.name", **{**ok, "password": "short"})
    with pytest.raises(PasswordTooWeak):
        create_staff(uow, username="valid.name", **{**ok, "password": "valid.name-is-my-password"})
    from sscard.regions.errors import RegionNotFound

    with pytest.raises(RegionNotFound):
        create_staff(uow, username="valid.name", **{**ok, "region_code": "990000"})
    create_staff(uow, username="Valid.Name", **ok)
    with pytest.raises(UsernameTaken):  # usernames are case-insensitive
        create_staff(uow, username="valid.name", **ok)


# rule CH-2
def test_login_returns_opaque_token_stored_only_as_digest(uow) -> None:
    account = make_staff(uow, role=Role.COUNTER_CLERK, region_code="110105")
    login = authenticate_staff(uow, username=account.username.upper(), password=PASSWORD)
    assert login.access_token.startswith("sst_") and len(login.access_token) > 40
    assert login.principal == StaffPrincipal(account.id, account.username, Role.COUNTER_CLERK, "110105")
    assert login.access_token not in repr(login)
    stored = uow.session.scalars(select(StaffSession.token_hash).where(StaffSession.staff_id == account.id)).all()
    assert len(stored) == 1 and login.access_token.encode() not in stored[0] and len(stored[0]) == 32
    assert resolve_session(uow, token=login.access_token) == login.principal
    assert [e.action for e in _audit(uow, f"staff:{account.username}")] == ["staff.create", "staff.login"]


# rule CH-2: wrong password and unknown user look the same
def test_wrong_password_and_unknown_user(uow) -> None:
    account = make_staff(uow)
    with pytest.raises(InvalidCredentials) as wrong:
        authenticate_staff(uow, username=account.username, password="not the password")
    with pytest.raises(InvalidCredentials) as unknown:
        authenticate_staff(uow, username="nobody-here", password="not the password")
    assert wrong.value.code == unknown.value.code == "INVALID_CREDENTIALS"
    assert wrong.value.detail == unknown.value.detail
    failed = [e for e in _audit(uow, f"staff:{account.username}") if e.action == "staff.login"]
    assert [e.result for e in failed] == ["failed"]


# rule CH-2: failed logins throttle with escalating waits; a correct password during a wait is refused
def test_failed_logins_throttle(uow) -> None:
    account = make_staff(uow)
    now = utcnow()
    for _ in range(FREE_FAILURES):
        with pytest.raises(InvalidCredentials):
            authenticate_staff(uow, username=account.username, password="wrong guess", now=now)
    with pytest.raises(LoginThrottled) as throttled:
        authenticate_staff(uow, username=account.username, password=PASSWORD, now=now + timedelta(seconds=1))
    assert throttled.value.code == "LOGIN_THROTTLED" and throttled.value.status == 429
    assert 1 <= throttled.value.extra["retry_after"] <= 30
    later = now + throttle_wait(FREE_FAILURES) + timedelta(seconds=1)
    login = authenticate_staff(uow, username=account.username, password=PASSWORD, now=later)
    assert login.principal.username == account.username
    uow.session.refresh(account)
    assert account.failed_logins == 0 and account.locked_until is None


def test_throttle_wait_escalates_and_caps() -> None:
    waits = [throttle_wait(n).total_seconds() for n in range(FREE_FAILURES - 1, FREE_FAILURES + 8)]
    assert waits[0] == 0 and waits[1] == 30 and waits[2] == 60 and waits[3] == 120
    assert max(waits) == 900


# rule CH-2: expired and revoked tokens are refused
def test_expired_and_revoked_tokens(uow) -> None:
    account = make_staff(uow)
    login = authenticate_staff(uow, username=account.username, password=PASSWORD, ttl=timedelta(minutes=5))
    with pytest.raises(Unauthenticated, match="expired"):
        resolve_session(uow, token=login.access_token, now=utcnow() + timedelta(minutes=6))
    logout_staff(uow, token=login.access_token, principal=login.principal)
    with pytest.raises(Unauthenticated, match="ended"):
        resolve_session(uow, token=login.access_token)
    logout_staff(uow, token=login.access_token, principal=login.principal)  # idempotent
    for bogus in ("sst_" + "A" * 43, "Bearer xyz", "sst_" + "x" * 200):
        with pytest.raises(Unauthenticated):
            resolve_session(uow, token=bogus)
    assert [e.action for e in _audit(uow, f"staff:{account.username}")][-1] == "staff.logout"


# rule CH-2, CH-4: deactivation revokes sessions at once and is audited; a deactivated user cannot log in
def test_deactivate_revokes_sessions(uow) -> None:
    account = make_staff(uow, region_code="440305")
    token = authenticate_staff(uow, username=account.username, password=PASSWORD).access_token
    deactivate_staff(uow, username=account.username, actor=TEST_ACTOR)
    deactivate_staff(uow, username=account.username, actor=TEST_ACTOR)  # no second audit entry
    with pytest.raises(Unauthenticated):
        resolve_session(uow, token=token)
    with pytest.raises(InvalidCredentials):
        authenticate_staff(uow, username=account.username, password=PASSWORD)
    actions = [e.action for e in _audit(uow, f"staff:{account.username}")]
    assert actions.count("staff.deactivate") == 1
    # A Beijing administrator cannot deactivate a Shenzhen account (CH-2).
    other = make_staff(uow, region_code="440305")
    bj_admin = StaffPrincipal(1, "bj-admin", Role.ADMINISTRATOR, "110000").actor(Channel.ADMIN)
    with pytest.raises(OutsideRegion):
        deactivate_staff(uow, username=other.username, actor=bj_admin)
    assert uow.session.get(StaffAccount, other.id).active


# rule CH-2: region enforcement covers sub-regions and refuses siblings and parents
def test_principal_region_rules() -> None:
    sz = StaffPrincipal(7, "sz", Role.COUNTER_CLERK, "440300")
    sz.ensure_region("440305")  # district inside Shenzhen
    sz.ensure_region("440300")
    for outside in ("440106", "440000", "110105", "000000", "bad"):
        with pytest.raises(OutsideRegion) as exc:
            sz.ensure_region(outside)
        assert exc.value.code == "OUTSIDE_REGION" and exc.value.status == 403
    actor = sz.actor(Channel.COUNTER)
    assert (actor.kind, actor.id, actor.role, actor.region, actor.channel) == (
        "staff",
        "sz",
        "counter_clerk",
        "440300",
        Channel.COUNTER,
    )
