"""The counter console in a real browser, in Chinese and in English (CH-2, ID-5, CARD-1/2/5, PIN-5/6, QPW-3).

Every page of every journey: screenshot, axe (no serious/critical), <html lang>, no CSP violation.
"""

from __future__ import annotations

import pytest

from sscard.credentials.pin.store import lock_pin_row, record_failure
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.people.service import get_person_or_raise
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number
from tests.policy.factories import fresh_district
from tests.staff.factories import PASSWORD, TEST_BANK, ensure_region, make_staff

WORDS = {
    "zh": {
        "html": "zh-CN",
        "username": "用户名",
        "password": "密码",
        "sign_in": "登录",
        "home": "查找人员或卡片",
        "wrong": "用户名或密码错误",
        "card_no": "卡号",
        "id_number": "公民身份号码",
        "presented": "当事人出示的证件",
        "find": "查找",
        "document": "证件",
        "document_number": "证件号码",
        "resident": "居民身份证",
        "reveal": "显示完整身份号码",
        "reveal_go": "显示完整信息",
        "revealed": "完整信息（仅显示这一次）",
        "register": "人员登记",
        "name": "姓名",
        "phone": "手机号码",
        "register_go": "登记",
        "registered": "人员已登记",
        "issue": "发卡",
        "issue_go": "发卡",
        "issued": "卡片已发放",
        "activate": "启用卡片",
        "activated": "卡片已启用",
        "confirm_loss": "正式挂失",
        "lost": "已正式挂失",
        "replace": "补换卡",
        "replaced": "已补换新卡",
        "cancel": "注销卡片",
        "reason": "发卡错误",
        "cancelled": "卡片已注销",
        "state_lost": "已挂失",
        "locked": "是，因密码错误次数过多",
        "unlock": "密码解锁",
        "unlocked": "密码已解锁",
        "reset": "重置密码",
        "reset_done": "密码已重置",
        "mismatch": "所出示的身份证件与持卡人不符",
        "qpw": "重置查询密码",
        "qpw_go": "重置",
        "qpw_done": "查询密码已恢复为初始密码",
        "other_bank": "该卡不是由您所在银行发行的",
        "pin_cancel": "取消密码",
        "pin_cancelled": "密码已取消",
        "not_enabled": "否（初始密码）",
        "contact": "更正姓名、手机或邮箱",
        "new_phone": "新手机号码",
        "contact_go": "更正信息",
        "contact_done": "信息已更正",
        "id_fix": "更正公民身份号码",
        "right_id": "正确的公民身份号码",
        "why": "登记号码有误的原因",
        "ask": "提交审批",
        "asked": "已提交更正申请",
        "own": "此更正由您申请",
        "corrections": "身份号码更正",
        "approve": "批准并生效",
        "approved": "更正已批准并生效",
        "signed_out": "您已安全退出",
        "sign_out": "退出登录",
    },
    "en": {
        "html": "en",
        "username": "User name",
        "password": "Password",
        "sign_in": "Sign in",
        "home": "Find a person or card",
        "wrong": "Wrong username or password",
        "card_no": "Card number",
        "id_number": "Citizen ID number",
        "presented": "Document the person presented",
        "find": "Find",
        "document": "Document",
        "document_number": "Document number",
        "resident": "Resident identity card",
        "reveal": "Show full ID number",
        "reveal_go": "Show full details",
        "revealed": "Full details, shown this once",
        "register": "Register a person",
        "name": "Name",
        "phone": "Mobile phone",
        "register_go": "Register",
        "registered": "The person has been registered",
        "issue": "Issue a card",
        "issue_go": "Issue the card",
        "issued": "The card has been issued",
        "activate": "Activate the card",
        "activated": "The card has been activated",
        "confirm_loss": "Confirm the loss",
        "lost": "The loss has been confirmed",
        "replace": "Replace the card",
        "replaced": "A replacement card has been issued",
        "cancel": "Cancel the card",
        "reason": "Issued in error",
        "cancelled": "The card has been cancelled",
        "state_lost": "Lost",
        "locked": "Yes, after too many wrong PINs",
        "unlock": "Unlock the PIN",
        "unlocked": "The PIN has been unlocked",
        "reset": "Reset the PIN",
        "reset_done": "The PIN has been reset",
        "mismatch": "The identity document does not belong to the cardholder.",
        "qpw": "Re-initialise the query password",
        "qpw_go": "Re-initialise",
        "qpw_done": "The query password is the initial one again",
        "other_bank": "The card was not issued through your bank",
        "pin_cancel": "Cancel the PIN",
        "pin_cancelled": "The PIN has been cancelled",
        "not_enabled": "No (initial PIN)",
        "contact": "Correct name, phone or email",
        "new_phone": "New mobile phone",
        "contact_go": "Correct the record",
        "contact_done": "The record has been corrected",
        "id_fix": "Correct the citizen ID number",
        "right_id": "Correct citizen ID number",
        "why": "Why the number on file is wrong",
        "ask": "Ask for approval",
        "asked": "The correction has been requested",
        "own": "You asked for this correction",
        "corrections": "ID number corrections",
        "approve": "Approve and apply",
        "approved": "The correction has been approved and applied",
        "signed_out": "You have signed out",
        "sign_out": "Sign out",
    },
}


def _region() -> str:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
    return region


def _staff(role: Role, region: str) -> str:
    with unit_of_work() as uow:
        return make_staff(uow, role=role, region_code=region[:2] + "0000").username


def _card(region: str, *, locked: bool = False, bank_code: str | None = None) -> tuple[str, str]:
    with unit_of_work() as uow:
        card = make_card(uow, id_number=new_id_number(region=region), bank_code=bank_code)
        if locked:
            row = lock_pin_row(uow, card_id=card.id, now=utcnow())
            row.pvv, row.pvk_version = b"\x11" * 8, 1
            uow.flush()
            for _ in range(6):
                record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
        return card.card_no, get_person_or_raise(uow, card.person_id).id_number


def _sign_in(tab, w: dict[str, str], lang: str, username: str, shots: str | None = None) -> None:
    tab.goto("/counter/" + ("?lang=en" if lang == "en" else ""))
    if shots:
        visit(tab, f"{shots}-{lang}", lang=w["html"])
    tab.get_by_label(w["username"]).fill(username)
    tab.get_by_label(w["password"], exact=True).fill(PASSWORD)
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.wait_for_url("**/counter/home")


def _evidence(tab, w: dict[str, str], number: str) -> None:
    tab.get_by_label(w["document"], exact=True).select_option("resident_id_card")
    tab.get_by_label(w["document_number"], exact=True).fill(number)


def _find_card(tab, w: dict[str, str], card_no: str) -> None:
    tab.get_by_label(w["card_no"], exact=True).fill(card_no)
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_url("**/counter/card/*")


# rule CH-2: staff sign in with user name and password; a wrong password is refused on the form
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clerk_signs_in_and_out(site, tab, lang: str) -> None:
    w = WORDS[lang]
    username = _staff(Role.COUNTER_CLERK, _region())
    tab.goto("/counter/" + ("?lang=en" if lang == "en" else ""))
    visit(tab, f"counter-login-{lang}", lang=w["html"])
    tab.get_by_label(w["username"]).fill(username)
    tab.get_by_label(w["password"], exact=True).fill("not the password")
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.wait_for_selector("#error-summary")
    assert w["wrong"] in tab.inner_text("main")
    visit(tab, f"counter-login-error-{lang}", lang=w["html"])
    _sign_in(tab, w, lang, username)
    assert tab.get_by_role("heading", level=1, name=w["home"]).is_visible()
    visit(tab, f"counter-home-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["sign_out"]).click()
    tab.wait_for_url("**/counter/")
    assert w["signed_out"] in tab.inner_text("main")


# rules ID-5 / CH-2: lookup by ID shows masked data; a supervisor shows the full ID after the evidence
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_supervisor_looks_up_and_reveals(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    _, id_number = _card(region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_SUPERVISOR, region))
    tab.get_by_label(w["id_number"], exact=True).fill(id_number)
    tab.get_by_label(w["presented"]).select_option("resident_id_card")
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_url("**/counter/person/*")
    assert id_number not in tab.content() and "**********" in tab.inner_text("main")
    visit(tab, f"counter-person-{lang}", lang=w["html"])
    tab.get_by_role("link", name=w["reveal"]).click()
    tab.wait_for_url("**/reveal")
    _evidence(tab, w, new_id_number(region=region))  # not the holder's document
    tab.get_by_role("button", name=w["reveal_go"]).click()
    tab.wait_for_selector("#error-summary")
    assert id_number not in tab.content()
    visit(tab, f"counter-reveal-error-{lang}", lang=w["html"])
    _evidence(tab, w, id_number)
    tab.get_by_role("button", name=w["reveal_go"]).click()
    tab.wait_for_selector(".revealed")
    assert id_number in tab.inner_text(".revealed") and w["revealed"] in tab.inner_text("main")
    visit(tab, f"counter-revealed-{lang}", lang=w["html"])


# rules PER-1 / CARD-1 / CARD-2 / CARD-5: register, issue, activate, formal loss, replace, cancel
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_card_life_at_the_counter(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    id_number = new_id_number(region=region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_CLERK, region))
    tab.get_by_role("link", name=w["register"]).first.click()
    tab.wait_for_url("**/counter/register")
    visit(tab, f"counter-register-{lang}", lang=w["html"])
    tab.get_by_label(w["id_number"], exact=True).fill(id_number)
    tab.get_by_label(w["name"], exact=True).fill("王五")
    tab.get_by_label(w["phone"], exact=True).fill("13912345678")
    tab.get_by_role("button", name=w["register_go"], exact=True).click()
    tab.wait_for_url("**/counter/person/*")
    assert w["registered"] in tab.inner_text("main") and id_number not in tab.content()
    tab.get_by_role("link", name=w["issue"], exact=True).click()
    visit(tab, f"counter-issue-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["issue_go"], exact=True).click()
    tab.wait_for_url("**/counter/card/*")
    assert w["issued"] in tab.inner_text("main")
    visit(tab, f"counter-card-issued-{lang}", lang=w["html"])
    for action, done, evidence in (
        ("activate", "activated", False),
        ("confirm_loss", "lost", True),
        ("replace", "replaced", True),
    ):
        tab.get_by_role("link", name=w[action], exact=True).click()
        tab.wait_for_url("**/counter/card/*/*")
        if evidence:
            _evidence(tab, w, id_number)
        visit(tab, f"counter-{action}-{lang}", lang=w["html"])
        tab.get_by_role("button", name=w[action], exact=True).click()
        tab.wait_for_selector(".flash")
        assert w[done] in tab.inner_text("main"), action
        visit(tab, f"counter-card-{done}-{lang}", lang=w["html"])
    # the replacement card is the one shown now: cancel it (issued in error)
    tab.get_by_role("link", name=w["cancel"], exact=True).click()
    tab.get_by_role("button", name=w["cancel"], exact=True).click()  # no reason chosen
    tab.wait_for_selector("#error-summary")
    visit(tab, f"counter-cancel-error-{lang}", lang=w["html"])
    tab.get_by_label(w["reason"]).check()
    tab.get_by_role("button", name=w["cancel"], exact=True).click()
    tab.wait_for_selector(".flash")
    assert w["cancelled"] in tab.inner_text("main")
    visit(tab, f"counter-card-cancelled-{lang}", lang=w["html"])


# rules PIN-5 / PIN-6 / CH-2: a locked PIN is unlocked, then reset, each with the holder's ID document
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pin_unlock_and_reset(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    card_no, id_number = _card(region, locked=True)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_CLERK, region))
    _find_card(tab, w, card_no)
    assert w["locked"] in tab.inner_text("main") and card_no not in tab.content()
    visit(tab, f"counter-card-pin-locked-{lang}", lang=w["html"])
    tab.get_by_role("link", name=w["unlock"], exact=True).click()
    _evidence(tab, w, new_id_number(region=region))
    tab.get_by_role("button", name=w["unlock"], exact=True).click()
    tab.wait_for_selector("#error-summary")
    assert w["mismatch"] in tab.inner_text("main")
    visit(tab, f"counter-pin-unlock-error-{lang}", lang=w["html"])
    _evidence(tab, w, id_number)
    tab.get_by_role("button", name=w["unlock"], exact=True).click()
    tab.wait_for_selector(".flash")
    assert w["unlocked"] in tab.inner_text("main") and w["locked"] not in tab.inner_text("main")
    visit(tab, f"counter-card-pin-unlocked-{lang}", lang=w["html"])
    tab.get_by_role("link", name=w["pin_cancel"], exact=True).click()  # PIN-7: back to "not enabled"
    _evidence(tab, w, id_number)
    visit(tab, f"counter-pin-cancel-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["pin_cancel"], exact=True).click()
    tab.wait_for_selector(".flash")
    assert w["pin_cancelled"] in tab.inner_text("main") and w["not_enabled"] in tab.inner_text("main")
    tab.get_by_role("link", name=w["reset"], exact=True).click()
    _evidence(tab, w, id_number)
    visit(tab, f"counter-pin-reset-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["reset"], exact=True).click()  # no PIN pad entry: the initial PIN
    tab.wait_for_selector(".flash")
    assert w["reset_done"] in tab.inner_text("main")
    visit(tab, f"counter-card-pin-reset-{lang}", lang=w["html"])


# rules PIN-6 / FIN-3: a bank clerk finds their bank's card only, and activates it
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bank_clerk_sees_only_their_banks_cards(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    foreign, _ = _card(region, bank_code="OTHERBANK")
    own, _ = _card(region, bank_code=TEST_BANK, locked=True)
    _sign_in(tab, w, lang, _staff(Role.BANK_CLERK, region))
    assert tab.get_by_label(w["id_number"], exact=True).count() == 0
    visit(tab, f"counter-bank-home-{lang}", lang=w["html"])
    tab.get_by_label(w["card_no"], exact=True).fill(foreign)
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_selector("#error-summary")
    assert w["other_bank"] in tab.inner_text("main")
    visit(tab, f"counter-bank-other-{lang}", lang=w["html"])
    _find_card(tab, w, own)
    assert tab.get_by_role("link", name=w["unlock"], exact=True).is_visible()
    assert tab.get_by_role("link", name=w["replace"], exact=True).count() == 0
    visit(tab, f"counter-bank-card-{lang}", lang=w["html"])


# rules QPW-3 / CH-2: the query password goes back to the initial one after the identity check
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_query_password_reinitialised(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    card_no, id_number = _card(region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_CLERK, region))
    tab.get_by_label(w["id_number"], exact=True).fill(id_number)
    tab.get_by_label(w["presented"]).select_option("resident_id_card")
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_url("**/counter/person/*")
    tab.get_by_role("link", name=w["qpw"]).click()
    _evidence(tab, w, id_number)
    visit(tab, f"counter-qpw-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["qpw_go"], exact=True).click()
    tab.wait_for_selector(".flash")
    assert w["qpw_done"] in tab.inner_text("main")
    visit(tab, f"counter-qpw-done-{lang}", lang=w["html"])


def _find_person(tab, w: dict[str, str], id_number: str) -> None:
    tab.get_by_label(w["id_number"], exact=True).fill(id_number)
    tab.get_by_label(w["presented"]).select_option("resident_id_card")
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_url("**/counter/person/*")


# rules PER-1 / QPW-3 / CH-5: the phone is corrected at once; the citizen ID number only with the approval of
# a counter supervisor other than the one who asked (a second sign-in, in a second browser context)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_record_corrections_and_supervisor_approval(site, chromium, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    _, id_number = _card(region)
    right = new_id_number(region=region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_SUPERVISOR, region))
    _find_person(tab, w, id_number)
    tab.get_by_role("link", name=w["contact"]).click()
    tab.get_by_label(w["new_phone"], exact=True).fill("13700001111")
    _evidence(tab, w, id_number)
    visit(tab, f"counter-contact-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["contact_go"], exact=True).click()
    tab.wait_for_selector(".flash")
    assert w["contact_done"] in tab.inner_text("main") and "137****1111" in tab.inner_text("main")
    tab.get_by_role("link", name=w["id_fix"]).click()
    tab.get_by_label(w["right_id"], exact=True).fill(right)
    tab.get_by_label(w["why"], exact=True).fill("登记时号码录入错误")
    _evidence(tab, w, right)  # the document printed with the right number
    visit(tab, f"counter-id-correction-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["ask"], exact=True).click()
    tab.wait_for_url("**/counter/correction/*")
    assert w["asked"] in tab.inner_text("main") and w["own"] in tab.inner_text("main")
    assert right not in tab.content()
    visit(tab, f"counter-correction-requested-{lang}", lang=w["html"])

    context = chromium.new_context(base_url=site.url, locale="zh-CN", viewport={"width": 1100, "height": 800})
    try:
        other = context.new_page()
        other._sscard_csp_violations = []
        _sign_in(other, w, lang, _staff(Role.COUNTER_SUPERVISOR, region))
        other.get_by_role("link", name=w["corrections"]).click()
        other.wait_for_url("**/counter/corrections")
        visit(other, f"counter-corrections-{lang}", lang=w["html"])
        other.locator("tbody a").first.click()
        other.wait_for_url("**/counter/correction/*")
        visit(other, f"counter-correction-decide-{lang}", lang=w["html"])
        other.get_by_role("button", name=w["approve"], exact=True).click()
        other.wait_for_selector(".flash")
        assert w["approved"] in other.inner_text("main")
        visit(other, f"counter-correction-approved-{lang}", lang=w["html"])
    finally:
        context.close()
