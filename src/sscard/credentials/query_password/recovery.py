"""Forgot password (QPW-5): captcha, user type, SMS or e-mail on file, a single-use temporary password.

The answer is the same whether or not the account, the phone or the e-mail exists, and so is the
work: every accepted request draws a random temporary password and spends one Argon2id hash on it,
and writes one audit entry, so neither the body nor the timing tells the cases apart. The temporary
password is random (never derived from personal data), stored only as a hash, works once, expires
by policy (default 10 minutes) and replaces any previous one. It leaves the system only inside the
outgoing message, whose body the outbox keeps sealed (see ``_queue_message``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sscard.audit import record_event
from sscard.captcha.service import check_captcha
from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.account import get_account, lock_account
from sscard.credentials.query_password.errors import RecoveryInputInvalid
from sscard.credentials.query_password.hashing import hash_password
from sscard.credentials.query_password.notices import CHINA
from sscard.credentials.query_password.rules import new_temporary_password
from sscard.credentials.query_password.service import PORTAL_CALLER
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number, parse_citizen_id
from sscard.notify import notify_person
from sscard.people.models import Person, PersonStatus
from sscard.people.service import find_person_by_id_number, person_subject
from sscard.policy.schemas import EffectivePolicy
from sscard.policy.service import get_effective_policy
from sscard.regions.codes import NATIONAL

UserType = Literal["individual", "employer", "other"]
Channel_ = Literal["sms", "email"]
# Individual accounts are keyed by the citizen ID; "other" (seed 002: flexible workers and the like)
# uses the same account. Employer accounts (user type "employer") are keyed by the credit code.
PERSON_USER_TYPES = frozenset({"individual", "other"})


def _why_not(
    uow: UnitOfWork, *, person: Person | None, user_type: str, channel: str, policy: EffectivePolicy, now: datetime
) -> str | None:
    """Why no temporary password is sent (audited, never answered), or None to send it."""
    if user_type not in PERSON_USER_TYPES:
        return "no_such_account"
    if person is None:
        return "no_such_account"
    if person.status is PersonStatus.DECEASED:
        return "account_closed"
    if (person.phone_enc if channel == "sms" else person.email_enc) is None:
        return "no_contact"
    row = throttle.account_row(uow, key=person.id_number_bidx)
    if row is not None and row.hard_locked_at is not None:
        return "hard_locked"  # QPW-7: only the counter lifts a hard lock; a temporary password would not work
    account = get_account(uow, person.id)
    if account is not None and account.temp_issued_at is not None:
        if now - account.temp_issued_at < timedelta(seconds=policy.forgot_password_min_interval_seconds):
            return "too_soon"  # one message a minute at most: nobody can flood a holder's phone
    return None


def request_temporary_password(
    uow: UnitOfWork,
    *,
    id_number: str,
    user_type: UserType | str,
    channel: Channel_ | str,
    captcha_id: str,
    captcha_answer: str,
    source: str,
    now: datetime | None = None,
) -> None:
    """QPW-5: check the captcha, then (silently, if at all) issue and send a temporary password."""
    now = now or utcnow()
    if user_type not in ("individual", "employer", "other"):
        raise RecoveryInputInvalid("user_type is individual, employer or other")
    if channel not in ("sms", "email"):
        raise RecoveryInputInvalid("channel is sms or email")
    check_captcha(uow, captcha_id=captcha_id, answer=captcha_answer, now=now)
    if user_type == "employer":
        # The employer's account is its credit code (sscard.employers.accounts): the same answer and work.
        from sscard.employers.accounts import issue_temporary_password

        national = get_effective_policy(uow, region_code=NATIONAL, at=now)
        temporary = new_temporary_password()
        why_not = issue_temporary_password(
            uow, uscc=id_number, channel=channel, now=now, temporary=temporary,
            temp_hash=hash_password(national, temporary),  # the same one Argon2id hash on every path
        )  # fmt: skip
        record_event(
            uow,
            actor=PORTAL_CALLER,
            action="qpw.forgot_password",
            subject=f"uscc:{id_number.strip().upper()[:8]}…",
            result=why_not or "sent",
            details={"channel": channel, "user_type": user_type},
        )
        return
    cid = parse_citizen_id(id_number)  # a malformed number is a typing error, not an account question
    person = find_person_by_id_number(uow, cid.number)
    policy = get_effective_policy(uow, region_code=person.region_code if person else cid.region_code, at=now)

    temporary = new_temporary_password()
    temp_hash = hash_password(policy, temporary)  # the same cost on every path
    expires_at = now + timedelta(minutes=policy.temporary_password_minutes)
    why_not = _why_not(uow, person=person, user_type=user_type, channel=channel, policy=policy, now=now)
    subject = person_subject(person.id) if person is not None else f"id:{mask_id_number(cid.number)}"
    if why_not is not None or person is None:
        record_event(
            uow,
            actor=PORTAL_CALLER,
            action="qpw.forgot_password",
            subject=subject,
            result=why_not or "no_such_account",
            details={"channel": channel, "user_type": user_type},
        )
        return

    row = lock_account(uow, person_id=person.id, now=now)
    # A new temporary password voids the previous one: there is only one slot.
    row.temp_hash = temp_hash
    row.temp_issued_at = now
    row.temp_expires_at = expires_at
    row.temp_used_at = None
    row.updated_at = now
    _queue_message(uow, person=person, channel=channel, temporary=temporary, expires_at=expires_at)
    record_event(
        uow,
        actor=PORTAL_CALLER,
        action="qpw.forgot_password",
        subject=subject,
        result="sent",
        details={"channel": channel, "user_type": user_type, "expires_at": expires_at.isoformat()},
    )


def temporary_password_text(*, temporary: str, expires_at: datetime) -> tuple[str, str]:
    """The message (Chinese, English) that carries the temporary password."""
    until = expires_at.astimezone(CHINA).strftime("%H:%M")
    zh = (
        f"【社保查询】您的临时密码为 {temporary}，{until} 前有效，仅可使用一次。登录后须立即设置新密码。"
        "如非本人操作，请忽略本消息，您的原密码仍然有效。"
    )
    en = (
        f"[Social insurance portal] Your temporary password is {temporary}, valid until {until} (UTC+8) and for "
        "one sign-in only; you must set a new password after signing in. Not you? Ignore this message; "
        "your password is unchanged."
    )
    return zh, en


def _queue_message(uow: UnitOfWork, *, person: Person, channel: str, temporary: str, expires_at: datetime) -> None:
    """Queue the one message that carries the temporary password, to the chosen contact on file.

    Why the body is stored (sealed) rather than rendered at send time from a separately sealed
    secret: the outbox already seals every body with its own AEAD context, so the temporary password
    exists at rest only as that ciphertext and as the Argon2id hash; the dispatcher stays generic (no
    per-topic renderer holding secrets), and a resend after a crash sends the identical message. The
    ciphertext is worthless after the policy's minutes or one use.
    """
    zh, en = temporary_password_text(temporary=temporary, expires_at=expires_at)
    notify_person(uow, person=person, topic="qpw.temporary_password", text=zh, text_en=en, channel=channel)
