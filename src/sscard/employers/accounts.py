"""Employer user accounts (QPW-5's "employer" user type): sign-in, sessions, password change.

The login is the credit code; passwords and temporary passwords are Argon2id hashes made and checked
by the query password's own hashing (policy parameters, rehash on change). Failures are counted by the
query password's throttle (QPW-7) — the same table, statements and limits: the account counter is
keyed by a blind index of the credit code (purpose ``employer_login``, so it never meets a person's
key), the source counter is the portal's own, so guesses spread over both portals count together.
An account starts without a password: the employer asks for a temporary one (forgot password, user
type "employer", sent by SMS to the contact phone on file) and must change it after signing in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from sscard.audit import Actor, Channel, record_event
from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.errors import AccountLocked, InvalidCredentials, OldPasswordWrong
from sscard.credentials.query_password.hashing import (
    LOGIN_VERIFICATIONS,
    burn_verification,
    hash_password,
    verify_password,
)
from sscard.credentials.query_password.rules import HolderContext, check_new_password, looks_temporary
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.employers.errors import EmployerSessionInvalid
from sscard.employers.models import Employer, EmployerAccount, EmployerSession
from sscard.employers.uscc import check_uscc
from sscard.policy.service import get_effective_policy
from sscard.regions.codes import NATIONAL
from sscard.security_module import get_security_module

SESSION_TTL = timedelta(minutes=30)
TOKEN_PREFIX = "est_"  # noqa: S105 - a public marker, not a secret
EMPLOYER_CALLER = Actor(kind="caller", id="employer-portal", channel=Channel.EMPLOYER, role="caller")


def employer_actor(employer_id: int) -> Actor:
    return Actor(kind="employer", id=f"employer:{employer_id}", channel=Channel.EMPLOYER, role="employer")


def account_key(uscc: str) -> bytes:
    return get_security_module().blind_index(uscc.encode(), purpose="employer_login")


def create_account(uow: UnitOfWork, *, employer: Employer, actor: Actor) -> EmployerAccount:
    """The employer's sign-in account (no password yet: a temporary one is requested, QPW-5)."""
    account = EmployerAccount(employer_id=employer.id, login=employer.uscc, password_hash=None, must_change=True)
    uow.session.add(account)
    uow.flush()
    record_event(uow, actor=actor, action="employer.account_create", subject=f"employer:{employer.id}")
    return account


def get_account_by_login(uow: UnitOfWork, login: str) -> EmployerAccount | None:
    return uow.session.scalar(select(EmployerAccount).where(EmployerAccount.login == login))


@dataclass(frozen=True, slots=True)
class EmployerLogin:
    employer_id: int
    access_token: str
    must_change_password: bool
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a credential
        return f"EmployerLogin(employer_id={self.employer_id}, must_change={self.must_change_password})"


@dataclass(frozen=True, slots=True)
class EmployerPrincipal:
    session_id: int
    account_id: int
    employer_id: int
    must_change: bool


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _check(account: EmployerAccount | None, password: str, policy: object, now: datetime) -> str | None:
    """Which credential matches ("password" / "temporary") with one Argon2id verification, or None."""
    from sscard.policy.schemas import RegionalPolicy

    assert isinstance(policy, RegionalPolicy)  # noqa: S101 - typed loosely to keep imports light
    pending = (
        account is not None
        and account.temp_hash is not None
        and account.temp_used_at is None
        and account.temp_expires_at is not None
        and account.temp_expires_at > now
    )
    if looks_temporary(password) and pending:
        assert account is not None and account.temp_hash is not None  # noqa: S101
        return "temporary" if verify_password(policy, account.temp_hash, password) else None
    if account is not None and account.password_hash is not None:
        return "password" if verify_password(policy, account.password_hash, password) else None
    burn_verification(policy, times=LOGIN_VERIFICATIONS)
    return None


def login_employer(
    uow: UnitOfWork, *, uscc: str, password: str, source: str, now: datetime | None = None
) -> EmployerLogin:
    """Sign an employer in; throttled exactly like the query password (QPW-7). Unknown codes cost the same."""
    now = now or utcnow()
    code = check_uscc(uscc).uscc
    key, source_key = account_key(code), throttle.source_key(source)
    counters = throttle.read_counters(uow, account=key, source=source_key)
    for counter in (counters.get(throttle.SOURCE), counters.get(throttle.ACCOUNT)):
        refused = throttle.refusal(counter, now)
        if refused is not None:
            raise refused
    account = get_account_by_login(uow, code)
    employer = uow.session.get(Employer, account.employer_id) if account is not None else None
    region = employer.region_code if employer is not None else NATIONAL
    policy = get_effective_policy(uow, region_code=region, at=now)
    national = get_effective_policy(uow, region_code=NATIONAL, at=now)
    via = _check(account, password, policy, now)
    subject = f"employer:{employer.id}" if employer is not None else f"uscc:{code[:8]}…"
    if via is None or account is None:
        throttle.count_failure(uow, kind=throttle.SOURCE, key=source_key, limits=throttle.Limits.source(national),
                               now=now)  # fmt: skip
        counted = throttle.count_failure(
            uow, kind=throttle.ACCOUNT, key=key, limits=throttle.Limits.account(policy), now=now
        )
        locked = counted is None or counted.locked
        record_event(uow, actor=EMPLOYER_CALLER, action="employer.login", subject=subject,
                     result="locked" if locked else "failed")  # fmt: skip
        uow.flush()
        raise AccountLocked() if locked else InvalidCredentials()
    if counters.get(throttle.ACCOUNT) is not None and not throttle.clear_after_success(uow, key=key, now=now):
        raise throttle.refusal(throttle.account_row(uow, key=key), now) or AccountLocked()
    must_change = account.must_change or via == "temporary"
    if via == "temporary":
        used = uow.session.execute(
            update(EmployerAccount)
            .where(EmployerAccount.id == account.id, EmployerAccount.temp_used_at.is_(None))
            .values(temp_used_at=now)
            .returning(EmployerAccount.id)
        ).first()
        if used is None:  # single use: a concurrent login took it
            raise InvalidCredentials()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = EmployerSession(
        token_hash=_digest(token),
        account_id=account.id,
        employer_id=account.employer_id,
        must_change=must_change,
        created_at=now,
        expires_at=now + SESSION_TTL,
    )
    uow.session.add(session)
    uow.flush()
    record_event(uow, actor=employer_actor(account.employer_id), action="employer.login", subject=subject,
                 details={"via": via, "session": session.id})  # fmt: skip
    return EmployerLogin(account.employer_id, token, must_change, session.expires_at)


def resolve_employer_session(uow: UnitOfWork, *, token: str, now: datetime | None = None) -> EmployerPrincipal:
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise EmployerSessionInvalid("not an employer session token")
    row = uow.session.scalar(select(EmployerSession).where(EmployerSession.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise EmployerSessionInvalid()
    return EmployerPrincipal(row.id, row.account_id, row.employer_id, row.must_change)


def change_employer_password(
    uow: UnitOfWork,
    *,
    principal: EmployerPrincipal,
    old_password: str,
    new_password: str,
    source: str = "unknown",
    now: datetime | None = None,
) -> None:
    """Change the password (the old one, or the temporary one just used, must be given).

    A wrong old password is counted like a failed login (QPW-7): a stolen session must not become a way
    to guess the password; the lock it reaches ends the account's sessions (the caller commits the count).
    """
    now = now or utcnow()
    account = uow.session.get_one(EmployerAccount, principal.account_id)
    employer = uow.session.get_one(Employer, principal.employer_id)
    policy = get_effective_policy(uow, region_code=employer.region_code, at=now)
    key, source_key = account_key(account.login), throttle.source_key(source)
    counters = throttle.read_counters(uow, account=key, source=source_key)
    for counter in (counters.get(throttle.SOURCE), counters.get(throttle.ACCOUNT)):
        refused = throttle.refusal(counter, now)
        if refused is not None:
            raise refused
    current = account.password_hash if account.password_hash is not None else account.temp_hash
    if current is None or not verify_password(policy, current, old_password):
        if account.temp_hash is None or not verify_password(policy, account.temp_hash, old_password):
            national = get_effective_policy(uow, region_code=NATIONAL, at=now)
            throttle.count_failure(uow, kind=throttle.SOURCE, key=source_key, limits=throttle.Limits.source(national),
                                   now=now)  # fmt: skip
            counted = throttle.count_failure(
                uow, kind=throttle.ACCOUNT, key=key, limits=throttle.Limits.account(policy), now=now
            )
            locked = counted is None or counted.locked
            record_event(uow, actor=employer_actor(employer.id), action="employer.password_change",
                         subject=f"employer:{employer.id}", result="locked" if locked else "failed")  # fmt: skip
            if locked:
                uow.session.execute(
                    update(EmployerSession)
                    .where(EmployerSession.account_id == account.id, EmployerSession.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                uow.flush()
                raise AccountLocked()
            uow.flush()
            raise OldPasswordWrong()
    if counters.get(throttle.ACCOUNT) is not None:
        throttle.clear_after_success(uow, key=key, now=now)
    check_new_password(new_password, policy=policy, context=HolderContext(id_number=employer.uscc, name=employer.name))
    account.password_hash = hash_password(policy, new_password)
    account.must_change = False
    account.changed_at = now
    account.temp_hash = None
    uow.session.execute(
        update(EmployerSession)
        .where(EmployerSession.account_id == account.id, EmployerSession.id != principal.session_id)
        .values(revoked_at=now)
    )
    uow.session.execute(update(EmployerSession).where(EmployerSession.id == principal.session_id)
                        .values(must_change=False))  # fmt: skip
    record_event(uow, actor=employer_actor(employer.id), action="employer.password_change",
                 subject=f"employer:{employer.id}")  # fmt: skip


def issue_temporary_password(
    uow: UnitOfWork, *, uscc: str, channel: str, now: datetime, temporary: str, temp_hash: str
) -> str | None:
    """QPW-5 for the employer user type: why nothing was sent (audited by the caller), or None when sent.

    The caller draws ``temporary`` and spends the one Argon2id hash (``temp_hash``) whatever the answer,
    as for a person (query_password/recovery.py), so neither answer nor timing tells the cases apart."""
    from sscard.credentials.query_password.recovery import temporary_password_text
    from sscard.identity.protected import PHONE, employer_row
    from sscard.notify.outbox import enqueue

    code = check_uscc(uscc)
    account = get_account_by_login(uow, code.uscc) if code.valid else None
    employer = uow.session.get(Employer, account.employer_id) if account is not None else None
    if account is None or employer is None:
        return "no_such_account"
    if channel != "sms" or employer.contact_phone_enc is None:
        return "no_contact"
    policy = get_effective_policy(uow, region_code=employer.region_code, at=now)
    if account.temp_issued_at is not None and now - account.temp_issued_at < timedelta(
        seconds=policy.forgot_password_min_interval_seconds
    ):
        return "too_soon"
    expires_at = now + timedelta(minutes=policy.temporary_password_minutes)
    account.temp_hash, account.temp_issued_at, account.temp_expires_at = temp_hash, now, expires_at
    account.temp_used_at = None
    zh, _en = temporary_password_text(temporary=temporary, expires_at=expires_at)
    phone = PHONE.open(employer.contact_phone_enc, row=employer_row("contact_phone_enc", employer.uscc))
    enqueue(uow, channel="sms", topic="employer.temporary_password", body=zh, recipient=phone)
    return None
