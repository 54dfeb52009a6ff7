"""Admin report on the card PIN: how many active cards per region still run on the initial PIN (PIN-1, PIN-9).

Beside ``/admin/reports/initial-query-passwords`` (the query-password half, ``api/admin.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.credentials.pin.report import count_initial_pins
from sscard.credentials.pin.schemas import InitialPinCountRead
from sscard.db.session import UnitOfWork
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import Role

router = APIRouter(prefix="/admin", tags=["admin"], route_class=IdempotentRoute)

READERS = require_staff(Role.ADMINISTRATOR, Role.AUDITOR)


@router.get(
    "/reports/initial-pins",
    response_model=list[InitialPinCountRead],
)
@raises(OutsideRegion)
def initial_pins(
    within: str | None = Query(default=None, description="Region to report on (default: yours)."),
    staff: StaffPrincipal = Depends(READERS),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[InitialPinCountRead]:
    """Count, per region and card type, the active cards still on the initial PIN (issue 5 item 7)."""
    region = within or staff.region_code
    staff.ensure_region(region)
    return [InitialPinCountRead(**c.as_dict()) for c in count_initial_pins(uow, within=region, page=page)]  # type: ignore[arg-type]
