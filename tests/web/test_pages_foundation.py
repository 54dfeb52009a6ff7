"""The pages' foundation (issue 21 item 5): language, layout, CSP, sessions, CSRF, timeouts, PRG."""

from __future__ import annotations

import re
from datetime import timedelta

from sscard.credentials.query_password.errors import InvalidCredentials
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.page_sessions import service as sessions
from tests.credentials.query_password.factories import make_holder
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region
from tests.web.conftest import csrf_of


def _holder() -> tuple[str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        _, number, initial = make_holder(uow, region=region)
    return number, initial


# contract "Pages": Chinese by default, English on ?lang=en (remembered) or Accept-Language: en
def test_language_choice_and_html_lang(browser) -> None:
    assert '<html lang="zh-CN">' in browser.get("/portal/").text
    r = browser.get("/portal/?lang=en")
    assert '<html lang="en">' in r.text and "Sign in to the cardholder portal" in r.text
    assert "sscard_lang=en" in r.headers["set-cookie"]
    assert '<html lang="en">' in browser.get("/portal/").text  # remembered in the cookie
    browser.cookies.clear()
    assert '<html lang="en">' in browser.get("/portal/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    zh = browser.get("/portal/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-CN">' in zh and "登录持卡人服务网站" in zh


# issue 21 item 5: a strict CSP (no inline script or style), a skip link, a main landmark, labelled fields
def test_layout_and_security_headers(browser) -> None:
    r = browser.get("/portal/")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "default-src 'none'" in csp
    assert "style-src 'self'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["cross-origin-opener-policy"] == "same-origin" and "camera=()" in r.headers["permissions-policy"]
    html = r.text
    assert "<style" not in html and " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert 'class="skip-link" href="#main"' in html and '<main id="main"' in html
    for name in ("id_number", "password"):  # contract field names, each with a visible label
        assert f'name="{name}"' in html and f'<label for="field-{name}">' in html
    static = browser.get("/static/site.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    landing = browser.get("/")
    assert "<style" not in landing.text and "unsafe-inline" not in landing.headers["content-security-policy"]


# issue 21 item 5: every POST form needs the session's CSRF token; without it a clear page, nothing done
def test_post_without_csrf_is_refused(browser) -> None:
    number, initial = _holder()
    r = browser.post("/portal/login", data={"id_number": number, "password": initial})
    assert r.status_code == 403 and "CSRF_REFUSED" in r.text and "表单已过期" in r.text
    assert "sscard_portal" not in r.headers.get("set-cookie", "")
    browser.get("/portal/")
    r = browser.post("/portal/login", data={"id_number": number, "password": initial, "csrf_token": "forged"})
    assert r.status_code == 403 and "CSRF_REFUSED" in r.text
    en = browser.post("/portal/login?lang=en", data={"id_number": number, "password": initial})
    assert en.status_code == 403 and "This form has expired" in en.text


# issue 21 item 5: HttpOnly SameSite=Strict session cookie, a new token at sign-in, PRG, no ID in URLs
def test_sign_in_rotates_the_session_and_redirects(browser) -> None:
    number, initial = _holder()
    form = browser.get("/portal/")
    cookie = form.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/portal/" in cookie
    )
    before = browser.cookies.get("sscard_portal")
    r = browser.post("/portal/login", data={"id_number": number, "password": initial, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == "/portal/password"  # QPW-2: the change first
    assert number not in r.headers["location"]
    after = browser.cookies.get("sscard_portal")
    assert after and after != before  # no session fixation
    # the old anonymous token names no session any more
    with unit_of_work() as uow:
        assert sessions.resolve_page_session(uow, channel="portal", token=before) is None


# QPW-7 through the page: the service's refusal, in the page's language, the ID kept, no password echoed
def test_wrong_password_shows_the_errors_title(browser) -> None:
    number, _ = _holder()
    form = browser.get("/portal/")
    r = browser.post(
        "/portal/login", data={"id_number": number, "password": "wrong-one", "csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 401 and InvalidCredentials.title_zh in r.text and "wrong-one" not in r.text
    assert 'role="alert"' in r.text
    r = browser.post("/portal/login?lang=en", data={"id_number": "", "password": "", "csrf_token": csrf_of(r.text)})
    assert r.status_code == 422 and "Enter your citizen ID number." in r.text
    assert 'aria-describedby="hint-id_number error-id_number"' in r.text and 'aria-invalid="true"' in r.text


# issue 21 item 5: idle and absolute timeouts end a page session
def test_idle_and_absolute_timeouts(db_env) -> None:
    with unit_of_work() as uow:
        state = sessions.open_page_session(uow, channel="portal")
        token = state.token
    assert token
    now = utcnow()
    with unit_of_work() as uow:
        assert sessions.resolve_page_session(uow, channel="portal", token=token, now=now) is not None
        assert sessions.resolve_page_session(uow, channel="counter", token=token, now=now) is None  # per channel
    with unit_of_work() as uow:
        late = now + sessions.IDLE_TIMEOUT + timedelta(seconds=1)
        assert sessions.resolve_page_session(uow, channel="portal", token=token, now=late) is None
    with unit_of_work() as uow:  # and it stays ended
        assert sessions.resolve_page_session(uow, channel="portal", token=token, now=now) is None
    with unit_of_work() as uow:
        state = sessions.open_page_session(uow, channel="portal", now=now)
        token = state.token
    assert token
    at = now
    for _ in range(40):  # active every 14 minutes: never idle, but the absolute limit still ends it
        at += timedelta(minutes=14)
        with unit_of_work() as uow:
            alive = sessions.resolve_page_session(uow, channel="portal", token=token, now=at)
        if at - now >= sessions.ABSOLUTE_TIMEOUT:
            assert alive is None
            break
        assert alive is not None
    else:
        raise AssertionError("the absolute timeout never ended the session")


# issue 21 item 5: every POST of every page (all channels, present and future) refuses a form without
# the session's CSRF token, before the route runs
def test_every_page_post_requires_the_csrf_token(browser) -> None:
    from sscard.api.app import create_app
    from sscard.web.page import PageRoute
    from tests.reliability.app_routes import operations

    posts = [
        path
        for method, path, route in operations(create_app())
        if method == "POST" and isinstance(getattr(route, "original_route", route), PageRoute)
    ]
    assert "/portal/login" in posts and len(posts) >= 5
    browser.get("/portal/")  # a page session exists: the token is what is missing
    for path in posts:
        concrete = path.replace("{", "").replace("}", "")
        r = browser.post(concrete, data={"anything": "1"})
        assert r.status_code == 403 and "CSRF_REFUSED" in r.text, path


def _form_answered(uow, row_id: int) -> None:
    from sscard.idempotency.service import begin, finish

    claim = begin(uow, scope=sessions.form_scope(row_id), key="form:t", digest="d" * 64)
    finish(uow, claim=claim, answer={"location": "/portal/", "flash": []}, status_code=303)


# issue 21 item 5: ended sessions do not pile up: a new session sweeps those past their end by a day, and
# the answers their forms kept with them
def test_old_sessions_are_swept(db_env) -> None:
    from sqlalchemy import select

    from sscard.idempotency.models import IdempotentRequest
    from sscard.page_sessions.models import PageSession

    now = utcnow()
    with unit_of_work() as uow:
        old = sessions.open_page_session(uow, channel="portal", now=now - sessions.ABSOLUTE_TIMEOUT - timedelta(days=2))
        _form_answered(uow, old.row.id)  # each one's form answer (web/once.py) goes with its session
        recent = sessions.open_page_session(uow, channel="portal", now=now - sessions.ABSOLUTE_TIMEOUT)
        _form_answered(uow, recent.row.id)
        old_id, recent_id = old.row.id, recent.row.id
    with unit_of_work() as uow:
        sessions.open_page_session(uow, channel="portal", now=now)
    with unit_of_work() as uow:
        left = set(uow.session.scalars(select(PageSession.id).where(PageSession.id.in_([old_id, recent_id]))))
        scopes = [sessions.form_scope(old_id), sessions.form_scope(recent_id)]
        kept = set(uow.session.scalars(select(IdempotentRequest.scope).where(IdempotentRequest.scope.in_(scopes))))
    assert left == {recent_id}
    assert kept == {sessions.form_scope(recent_id)}


# contract "Pages": an unknown address under a channel is a page in the user's language, not JSON
def test_unknown_page_is_a_404_page(browser) -> None:
    for path in ("/portal/no-such-page", "/counter/nothing/here", "/console/x"):
        r = browser.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert "页面不存在或已失效" in r.text and '<html lang="zh-CN">' in r.text
    assert "This page does not exist" in browser.get("/employer/x?lang=en").text


# contract "Pages": the language switch of a page answering a POST leads to a page, not to a 404
def test_language_switch_after_a_post(browser) -> None:
    form = browser.get("/portal/")
    r = browser.post("/portal/login", data={"id_number": "", "password": "", "csrf_token": csrf_of(form.text)})
    link = re.search(r'href="([^"]+)\?lang=en"', r.text).group(1)
    assert link == "/portal/" and browser.get(link + "?lang=en").status_code == 200
