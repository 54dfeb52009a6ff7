"""Employers' forgot password on their own pages (QPW-5, user type employer): the credit code is the
account, a captcha, the same answer for a known and an unknown code, the temporary password by SMS to
the contact phone on file, then the forced change."""

from __future__ import annotations

import re

from sqlalchemy import select

from sscard.captcha import service as captcha_service
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from tests.web.conftest import csrf_of, without_tokens
from tests.web.page_factories import employer_with_password

ANSWER = "K7FQX"


def _form(browser, monkeypatch) -> tuple[str, str]:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: ANSWER)
    page = browser.get("/employer/forgot-password")
    assert page.status_code == 200 and 'for="field-uscc"' in page.text and 'src="data:image/png;base64,' in page.text
    return csrf_of(page.text), re.search(r'name="captcha_id" value="([^"]+)"', page.text).group(1)


def _sms_count() -> int:
    with unit_of_work() as uow:
        return len(uow.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.topic == "employer.temporary_password")).all())  # fmt: skip


# rule QPW-5: the employer's login page links to its own forgot-password; a wrong captcha is refused
# and sends nothing; the same answer for an unknown credit code; the temporary password forces a change
def test_employer_forgot_password(browser, monkeypatch) -> None:
    with unit_of_work() as uow:
        uscc = employer_with_password(uow).uscc
    assert 'href="/employer/forgot-password"' in browser.get("/employer/").text
    before = _sms_count()
    csrf, captcha_id = _form(browser, monkeypatch)
    wrong = browser.post("/employer/forgot-password", data={"uscc": uscc, "csrf_token": csrf, "captcha_id": captcha_id,
                                                           "captcha_answer": "XXXXX"})  # fmt: skip
    assert wrong.status_code == 422 and 'id="error-captcha_answer"' in wrong.text and _sms_count() == before
    answers = []
    for account in ("91110000000000000X", uscc):
        csrf, captcha_id = _form(browser, monkeypatch)
        data = {"uscc": account, "csrf_token": csrf, "captcha_id": captcha_id, "captcha_answer": ANSWER}
        r = browser.post("/employer/forgot-password", data=data)
        assert r.status_code == 303 and r.headers["location"] == "/employer/"
        answers.append(without_tokens(browser.get("/employer/").text.split("<main", 1)[1].split("</form>", 1)[0]))
    assert answers[0] == answers[1] and "临时密码已发送" in answers[0]  # the same answer for both
    assert _sms_count() == before + 1
    with unit_of_work() as uow:
        message = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "employer.temporary_password")
                                      .order_by(OutboxMessage.id.desc())).first()  # fmt: skip
        temporary = re.search(r"临时密码为 ?([^\s，,]+)", open_body(message)).group(1)
    page = browser.get("/employer/")
    signed = browser.post("/employer/login", data={"uscc": uscc, "password": temporary,
                                                  "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert signed.status_code == 303 and signed.headers["location"] == "/employer/password"


# CSRF: a request without the form's token is refused and sends nothing
def test_employer_forgot_needs_csrf(browser, monkeypatch) -> None:
    with unit_of_work() as uow:
        uscc = employer_with_password(uow).uscc
    before = _sms_count()
    _, captcha_id = _form(browser, monkeypatch)
    r = browser.post(
        "/employer/forgot-password", data={"uscc": uscc, "captcha_id": captcha_id, "captcha_answer": ANSWER}
    )
    assert r.status_code == 403 and _sms_count() == before
