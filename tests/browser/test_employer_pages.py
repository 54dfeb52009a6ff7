"""An employer in a real browser, in Chinese and in English: sign in, register an employee late (the
deadline shown before submitting, INS-1), declare one line and upload a CSV with a rejected line (INS-3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from tests.browser.harness import visit
from tests.web.page_factories import EMPLOYER_PASSWORD, employer_with_password, new_worker

WORDS = {
    "zh": {
        "html": "zh-CN",
        "uscc": "统一社会信用代码",
        "password": "密码",
        "sign_in": "登录",
        "home": "单位网上服务",
        "registrations": "职工参保登记",
        "id": "职工公民身份号码",
        "start": "入职首日",
        "continue": "继续",
        "late": "本次登记逾期 10 天",
        "register": "登记",
        "flash_late": "超过截止日期",
        "declarations": "缴费申报",
        "month": "月份",
        "base": "缴费基数（元）",
        "declare": "申报",
        "posted": "申报已入账",
        "file": "CSV 文件",
        "upload": "上传",
        "done": "文件已处理完毕",
    },
    "en": {
        "html": "en",
        "uscc": "Unified social credit code",
        "password": "Password",
        "sign_in": "Sign in",
        "home": "Employer services",
        "registrations": "Employee registrations",
        "id": "Employee's citizen ID number",
        "start": "First day of employment",
        "continue": "Continue",
        "late": "This registration is 10 days late.",
        "register": "Register",
        "flash_late": "Registered late: 10 days",
        "declarations": "Contribution declarations",
        "month": "Month",
        "base": "Contribution base (yuan)",
        "declare": "Declare",
        "posted": "The declaration has been posted.",
        "file": "CSV file",
        "upload": "Upload",
        "done": "The file has been processed.",
    },
}


def _sign_in(tab, w: dict[str, str], lang: str, uscc: str) -> None:
    tab.goto("/employer/" + ("?lang=en" if lang == "en" else ""))
    visit(tab, f"employer-login-{lang}", lang=w["html"])
    tab.get_by_label(w["uscc"]).fill(uscc)
    tab.get_by_label(w["password"], exact=True).fill(EMPLOYER_PASSWORD)
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.get_by_role("heading", name=w["home"], level=1).wait_for()
    visit(tab, f"employer-home-{lang}", lang=w["html"])


# rules INS-1 / QPW-5: sign in, register an employee 40 days after the first day: the deadline and
# the 10 days late are shown before submitting, and explained after
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_employer_registers_late(site, tab, lang: str) -> None:
    w = WORDS[lang]
    with unit_of_work() as uow:
        uscc = employer_with_password(uow).uscc
        number = new_worker(uow)
    _sign_in(tab, w, lang, uscc)
    tab.get_by_role("link", name=w["registrations"]).first.click()
    visit(tab, f"employer-registrations-{lang}", lang=w["html"])
    tab.get_by_label(w["id"]).fill(number)
    tab.get_by_label(w["start"]).fill((utcnow().date() - timedelta(days=40)).isoformat())
    tab.get_by_role("button", name=w["continue"]).click()
    tab.get_by_text(w["late"]).wait_for()
    visit(tab, f"employer-registration-check-{lang}", lang=w["html"])
    assert number not in tab.inner_text("main")  # masked on the page
    tab.get_by_role("button", name=w["register"], exact=True).click()
    tab.get_by_text(w["flash_late"]).wait_for()
    visit(tab, f"employer-registered-{lang}", lang=w["html"])


# rule INS-3: one line through the form, then a CSV upload: the progress page ends with the rejected
# line (another employer's credit code) listed by line number
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_employer_declares_and_uploads(site, tab, lang: str, tmp_path) -> None:
    w = WORDS[lang]
    with unit_of_work() as uow:
        employer = employer_with_password(uow)
        uscc = employer.uscc
        other = employer_with_password(uow).uscc
        number, second = new_worker(uow), new_worker(uow)
        from sscard.insurance.registration import register_employee
        from sscard.people.service import get_person_by_id_number_or_raise
        from tests.employers.factories import AGENCY

        start = utcnow().date() - timedelta(days=3)
        for n in (number, second):
            register_employee(uow, employer=employer, person=get_person_by_id_number_or_raise(uow, n),
                              employment_start=start, actor=AGENCY)  # fmt: skip
    _sign_in(tab, w, lang, uscc)
    tab.get_by_role("link", name=w["declarations"]).first.click()
    visit(tab, f"employer-declarations-{lang}", lang=w["html"])
    period = f"{utcnow():%Y-%m}"
    tab.get_by_label(w["id"]).fill(number)
    tab.get_by_label(w["month"], exact=True).fill(period)
    tab.get_by_label(w["base"]).fill("8000.00")
    tab.get_by_role("button", name=w["declare"], exact=True).click()
    tab.get_by_text(w["posted"]).wait_for()
    visit(tab, f"employer-declared-{lang}", lang=w["html"])
    csv = tmp_path / "declarations.csv"
    csv.write_text(f"uscc,id_number,period,base_fen\n{uscc},{second},{period},650000\n{other},{second},{period},1\n")
    tab.get_by_label(w["file"]).set_input_files(str(csv))
    tab.get_by_role("button", name=w["upload"]).click()
    tab.get_by_role("heading", name=w["done"]).wait_for(timeout=30_000)  # the page refreshes itself meanwhile
    visit(tab, f"employer-upload-result-{lang}", lang=w["html"])
    rows = tab.locator("table tbody tr")
    assert rows.count() == 1 and "EMPLOYER_MISMATCH" in rows.first.inner_text()
    assert rows.first.locator("td").first.inner_text().strip() == "3"
