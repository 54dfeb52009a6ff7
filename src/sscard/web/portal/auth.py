"""The signed-in holder of a portal page, resolved by the same session service as the API's
``holder_auth`` (the page session keeps the portal token sealed)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends

from sscard.credentials.query_password.errors import PortalSessionInvalid
from sscard.credentials.query_password.sessions import HolderSession, resolve_session
from sscard.web.errors import SignInRequired
from sscard.web.page import Page, page_for

portal_page = page_for("portal")
LOGIN_URL = "/portal/"
CHANGE_URL = "/portal/password"


@dataclass(frozen=True, slots=True)
class HolderPage:
    page: Page
    holder: HolderSession


def current_holder(page: Page = Depends(portal_page)) -> HolderPage:
    """The holder, even one who must still change the initial or temporary password (QPW-2)."""
    holder = page.signed_in_as(resolve_session, login_url=LOGIN_URL, ended=PortalSessionInvalid)
    return HolderPage(page, holder)


class PasswordChangeFirst(SignInRequired):
    """QPW-2: until the initial or temporary password is changed, only the change page opens."""


def require_holder(current: HolderPage = Depends(current_holder)) -> HolderPage:
    if current.holder.must_change:
        raise PasswordChangeFirst(CHANGE_URL)
    return current
