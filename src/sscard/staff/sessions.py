"""Staff login, session tokens and logout (CH-2).

A token is 256 random bits returned once; the database keeps only its SHA-256 digest and an expiry,
so sessions are revocable and a copy of the table grants nothing. Failed logins are throttled per
account with escalating waits; a correct password during a wait is still refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from sscard.audit import Actor, Channel, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.errors import Unauthenticated
from sscard.staff.errors import InvalidCredentials, LoginThrottled
from sscard.staff.models import StaffAccount, StaffSession
from sscard.staff.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import ROLE_CHANNEL
from sscard.staff.service import get_staff

SESSION_TTL = timedelta(hours=8)
TOKEN_PREFIX = "sst_"  # noqa: S105 - a public marker, not a secret
# Failures allowed before waits begin, then 30 s, 60 s, 120 s ... capped at 15 minutes.
FREE_FAILURES = 5
BASE_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class StaffLogin:
    principal: StaffPrincipal
    access_token: str
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a credential: keep it out of reprs and logs
        return f"StaffLogin(principal={self.principal!r}, expires_at={self.expires_at.isoformat()})"


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def principal_of(account: StaffAccount) -> StaffPrincipal:
    return StaffPrincipal(
        staff_id=account.id,
        username=account.username,
        role=account.role,
        region_code=account.region_code,
        bank_code=account.bank_code,
    )


def _actor_for(account: StaffAccount) -> Actor:
    return principal_of(account).actor(Channel(ROLE_CHANNEL[account.role]))


def throttle_wait(failures: int) -> timedelta:
    """How long an account waits after ``failures`` consecutive failures (zero while under the limit)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(BASE_WAIT * (2 ** (failures - FREE_FAILURES)), MAX_WAIT)


def authenticate_staff(
    uow: UnitOfWork, *, username: str, password: str, now: datetime | None = None, ttl: timedelta = SESSION_TTL
) -> StaffLogin:
    """Check a username and password and open a session.

    On failure the failure counter and audit entry are flushed before the error is raised: the
    entrypoint must commit them (catch, let the unit of work commit, re-raise), or throttling is void.
    """
    now = now or utcnow()
    account = get_staff(uow, username)
    if account is None:
        verify_password(dummy_hash(), password)
        raise InvalidCredentials()
    actor = _actor_for(account)
    subject = f"staff:{account.username}"
    if account.locked_until is not None and account.locked_until > now:
        wait = max(1, int((account.locked_until - now).total_seconds() + 0.999))
        record_event(uow, actor=actor, action="staff.login", subject=subject, result="throttled")
        raise LoginThrottled(retry_after=wait)
    if not verify_password(account.password_hash, password) or not account.active:
        _record_failure(uow, account, actor, now)
        raise InvalidCredentials()

    uow.session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == account.id)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    if needs_rehash(account.password_hash):
        # Parameters changed since this hash was made: upgrade it while we hold the clear password.
        account.password_hash = hash_password(password)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + ttl
    uow.session.add(
        StaffSession(token_hash=token_digest(token), staff_id=account.id, created_at=now, expires_at=expires_at)
    )
    uow.flush()
    uow.session.refresh(account)
    record_event(uow, actor=actor, action="staff.login", subject=subject)
    return StaffLogin(principal=principal_of(account), access_token=token, expires_at=expires_at)


def _record_failure(uow: UnitOfWork, account: StaffAccount, actor: Actor, now: datetime) -> None:
    # One atomic UPDATE … RETURNING: concurrent wrong guesses each count exactly once.
    failures = uow.session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == account.id)
        .values(failed_logins=StaffAccount.failed_logins + 1)
        .returning(StaffAccount.failed_logins)
    ).scalar_one()
    wait = throttle_wait(failures)
    if wait:
        uow.session.execute(update(StaffAccount).where(StaffAccount.id == account.id).values(locked_until=now + wait))
    result = "failed" if account.active else "inactive"
    details = {"failed_logins": failures, "wait_seconds": int(wait.total_seconds())}
    record_event(
        uow, actor=actor, action="staff.login", subject=f"staff:{account.username}", result=result, details=details
    )


def resolve_session(uow: UnitOfWork, *, token: str, now: datetime | None = None) -> StaffPrincipal:
    """The staff member behind a live session token; ``Unauthenticated`` when unknown, expired or revoked."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthenticated("the token is not a staff session token")
    row = uow.session.execute(
        select(StaffSession, StaffAccount)
        .join(StaffAccount, StaffAccount.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == token_digest(token))
    ).one_or_none()
    if row is None:
        raise Unauthenticated("the session token is not valid")
    session, account = row
    if session.revoked_at is not None:
        raise Unauthenticated("the session has ended; log in again")
    if session.expires_at <= now:
        raise Unauthenticated("the session has expired; log in again")
    if not account.active:
        raise Unauthenticated("the account is deactivated")
    return principal_of(account)


def logout_staff(uow: UnitOfWork, *, token: str, principal: StaffPrincipal) -> None:
    """Revoke the session behind ``token`` (idempotent)."""
    revoked = uow.session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == token_digest(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(StaffSession.id)
    ).first()
    if revoked is not None:
        channel = Channel(ROLE_CHANNEL[principal.role])
        record_event(uow, actor=principal.actor(channel), action="staff.logout", subject=f"staff:{principal.username}")
