"""Liveness and readiness.

* ``GET /api/v1/health`` (contract): the service and its database answer.
* ``GET /livez``: the process answers HTTP; nothing else is asked (a stuck database must not get a
  healthy server restarted).
* ``GET /readyz``: this instance can serve: the database is reachable and upgraded, and the security
  module works (a field sealed and opened again). 503 naming the failing check otherwise, so a load
  balancer sends traffic elsewhere. Neither probe says why beyond ``ok`` / ``unavailable`` /
  ``not_initialised``: the reason is logged, not handed to anonymous callers.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sscard import __version__
from sscard.api.deps import TRANSACTION
from sscard.db.session import UnitOfWork, get_engine
from sscard.db.statements import dialect_of
from sscard.errors import DatabaseNotInitialised

router = APIRouter(tags=["health"])
# Root-level probes (as /metrics): what orchestrators and load balancers ask.
probes = APIRouter(include_in_schema=False)
log = structlog.get_logger("sscard.health")


@router.get("/health")
def health(uow: UnitOfWork = TRANSACTION) -> dict[str, str]:
    """Report that the service and its database answer."""
    uow.session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": dialect_of(uow)}


@probes.get("/livez")
def livez() -> dict[str, str]:
    """The process is alive (asks nothing of the database or the security module)."""
    return {"status": "ok", "version": __version__}


def _database() -> str:
    try:
        with get_engine().connect() as connection:
            # The migrations' own table: reachable is not enough, the schema must be there.
            connection.execute(text("SELECT version_num FROM alembic_version"))
        return "ok"
    except DatabaseNotInitialised:
        return "not_initialised"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the type is logged
        reason = "not_initialised" if "alembic_version" in str(exc) else "unavailable"
        log.warning("readiness_database", error_type=type(exc).__name__, state=reason)
        return reason


def _security_module() -> str:
    from sscard.security_module import get_security_module

    try:
        module = get_security_module()
        sealed = module.encrypt_field(b"readyz", context=b"readyz")
        if module.decrypt_field(sealed, context=b"readyz") != b"readyz":
            return "unavailable"
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the type is logged
        log.warning("readiness_security_module", error_type=type(exc).__name__)
        return "unavailable"


@probes.get("/readyz")
def readyz() -> JSONResponse:
    """Ready to serve: the database (reachable, upgraded) and the security module (usable)."""
    checks = {"database": _database(), "security_module": _security_module()}
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "version": __version__, "checks": checks},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "5"},
    )
