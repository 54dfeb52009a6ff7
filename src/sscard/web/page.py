"""What every page route gets: the request's transaction, language, session, CSRF check and rendering.

    router = page_router("portal")                       # routes answer HTML errors, not problem+json

    @router.get("/portal/example")
    def example(page: Page = Depends(page_for("portal"))) -> Response:
        return page.render("portal/example.html", title=page.gettext("Example"))

Every POST through ``page_for`` is refused (403 page ``CSRF_REFUSED``) unless its form carries the
session's ``csrf_token`` (the form macros add it). Domain errors that a route does not catch become an
error page in the user's language with the error's translated title.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import InvalidRequestError

from sscard.config import get_settings
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError, ValidationFailed
from sscard.page_sessions import service as sessions
from sscard.web import i18n
from sscard.web.errors import CsrfRefused, SignInRequired
from sscard.web.once import FormOnce, note_posted_form
from sscard.web.templating import render
from sscard.web.transaction import TRANSACTION

CSRF_FIELD = "csrf_token"
T = TypeVar("T")


def cookie_name(channel: str) -> str:
    return f"sscard_{channel}"


def anonymous_cookie_name(channel: str) -> str:
    """The cookie of an anonymous browser's CSRF nonce (no session row behind it)."""
    return f"sscard_{channel}_nonce"


def secure_cookies(request: Request) -> bool:
    """Secure cookies except on plain-http development (a browser drops Secure cookies over http)."""
    return request.url.scheme == "https" or get_settings().env == "prod"


def negotiate(request: Request) -> tuple[str, bool]:
    """(the language to show, whether ``?lang=`` chose it and so must be remembered in the cookie)."""
    asked = i18n.normalise(request.query_params.get("lang"))
    if asked:
        return asked, True
    remembered = i18n.normalise(request.cookies.get(i18n.LANG_COOKIE))
    if remembered:
        return remembered, False
    return i18n.from_accept_language(request.headers.get("accept-language")) or i18n.DEFAULT, False


def error_title(exc: DomainError, lang: str) -> str:
    """A domain error's title in ``lang``, through the catalogue (msgid: the English title)."""
    return i18n.error_title(lang, type(exc))


def _local_path(url: str, fallback: str) -> str:
    """Only same-site paths (no open redirect)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return fallback
    return url


def switch_path(request: Request, channel: str) -> str:
    """Where the language switch and the navigation's current mark point: this page for a GET; after a
    POST (its address may have no GET) the channel's start page."""
    return request.url.path if request.method in ("GET", "HEAD") else f"/{channel}/"


class Page:
    """One page request: ``render``, ``redirect``, ``flash``, ``gettext``, ``sign_in``/``sign_out``."""

    def __init__(self, request: Request, uow: UnitOfWork, channel: str) -> None:
        self.request = request
        self.uow = uow
        self.channel = channel
        self.lang, self._lang_chosen = negotiate(request)
        self._clear_cookie = False
        self.context: dict[str, Any] = {}  # what every template of this request sees (e.g. the menu)
        token = request.cookies.get(cookie_name(channel))
        self.session = sessions.resolve_page_session(uow, channel=channel, token=token) if token else None
        self._nonce = request.cookies.get(anonymous_cookie_name(channel))
        self._new_nonce = False

    # -- words -------------------------------------------------------------------------------------
    def gettext(self, message: str) -> str:
        return i18n.gettext(self.lang, message)

    def format_day(self, value: Any) -> str:
        """A date (or a time stamp, as its day in China) as this language writes it."""
        return i18n.day(value, self.lang)

    def error_message(self, exc: DomainError) -> str:
        return error_title(exc, self.lang)

    def refused(self, exc: DomainError) -> str:
        """A service refused: drop what the request changed (as the API's rollback would; what the
        service committed early, such as failure counters, stays) and give its title in this language.

        Call it in the ``except DomainError`` of a route that answers with the form again: the route
        returns normally, so without this the request's transaction would commit a half-done change.
        """
        state = self.session
        self.context["refusal_code"] = exc.code  # the form's error summary shows it beside the words
        self.uow.rollback()
        if state is not None:
            try:
                self.uow.session.refresh(state.row)  # back to its committed self (token, CSRF, sign-in)
                state.token = None
            except InvalidRequestError:
                self.session = None  # opened by this very request: a new one is opened when needed
        return self.error_message(exc)

    # -- session -----------------------------------------------------------------------------------
    def ensure_session(self) -> sessions.PageSessionState:
        if self.session is None:
            self.session = sessions.open_page_session(self.uow, channel=self.channel)
        return self.session

    @property
    def csrf_token(self) -> str:
        """The session's token; without a session, the signed token of the browser's nonce (no row made)."""
        if self.session is not None:
            return self.session.csrf_token
        if not self._nonce or len(self._nonce) > 64:
            self._nonce, self._new_nonce = sessions.new_anonymous_nonce(), True
        return sessions.anonymous_csrf_token(channel=self.channel, nonce=self._nonce)

    def check_csrf(self, given: str | None) -> None:
        if self.session is not None and self.session.csrf_ok(given):
            return
        if sessions.anonymous_csrf_ok(channel=self.channel, nonce=self._nonce, given=given):
            return  # a form rendered before this browser had a session (sign-in, forgot password)
        raise CsrfRefused("the form's CSRF token is missing or not this session's")

    def flash(self, message: str, kind: str = "info") -> None:
        sessions.push_flash(self.ensure_session(), kind, message)

    def sign_in(self, *, auth_token: str, principal: str) -> None:
        sessions.sign_in(self.uow, self.ensure_session(), auth_token=auth_token, principal=principal)

    def sign_out(self) -> None:
        if self.session is not None:
            sessions.sign_out(self.uow, self.session)
            self.session = None
        self._clear_cookie = True

    def auth_token(self) -> str | None:
        return self.session.auth_token() if self.session else None

    def signed_in_as(self, resolve: Callable[..., T], *, login_url: str, ended: type[DomainError]) -> T:
        """The channel's signed-in user: the sealed token resolved by the API's own session service
        (``resolve(uow, token=...)``); without one, or once that session has ``ended``, the browser goes
        to ``login_url`` (``SignInRequired``) and the page session is closed."""
        token = self.auth_token()
        if token is None:
            raise SignInRequired(login_url)
        try:
            return resolve(self.uow, token=token)
        except ended:
            self.sign_out()
            raise SignInRequired(login_url) from None

    def ref(self, value: dict[str, Any]) -> str:
        """An opaque id for ``value`` (row ids only), valid in this session: use it in URLs."""
        return sessions.put_ref(self.ensure_session(), value)

    def deref(self, ref: str) -> dict[str, Any] | None:
        return sessions.get_ref(self.session, ref) if self.session else None

    # -- answers -----------------------------------------------------------------------------------
    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        flashes = sessions.pop_flashes(self.session) if self.session else []
        base = {
            "request": self.request,
            "channel": self.channel,
            "csrf_token": self.csrf_token,
            "flashes": flashes,
            "path": switch_path(self.request, self.channel),
            "signed_in": bool(self.session and self.session.principal),
        }
        html = render(self.lang, template, {**base, **self.context, **context})
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str) -> RedirectResponse:
        """POST-redirect-GET: 303 to a path of this site."""
        return self._finish(RedirectResponse(_local_path(url, f"/{self.channel}/"), status_code=303))

    def _finish(self, response: Response) -> Any:
        if self.session is not None:
            sessions.save_data(self.uow, self.session)
        secure = secure_cookies(self.request)
        if self.session is not None and self.session.token:
            response.set_cookie(
                cookie_name(self.channel), self.session.token, path=f"/{self.channel}/",
                httponly=True, secure=secure, samesite="strict",
            )  # fmt: skip
        elif self._clear_cookie:
            response.delete_cookie(cookie_name(self.channel), path=f"/{self.channel}/", secure=secure, httponly=True)
        if self._new_nonce:
            response.set_cookie(
                anonymous_cookie_name(self.channel), self._nonce or "", path=f"/{self.channel}/",
                httponly=True, secure=secure, samesite="strict",
            )  # fmt: skip
        if self._lang_chosen:
            response.set_cookie(
                i18n.LANG_COOKIE, self.lang, path="/", max_age=365 * 86400, secure=secure, samesite="lax"
            )
        return response


async def _posted_csrf(request: Request) -> str | None:
    """The ``csrf_token`` field of a POSTed form (parsed once; routes' ``Form`` fields read the same)."""
    if request.method != "POST":
        return None
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


def page_for(channel: str) -> Callable[..., Page]:
    """The dependency of a channel's pages: a ``Page``, its POST refused without the session's CSRF token."""

    def dependency(request: Request, posted: str | None = Depends(_posted_csrf), uow: UnitOfWork = TRANSACTION) -> Page:
        page = Page(request, uow, channel)
        if request.method == "POST":
            page.check_csrf(posted)
        return page

    return dependency


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
    """A domain error as a page in the user's language (no session touched: the transaction is gone)."""
    lang, _ = negotiate(request)
    channel = request.url.path.strip("/").split("/", 1)[0] or "portal"
    html = render(
        lang,
        "error.html",
        {
            "request": request,
            "channel": channel,
            "path": switch_path(request, channel),
            "flashes": [],
            "signed_in": False,
            "code": exc.code,
            "message": error_title(exc, lang),
            "status": exc.status,
        },
    )
    response = HTMLResponse(html, status_code=exc.status)
    retry = exc.extra.get("retry_after")
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
    return response


def _page_among(values: dict[str, Any]) -> Page | None:
    """The route's ``Page``: a parameter itself, or the ``page`` of one (``StaffPage``, ``HolderPage``)."""
    for value in values.values():
        found = value if isinstance(value, Page) else getattr(value, "page", None)
        if isinstance(found, Page):
            return found
    return None


def _once_per_form(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, run at most once per rendered form (``sscard.web.once``), after its dependencies
    (the CSRF check and the sign-in) and inside the request's transaction."""

    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"page routes are plain functions (run in the thread pool): {endpoint.__name__}")

    @functools.wraps(endpoint)
    def once(**values: Any) -> Any:
        page = _page_among(values)
        if page is None:
            return endpoint(**values)
        form = FormOnce(page)
        replayed = form.replay()
        if replayed is not None:
            return replayed
        response = endpoint(**values)
        if isinstance(response, Response):
            form.keep(response)
        return response

    return once


class PageRoute(APIRoute):
    """A page route: domain errors and bad input answer an HTML page; ``SignInRequired`` redirects; a
    POST acts once per rendered form (``sscard.web.once``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in {m.upper() for m in kwargs.get("methods") or ()}:
            endpoint = _once_per_form(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                await note_posted_form(request)
                return await original(request)
            except SignInRequired as exc:
                return RedirectResponse(exc.login_url, status_code=303)
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return error_page(request, ValidationFailed())

        return handler


def page_router(channel: str) -> APIRouter:
    """The router of a channel's pages (not in the OpenAPI document; HTML errors)."""
    return APIRouter(prefix=f"/{channel}", include_in_schema=False, route_class=PageRoute)
