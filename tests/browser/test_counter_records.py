"""The counter's status change, insurance record, discrepancy queue and the bank counter's debit account
in a real browser, in Chinese and in English (PER-1, INS-1, INS-5, INS-6, FIN-2, FIN-3, CH-2).

Every page of every journey: screenshot, axe (no serious/critical), <html lang>, no CSP violation.
"""

from __future__ import annotations

from datetime import date

import pytest

from sscard.credentials.query_password.service import holder_actor
from sscard.db.session import unit_of_work
from sscard.insurance.discrepancies.service import report_discrepancy
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.browser.test_counter import WORDS as COUNTER_WORDS
from tests.browser.test_counter import _card, _evidence, _find_card, _region, _sign_in, _staff
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import TEST_BANK

WORDS = {
    "zh": {
        **COUNTER_WORDS["zh"],
        "status": "变更人员状态",
        "new_status": "新状态",
        "final": "我知悉登记为已故不可撤销并将注销全部卡片（仅登记为已故时勾选）",
        "confirm_first": "请确认您知悉此操作不可撤销",
        "deceased_done": "全部有效卡片已注销",
        "deceased": "已故",
        "insurance": "参保记录",
        "show_record": "显示记录",
        "pension": "基本养老保险",
        "late": "超过期限 12 天",
        "waived": "减免",
        "record_decision": "记录决定",
        "decided": "滞纳金决定已记录",
        "queue": "缴费记录异议",
        "answer": "给持卡人的答复",
        "send": "提交答复",
        "answered": "答复已记录",
        "empty_answer": "请填写持卡人将看到的答复",
        "debit": "本卡的借记账户",
        "open": "开立借记账户",
        "opened": "借记账户已开立",
        "deposit": "现金存入",
        "withdrawal": "现金支取",
        "amount": "金额（元）",
        "confirm": "确认",
        "done": "已办理",
        "insufficient": "账户余额不足",
    },
    "en": {
        **COUNTER_WORDS["en"],
        "status": "Change the status",
        "new_status": "New status",
        "final": "I know that deceased is final and cancels every card (tick only for deceased)",
        "confirm_first": "Confirm that you know this is final",
        "deceased_done": "every live card has been cancelled",
        "deceased": "Deceased",
        "insurance": "Insurance record",
        "show_record": "Show the record",
        "pension": "Basic pension insurance",
        "late": "12 days after the deadline",
        "waived": "Waived",
        "record_decision": "Record the decision",
        "decided": "The premium decision has been recorded",
        "queue": "Discrepancy reports",
        "answer": "Your answer to the holder",
        "send": "Send the answer",
        "answered": "The answer has been recorded",
        "empty_answer": "Write the answer the holder will read",
        "debit": "The card's debit account",
        "open": "Open the debit account",
        "opened": "The debit account has been opened",
        "deposit": "Cash deposit",
        "withdrawal": "Cash withdrawal",
        "amount": "Amount in yuan",
        "confirm": "Confirm",
        "done": "Done. The balance is now",
        "insufficient": "balance is too low",
    },
}


def _find_person(tab, w: dict[str, str], id_number: str) -> None:
    tab.get_by_label(w["id_number"], exact=True).fill(id_number)
    tab.get_by_label(w["presented"]).select_option("resident_id_card")
    tab.get_by_role("button", name=w["find"], exact=True).click()
    tab.wait_for_url("**/counter/person/*")


# rules PER-1 / CARD-1 / CH-2: deceased needs the confirmation and the holder's document; it cancels the cards
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_status_change_to_deceased(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    _, id_number = _card(region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_CLERK, region))
    _find_person(tab, w, id_number)
    tab.get_by_role("link", name=w["status"]).click()
    tab.wait_for_url("**/status")
    visit(tab, f"counter-status-{lang}", lang=w["html"])
    tab.get_by_label(w["new_status"]).select_option("deceased")
    _evidence(tab, w, id_number)
    tab.get_by_role("button", name=w["status"]).click()
    tab.wait_for_selector("#error-summary")
    assert w["confirm_first"] in tab.inner_text("main")
    visit(tab, f"counter-status-error-{lang}", lang=w["html"])
    tab.get_by_label(w["new_status"]).select_option("deceased")
    tab.get_by_label(w["final"]).check()
    _evidence(tab, w, id_number)
    tab.get_by_role("button", name=w["status"]).click()
    tab.wait_for_selector(".flash")
    main = tab.inner_text("main")
    assert w["deceased_done"] in main and w["deceased"] in main
    visit(tab, f"counter-status-done-{lang}", lang=w["html"])


def _insured(region: str) -> tuple[int, str]:
    number = new_id_number(region=region)
    with unit_of_work() as uow:
        person = add_test_person(uow, id_number=number)
        employer = make_employer(uow, region=region)
        reg = register(uow, person_id=person.id, employer=employer, start=date(2024, 1, 1), region=region, days_late=12)
        for month in range(1, 7):
            declare(uow, reg=reg, period=date(date.today().year, month, 1))
        report_discrepancy(uow, person_id=person.id, text="一月的缴费基数不对", actor=holder_actor(person.id))
        return person.id, number


# rules INS-5 / INS-1 / INS-6 / CH-2: the record after the identity check, the premium decision, the answer
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_insurance_record_and_discrepancy_answer(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    _, number = _insured(region)
    _sign_in(tab, w, lang, _staff(Role.COUNTER_CLERK, region))
    _find_person(tab, w, number)
    tab.get_by_role("link", name=w["insurance"]).click()
    tab.wait_for_url("**/insurance")
    visit(tab, f"counter-insurance-form-{lang}", lang=w["html"])
    _evidence(tab, w, new_id_number(region=region))
    tab.get_by_role("button", name=w["show_record"]).click()
    tab.wait_for_selector("#error-summary")
    assert w["mismatch"] in tab.inner_text("main") and w["pension"] not in tab.inner_text("main")
    _evidence(tab, w, number)
    tab.get_by_role("button", name=w["show_record"]).click()
    tab.wait_for_selector("#decl-title")
    main = tab.inner_text("main")
    assert w["pension"] in main and w["late"] in main and number not in tab.content()
    visit(tab, f"counter-insurance-record-{lang}", lang=w["html"])
    tab.get_by_label(w["waived"]).first.check()
    tab.get_by_role("button", name=w["record_decision"]).first.click()
    tab.wait_for_selector(".flash")
    assert w["decided"] in tab.inner_text("main")

    tab.get_by_role("navigation").get_by_role("link", name=w["queue"]).click()
    tab.wait_for_url("**/counter/discrepancies")
    assert "一月的缴费基数不对" in tab.inner_text("main")
    visit(tab, f"counter-discrepancies-{lang}", lang=w["html"])
    tab.locator("main table a").first.click()
    tab.wait_for_url("**/counter/discrepancy/*")
    tab.get_by_role("button", name=w["send"]).click()  # the browser's own check stops an empty answer
    tab.get_by_label(w["answer"]).fill(" ")
    tab.get_by_role("button", name=w["send"]).click()
    tab.wait_for_selector("#error-summary")
    assert w["empty_answer"] in tab.inner_text("main")
    visit(tab, f"counter-discrepancy-error-{lang}", lang=w["html"])
    tab.get_by_label(w["answer"]).fill("已核实，一月基数已更正。")
    tab.get_by_role("button", name=w["send"]).click()
    tab.wait_for_selector(".flash")
    assert w["answered"] in tab.inner_text("main") and "已核实，一月基数已更正。" in tab.inner_text("main")
    visit(tab, f"counter-discrepancy-answered-{lang}", lang=w["html"])


# rules FIN-2 / FIN-3 / CH-2: a bank clerk opens the card's debit account, pays cash in, cannot overdraw
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bank_clerk_debit_account(site, tab, lang: str) -> None:
    w = WORDS[lang]
    region = _region()
    card_no, _ = _card(region, bank_code=TEST_BANK)
    _sign_in(tab, w, lang, _staff(Role.BANK_CLERK, region))
    _find_card(tab, w, card_no)
    tab.get_by_role("link", name=w["debit"]).click()
    tab.wait_for_url("**/counter/debit/*")
    visit(tab, f"counter-debit-new-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["open"]).click()
    tab.wait_for_selector(".flash")
    assert w["opened"] in tab.inner_text("main")
    tab.get_by_label(w["deposit"]).check()
    tab.get_by_label(w["amount"]).fill("1,200.50")
    tab.get_by_role("button", name=w["confirm"], exact=True).click()
    tab.wait_for_selector(".flash")
    main = tab.inner_text("main")
    assert w["done"] in main and "1,200.50" in main
    visit(tab, f"counter-debit-{lang}", lang=w["html"])
    tab.get_by_label(w["withdrawal"]).check()
    tab.get_by_label(w["amount"]).fill("5000")
    tab.get_by_role("button", name=w["confirm"], exact=True).click()
    tab.wait_for_selector("#error-summary")
    assert w["insufficient"] in tab.inner_text("main")
    visit(tab, f"counter-debit-error-{lang}", lang=w["html"])
