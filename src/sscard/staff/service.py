"""Staff accounts: create, list, deactivate (CH-2). Every change is audited (CH-4)."""

from __future__ import annotations

import hmac
import re

from sqlalchemy import select, update

from sscard.audit import Actor, record_event
from sscard.audit.signatures import enrol_signing_key
from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.regions.codes import is_within
from sscard.regions.service import get_region_or_raise, within_region
from sscard.staff.demo_password import DEMO_STAFF_PASSWORD
from sscard.staff.errors import InvalidStaffInput, OutsideRegion, PasswordTooWeak, StaffNotFound, UsernameTaken
from sscard.staff.models import StaffAccount, StaffSession
from sscard.staff.passwords import check_password_policy, hash_password
from sscard.staff.roles import Role

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
_BANK_CODE = re.compile(r"^[A-Z0-9]{1,16}$")


def normalise_bank_code(role: Role, bank_code: str | None) -> str | None:
    """PIN-6 / FIN-3: a bank clerk's account names the bank of its outlet (the code cards carry);
    no other role has one."""
    bank = (bank_code or "").strip().upper() or None
    if role is Role.BANK_CLERK:
        if bank is None:
            raise InvalidStaffInput("a bank clerk's account needs the bank of the outlet (a bank code)")
        if not _BANK_CODE.match(bank):
            raise InvalidStaffInput("a bank code is up to 16 letters and digits")
        return bank
    if bank is not None:
        raise InvalidStaffInput("only a bank clerk's account carries a bank code")
    return None


def is_demo_password(password: str) -> bool:
    """True for the published demo password (``sscard demo load``): never acceptable in production."""

    return hmac.compare_digest(password.encode(), DEMO_STAFF_PASSWORD.encode())


def normalise_username(username: str) -> str:
    return username.strip().lower()


def get_staff(uow: UnitOfWork, username: str) -> StaffAccount | None:
    """The account with this username, or None."""
    return uow.session.scalar(select(StaffAccount).where(StaffAccount.username == normalise_username(username)))


def get_staff_or_raise(uow: UnitOfWork, username: str) -> StaffAccount:
    """The account with this username; ``StaffNotFound`` otherwise."""
    account = get_staff(uow, username)
    if account is None:
        raise StaffNotFound("no staff account with that username")
    return account


def create_staff(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    role: Role | str,
    region_code: str,
    actor: Actor,
    display_name: str = "",
    bank_code: str | None = None,
) -> StaffAccount:
    """Open a staff account with one role in one registered region; the password is stored as Argon2id.

    A bank clerk's account carries the bank of its outlet (``bank_code``, required for that role).
    """
    username = normalise_username(username)
    if not _USERNAME.match(username):
        raise InvalidStaffInput("a username is 3-64 characters: lowercase letters, digits, '.', '_', '-'")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidStaffInput(f"unknown role; one of: {', '.join(r.value for r in Role)}") from None
    bank = normalise_bank_code(role, bank_code)
    if len(display_name) > 64:
        raise InvalidStaffInput("a display name has at most 64 characters")
    get_region_or_raise(uow, region_code)
    check_password_policy(password, username=username)
    published = is_demo_password(password)
    if published and get_settings().env == "prod":
        raise PasswordTooWeak("the published demo password is refused in production")
    if get_staff(uow, username) is not None:
        raise UsernameTaken(f"username {username!r} is already in use")

    account = StaffAccount(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        region_code=region_code,
        bank_code=bank,
        demo_password=published,
        active=True,
        failed_logins=0,
    )
    uow.session.add(account)
    uow.flush()
    enrol_signing_key(uow, username)  # the SM2 key that signs this member's sensitive operations
    record_event(
        uow,
        actor=actor,
        action="staff.create",
        subject=f"staff:{username}",
        details={"role": role.value, "region": region_code, **({"bank": bank} if bank else {})},
    )
    return account


def deactivate_staff(uow: UnitOfWork, *, username: str, actor: Actor) -> StaffAccount:
    """Close an account and revoke its open sessions at once; deactivating twice changes nothing."""
    account = get_staff_or_raise(uow, username)
    if actor.kind == "staff" and actor.region and not is_within(account.region_code, actor.region):
        raise OutsideRegion(f"outside your region {actor.region}")
    if not account.active:
        return account
    now = utcnow()
    account.active = False
    revoked = len(
        uow.session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == account.id, StaffSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(StaffSession.id)
        ).all()
    )
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="staff.deactivate",
        subject=f"staff:{account.username}",
        details={"sessions_revoked": revoked},
    )
    return account


def list_staff(uow: UnitOfWork, *, region_code: str | None = None, page: Keyset | None = None) -> list[StaffAccount]:
    """Accounts ordered by username; with ``region_code``, only those inside that region."""
    stmt = select(StaffAccount)
    if region_code is not None:
        stmt = stmt.where(within_region(StaffAccount.region_code, region_code))
    return taken(uow.session.scalars(ordered(stmt, page, StaffAccount.username, StaffAccount.id)), page)
