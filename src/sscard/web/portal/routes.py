"""Portal pages: parse the form, call the portal's services, render (rules live in the services)."""

from __future__ import annotations

import base64

from fastapi import Depends, Form, Response

from sscard.captcha.errors import CaptchaInvalid, CaptchaRequired
from sscard.captcha.service import issue_captcha
from sscard.credentials.query_password.errors import (
    AccountLocked,
    InvalidCredentials,
    OldPasswordWrong,
    PasswordWeak,
)
from sscard.credentials.query_password.notices import LIABILITY_NOTICE
from sscard.credentials.query_password.service import (
    acknowledge_notice,
    change_password,
    login_holder,
    password_min_length,
)
from sscard.credentials.query_password.sessions import end_session
from sscard.db.base import utcnow
from sscard.db.early_commit import Why, commit_early_on
from sscard.errors import DomainError
from sscard.policy.service import get_effective_policy
from sscard.regions.codes import NATIONAL
from sscard.web.page import Page, page_router
from sscard.web.portal.auth import CHANGE_URL, HolderPage, current_holder, portal_page
from sscard.web.recovery import recovery_form, request_recovery
from sscard.web.source import client_address

router = page_router("portal")


def _login_page(page: Page, *, status: int = 200, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None, captcha: bool = False) -> Response:  # fmt: skip
    """The sign-in form, with a new captcha when ``captcha`` or the national policy asks for it always."""
    national = get_effective_policy(page.uow, region_code=NATIONAL)
    shown = captcha or national.login_captcha_after_failures == 0
    issued = issue_captcha(page.uow) if shown else None
    return page.render("portal/login.html", status=status, title=page.gettext("Sign in"), errors=errors or {},
                       values=values or {}, captcha_id=issued.captcha_id if issued else None,
                       captcha_png=base64.b64encode(issued.png).decode() if issued else None)  # fmt: skip


@router.get("/")
def start(page: Page = Depends(portal_page)) -> Response:
    """The sign-in form, or the holder's start page once signed in."""
    if page.auth_token() is not None:
        return page.redirect("/portal/home")
    return _login_page(page)


@router.post("/login")
def login(page: Page = Depends(portal_page), id_number: str = Form(""), password: str = Form(""),
          captcha_id: str = Form(""), captcha_answer: str = Form("")) -> Response:  # fmt: skip
    errors: dict[str, str] = {}
    if not id_number.strip():
        errors["id_number"] = page.gettext("Enter your citizen ID number.")
    if not password:
        errors["password"] = page.gettext("Enter your query password.")
    values = {"id_number": id_number.strip()[:32]}
    if errors:
        return _login_page(page, status=422, errors=errors, values=values, captcha=bool(captcha_id))
    try:
        # The failure counters, their audit entry and a spent captcha outlive the refusal (QPW-7), as in the API.
        with commit_early_on(page.uow, InvalidCredentials, AccountLocked, CaptchaInvalid, why=Why.FAILURE_COUNTED):
            result = login_holder(
                page.uow, id_number=id_number.strip()[:32], password=password[:1024],
                source=client_address(page.request.scope), captcha_id=captcha_id[:48] or None,
                captcha_answer=captcha_answer.strip()[:16] or None,
            )  # fmt: skip
    except DomainError as exc:
        field = "captcha_answer" if isinstance(exc, CaptchaRequired | CaptchaInvalid) else "_form"
        errors[field] = page.refused(exc)
        # Once a captcha was asked for, each new try needs a new one (a refused one is spent).
        return _login_page(page, status=exc.status, errors=errors, values=values,
                           captcha=bool(captcha_id) or field == "captcha_answer")  # fmt: skip
    page.sign_in(auth_token=result.access_token, principal="holder")
    return page.redirect(CHANGE_URL if result.must_change_password else "/portal/home")


@router.post("/logout")
def logout(page: Page = Depends(portal_page)) -> Response:
    try:
        current = current_holder(page)
        end_session(page.uow, session_id=current.holder.session_id, now=utcnow())
    except DomainError:
        pass  # already ended: signing out is still fine
    page.sign_out()
    page.flash(page.gettext("You have signed out."))
    return page.redirect("/portal/")


@router.get("/home")
def home(current: HolderPage = Depends(current_holder)) -> Response:
    page = current.page
    if current.holder.must_change:
        return page.redirect(CHANGE_URL)
    return page.render("portal/home.html", title=page.gettext("My services"))


def _password_page(
    current: HolderPage, *, status: int = 200, errors: dict[str, str] | None = None, weak_reason: str = ""
) -> Response:
    page, holder = current.page, current.holder
    # QPW-4: the liability notice, until the initial password is changed (not after a temporary one).
    notice = None
    if holder.must_change and not holder.via_temporary:
        notice = LIABILITY_NOTICE.text_zh if page.lang == "zh_CN" else LIABILITY_NOTICE.text_en
    return page.render(
        "portal/password.html",
        status=status,
        title=page.gettext("Change password"),
        errors=errors or {},
        notice=notice,
        must_change=holder.must_change,
        via_temporary=holder.via_temporary,
        weak_reason=weak_reason,
        min_length=password_min_length(page.uow, person_id=holder.person_id),
    )


@router.get("/password")
def password_form(current: HolderPage = Depends(current_holder)) -> Response:
    """The password change: the only page open until the initial or temporary password is changed (QPW-2)."""
    return _password_page(current)


@router.post("/password")
def password_change(
    current: HolderPage = Depends(current_holder),
    old_password: str = Form(""),
    new_password: str = Form(""),
    new_password_again: str = Form(""),
    acknowledge: str = Form(""),
) -> Response:
    page, holder = current.page, current.holder
    errors: dict[str, str] = {}
    notice_shown = holder.must_change and not holder.via_temporary
    if notice_shown and acknowledge != "yes":
        errors["acknowledge"] = page.gettext("Confirm that you have read the notice on your responsibility.")
    if not old_password:
        errors["old_password"] = page.gettext("Enter your current password.")
    if not new_password:
        errors["new_password"] = page.gettext("Enter a new password.")
    elif new_password != new_password_again:
        errors["new_password_again"] = page.gettext("The two new passwords are not the same.")
    if errors:
        return _password_page(current, status=422, errors=errors)
    try:
        if notice_shown:
            acknowledge_notice(page.uow, session=holder, version=LIABILITY_NOTICE.version)
        # Counted like a failed login: a stolen session cannot guess the password (as the API).
        with commit_early_on(page.uow, OldPasswordWrong, AccountLocked, why=Why.FAILURE_COUNTED):
            change_password(
                page.uow, session=holder, old_password=old_password[:1024], new_password=new_password[:1024],
                source=client_address(page.request.scope),
            )  # fmt: skip
    except PasswordWeak as exc:
        errors = {"new_password": page.refused(exc)}  # the template words the QPW-6 reason when it knows it
        return _password_page(current, status=exc.status, errors=errors, weak_reason=str(exc.extra.get("reason", "")))
    except OldPasswordWrong as exc:
        return _password_page(current, status=exc.status, errors={"old_password": page.refused(exc)})
    except AccountLocked as exc:
        page.refused(exc)
        page.sign_out()
        page.flash(page.error_message(exc), "error")
        return page.redirect("/portal/")
    except DomainError as exc:
        return _password_page(current, status=exc.status, errors={"_form": page.refused(exc)})
    page.flash(page.gettext("Your password has been changed. Other sessions have been signed out."))
    return page.redirect("/portal/home")


@router.get("/forgot-password")
def forgot_form(page: Page = Depends(portal_page)) -> Response:
    return recovery_form(page, "portal/forgot.html")


@router.post("/forgot-password")
def forgot(
    page: Page = Depends(portal_page),
    id_number: str = Form(""),
    user_type: str = Form(""),
    channel: str = Form(""),
    captcha_id: str = Form(""),
    captcha_answer: str = Form(""),
) -> Response:
    account = id_number.strip()[:32]
    errors: dict[str, str] = {}
    if not account:
        errors["id_number"] = page.gettext("Enter the account's ID number (or an employer's credit code).")
    return request_recovery(page, "portal/forgot.html", account_field="id_number", account=account,
                            user_type=user_type, channel=channel, captcha_id=captcha_id,
                            captcha_answer=captcha_answer, errors=errors, done_url="/portal/")  # fmt: skip
