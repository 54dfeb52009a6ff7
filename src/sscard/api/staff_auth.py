"""The one FastAPI dependency routers use to require a staff role (CH-2).

    @router.post("/cards/{card_no}/activate")
    def activate(..., staff: StaffPrincipal = Depends(require_staff(Role.COUNTER_CLERK)),
                 uow: UnitOfWork = TRANSACTION):
        staff.ensure_region(person.region_code)           # 403 OUTSIDE_REGION
        activate_card(uow, card_no=..., actor=staff.actor(Channel.COUNTER))

Missing, unknown, expired or revoked token → 401 ``UNAUTHENTICATED``; a role not listed → 403
``ROLE_FORBIDDEN``. ``require_staff()`` with no roles admits any signed-in staff member.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.db.session import UnitOfWork
from sscard.errors import Unauthenticated
from sscard.staff.errors import RoleForbidden, SecondFactorEnrolmentRequired
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import Role
from sscard.staff.sessions import resolve_session

__all__ = ["StaffPrincipal", "require_staff", "staff_bearer"]

staff_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="StaffBearer",
    description="Staff session token from POST /api/v1/staff/login.",
)


def require_staff(*roles: Role, allow_enrolment: bool = False) -> Callable[..., StaffPrincipal]:
    """A dependency that admits a signed-in staff member holding one of ``roles``.

    An enrol-only session (a second-factor role that has not enrolled) passes only with
    ``allow_enrolment`` (403 ``SECOND_FACTOR_ENROLMENT_REQUIRED`` otherwise)."""
    allowed = frozenset(Role(r) for r in roles)

    @raises(Unauthenticated, RoleForbidden, SecondFactorEnrolmentRequired)
    def dependency(
        credentials: HTTPAuthorizationCredentials | None = Security(staff_bearer),
        uow: UnitOfWork = TRANSACTION,
    ) -> StaffPrincipal:
        if credentials is None or not credentials.credentials:
            raise Unauthenticated("a staff bearer token is required")
        principal = resolve_session(uow, token=credentials.credentials, allow_enrolment=allow_enrolment)
        if allowed and principal.role not in allowed:
            needed = ", ".join(sorted(r.value for r in allowed))
            raise RoleForbidden(f"this operation needs the role {needed}")
        return principal

    return dependency
