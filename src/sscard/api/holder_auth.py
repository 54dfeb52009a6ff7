"""FastAPI dependencies of the portal: the signed-in holder, and the QPW-2 gate.

    @router.get("/portal/my-cards")
    def my_cards(holder: HolderSession = Depends(require_holder), ...):   # 403 PASSWORD_CHANGE_REQUIRED
                                                                           # until the initial password changed

Only the password change, the liability notice and logout use ``current_holder`` (QPW-2, QPW-4).
"""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.source import client_address as source_of
from sscard.credentials.query_password.errors import PasswordChangeRequired, PortalSessionInvalid
from sscard.credentials.query_password.sessions import HolderSession, resolve_session
from sscard.db.session import UnitOfWork

portal_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="PortalBearer",
    description="Portal session token from POST /api/v1/portal/login.",
)


@raises(PortalSessionInvalid)
def current_holder(
    credentials: HTTPAuthorizationCredentials | None = Security(portal_bearer),
    uow: UnitOfWork = TRANSACTION,
) -> HolderSession:
    """The signed-in holder, even one who must still change the initial or temporary password."""
    if credentials is None or not credentials.credentials:
        raise PortalSessionInvalid("a portal bearer token is required")
    return resolve_session(uow, token=credentials.credentials)


@raises(PasswordChangeRequired)
def require_holder(holder: HolderSession = Depends(current_holder)) -> HolderSession:
    """The signed-in holder who has changed the initial / temporary password (QPW-2)."""
    if holder.must_change:
        raise PasswordChangeRequired("change the initial or temporary password first (POST /api/v1/portal/password)")
    return holder


def client_address(request: Request) -> str:
    """The caller's address for the per-source throttle (``api/source.py``: proxies only if trusted)."""
    return source_of(request.scope)
