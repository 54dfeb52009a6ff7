"""The signed-in employer of a page, resolved by the same session service as the API's ``employer_auth``
(the page session keeps the employer token sealed)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends

from sscard.employers.accounts import EmployerPrincipal, resolve_employer_session
from sscard.employers.errors import EmployerSessionInvalid
from sscard.web.errors import SignInRequired
from sscard.web.page import Page, page_for

employer_page = page_for("employer")
LOGIN_URL = "/employer/"
CHANGE_URL = "/employer/password"


@dataclass(frozen=True, slots=True)
class EmployerPage:
    page: Page
    employer: EmployerPrincipal


def current_employer(page: Page = Depends(employer_page)) -> EmployerPage:
    """The employer, even one who must still change a temporary password (QPW-5)."""
    employer = page.signed_in_as(resolve_employer_session, login_url=LOGIN_URL, ended=EmployerSessionInvalid)
    return EmployerPage(page, employer)


def require_employer(current: EmployerPage = Depends(current_employer)) -> EmployerPage:
    """The employer who has set its own password (as the API's ``require_employer``)."""
    if current.employer.must_change:
        raise SignInRequired(CHANGE_URL)
    return current
