"""Portal login and password changes (QPW-1..QPW-4, QPW-6..QPW-8, PIN-10).

The portal only ever checks the query password: there is no path from here to a card PIN (PIN-10,
QPW-8), and the throttle counters here are not the PIN's. Every login path that looks at a password
costs the same one Argon2id verification (``LOGIN_VERIFICATIONS``) whatever the account state, a
pending temporary password included, so timing does not tell an unknown ID from a real one.

On a failed login the counters and the audit entry are flushed before the error is raised: the
entrypoint commits them (catch, commit, re-raise), or throttling would be rolled back with the error.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sscard.audit import Actor, Channel, record_event
from sscard.captcha.errors import CaptchaRequired
from sscard.captcha.service import check_captcha
from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.account import (
    get_account,
    holder_context,
    initial_password_expires_at,
    lock_account,
    read_login_state,
    record_login,
    temporary_pending,
    use_temporary,
    uses_initial_password,
)
from sscard.credentials.query_password.errors import (
    AccountLocked,
    InvalidCredentials,
    NoticeVersionUnknown,
    OldPasswordWrong,
    PasswordWeak,
)
from sscard.credentials.query_password.hashing import (
    LOGIN_VERIFICATIONS,
    burn_verification,
    hash_password,
    needs_rehash,
    normalise,
    verify_password,
)
from sscard.credentials.query_password.models import LoginThrottle, NoticeAcknowledgement, QueryPassword
from sscard.credentials.query_password.notices import LIABILITY_NOTICE, notify_holder
from sscard.credentials.query_password.rules import check_new_password, initial_query_password, looks_temporary
from sscard.credentials.query_password.sessions import (
    HolderSession,
    clear_must_change,
    open_session,
    revoke_sessions,
)
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import InvalidCitizenId, mask_id_number, parse_citizen_id
from sscard.people.models import Person, PersonStatus
from sscard.people.service import get_person_or_raise, person_subject
from sscard.policy.schemas import EffectivePolicy
from sscard.policy.service import get_effective_policies, get_effective_policy
from sscard.regions.codes import NATIONAL

PORTAL_CALLER = Actor(kind="caller", id="portal", channel=Channel.PORTAL, role="caller")


def holder_actor(person_id: int) -> Actor:
    return Actor(kind="holder", id=f"person:{person_id}", channel=Channel.PORTAL, role="holder")


@dataclass(frozen=True, slots=True)
class PortalLogin:
    person_id: int
    access_token: str
    must_change_password: bool
    via: str  # "password" | "initial" | "temporary"
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a credential
        return f"PortalLogin(person_id={self.person_id}, via={self.via}, must_change={self.must_change_password})"


def _verify_current(
    policy: EffectivePolicy, person: Person, account: QueryPassword | None, password: str, now: datetime
) -> str | None:
    """Which credential ``password`` matches: "password", "initial", "temporary", or None.

    Always exactly ``LOGIN_VERIFICATIONS`` (one) Argon2id verification, whatever the account holds: a
    password of the temporary password's shape (``rules.looks_temporary``, a shape no chosen password
    may have) is checked against the pending temporary password, any other against the current
    credential (the stored hash, or a dummy when the initial password applies). A pending temporary
    password must not make a login slower than one without (issue 17 item 6: forgot-password then
    login told the accounts apart by its time); one check rather than two keeps the login's cost that
    of one verification (bench/login.py; the figures are in bench/README.md).
    """
    if looks_temporary(password) and temporary_pending(account, now):
        assert account is not None and account.temp_hash is not None  # noqa: S101 - temporary_pending checked both
        return "temporary" if verify_password(policy, account.temp_hash, password) else None
    if account is not None and account.password_hash is not None:
        return "password" if verify_password(policy, account.password_hash, password) else None
    burn_verification(policy)  # the same cost as a real hash check
    expires = initial_password_expires_at(policy, person, account)
    initial = initial_query_password(person.id_number, policy.query_password_rule)
    if (expires is None or now < expires) and hmac.compare_digest(normalise(password), initial):
        return "initial"
    return None


def _count_failure(
    uow: UnitOfWork,
    *,
    policy: EffectivePolicy,
    national: EffectivePolicy,
    account_key: bytes | None,
    source_key: bytes,
    subject: str,
    now: datetime,
) -> bool:
    """Count one wrong password against the source and the account; True when it hard-locked the account."""
    throttle.count_failure(uow, kind=throttle.SOURCE, key=source_key, limits=throttle.Limits.source(national), now=now)
    counted = None
    if account_key is not None:
        counted = throttle.count_failure(
            uow, kind=throttle.ACCOUNT, key=account_key, limits=throttle.Limits.account(policy), now=now
        )
    # None from the account counter: a concurrent failure locked it first (nothing more was counted).
    locked = account_key is not None and (counted is None or counted.locked)
    details = {"failures": counted.failures, "wait_seconds": counted.wait_seconds} if counted else {}
    result = "locked" if locked else "failed"
    record_event(uow, actor=PORTAL_CALLER, action="portal.login", subject=subject, result=result, details=details)
    uow.flush()
    return locked


def _check_login_captcha(
    uow: UnitOfWork,
    policy: EffectivePolicy,
    counter: LoginThrottle | None,
    captcha_id: str | None,
    captcha_answer: str | None,
    now: datetime,
) -> None:
    """The region's captcha rule: asked once the account's consecutive failures reach the threshold (the
    same for unknown accounts, whose failures are counted too, so the answer discloses nothing)."""
    threshold = policy.login_captcha_after_failures
    if threshold is None or (counter.failures if counter is not None else 0) < threshold:
        return
    if not (captcha_id and captcha_answer):
        raise CaptchaRequired()
    check_captcha(uow, captcha_id=captcha_id, answer=captcha_answer, now=now)


def login_holder(
    uow: UnitOfWork,
    *,
    id_number: str,
    password: str,
    source: str,
    now: datetime | None = None,
    captcha_id: str | None = None,
    captcha_answer: str | None = None,
) -> PortalLogin:
    """Sign a holder in with the query password: a session, and whether it must be changed first (QPW-2).

    Where the region's policy asks for it (``login_captcha_after_failures``), the captcha is checked
    (and spent) before the password: ``CAPTCHA_REQUIRED`` without one, ``CAPTCHA_INVALID`` if wrong."""
    now = now or utcnow()
    source_key = throttle.source_key(source)
    try:
        cid = parse_citizen_id(id_number)
    except InvalidCitizenId:
        cid = None
    if cid is None:
        # A malformed number is no account: count it against the source only.
        refused = throttle.refusal(throttle.source_row(uow, key=source_key), now)
        if refused is not None:
            raise refused
        national = get_effective_policy(uow, region_code=NATIONAL, at=now)
        burn_verification(national, times=LOGIN_VERIFICATIONS)
        _count_failure(
            uow,
            policy=national,
            national=national,
            account_key=None,
            source_key=source_key,
            subject="id:invalid",
            now=now,
        )
        raise InvalidCredentials()
    account_key = throttle.account_key(cid.number)  # the same blind index as the person table's
    state = read_login_state(uow, account_key=account_key, source_key=source_key)
    for counter in (state.source_counter, state.account_counter):
        # QPW-7: during a wait or after the hard lock even the right password is refused, unchecked.
        refused = throttle.refusal(counter, now)
        if refused is not None:
            raise refused
    person, account = state.person, state.account
    region = person.region_code if person is not None else cid.region_code
    policies = get_effective_policies(uow, region_codes=[NATIONAL, region], at=now)
    policy, national = policies[region], policies[NATIONAL]
    subject = person_subject(person.id) if person is not None else f"id:{mask_id_number(cid.number)}"
    _check_login_captcha(uow, policy, state.account_counter, captcha_id, captcha_answer, now)
    via = None
    if person is not None and person.status is not PersonStatus.DECEASED:
        via = _verify_current(policy, person, account, password, now)
    else:
        burn_verification(policy, times=LOGIN_VERIFICATIONS)  # unknown or closed: the same work
    if via is None or person is None:
        locked = _count_failure(
            uow,
            policy=policy,
            national=national,
            account_key=account_key,
            source_key=source_key,
            subject=subject,
            now=now,
        )
        raise AccountLocked() if locked else InvalidCredentials()

    if state.account_counter is not None and not throttle.clear_after_success(uow, key=account_key, now=now):
        # Concurrent failures locked the account (or started a wait) while this password was checked.
        raise throttle.refusal(throttle.account_row(uow, key=account_key), now) or AccountLocked()
    if via == "temporary":
        # Single use: only the first login with it wins, even when two arrive together.
        assert account is not None and account.temp_hash is not None  # noqa: S101 - "temporary" implies both
        if not use_temporary(uow, person_id=person.id, temp_hash=account.temp_hash, now=now):
            raise InvalidCredentials()
    else:
        new_hash = None
        if via == "password" and account is not None and account.password_hash is not None:
            if needs_rehash(policy, account.password_hash):
                # QPW-6: the policy's hash parameters changed since this hash was made; upgrade it now.
                new_hash = hash_password(policy, password)
        if new_hash is not None or (account is not None and account.temp_hash is not None):
            record_login(uow, person_id=person.id, now=now, new_hash=new_hash)
    must_change = via in ("initial", "temporary")
    token, session_id, expires_at = open_session(
        uow, person_id=person.id, must_change=must_change, via_temporary=via == "temporary", now=now
    )
    record_event(
        uow,
        actor=holder_actor(person.id),
        action="portal.login",
        subject=subject,
        details={"via": via, "must_change_password": must_change, "session": session_id},
    )
    return PortalLogin(person.id, token, must_change, via, expires_at)


def change_password(
    uow: UnitOfWork,
    *,
    session: HolderSession,
    old_password: str,
    new_password: str,
    source: str,
    now: datetime | None = None,
) -> None:
    """Set a new query password (QPW-2, QPW-6); other sessions end and the holder is told (CH-5)."""
    now = now or utcnow()
    person = get_person_or_raise(uow, session.person_id)
    policies = get_effective_policies(uow, region_codes=[NATIONAL, person.region_code], at=now)
    policy, national = policies[person.region_code], policies[NATIONAL]
    context = holder_context(person)
    key = throttle.account_key(context.id_number)
    source_key = throttle.source_key(source)
    counters = throttle.read_counters(uow, account=key, source=source_key)
    for kind in (throttle.SOURCE, throttle.ACCOUNT):
        refused = throttle.refusal(counters.get(kind), now)
        if refused is not None:
            raise refused
    account = get_account(uow, person.id)
    via = _verify_current(policy, person, account, old_password, now)
    if via is None and session.via_temporary and account is not None and account.temp_hash is not None:
        # Signed in with the (now used) temporary password: that is the password to replace.
        if account.temp_used_at is not None and verify_password(policy, account.temp_hash, old_password):
            via = "temporary"
    if via is None:
        # A stolen session must not become a way to guess the password: counted like a login.
        locked = _count_failure(
            uow,
            policy=policy,
            national=national,
            account_key=key,
            source_key=source_key,
            subject=person_subject(person.id),
            now=now,
        )
        if locked:
            revoke_sessions(uow, person_id=person.id, now=now)
            raise AccountLocked()
        raise OldPasswordWrong()
    if normalise(new_password) == normalise(old_password):
        raise PasswordWeak("the new password must differ from the current one", reason="same_as_current")
    check_new_password(new_password, policy=policy, context=context)

    row = lock_account(uow, person_id=person.id, now=now)
    row.password_hash = hash_password(policy, new_password)
    row.changed_at = now
    row.temp_hash = row.temp_issued_at = row.temp_expires_at = row.temp_used_at = None
    row.updated_at = now
    throttle.clear_after_success(uow, key=key, now=now)
    ended = revoke_sessions(uow, person_id=person.id, now=now, keep=session.session_id)
    clear_must_change(uow, session_id=session.session_id)
    record_event(
        uow,
        actor=holder_actor(person.id),
        action="qpw.change",
        subject=person_subject(person.id),
        details={"from": via, "other_sessions_ended": ended},
    )
    notify_holder(uow, person=person, event="password_changed", now=now)


def password_min_length(uow: UnitOfWork, *, person_id: int) -> int:
    """The shortest new password the holder's region accepts (its policy, QPW-1): what the change page says."""
    person = uow.session.get(Person, person_id)
    region = person.region_code if person is not None else NATIONAL
    return get_effective_policy(uow, region_code=region).password_min_length


def acknowledge_notice(uow: UnitOfWork, *, session: HolderSession, version: str, now: datetime | None = None) -> None:
    """QPW-4: record that the holder acknowledged this version of the liability notice."""
    now = now or utcnow()
    if version != LIABILITY_NOTICE.version:
        raise NoticeVersionUnknown(f"the current notice is version {LIABILITY_NOTICE.version}")
    uow.session.add(
        NoticeAcknowledgement(
            person_id=session.person_id, notice_version=version, session_id=session.session_id, acknowledged_at=now
        )
    )
    uow.flush()
    record_event(
        uow,
        actor=holder_actor(session.person_id),
        action="qpw.notice_ack",
        subject=person_subject(session.person_id),
        details={"notice_version": version},
    )


def initial_password_state(uow: UnitOfWork, *, person: Person, now: datetime | None = None) -> dict[str, object]:
    """Whether the holder is still on the initial password and until when it works (counter view)."""
    now = now or utcnow()
    policy = get_effective_policy(uow, region_code=person.region_code, at=now)
    account = get_account(uow, person.id)
    expires = initial_password_expires_at(policy, person, account) if uses_initial_password(account) else None
    return {
        "initial": uses_initial_password(account),
        "initial_expires_at": expires,
        "initial_expired": expires is not None and expires <= now,
    }
