"""Counter pages added for issue 21: person status, insurance record, discrepancy queue, bank debit accounts.

Each calls the API's service after the API's checks (role, region, bank); refusals re-render the form
with the error's own words; nothing half-done is kept.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.models import Card
from sscard.credentials.query_password.service import holder_actor
from sscard.db.session import unit_of_work
from sscard.debit.service import counter_view
from sscard.insurance.discrepancies.service import report_discrepancy
from sscard.insurance.models import InsuranceRegistration
from sscard.people.models import Person, PersonStatus
from sscard.staff.roles import Role
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import TEST_BANK, ensure_region, make_staff
from tests.web.conftest import csrf_of
from tests.web.test_counter_pages import _card, _open_card, _post, _sign_in, _staff

ID_CARD = "resident_id_card"
MISMATCH = "身份证件与持卡人不符"


def _person_page(browser, id_number: str) -> str:
    r = _post(browser, "/counter/lookup", {"id_number": id_number, "document_type": ID_CARD})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def _audit(action: str, subject: str) -> list[AuditEntry]:
    with unit_of_work() as uow:
        return list(
            uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action, AuditEntry.subject == subject))
        )


# rules PER-1 / CARD-1 / CH-2: a status change with the identity document checked (recorded, masked);
# deceased only when the clerk confirms it is final, and then every live card is cancelled
def test_status_change_with_evidence_and_deceased_final(browser) -> None:
    card_no, id_number, card_id = _card("110105")
    _sign_in(browser, _staff())
    person_page = _person_page(browser, id_number)
    assert f'href="{person_page}/status"' in browser.get(person_page).text
    form = browser.get(person_page + "/status")
    assert form.status_code == 200 and 'name="status"' in form.text and 'for="field-document_number"' in form.text

    wrong = {"status": "retired", "document_type": ID_CARD, "document_number": new_id_number(region="110105")}
    r = _post(browser, person_page + "/status", wrong)
    assert r.status_code == 422 and MISMATCH in r.text
    r = _post(browser, person_page + "/status", {"status": "", "document_type": ID_CARD, "document_number": id_number})
    assert r.status_code == 422 and "请选择新的人员状态" in r.text
    evidence = {"document_type": ID_CARD, "document_number": id_number}
    r = _post(browser, person_page + "/status", {"status": "deceased", **evidence})
    assert r.status_code == 422 and "请确认您知悉此操作不可撤销" in r.text
    with unit_of_work() as uow:
        assert uow.session.get(Card, card_id).state.value == "active"  # nothing changed on a refusal

    r = _post(browser, person_page + "/status", {"status": "retired", **evidence})
    assert r.status_code == 303 and r.headers["location"] == person_page
    assert "人员状态已变更" in browser.get(person_page).text
    r = _post(browser, person_page + "/status", {"status": "deceased", "confirm_final": "yes", **evidence})
    assert r.status_code == 303
    page = browser.get(person_page).text
    assert "全部有效卡片已注销" in page and f'href="{person_page}/status"' not in page
    with unit_of_work() as uow:
        card = uow.session.get(Card, card_id)
        assert card.state.value == "cancelled"
        assert uow.session.get(Person, card.person_id).status is PersonStatus.DECEASED
        subject = f"person:{card.person_id}"
    entries = _audit("person.set_status", subject)
    assert len(entries) == 2 and all(ID_CARD in e.details and id_number not in e.details for e in entries)
    # deceased is final: the service refuses any other status, shown on the form
    r = _post(browser, person_page + "/status", {"status": "employed", **evidence})
    assert r.status_code == 409 and "该人员已登记为死亡" in r.text
    # refs belong to their session: another staff member's session cannot use this one
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.COUNTER_CLERK))
    assert _post(browser, person_page + "/status", {"status": "retired", **evidence}).status_code == 404


def _insured(region: str = "110105") -> tuple[int, str, int]:
    """A person registered 12 days late through an employer, 2025 declared month by month; (id, ID, reg id)."""
    number = new_id_number(region=region)
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person = add_test_person(uow, id_number=number)
        employer = make_employer(uow, region=region)
        reg = register(uow, person_id=person.id, employer=employer, start=date(2024, 1, 1), region=region, days_late=12)
        for month in range(1, 13):
            declare(uow, reg=reg, period=date(2025, month, 1))
        return person.id, number, reg.id


# rules INS-5 / CH-2: the counter sees the insurance record only after the holder's document is checked,
# and the viewing is audited with it (masked); a wrong document shows nothing
def test_insurance_record_after_identity_check(browser) -> None:
    person_id, number, _ = _insured()
    _sign_in(browser, _staff())
    person_page = _person_page(browser, number)
    form = browser.get(person_page + "/insurance")
    assert form.status_code == 200 and 'name="year"' in form.text and 'name="document_number"' in form.text
    wrong = {"document_type": ID_CARD, "document_number": new_id_number(region="110105"), "year": "2025"}
    r = _post(browser, person_page + "/insurance", wrong)
    assert r.status_code == 422 and MISMATCH in r.text and "基本养老保险" not in r.text
    r = _post(browser, person_page + "/insurance", {**wrong, "document_number": number, "year": "1900"})
    assert r.status_code == 422 and "请选择年份" in r.text
    r = _post(browser, person_page + "/insurance", {**wrong, "document_number": number})
    assert r.status_code == 200, r.text
    assert "基本养老保险" in r.text and "养老保险个人账户" in r.text and "2025年3月" in r.text
    assert "超过期限 12 天" in r.text and number not in r.text
    entries = _audit("insurance.record_view", f"person:{person_id}")
    assert len(entries) == 1 and ID_CARD in entries[0].details and number not in entries[0].details
    # CH-2: a bank clerk has no insurance pages, with the error's words
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.BANK_CLERK))
    assert _post(browser, "/counter/lookup", {"id_number": number, "document_type": ID_CARD}).status_code == 403


# rule INS-1: the agency's premium decision on a late registration, once
def test_premium_decision_once(browser) -> None:
    _, number, reg_id = _insured()
    _sign_in(browser, _staff())
    person_page = _person_page(browser, number)
    record = _post(browser, person_page + "/insurance", {"document_type": ID_CARD, "document_number": number,
                                                          "year": "2025"}).text  # fmt: skip
    action = record[record.index('action="/counter/registration/') :].split('"')[1]
    r = _post(browser, action, {"decision": "charged", "premium_yuan": "abc"})
    assert r.status_code == 303 and "请选择减免" in browser.get(r.headers["location"]).text
    r = _post(browser, action, {"decision": "charged", "premium_yuan": "120.50"})
    assert r.status_code == 303 and "滞纳金决定已记录" in browser.get(r.headers["location"]).text
    with unit_of_work() as uow:
        reg = uow.session.get(InsuranceRegistration, reg_id)
        assert (reg.premium_decision.value, reg.premium_fen) == ("charged", 12_050)
    r = _post(browser, action, {"decision": "waived"})
    assert r.status_code == 303 and "滞纳金已核定" in browser.get(r.headers["location"]).text  # PREMIUM_ALREADY_DECIDED
    with unit_of_work() as uow:
        assert uow.session.get(InsuranceRegistration, reg_id).premium_fen == 12_050


# rule INS-6 / CH-5: the queue lists the region's open reports; an answer is final, audited, told
def test_discrepancy_queue_and_answer(browser) -> None:
    person_id, _, _ = _insured()
    text = f"三月的缴费基数不对（{person_id}）"  # the queue also lists the reports of other tests
    with unit_of_work() as uow:
        report = report_discrepancy(uow, person_id=person_id, text=text, actor=holder_actor(person_id))
        assert report.id
    _sign_in(browser, _staff())
    queue = browser.get("/counter/discrepancies")
    assert queue.status_code == 200 and text in queue.text
    row = queue.text[queue.text.rindex("<tr", 0, queue.text.index(text)) :]
    link = row[row.index('href="/counter/discrepancy/') :].split('"')[1]
    page = browser.get(link)
    assert page.status_code == 200 and "待答复" in page.text and 'name="answer"' in page.text
    r = _post(browser, link + "/answer", {"answer": "  "})
    assert r.status_code == 422 and "请填写持卡人将看到的答复" in r.text
    r = _post(browser, link + "/answer", {"answer": "已核实，基数已更正。"})
    assert r.status_code == 303
    answered = browser.get(link).text
    assert "答复已记录" in answered and "已核实，基数已更正。" in answered and 'name="answer"' not in answered
    assert len(_audit("insurance.discrepancy.answer", f"person:{person_id}")) == 1
    r = _post(browser, link + "/answer", {"answer": "again"})
    assert r.status_code == 409 and "该异议已答复" in r.text  # DISCREPANCY_ANSWERED, on the form
    assert text not in browser.get("/counter/discrepancies").text
    assert text in browser.get("/counter/discrepancies?answered=1").text
    # CH-2: another region's clerk neither lists nor answers it; a bank clerk has no queue
    browser.cookies.clear()
    _sign_in(browser, _staff(region="440000"))
    assert text not in browser.get("/counter/discrepancies").text
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.BANK_CLERK))
    r = browser.get("/counter/discrepancies")
    assert r.status_code == 403


# rules FIN-2 / FIN-3 / CH-2: the bank counter opens the account at the card's bank, moves money without
# overdraft, and only on its own bank's cards
def test_debit_account_pages(browser) -> None:
    card_no, _, card_id = _card("110105", bank_code=TEST_BANK)
    other_no, _, _ = _card("110105", bank_code=TEST_BANK)
    _sign_in(browser, _staff(Role.BANK_CLERK))
    card_page = _open_card(browser, card_no)
    assert "借记账户" in browser.get(card_page).text
    debit_page = card_page.replace("/counter/card/", "/counter/debit/")
    page = browser.get(debit_page)
    assert page.status_code == 200 and "尚未开立借记账户" in page.text
    assert _post(browser, debit_page + "/open", {}).status_code == 303
    r = _post(browser, debit_page + "/open", {})
    assert r.status_code == 409  # DEBIT_ACCOUNT_EXISTS, on the page
    r = _post(browser, debit_page + "/move", {"kind": "deposit", "amount": "0"})
    assert r.status_code == 422 and "请输入大于零的金额" in r.text
    r = _post(browser, debit_page + "/move", {"kind": "", "amount": "10"})
    assert r.status_code == 422 and "请选择存款、取款或转账" in r.text
    r = _post(browser, debit_page + "/move", {"kind": "deposit", "amount": "100.50"})
    assert r.status_code == 303
    shown = browser.get(debit_page).text
    assert "¥100.50" in shown and "现金存入" in shown
    r = _post(browser, debit_page + "/move", {"kind": "withdrawal", "amount": "200"})
    assert r.status_code == 409 and "账户余额不足" in r.text  # INSUFFICIENT_FUNDS: no overdraft
    r = _post(browser, debit_page + "/move", {"kind": "transfer", "amount": "1", "to_card_no": card_no})
    assert r.status_code == 422 and "转出与转入账户不能相同" in r.text
    other_debit = _open_card(browser, other_no).replace("/counter/card/", "/counter/debit/")
    assert _post(browser, other_debit + "/open", {}).status_code == 303
    r = _post(browser, debit_page + "/move", {"kind": "transfer", "amount": "40", "to_card_no": other_no})
    assert r.status_code == 303
    with unit_of_work() as uow:
        card = uow.session.get(Card, card_id)
        assert counter_view(uow, card)["balance_fen"] == 6_050
    # a counter clerk is not a bank clerk (the role's refusal page); another bank's clerk does not see the card
    browser.cookies.clear()
    _sign_in(browser, _staff())
    clerk_card = _open_card(browser, card_no)
    assert "/counter/debit/" not in browser.get(clerk_card).text
    assert browser.get(clerk_card.replace("/counter/card/", "/counter/debit/")).status_code == 403
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.BANK_CLERK, bank_code="OTHERBANK"))
    r = _post(browser, "/counter/lookup", {"card_no": card_no})
    assert r.status_code == 403 and "/counter/debit/" not in r.text


# issue 21: Chinese pages show words, not codes: the audit log names an incident report in Chinese, with the
# code beside it for the auditor's search; a bank outlet by its bank's name
def test_codes_have_words(browser) -> None:
    from tests.web.test_console_pages import _sign_in as console_sign_in
    from tests.web.test_console_pages import _staff as console_staff

    console_sign_in(browser, console_staff(Role.SECURITY_OFFICER))
    page = browser.get("/console/incidents")
    browser.post("/console/incidents", data={"region_code": "110000", "kind": "other", "description": "labels",
                                            "csrf_token": csrf_of(page.text)})  # fmt: skip
    browser.cookies.clear()
    console_sign_in(browser, console_staff(Role.AUDITOR))
    page = browser.get("/console/audit?action=incident.").text
    assert '报告安全事件 <code class="muted">incident.report</code>' in page
    english = browser.get("/console/audit?action=incident.&lang=en").text
    assert 'Security incident reported <code class="muted">incident.report</code>' in english
    browser.cookies.clear()
    with unit_of_work() as uow:
        clerk = make_staff(uow, role=Role.BANK_CLERK, region_code="110000", bank_code="ICBC").username
    _sign_in(browser, clerk)
    home = browser.get("/counter/home").text
    assert "中国工商银行 (ICBC)" in home
