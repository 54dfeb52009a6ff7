"""Staff sign-in, sign-out and the signed-in staff member, shared by the counter and the security
console pages: the same ``authenticate_staff`` and failure counting as the staff API, and the same
session service to resolve the member of a page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response

from sscard.db.early_commit import Why, commit_early_on
from sscard.errors import DomainError, Unauthenticated
from sscard.staff.errors import InvalidCredentials, LoginThrottled, OtpInvalid, OtpRequired, StaffAccountLocked
from sscard.staff.principal import StaffPrincipal
from sscard.staff.sessions import StaffLogin, authenticate_staff, logout_staff, resolve_session
from sscard.web.page import Page
from sscard.web.source import client_address

#: Renders the channel's sign-in form: ``(page, status=, errors=, username=, ask_otp=)``.
LoginPage = Callable[..., Response]


def sign_in_staff(page: Page, *, username: str, password: str, otp: str, login_page: LoginPage, home: str,
                  refuse: Callable[[StaffLogin], str | None]) -> Response:  # fmt: skip
    """Check the form, authenticate, and sign the page session in; ``refuse`` names why a signed-in
    account may not use this channel (its session is then ended at once), or None."""
    name = username.strip()[:64]
    errors: dict[str, str] = {}
    if not name:
        errors["username"] = page.gettext("Enter your user name.")
    if not password:
        errors["password"] = page.gettext("Enter your password.")
    if errors:
        return login_page(page, status=422, errors=errors, username=name, ask_otp=bool(otp))
    try:
        # The failure counters and their audit entry outlive the refusal (throttling), as in the API.
        with commit_early_on(page.uow, InvalidCredentials, LoginThrottled, StaffAccountLocked, OtpRequired, OtpInvalid,
                             why=Why.FAILURE_COUNTED):  # fmt: skip
            result = authenticate_staff(page.uow, username=name, password=password[:1024], otp=otp.strip()[:16] or None,
                                        source=client_address(page.request.scope))  # fmt: skip
    except (OtpRequired, OtpInvalid) as exc:
        return login_page(page, status=exc.status, errors={"otp": page.refused(exc)}, username=name, ask_otp=True)
    except DomainError as exc:
        return login_page(page, status=exc.status, errors={"_form": page.refused(exc)}, username=name, ask_otp=False)
    why_not = refuse(result)
    if why_not is not None:
        logout_staff(page.uow, token=result.access_token, principal=result.principal)
        return login_page(page, status=403, errors={"_form": why_not}, username=name, ask_otp=False)
    page.sign_in(auth_token=result.access_token, principal="staff")
    return page.redirect(home)


def sign_out_staff(page: Page, *, login_url: str) -> Response:
    """End the staff session (if still live) and the page session; back to the sign-in form."""
    token = page.auth_token()
    if token is not None:
        try:
            logout_staff(page.uow, token=token, principal=resolve_session(page.uow, token=token))
        except DomainError:
            pass  # already ended: signing out is still fine
    page.sign_out()
    page.flash(page.gettext("You have signed out."))
    return page.redirect(login_url)


def signed_in_staff(page: Page, *, login_url: str) -> StaffPrincipal:
    """The staff member of the page session; anyone else is sent to the sign-in form."""
    return page.signed_in_as(resolve_session, login_url=login_url, ended=Unauthenticated)
