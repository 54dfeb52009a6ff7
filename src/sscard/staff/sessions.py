"""Staff login, session tokens and logout (CH-2).

A token is 256 random bits returned once; the database keeps only its SHA-256 digest and an expiry,
so sessions are revocable and a copy of the table grants nothing. Failed logins are throttled per
username (known or not, alike) with escalating waits and a hard lock an administrator lifts, and per
source address; a correct password during a wait is still refused. Security officers, key custodians,
auditors and administrators also give a TOTP code (staff/totp.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, select, update

from sscard.audit import Actor, Channel, record_event
from sscard.config import get_settings
from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.models import LoginThrottle
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError, Unauthenticated
from sscard.regions.codes import is_within
from sscard.security_module import get_security_module
from sscard.staff.errors import (
    InvalidCredentials,
    LoginThrottled,
    OtpInvalid,
    OtpRequired,
    OutsideRegion,
    SecondFactorEnrolmentRequired,
    StaffAccountLocked,
)
from sscard.staff.models import StaffAccount, StaffSession
from sscard.staff.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import ROLE_CHANNEL
from sscard.staff.service import get_staff, normalise_username
from sscard.staff.totp import code_matches, requires_second_factor

SESSION_TTL = timedelta(hours=8)
TOKEN_PREFIX = "sst_"  # noqa: S105 - a public marker, not a secret
# Failures allowed before waits begin, then 30 s, 60 s, 120 s ... capped at 15 minutes.
FREE_FAILURES = 5
BASE_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(minutes=15)
# An enrol-only session (a second-factor role before enrolment) lasts long enough to scan a QR code.
ENROL_TTL = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class StaffLogin:
    principal: StaffPrincipal
    access_token: str
    expires_at: datetime
    enrol_only: bool = False  # the role needs a second factor not enrolled yet: this session may only enrol

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


# Who a failed login of an unknown username is audited as (nobody was identified).
STAFF_LOGIN_CALLER = Actor(kind="caller", id="staff-login", channel=Channel.ADMIN, role="caller")


def throttle_wait(failures: int) -> timedelta:
    """How long an account waits after ``failures`` consecutive failures (zero while under the limit)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(BASE_WAIT * (2 ** (failures - FREE_FAILURES)), MAX_WAIT)


# Issue 17 item 8: the counters live in the login throttle table, keyed by a keyed hash of the
# normalised username (not the account row), so a known and an unknown username count, wait and lock
# exactly alike; and per source address (api/source.py).
ACCOUNT_KIND = "staffacc"
SOURCE_KIND = "staffsrc"


def username_key(username: str) -> bytes:
    """The account counter's key: a keyed index of the normalised username (whether or not it exists)."""
    return get_security_module().blind_index(normalise_username(username).encode(), purpose="staff_username")


def _account_limits() -> throttle.Limits:
    hard = get_settings().staff_login_hard_lock_failures
    return throttle.Limits(FREE_FAILURES - 1, int(BASE_WAIT.total_seconds()), int(MAX_WAIT.total_seconds()),
                           hard_lock=hard)  # fmt: skip


def _source_limits() -> throttle.Limits:
    settings = get_settings()
    return throttle.Limits(
        settings.staff_login_source_failures,
        int(BASE_WAIT.total_seconds()),
        int(MAX_WAIT.total_seconds()),
        window_seconds=settings.staff_login_source_window_seconds,
    )


def _refusal(row: object, now: datetime) -> DomainError | None:
    if row is None:
        return None
    if getattr(row, "hard_locked_at", None) is not None:
        return StaffAccountLocked()
    wait = throttle.wait_left(row, now)  # type: ignore[arg-type]
    return LoginThrottled(retry_after=wait) if wait else None


def authenticate_staff(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    otp: str | None = None,
    source: str | None = None,
    now: datetime | None = None,
    ttl: timedelta = SESSION_TTL,
) -> StaffLogin:
    """Check a username, password (and TOTP code where the role needs one) and open a session.

    The same answers for a known and an unknown username: 401 ``INVALID_CREDENTIALS``, 429
    ``LOGIN_THROTTLED`` from the 5th consecutive failure, 423 ``ACCOUNT_LOCKED`` at the hard lock; one
    Argon2id verification on every path. Only after the right password does a second-factor role
    hear ``OTP_REQUIRED`` / ``OTP_INVALID`` (a wrong code counts as a failure). A role that needs a
    second factor but never enrolled gets an enrol-only session (``StaffLogin.enrol_only``).

    On failure the counters and audit entry are flushed before the error is raised: the entrypoint
    must commit them (catch, let the unit of work commit, re-raise), or throttling is void.
    """
    now = now or utcnow()
    name = normalise_username(username)
    # No source (the CLI, in-process callers): no per-source counter, the per-username one still counts.
    akey, skey = username_key(name), throttle.source_key(source) if source is not None else None
    account = get_staff(uow, name)
    subject = f"staff:{account.username}" if account is not None else "staff:unknown"
    actor = _actor_for(account) if account is not None else STAFF_LOGIN_CALLER
    for kind, key in ((SOURCE_KIND, skey), (ACCOUNT_KIND, akey)):
        if key is None:
            continue
        refused = _refusal(throttle.counter_row(uow, kind=kind, key=key), now)
        if refused is not None:
            # Refused unchecked: during a wait or after the lock even the right password is refused.
            result = "locked" if isinstance(refused, StaffAccountLocked) else "throttled"
            record_event(uow, actor=actor, action="staff.login", subject=subject, result=result)
            raise refused
    password_ok = verify_password(account.password_hash if account is not None else dummy_hash(), password)
    if account is None or not password_ok or not account.active:
        _record_failure(uow, account, actor, subject, akey, skey, now)
    assert account is not None  # noqa: S101 - _record_failure raised otherwise

    enrol_only = False
    if requires_second_factor(account.role):
        if account.totp_confirmed_at is None or account.totp_secret_enc is None:
            enrol_only = True
        elif not otp:
            record_event(uow, actor=actor, action="staff.login", subject=subject, result="otp_required")
            raise OtpRequired()
        elif not code_matches(account.totp_secret_enc, otp, now):
            _record_failure(uow, account, actor, subject, akey, skey, now, error=OtpInvalid())

    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.kind == ACCOUNT_KIND, LoginThrottle.key == akey))
    uow.session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == account.id)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    if needs_rehash(account.password_hash):
        # Parameters changed since this hash was made: upgrade it while we hold the clear password.
        account.password_hash = hash_password(password)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + (ENROL_TTL if enrol_only else ttl)
    uow.session.add(
        StaffSession(
            token_hash=token_digest(token), staff_id=account.id, created_at=now, expires_at=expires_at,
            enrol_only=enrol_only,
        )
    )  # fmt: skip
    uow.flush()
    uow.session.refresh(account)
    second = "enrolment_required" if enrol_only else ("verified" if requires_second_factor(account.role) else "none")
    record_event(uow, actor=actor, action="staff.login", subject=subject, details={"second_factor": second})
    return StaffLogin(principal=principal_of(account), access_token=token, expires_at=expires_at, enrol_only=enrol_only)


def _record_failure(
    uow: UnitOfWork,
    account: StaffAccount | None,
    actor: Actor,
    subject: str,
    akey: bytes,
    skey: bytes | None,
    now: datetime,
    error: DomainError | None = None,
) -> NoReturn:
    """Count one failure per source and per username (atomic SQL counters), audit it, raise the answer."""
    if skey is not None:
        throttle.count_failure(uow, kind=SOURCE_KIND, key=skey, limits=_source_limits(), now=now)
    counted = throttle.count_failure(uow, kind=ACCOUNT_KIND, key=akey, limits=_account_limits(), now=now)
    locked = counted is None or counted.locked
    if account is None:
        result = "unknown_user"
    elif not account.active:
        result = "inactive"
    else:
        result = "otp_invalid" if isinstance(error, OtpInvalid) else "failed"
    details = {"failed_logins": counted.failures, "wait_seconds": counted.wait_seconds} if counted else {}
    record_event(uow, actor=actor, action="staff.login", subject=subject, result=result if not locked else "locked",
                 details={**details, "reason": result})  # fmt: skip
    uow.flush()
    if locked:
        raise StaffAccountLocked()
    raise error or InvalidCredentials()


def unlock_staff(uow: UnitOfWork, *, username: str, actor: Actor) -> bool:
    """Lift the hard lock and the waits of a username (known or not): an administrator's act, audited.

    True when there was a counter to clear. An administrator may unlock only inside their region; an
    unknown username is outside every region but the national one (and the CLI operator's)."""
    name = normalise_username(username)
    account = get_staff(uow, name)
    if actor.kind == "staff" and actor.region:
        region = account.region_code if account is not None else None
        if region is None or not is_within(region, actor.region):
            raise OutsideRegion(f"outside your region {actor.region}")
    cleared = uow.session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.kind == ACCOUNT_KIND, LoginThrottle.key == username_key(name))
        .returning(LoginThrottle.failures)
    ).first()
    if account is not None:
        uow.session.execute(
            update(StaffAccount).where(StaffAccount.id == account.id).values(failed_logins=0, locked_until=None)
        )
    record_event(
        uow, actor=actor, action="staff.unlock", subject=f"staff:{name}" if account is not None else "staff:unknown",
        details={"had_failures": int(cleared[0]) if cleared else 0},
    )  # fmt: skip
    return cleared is not None


def resolve_session(
    uow: UnitOfWork, *, token: str, now: datetime | None = None, allow_enrolment: bool = False
) -> StaffPrincipal:
    """The staff member behind a live session token; ``Unauthenticated`` when unknown, expired or revoked.

    An enrol-only session (a second-factor role before enrolment) is refused with 403
    ``SECOND_FACTOR_ENROLMENT_REQUIRED`` unless ``allow_enrolment`` (the enrolment routes, me, logout)."""
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
    if session.enrol_only and not allow_enrolment:
        raise SecondFactorEnrolmentRequired()
    return principal_of(account)


def session_id_of(uow: UnitOfWork, *, token: str) -> int | None:
    """The id of the session behind ``token`` (for enrolment confirmation)."""
    return uow.session.scalar(select(StaffSession.id).where(StaffSession.token_hash == token_digest(token)))


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
