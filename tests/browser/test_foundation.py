"""The pages' foundation in a real browser: language switch, skip link, CSRF refusal page, axe."""

from __future__ import annotations

from tests.browser.harness import visit


# contract "Pages": zh by default with <html lang="zh-CN">, English by the switch, remembered
def test_language_switch_and_keyboard(site, tab) -> None:
    tab.goto("/portal/")
    visit(tab, "foundation-portal-login-zh", lang="zh-CN")
    assert tab.get_by_label("公民身份号码").is_visible() and tab.get_by_label("查询密码").is_visible()
    tab.keyboard.press("Tab")  # the first stop is the skip link
    assert tab.evaluate("document.activeElement.className") == "skip-link"
    tab.keyboard.press("Enter")
    assert tab.evaluate("location.hash") == "#main"
    tab.get_by_role("link", name="English").click()
    visit(tab, "foundation-portal-login-en", lang="en")
    tab.goto("/portal/")  # the cookie remembers English
    assert tab.get_attribute("html", "lang") == "en"
    assert tab.get_by_label("Citizen ID number").is_visible()


# issue 21 item 5: a form posted without its session's token gets a clear page, in the user's language
def test_form_without_csrf_token_is_refused_with_a_page(site, tab) -> None:
    tab.goto("/portal/?lang=en")
    tab.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    tab.get_by_label("Citizen ID number").fill("110101199003074578")
    tab.get_by_label("Query password").fill("whatever1")
    tab.get_by_role("button", name="Sign in").click()
    assert tab.get_by_role("heading", name="Something went wrong").is_visible()
    assert "This form has expired" in tab.inner_text("main")
    visit(tab, "foundation-csrf-refused-en", lang="en")
