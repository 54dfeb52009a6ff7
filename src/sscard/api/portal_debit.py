"""The holder's RMB debit accounts in the portal (FIN-2): balance and movements, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sscard.api.deps import TRANSACTION
from sscard.api.holder_auth import require_holder
from sscard.api.idempotency import IdempotentRoute
from sscard.credentials.query_password.sessions import HolderSession
from sscard.db.session import UnitOfWork
from sscard.debit import service
from sscard.debit.schemas import HolderDebitAccount

router = APIRouter(prefix="/portal", tags=["portal"], route_class=IdempotentRoute)


@router.get("/debit", response_model=list[HolderDebitAccount])
def debit_accounts(holder: HolderSession = Depends(require_holder), uow: UnitOfWork = TRANSACTION) -> list[Any]:
    """The signed-in holder's debit accounts: bank, masked cards, balance and movements."""
    return service.holder_view(uow, person_id=holder.person_id)
