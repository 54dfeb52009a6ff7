"""The portal's initial-password journey through the pages (QPW-1, QPW-2, QPW-4, QPW-6)."""

from __future__ import annotations

import re

from sqlalchemy import select

from sscard.credentials.query_password.models import NoticeAcknowledgement
from sscard.credentials.query_password.notices import LIABILITY_NOTICE
from sscard.db.session import unit_of_work
from tests.credentials.query_password.factories import make_holder
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region
from tests.web.conftest import csrf_of

NEW = "Qiu-lin#river42"


def _holder() -> tuple[int, str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person, number, initial = make_holder(uow, region=region)
    return person.id, number, initial


def _sign_in(browser, number: str, password: str):
    form = browser.get("/portal/")
    return browser.post(
        "/portal/login", data={"id_number": number, "password": password, "csrf_token": csrf_of(form.text)}
    )


# rule QPW-2: pages behind sign-in send an anonymous browser to the sign-in form
def test_anonymous_is_sent_to_sign_in(browser) -> None:
    for path in ("/portal/home", "/portal/password"):
        r = browser.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/portal/", path


# rules QPW-2 / QPW-4 / QPW-6: forced change, the notice acknowledged (recorded), weak password refused
def test_initial_password_journey(browser) -> None:
    person_id, number, initial = _holder()
    assert _sign_in(browser, number, initial).headers["location"] == "/portal/password"
    gated = browser.get("/portal/home")  # QPW-2: nothing else until changed
    assert gated.status_code == 303 and gated.headers["location"] == "/portal/password"
    page = browser.get("/portal/password")
    assert LIABILITY_NOTICE.text_zh in page.text and 'name="acknowledge"' in page.text
    data = {"old_password": initial, "new_password": NEW, "new_password_again": NEW, "csrf_token": csrf_of(page.text)}
    r = browser.post("/portal/password", data=data)  # QPW-4: not acknowledged
    assert r.status_code == 422 and "请确认您已阅读责任告知" in r.text
    weak = {**data, "acknowledge": "yes", "new_password": number[-10:], "new_password_again": number[-10:]}
    r = browser.post("/portal/password", data=weak)  # QPW-6: the ID's digits
    assert r.status_code == 422 and ("身份证号码" in r.text or "初始密码" in r.text)
    with unit_of_work() as uow:  # the refused attempt left no acknowledgement behind
        assert not uow.session.scalars(
            select(NoticeAcknowledgement).where(NoticeAcknowledgement.person_id == person_id)
        ).all()
    r = browser.post("/portal/password", data={**data, "acknowledge": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/portal/home"
    home = browser.get("/portal/home")
    assert home.status_code == 200 and "密码已修改" in home.text  # the flash survives the redirect
    with unit_of_work() as uow:
        acks = uow.session.scalars(
            select(NoticeAcknowledgement).where(NoticeAcknowledgement.person_id == person_id)
        ).all()
    assert [a.notice_version for a in acks] == [LIABILITY_NOTICE.version]
    # the new password signs in straight to the start page
    browser.cookies.clear()
    assert _sign_in(browser, number, NEW).headers["location"] == "/portal/home"


# rule QPW-7 via QPW-2 page: a wrong current password is counted and refused, in English on request
def test_wrong_current_password(browser) -> None:
    _, number, initial = _holder()
    _sign_in(browser, number, initial)
    page = browser.get("/portal/password?lang=en")
    assert LIABILITY_NOTICE.text_en in page.text
    data = {"old_password": "not-it-at-all", "new_password": NEW, "new_password_again": NEW, "acknowledge": "yes"}
    r = browser.post("/portal/password", data={**data, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 403 and "The current password is wrong." in r.text and "not-it-at-all" not in r.text


# issue 21 item 5: signing out ends the page session and the holder's portal session at once
def test_sign_out(browser) -> None:
    _, number, initial = _holder()
    _sign_in(browser, number, initial)
    page = browser.get("/portal/password")
    cookie = browser.cookies.get("sscard_portal")
    r = browser.post("/portal/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/portal/"
    assert "您已安全退出" in browser.get("/portal/").text
    browser.cookies.set("sscard_portal", cookie, path="/portal/")  # the old cookie opens nothing any more
    again = browser.get("/portal/password")
    assert again.status_code == 303 and again.headers["location"] == "/portal/"


# rule QPW-7 through the page: after the free failures a correct password waits too, told in words
def test_throttled_login_is_told_in_words(browser) -> None:
    from sscard.credentials.query_password.errors import LoginThrottled
    from sscard.policy.service import set_policy
    from tests.credentials.query_password.factories import ADMIN

    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        set_policy(uow, region_code=region, values={"login_free_failures": 2, "login_wait_base_seconds": 60},
                   reason="page test", actor=ADMIN)  # fmt: skip
        _, number, initial = make_holder(uow, region=region)
    for _ in range(3):
        r = _sign_in(browser, number, "not-the-password")
    r = _sign_in(browser, number, initial)  # QPW-7: correct, but within the wait
    assert r.status_code == 429 and LoginThrottled.title_zh in r.text
    assert re.search(r'name="password"[^>]*value=', r.text) is None  # a password is never sent back


# rule QPW-1: the page says the holder's region's shortest password (its policy), not a fixed 8
def test_the_hint_gives_the_regions_shortest_password(browser) -> None:
    from sscard.policy.service import set_policy
    from tests.people.factories import CLERK

    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        set_policy(uow, region_code=region, values={"password_min_length": 10}, reason="QPW-1 test", actor=CLERK)
        _, number, initial = make_holder(uow, region=region)
    _sign_in(browser, number, initial)
    page = browser.get("/portal/password")
    assert "至少 10 位" in page.text and "至少 8 位" not in page.text
