"""Errors only the pages raise: a form without its CSRF token, a page that needs a signed-in user."""

from __future__ import annotations

from sscard.errors import DomainError


class CsrfRefused(DomainError):
    code = "CSRF_REFUSED"
    status = 403
    title = "This form has expired or did not come from this site. Go back, reload the page and try again."
    title_zh = "表单已过期或并非来自本网站。请返回并刷新页面后重试。"


class SignInRequired(DomainError):
    """Not signed in (or the session ended): the page sends the browser to its channel's sign-in page."""

    code = "SIGN_IN_REQUIRED"
    status = 401
    title = "Please sign in."
    title_zh = "请先登录。"

    def __init__(self, login_url: str, detail: str | None = None) -> None:
        super().__init__(detail)
        self.login_url = login_url


class PageNotFound(DomainError):
    code = "PAGE_NOT_FOUND"
    status = 404
    title = "This page does not exist or is no longer available."
    title_zh = "页面不存在或已失效。"


class FormAlreadySent(DomainError):
    """The same rendered form sent again with other values (edited after Back): it acted once already."""

    code = "FORM_ALREADY_SENT"
    status = 409
    title = "This form has already been sent. Open the page again to make another entry."
    title_zh = "该表单已提交过。如需再次办理，请重新打开页面。"
