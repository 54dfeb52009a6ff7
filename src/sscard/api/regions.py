"""Administrative regions: public reference data (codes and names only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.db.session import UnitOfWork
from sscard.regions.errors import RegionNotFound
from sscard.regions.schemas import RegionRead
from sscard.regions.service import get_region_or_raise, list_regions

router = APIRouter(prefix="/regions", tags=["regions"], route_class=IdempotentRoute)
RegionCode = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="Six-digit administrative code.")]


def _read(region: object) -> RegionRead:
    return RegionRead.model_validate(region, from_attributes=True)


@router.get("", response_model=list[RegionRead])
@raises(RegionNotFound)
def regions(
    within: Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description="Only regions inside this one.")] = None,
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[RegionRead]:
    """List registered regions, optionally only those inside one region."""
    return [_read(r) for r in list_regions(uow, within=within, page=page)]


@router.get("/{code}", response_model=RegionRead)
@raises(RegionNotFound)
def region(code: RegionCode, uow: UnitOfWork = TRANSACTION) -> RegionRead:
    """Show one region."""
    return _read(get_region_or_raise(uow, code))
