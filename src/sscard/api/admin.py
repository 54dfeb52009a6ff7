"""The admin channel: regional policy (POL) and the initial-credential report, by administrators in their region.

Reading is open to administrators and auditors of the region; changing it needs the administrator
role. A region's policy is changed only by an administrator whose region contains it (CH-2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel

from sscard.api.deps import READS, TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.cards.errors import CardTypeInvalid
from sscard.cards.types import CardType
from sscard.credentials.query_password.report import count_initial_passwords
from sscard.db.session import UnitOfWork
from sscard.policy.errors import PolicyInvalid, PolicyScheduleConflict
from sscard.policy.models import PolicyVersion
from sscard.policy.schemas import PolicyChange, PolicyVersionRead
from sscard.policy.service import get_effective_policy, list_policy_versions, set_policy
from sscard.regions.errors import RegionNotFound
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import Role

router = APIRouter(prefix="/admin", tags=["admin"], route_class=IdempotentRoute)

READERS = require_staff(Role.ADMINISTRATOR, Role.AUDITOR)
ADMIN = require_staff(Role.ADMINISTRATOR)


class EffectivePolicyRead(BaseModel):
    region_code: str
    card_type: CardType | None
    as_of: datetime
    values: dict[str, Any]
    sources: dict[str, str]


class InitialPasswordCountRead(BaseModel):
    region_code: str
    holders: int
    initial_password: int
    share: float


def version_read(v: PolicyVersion) -> PolicyVersionRead:
    return PolicyVersionRead(
        region_code=v.region_code,
        card_type=v.card_type,
        version=v.version,
        effective_from=v.effective_from,
        settings=v.settings,
        changed_by=v.changed_by,
        changed_role=v.changed_role,
        reason=v.reason,
        created_at=v.created_at,
    )


@router.get("/policy/{region_code}", response_model=EffectivePolicyRead)
@raises(OutsideRegion, CardTypeInvalid, PolicyInvalid)
def show_policy(
    region_code: str,
    card_type: CardType | None = None,
    at: datetime | None = Query(default=None, description="Moment to evaluate (default now)."),
    staff: StaffPrincipal = Depends(READERS),
    uow: UnitOfWork = TRANSACTION,
) -> EffectivePolicyRead:
    """Show the policy in force for a region and card type, and which version set each value."""
    staff.ensure_region(region_code)
    policy = get_effective_policy(uow, region_code=region_code, card_type=card_type, at=at)
    return EffectivePolicyRead(
        region_code=region_code,
        card_type=policy.card_type,
        as_of=policy.as_of,
        values=policy.values(),
        sources=policy.sources,
    )


@router.get("/policy/{region_code}/versions", response_model=list[PolicyVersionRead])
@raises(OutsideRegion, CardTypeInvalid)
def policy_history(
    region_code: str,
    card_type: CardType | None = None,
    staff: StaffPrincipal = Depends(READERS),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[PolicyVersionRead]:
    """List the stored versions of a region's policy: who changed what, when, why, effective when."""
    staff.ensure_region(region_code)
    found = list_policy_versions(uow, region_code=region_code, card_type=card_type, page=page)
    return [version_read(v) for v in found]


@router.post("/policy/{region_code}", status_code=status.HTTP_201_CREATED, response_model=PolicyVersionRead)
@raises(OutsideRegion, RegionNotFound, PolicyScheduleConflict, CardTypeInvalid, PolicyInvalid)
def change_policy(
    region_code: str, body: PolicyChange, staff: StaffPrincipal = Depends(ADMIN), uow: UnitOfWork = TRANSACTION
) -> PolicyVersionRead:
    """Record a new version of a region's policy (audited); values not given are kept or inherited."""
    staff.ensure_region(region_code)
    version = set_policy(
        uow,
        region_code=region_code,
        card_type=body.card_type,
        values=body.set,
        unset=body.unset,
        effective_from=body.effective_from,
        reason=body.reason,
        actor=staff.actor(Channel.ADMIN),
    )
    return version_read(version)


@router.get("/reports/initial-query-passwords", response_model=list[InitialPasswordCountRead])
@raises(OutsideRegion)
def initial_query_passwords(
    within: str | None = Query(default=None, description="Region to report on (default: yours)."),
    staff: StaffPrincipal = Depends(READERS),
    page: PageQuery = PAGE,
    reads: UnitOfWork = READS,
) -> list[InitialPasswordCountRead]:
    """Count, per region, the holders still on the initial query password (issue 5 item 7)."""
    region = within or staff.region_code
    staff.ensure_region(region)
    counts = count_initial_passwords(reads, within=region, page=page)
    return [InitialPasswordCountRead(**c.as_dict()) for c in counts]  # type: ignore[arg-type]
