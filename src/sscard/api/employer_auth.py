"""FastAPI dependencies of the employer API: the signed-in employer, and the must-change gate (QPW-5)."""

from __future__ import annotations

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.credentials.query_password.errors import PasswordChangeRequired
from sscard.db.session import UnitOfWork
from sscard.employers.accounts import EmployerPrincipal, resolve_employer_session
from sscard.employers.errors import EmployerSessionInvalid

employer_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="EmployerBearer",
    description="Employer session token from POST /api/v1/employer/login.",
)


@raises(EmployerSessionInvalid)
def current_employer(
    credentials: HTTPAuthorizationCredentials | None = Security(employer_bearer),
    uow: UnitOfWork = TRANSACTION,
) -> EmployerPrincipal:
    """The signed-in employer, even one who must still change a temporary password."""
    if credentials is None or not credentials.credentials:
        raise EmployerSessionInvalid("an employer bearer token is required")
    return resolve_employer_session(uow, token=credentials.credentials)


@raises(PasswordChangeRequired)
def require_employer(principal: EmployerPrincipal = Depends(current_employer)) -> EmployerPrincipal:
    """The signed-in employer who has set its own password."""
    if principal.must_change:
        raise PasswordChangeRequired("change the temporary password first (POST /api/v1/employer/password)")
    return principal
