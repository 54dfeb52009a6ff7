"""Who may act where (CH-2), and the small input checks every key-management service shares."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit import Actor, Channel
from sscard.db.session import UnitOfWork
from sscard.key_register.errors import KeysInvalid, StaffNotEligible
from sscard.regions.codes import is_within
from sscard.regions.service import get_region_or_raise
from sscard.staff.errors import OutsideRegion
from sscard.staff.models import StaffAccount
from sscard.staff.roles import Role

MINISTRY = "000000"  # the national region: the Ministry of Human Resources and Social Security
MINISTRY_NAME = "人力资源和社会保障部"
KEY_ROLES = frozenset({Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN})


def system_actor(region_code: str) -> Actor:
    """The system acting on a region's records (sweeps, alerts): its entries show in that region's reports."""
    return Actor(kind="system", id="system", channel=Channel.SYSTEM, role="system", region=region_code)


def ensure_in_region(actor: Actor, region_code: str) -> None:
    """Refuse (``OUTSIDE_REGION``) a staff actor whose region does not contain ``region_code`` (CH-2).

    The local CLI operator carries no region: whoever runs the CLI on the server already holds the
    database, so the check would protect nothing; the CLI's ``--as`` option acts as a staff member.
    """
    if actor.kind == "staff" and actor.region and not is_within(region_code, actor.region):
        raise OutsideRegion(f"outside your region {actor.region}")


def ensure_region_exists(uow: UnitOfWork, region_code: str) -> None:
    get_region_or_raise(uow, region_code)


def text(value: str | None, field: str, *, max_len: int, required: bool = True) -> str:
    """A trimmed single field; ``KEYS_INVALID`` naming the field when missing or too long."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise KeysInvalid(f"{field} is required", field=field)
    if len(cleaned) > max_len:
        raise KeysInvalid(f"{field} has at most {max_len} characters", field=field)
    return cleaned


def eligible_staff(uow: UnitOfWork, *, username: str, region_code: str, part: str) -> StaffAccount:
    """An active security officer or key custodian whose region covers ``region_code``."""
    account = uow.session.scalar(select(StaffAccount).where(StaffAccount.username == username.strip().lower()))
    if account is None or not account.active:
        raise StaffNotEligible(f"the {part} must be an active staff account", part=part)
    if account.role not in KEY_ROLES:
        raise StaffNotEligible(f"the {part} must be a security officer or key custodian", part=part)
    if not is_within(region_code, account.region_code):
        raise StaffNotEligible(f"the {part} does not cover region {region_code}", part=part)
    return account
