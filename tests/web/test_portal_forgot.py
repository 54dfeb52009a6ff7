"""Forgot password through the portal's pages (QPW-5): captcha, user type, channel, the same answer
whether or not the account exists, then the temporary password's forced change (QPW-2)."""

from __future__ import annotations

import re

from sqlalchemy import select

from sscard.captcha import service as captcha_service
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from tests.credentials.query_password.factories import make_holder
from tests.people.factories import new_id_number
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region
from tests.web.conftest import csrf_of, without_tokens

ANSWER = "K7FQX"


def _holder() -> tuple[int, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person, number, _ = make_holder(uow, region=region)
    return person.id, number


def _form(browser, monkeypatch) -> tuple[str, str]:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: ANSWER)
    page = browser.get("/portal/forgot-password")
    assert page.status_code == 200 and 'src="data:image/png;base64,' in page.text
    captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', page.text).group(1)
    return csrf_of(page.text), captcha_id


def _temporary(person_id: int) -> str:
    with unit_of_work() as uow:
        [message] = uow.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.person_id == person_id, OutboxMessage.topic == "qpw.temporary_password"
            )
        ).all()
        return open_body(message).split("临时密码为 ", 1)[1].split("，", 1)[0]


# rule QPW-5: the same answer for a real and an unknown account; a wrong captcha is refused
def test_same_answer_and_captcha(browser, monkeypatch) -> None:
    person_id, number = _holder()
    csrf, captcha_id = _form(browser, monkeypatch)
    data = {"id_number": number, "user_type": "individual", "channel": "sms", "csrf_token": csrf}
    wrong = browser.post("/portal/forgot-password", data={**data, "captcha_id": captcha_id, "captcha_answer": "XXXXX"})
    assert wrong.status_code == 422 and "CAPTCHA" not in wrong.text and 'id="error-captcha_answer"' in wrong.text
    answers = []
    for account in (number, new_id_number()):
        csrf, captcha_id = _form(browser, monkeypatch)
        r = browser.post(
            "/portal/forgot-password",
            data={**data, "id_number": account, "csrf_token": csrf, "captcha_id": captcha_id, "captcha_answer": ANSWER},
        )
        assert r.status_code == 303 and r.headers["location"] == "/portal/"
        answers.append(browser.get("/portal/").text.split("<main", 1)[1].split("</main>", 1)[0])
    assert without_tokens(answers[0]) == without_tokens(answers[1])
    assert "临时密码已发送" in answers[0]


# rules QPW-5 / QPW-2: signed in with the temporary password, the holder must set a new one (no notice)
def test_temporary_password_forces_a_change(browser, monkeypatch) -> None:
    person_id, number = _holder()
    csrf, captcha_id = _form(browser, monkeypatch)
    browser.post(
        "/portal/forgot-password",
        data={"id_number": number, "user_type": "individual", "channel": "email", "csrf_token": csrf,
              "captcha_id": captcha_id, "captcha_answer": ANSWER},
    )  # fmt: skip
    temporary = _temporary(person_id)
    form = browser.get("/portal/")
    r = browser.post(
        "/portal/login", data={"id_number": number, "password": temporary, "csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/password"
    page = browser.get("/portal/password")
    assert "您使用临时密码登录" in page.text and 'name="acknowledge"' not in page.text
    new = "Qiu-lin#river42"
    r = browser.post(
        "/portal/password",
        data={
            "old_password": temporary,
            "new_password": new,
            "new_password_again": new,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/home"
