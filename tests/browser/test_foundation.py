"""The pages' foundation in a real browser: language switch, skip link, CSRF refusal page, axe."""

from __future__ import annotations

from typing import Any

from tests.browser.harness import BLOCKING, NON_BLOCKING_RULES, axe_violations, load_axe, visit


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


# issue 18 item 5: visit() leaves out the axe rules that can never block; the vendored axe's own metadata
# must say so (axe gives each violation of a rule that declares an impact that impact), and a page's
# serious/critical violations must be the same with and without them
def test_the_axe_rules_visit_leaves_out_cannot_block(chromium: Any) -> None:
    page = chromium.new_page()
    try:
        page.set_content('<html lang="en"><body><h3>Hi</h3><img src="data:,"></body></html>')
        load_axe(page)
        declared = page.evaluate("() => Object.fromEntries(axe._audit.rules.map((r) => [r.id, r.impact ?? null]))")
        non_blocking = {rule: declared.get(rule) for rule in NON_BLOCKING_RULES}
        assert all(impact in ("minor", "moderate") for impact in non_blocking.values()), non_blocking
        every = {v["id"]: v["impact"] for v in axe_violations(page, skip=())}
        some = {v["id"]: v["impact"] for v in axe_violations(page)}
        assert every["page-has-heading-one"] == "moderate" and "page-has-heading-one" not in some
        assert {r: i for r, i in every.items() if i in BLOCKING} == {r: i for r, i in some.items() if i in BLOCKING}
        assert some["image-alt"] == "critical"
    finally:
        page.close()
