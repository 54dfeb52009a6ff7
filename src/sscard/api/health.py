"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from sscard import __version__
from sscard.api.deps import TRANSACTION
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of

router = APIRouter(tags=["health"])


@router.get("/health")
def health(uow: UnitOfWork = TRANSACTION) -> dict[str, str]:
    """Report that the service and its database answer."""
    uow.session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": dialect_of(uow)}
