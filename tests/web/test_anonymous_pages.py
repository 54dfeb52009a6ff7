"""Anonymous page views store nothing (issue 21): the sign-in and forgot-password forms carry a signed
double-submit CSRF token (a nonce cookie and its keyed MAC), and a page_session row is made only when
one is needed (a sign-in, a flash). CSRF stays sound: a token of another nonce, another channel or no
cookie is refused."""

from __future__ import annotations

from sqlalchemy import func, select

from sscard.db.session import unit_of_work
from sscard.page_sessions.models import PageSession
from tests.web.conftest import csrf_of


def _rows() -> int:
    with unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(PageSession)) or 0


# rule: crawlers and health checks reading the sign-in pages leave no page_session row
def test_anonymous_gets_create_no_row(browser) -> None:
    before = _rows()
    for path in ("/portal/", "/portal/?lang=en", "/portal/forgot-password", "/counter/", "/employer/",
                 "/employer/forgot-password", "/console/", "/portal/no-such-page", "/console/home"):  # fmt: skip
        r = browser.get(path, follow_redirects=False)
        assert r.status_code in (200, 303, 404), path
        browser.cookies.clear()
    assert _rows() == before
    again = browser.get("/portal/")
    assert "sscard_portal_nonce" in again.headers.get("set-cookie", "")
    assert "HttpOnly" in again.headers["set-cookie"] and "SameSite=strict" in again.headers["set-cookie"]
    assert csrf_of(browser.get("/portal/").text) == csrf_of(again.text)  # the same nonce, the same token
    assert _rows() == before


# CSRF: the anonymous token works only with its own nonce cookie and channel
def test_anonymous_csrf_is_bound_to_the_nonce_and_channel(browser) -> None:
    token = csrf_of(browser.get("/portal/").text)
    data = {"id_number": "110101199003070011", "password": "whatever-it-is"}
    assert browser.post("/portal/login", data={**data, "csrf_token": token}).status_code == 401  # checked: answered
    assert browser.post("/portal/login", data={**data, "csrf_token": token + "0"}).status_code == 403
    assert browser.post("/portal/login", data=data).status_code == 403
    nonce = browser.cookies.get("sscard_portal_nonce")
    browser.cookies.clear()
    assert browser.post("/portal/login", data={**data, "csrf_token": token}).status_code == 403  # no cookie
    browser.cookies.set("sscard_employer_nonce", nonce, path="/employer/")
    r = browser.post("/employer/login", data={"uscc": "91110000000000000X", "password": "x", "csrf_token": token})
    assert r.status_code == 403  # another channel's token


# rule: a row is made when it is needed, e.g. a refused sign-in's flash or a sign-in, never before
def test_session_made_when_needed(browser) -> None:
    before = _rows()
    token = csrf_of(browser.get("/employer/forgot-password").text)
    assert _rows() == before
    r = browser.post("/employer/forgot-password", data={"uscc": "", "csrf_token": token, "captcha_answer": "x"})
    assert r.status_code == 422 and _rows() == before  # a refused form re-rendered: still nothing stored
