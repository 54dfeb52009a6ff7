"""The portal sign-in captcha where the region's policy asks for it (``login_captcha_after_failures``,
issue 21 item 1): the page and the API refuse a sign-in without it once the account's failures reach
the threshold; a wrong captcha is spent; the right one lets the right password in."""

from __future__ import annotations

import re

from sscard.captcha import service as captcha_service
from sscard.db.session import unit_of_work
from tests.credentials.query_password.factories import make_holder, region_policy
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region
from tests.web.conftest import csrf_of

ANSWER = "K7FQX"


def _holder(threshold: int | None) -> tuple[str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        if threshold is not None:
            region_policy(uow, region, login_captcha_after_failures=threshold)
        _, number, initial = make_holder(uow, region=region)
    return number, initial


def _captcha_id(html: str) -> str | None:
    found = re.search(r'name="captcha_id" value="([^"]+)"', html)
    return found.group(1) if found else None


# rule QPW-7 + region policy: no captcha by default; after one failure the region asks for one
def test_captcha_after_failures(browser, monkeypatch) -> None:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: ANSWER)
    number, initial = _holder(threshold=1)
    form = browser.get("/portal/")
    assert _captcha_id(form.text) is None  # the national default: no captcha
    data = {"id_number": number, "csrf_token": csrf_of(form.text)}
    wrong = browser.post("/portal/login", data={**data, "password": "not-it-at-all"})
    assert wrong.status_code == 401
    asked = browser.post("/portal/login", data={**data, "password": initial})
    assert asked.status_code == 422 and 'id="error-captcha_answer"' in asked.text  # CAPTCHA_REQUIRED
    captcha_id = _captcha_id(asked.text)
    assert captcha_id and 'for="field-captcha_answer"' in asked.text
    bad = browser.post("/portal/login", data={**data, "password": initial, "captcha_id": captcha_id,
                                             "captcha_answer": "XXXXX"})  # fmt: skip
    assert bad.status_code == 422 and _captcha_id(bad.text) not in (None, captcha_id)  # a new one
    reused = browser.post("/portal/login", data={**data, "password": initial, "captcha_id": captcha_id,
                                                "captcha_answer": ANSWER})  # fmt: skip
    assert reused.status_code == 422  # the refused one was spent
    ok = browser.post("/portal/login", data={**data, "password": initial, "captcha_id": _captcha_id(bad.text),
                                            "captcha_answer": ANSWER})  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/portal/password"


# rule: the API's portal login keeps the same rule (a captcha from GET /portal/captcha)
def test_api_login_needs_the_captcha_too(browser, monkeypatch) -> None:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: ANSWER)
    number, initial = _holder(threshold=0)
    refused = browser.post("/api/v1/portal/login", json={"id_number": number, "password": initial})
    assert refused.status_code == 422 and refused.json()["code"] == "CAPTCHA_REQUIRED"
    captcha_id = browser.get("/api/v1/portal/captcha").json()["captcha_id"]
    ok = browser.post("/api/v1/portal/login", json={"id_number": number, "password": initial,
                                                   "captcha_id": captcha_id, "captcha_answer": ANSWER})  # fmt: skip
    assert ok.status_code == 200


# rule: without the region's setting nothing changes (no captcha asked after failures)
def test_no_captcha_without_the_policy(browser) -> None:
    number, initial = _holder(threshold=None)
    form = browser.get("/portal/")
    data = {"id_number": number, "csrf_token": csrf_of(form.text)}
    assert browser.post("/portal/login", data={**data, "password": "wrong-password"}).status_code == 401
    ok = browser.post("/portal/login", data={**data, "password": initial})
    assert ok.status_code == 303
