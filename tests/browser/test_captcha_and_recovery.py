"""In a real browser, in Chinese and in English (issue 21): the portal sign-in shows its captcha where
the policy asks for one (here the national policy: always), a wrong code is refused with a new image;
an employer asks for a temporary password on the employer pages' own forgot-password form (QPW-5)."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from sscard.regions.codes import NATIONAL
from tests.browser.harness import visit
from tests.credentials.query_password.factories import make_holder, region_policy
from tests.web.page_factories import employer_with_password

WORDS = {
    "zh": {"html": "zh-CN", "id": "公民身份号码", "password": "查询密码", "code": "验证码", "sign_in": "登录",
           "wrong": "验证码错误或已过期", "uscc": "统一社会信用代码", "ask": "申请临时密码",
           "send": "发送临时密码", "sent": "临时密码已发送"},
    "en": {"html": "en", "id": "Citizen ID number", "password": "Query password", "code": "Verification code",
           "sign_in": "Sign in", "wrong": "The verification code is wrong or has expired",
           "uscc": "Unified social credit code", "ask": "Ask for a temporary password",
           "send": "Send temporary password", "sent": "a temporary password has been sent"},
}  # fmt: skip


@pytest.fixture(scope="module")
def site(private_site):
    """A server of this module's own: the national policy set below would ask every other module's
    portal sign-in for a captcha."""
    return private_site


@pytest.fixture(scope="module")
def captcha_always(site):
    """This module's server asks for the captcha at every portal sign-in (the national policy: 0)."""
    with unit_of_work() as uow:
        region_policy(uow, NATIONAL, login_captcha_after_failures=0)
    return site


# rule (policy login_captcha_after_failures): the sign-in form shows the captcha; a wrong code is refused
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_portal_sign_in_with_captcha(captcha_always, tab, lang: str) -> None:
    w = WORDS[lang]
    with unit_of_work() as uow:
        _, number, initial = make_holder(uow)
    tab.context.clear_cookies()
    tab.goto("/portal/" + ("?lang=en" if lang == "en" else ""))
    visit(tab, f"portal-login-captcha-{lang}", lang=w["html"])
    tab.get_by_label(w["id"]).fill(number)
    tab.get_by_label(w["password"], exact=True).fill(initial)
    tab.get_by_label(w["code"]).fill("XXXXX")
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.get_by_text(w["wrong"]).first.wait_for()
    assert tab.locator('img[src^="data:image/png;base64,"]').count() == 1  # a new code to type
    visit(tab, f"portal-login-captcha-wrong-{lang}", lang=w["html"])


# rule QPW-5 (user type employer): the employer's own forgot-password page, reached from its sign-in
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_employer_forgot_password_page(site, tab, lang: str) -> None:
    w = WORDS[lang]
    with unit_of_work() as uow:
        uscc = employer_with_password(uow).uscc
    tab.context.clear_cookies()
    tab.goto("/employer/" + ("?lang=en" if lang == "en" else ""))
    tab.get_by_role("link", name=w["ask"]).click()
    tab.get_by_label(w["uscc"]).fill(uscc)
    visit(tab, f"employer-forgot-{lang}", lang=w["html"])
    tab.get_by_label(w["code"]).fill("XXXXX")
    tab.get_by_role("button", name=w["send"]).click()
    tab.get_by_text(w["wrong"]).first.wait_for()
    visit(tab, f"employer-forgot-wrong-{lang}", lang=w["html"])
