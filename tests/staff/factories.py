"""Test factories for regions and staff, usable by any domain's tests.

from tests.staff.factories import make_staff, login_token
account = make_staff(uow, role=Role.COUNTER_CLERK, region_code="110105")

Accounts of the second-factor roles are enrolled with ``TOTP_SECRET``; ``login_token`` sends its code.
"""

from __future__ import annotations

import secrets

from sscard.audit import Actor
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.regions.codes import parent_code_of
from sscard.regions.models import Region
from sscard.regions.service import add_region, get_region
from sscard.staff.models import StaffAccount
from sscard.staff.roles import Role
from sscard.staff.service import create_staff
from sscard.staff.sessions import authenticate_staff
from sscard.staff.totp import requires_second_factor, set_secret

PASSWORD = "correct horse battery"  # noqa: S105 - test credential
TEST_BANK = "TESTBANK"  # the bank of test bank clerks unless a test names another (PIN-6)
TEST_ACTOR = Actor.system()
# The TOTP secret of every factory account whose role signs in with a second factor (issue 17 item 8).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - test credential


def current_otp(secret: str = TOTP_SECRET) -> str:
    import pyotp

    return pyotp.TOTP(secret).now()


def ensure_region(uow: UnitOfWork, code: str) -> Region:
    """Register ``code`` and every ancestor it implies (generic names), if missing."""
    existing = get_region(uow, code)
    if existing is not None:
        return existing
    parent = parent_code_of(code)
    if parent is not None:
        ensure_region(uow, parent)
    return add_region(uow, code=code, name_zh=f"测试{code}", name_en=f"Test {code}", actor=TEST_ACTOR)


def make_staff(
    uow: UnitOfWork,
    *,
    role: Role = Role.COUNTER_CLERK,
    region_code: str = "110000",
    username: str | None = None,
    password: str = PASSWORD,
    bank_code: str | None = None,
    enrol: bool = True,
) -> StaffAccount:
    """A new active staff account (unique username unless given) in ``region_code``; a bank clerk works
    for ``bank_code`` (``TEST_BANK`` unless given)."""
    ensure_region(uow, region_code)
    account = create_staff(
        uow,
        username=username or f"t{secrets.token_hex(5)}",
        password=password,
        role=role,
        region_code=region_code,
        bank_code=bank_code or (TEST_BANK if Role(role) is Role.BANK_CLERK else None),
        actor=TEST_ACTOR,
    )
    if enrol and requires_second_factor(account.role):
        set_secret(account, TOTP_SECRET, confirmed_at=utcnow())
        uow.flush()
    return account


def login_token(uow: UnitOfWork, account: StaffAccount, password: str = PASSWORD) -> str:
    """Open a session for ``account`` (with its TOTP code where its role needs one) and return its token."""
    otp = current_otp() if account.totp_confirmed_at is not None else None
    return authenticate_staff(uow, username=account.username, password=password, otp=otp).access_token
