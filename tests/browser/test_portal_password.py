"""The cardholder's first sign-in in a real browser, in Chinese and in English (QPW-1, QPW-2, QPW-4)."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from tests.browser.harness import visit
from tests.credentials.query_password.factories import make_holder
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region

WORDS = {
    "zh": {
        "html": "zh-CN",
        "id": "公民身份号码",
        "password": "查询密码",
        "sign_in": "登录",
        "ack": "我已阅读并接受以上告知。",
        "old": "当前密码",
        "new": "新密码",
        "again": "再次输入新密码",
        "change": "修改密码",
        "done": "密码已修改",
        "heading": "我的服务",
        "required": "请确认您已阅读责任告知。",
    },
    "en": {
        "html": "en",
        "id": "Citizen ID number",
        "password": "Query password",
        "sign_in": "Sign in",
        "ack": "I have read this notice and accept it.",
        "old": "Current password",
        "new": "New password",
        "again": "New password again",
        "change": "Change password",
        "done": "Your password has been changed",
        "heading": "My services",
        "required": "Confirm that you have read the notice on your responsibility.",
    },
}


def _holder() -> tuple[str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        _, number, initial = make_holder(uow, region=region)
    return number, initial


# rules QPW-1 / QPW-2 / QPW-4: initial password → forced change with the liability notice → start page
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_first_sign_in_changes_the_initial_password(site, tab, lang: str) -> None:
    w = WORDS[lang]
    number, initial = _holder()
    tab.goto("/portal/" + ("?lang=en" if lang == "en" else ""))
    visit(tab, f"portal-login-{lang}", lang=w["html"])
    tab.get_by_label(w["id"]).fill(number)
    tab.get_by_label(w["password"]).fill(initial)
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.wait_for_url("**/portal/password")
    visit(tab, f"portal-password-initial-{lang}", lang=w["html"])
    new = "Qiu-lin#river42"
    tab.get_by_label(w["old"], exact=True).fill(initial)
    tab.get_by_label(w["new"], exact=True).fill(new)
    tab.get_by_label(w["again"], exact=True).fill(new)
    tab.get_by_role("button", name=w["change"]).click()  # the notice not acknowledged yet
    tab.wait_for_selector("#error-summary")
    assert w["required"] in tab.inner_text("main")
    visit(tab, f"portal-password-errors-{lang}", lang=w["html"])
    tab.get_by_label(w["ack"]).check()
    tab.get_by_label(w["old"], exact=True).fill(initial)
    tab.get_by_label(w["new"], exact=True).fill(new)
    tab.get_by_label(w["again"], exact=True).fill(new)
    tab.get_by_role("button", name=w["change"]).click()
    tab.wait_for_url("**/portal/home")
    assert w["done"] in tab.inner_text("main")
    assert tab.get_by_role("heading", level=1, name=w["heading"]).is_visible()
    visit(tab, f"portal-home-{lang}", lang=w["html"])
