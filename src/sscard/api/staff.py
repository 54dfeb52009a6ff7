"""Staff sign-in and session (CH-2): login, logout, who am I, and the staff list for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials

from sscard.api.deps import TRANSACTION
from sscard.db.session import UnitOfWork
from sscard.staff.deps import StaffPrincipal, require_staff, staff_bearer
from sscard.staff.errors import InvalidCredentials, LoginThrottled
from sscard.staff.roles import Role
from sscard.staff.schemas import StaffLoginIn, StaffLoginOut, StaffRead
from sscard.staff.service import list_staff
from sscard.staff.sessions import authenticate_staff, logout_staff

router = APIRouter(prefix="/staff", tags=["staff"])

_LOGIN_ERRORS = {
    401: {"description": "Wrong username or password (`INVALID_CREDENTIALS`)."},
    429: {"description": "Too many failed logins (`LOGIN_THROTTLED`), see `Retry-After`."},
}


@router.post("/login", response_model=StaffLoginOut, responses=_LOGIN_ERRORS)  # type: ignore[arg-type]
def login(body: StaffLoginIn, uow: UnitOfWork = TRANSACTION) -> StaffLoginOut:
    """Sign a staff member in and return an opaque bearer token."""
    # The failure counter and its audit entry must survive the error response (throttling).
    with uow.committed_before(InvalidCredentials, LoginThrottled):
        result = authenticate_staff(uow, username=body.username, password=body.password)
    p = result.principal
    return StaffLoginOut(
        access_token=result.access_token, role=p.role, region=p.region_code, expires_at=result.expires_at
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(
    staff: StaffPrincipal = Depends(require_staff()),
    credentials: HTTPAuthorizationCredentials | None = Security(staff_bearer),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """End the current session; its token stops working at once."""
    if credentials is not None:
        logout_staff(uow, token=credentials.credentials, principal=staff)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=StaffRead)
def me(staff: StaffPrincipal = Depends(require_staff())) -> StaffRead:
    """Describe the signed-in staff member."""
    return StaffRead(username=staff.username, role=staff.role, region=staff.region_code, bank_code=staff.bank_code)


@router.get("", response_model=list[StaffRead])
def staff_in_region(
    staff: StaffPrincipal = Depends(require_staff(Role.ADMINISTRATOR)), uow: UnitOfWork = TRANSACTION
) -> list[StaffRead]:
    """List the staff accounts inside the administrator's region."""
    return [
        StaffRead(
            username=a.username,
            display_name=a.display_name,
            role=a.role,
            region=a.region_code,
            active=a.active,
            bank_code=a.bank_code,
        )
        for a in list_staff(uow, region_code=staff.region_code)
    ]
