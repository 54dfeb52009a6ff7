"""The staff second factor: TOTP (RFC 6238, 30 s, 6 digits) for the roles that hold the keys and the
policy (issue 17 item 8): security officers, key custodians, auditors, administrators.

Enrolment at the console API: ``begin_enrolment`` draws a secret and shows it once, as an ``otpauth://``
URI for an authenticator app; ``confirm_enrolment`` takes a first code from the app and only then does
the secret guard logins. Recovery: an administrator of the region resets it (``reset_second_factor``,
audited, the account's sessions end) and the staff member enrols again. The secret is sealed with the
security module like every protected field (AEAD context ``staff_totp``), never logged, never audited,
never shown again after enrolment.
"""

from __future__ import annotations

from datetime import datetime

import pyotp
from sqlalchemy import update

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity.protected import FieldKind
from sscard.regions.codes import is_within
from sscard.staff.errors import OtpInvalid, OutsideRegion, SecondFactorState
from sscard.staff.models import StaffAccount, StaffSession
from sscard.staff.roles import Role

TOTP_SECRET = FieldKind("staff_totp")
ISSUER = "sscard"
SECOND_FACTOR_ROLES = frozenset({Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.AUDITOR, Role.ADMINISTRATOR})


def requires_second_factor(role: Role) -> bool:
    return Role(role) in SECOND_FACTOR_ROLES


def otpauth_uri(username: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_matches(sealed: bytes, otp: str, now: datetime | None = None) -> bool:
    """True when ``otp`` is the code of the sealed secret now (one 30 s step either way for clock skew)."""
    otp = otp.strip().replace(" ", "")
    if not (otp.isdigit() and len(otp) == 6):
        return False
    return pyotp.TOTP(TOTP_SECRET.open(sealed)).verify(otp, for_time=now or utcnow(), valid_window=1)


def set_secret(account: StaffAccount, secret: str, *, confirmed_at: datetime | None) -> None:
    """Seal ``secret`` into the account (the demo loader and test factories enrol this way)."""
    account.totp_secret_enc = TOTP_SECRET.seal(secret)
    account.totp_confirmed_at = confirmed_at


def begin_enrolment(uow: UnitOfWork, *, account: StaffAccount, actor: Actor) -> str:
    """Draw a new secret (unconfirmed) and return its otpauth URI: shown this once, never again."""
    if not requires_second_factor(account.role):
        raise SecondFactorState("this role signs in without a second factor")
    if account.totp_confirmed_at is not None:
        raise SecondFactorState("a second factor is already enrolled; an administrator resets it first")
    secret = pyotp.random_base32()
    set_secret(account, secret, confirmed_at=None)
    uow.flush()
    record_event(uow, actor=actor, action="staff.totp.enrol", subject=f"staff:{account.username}")
    return otpauth_uri(account.username, secret)


def confirm_enrolment(
    uow: UnitOfWork, *, account: StaffAccount, otp: str, session_id: int | None, actor: Actor
) -> None:
    """The first code proves the app holds the secret: from now on every login needs a code.

    The enrol-only session it was confirmed in becomes a full one (the code was just shown)."""

    if account.totp_secret_enc is None or account.totp_confirmed_at is not None:
        raise SecondFactorState("no enrolment is waiting for its first code")
    if not code_matches(account.totp_secret_enc, otp):
        record_event(uow, actor=actor, action="staff.totp.confirm", subject=f"staff:{account.username}",
                     result="failed")  # fmt: skip
        raise OtpInvalid()
    account.totp_confirmed_at = utcnow()
    if session_id is not None:
        uow.session.execute(update(StaffSession).where(StaffSession.id == session_id).values(enrol_only=False))
    uow.flush()
    record_event(uow, actor=actor, action="staff.totp.confirm", subject=f"staff:{account.username}")


def reset_second_factor(uow: UnitOfWork, *, account: StaffAccount, actor: Actor, reason: str) -> None:
    """Recovery (lost phone): forget the secret and end the account's sessions; it enrols again."""
    if actor.kind == "staff" and actor.region and not is_within(account.region_code, actor.region):
        raise OutsideRegion(f"outside your region {actor.region}")
    had = account.totp_secret_enc is not None
    account.totp_secret_enc = None
    account.totp_confirmed_at = None
    ended = len(
        uow.session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == account.id, StaffSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(StaffSession.id)
        ).all()
    )
    uow.flush()
    record_event(
        uow, actor=actor, action="staff.totp.reset", subject=f"staff:{account.username}",
        details={"had_second_factor": had, "sessions_revoked": ended, "reason": reason[:200]},
    )  # fmt: skip
