"""The holder's records through the portal's pages: cards and loss, insurance, discrepancies, statements,
settlements and the debit account (CARD-5, INS-3..INS-6, FIN-1, FIN-2)."""

from __future__ import annotations

import re

from sqlalchemy import select

from sscard.cards.models import Card
from sscard.cards.states import CardState
from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.insurance.discrepancies.models import DiscrepancyReport
from tests.statements.factories import YEAR
from tests.web.conftest import csrf_of
from tests.web.portal_factories import NEW_PASSWORD, Holder, holder_with_records, holder_with_statement


def sign_in(browser, holder: Holder) -> None:
    """Sign in with the initial password and change it (QPW-2), as the holder does the first time."""
    form = browser.get("/portal/")
    data = {"id_number": holder.id_number, "password": holder.initial, "csrf_token": csrf_of(form.text)}
    assert browser.post("/portal/login", data=data).headers["location"] == "/portal/password"
    page = browser.get("/portal/password")
    r = browser.post(
        "/portal/password",
        data={"old_password": holder.initial, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD,
              "acknowledge": "yes", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert r.headers["location"] == "/portal/home", r.text


# rule CARD-5 / PIN-2: my cards masked so two can be told apart (last four), PIN state, never a PIN;
# a loss report blocks the chosen card at once, by an opaque reference, never the card number in a URL
def test_cards_and_loss_report(browser) -> None:
    holder = holder_with_records(year=china_today().year)
    sign_in(browser, holder)
    page = browser.get("/portal/cards")
    assert page.status_code == 200
    for card_no in holder.card_nos:
        assert card_no not in page.text and f"*****{card_no[-4:]}" in page.text
    assert holder.id_number not in page.text and "未启用" in page.text
    refs = re.findall(r'name="card" value="([^"]+)"', page.text)
    assert len(refs) == 1  # only the active card can be reported lost (CARD-5); the issued one is not in use
    r = browser.post("/portal/cards/loss", data={"card": refs[0], "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303  # not confirmed: nothing blocked
    with unit_of_work() as uow:
        states = {
            c.card_no: c.state for c in uow.session.scalars(select(Card).where(Card.card_no.in_(holder.card_nos)))
        }
    assert CardState.LOSS_REPORTED not in states.values()
    r = browser.post("/portal/cards/loss", data={"card": refs[0], "confirm": "yes", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/portal/cards"
    after = browser.get("/portal/cards").text
    assert "已冻结" in after and f"尾号 {holder.card_nos[0][-4:]}" in after
    with unit_of_work() as uow:
        assert (
            uow.session.scalar(select(Card.state).where(Card.card_no == holder.card_nos[0])) == CardState.LOSS_REPORTED
        )
    forged = browser.post(
        "/portal/cards/loss", data={"card": "not-a-ref", "confirm": "yes", "csrf_token": csrf_of(after)}
    )
    assert forged.status_code == 404


# rule INS-5 / INS-3: participation, each employer's declarations month by month, the personal accounts
def test_insurance_page(browser) -> None:
    year = china_today().year
    holder = holder_with_records(year=year)
    sign_in(browser, holder)
    html = browser.get("/portal/insurance").text
    assert holder.employer_name in html and "基本养老保险" in html and "职工基本医疗保险" in html
    assert f"{year}年3月" in html and "补缴" in html  # month by month, the late month marked
    assert "¥10,000.00" in html and "¥800.00" in html  # base and the pension personal-account part
    assert "养老保险个人账户" in html and "¥9,600.00" in html  # 12 × 800.00 to the pension account
    en = browser.get("/portal/insurance?lang=en").text
    assert f"Mar {year}" in en and "CN¥10,000.00" in en and "Basic pension insurance" in en


# rule INS-6: a discrepancy report is recorded and listed, waiting for the agency's answer
def test_discrepancy_report(browser) -> None:
    holder = holder_with_records(year=china_today().year)
    sign_in(browser, holder)
    page = browser.get("/portal/discrepancies")
    bad = browser.post(
        "/portal/discrepancies", data={"period": "2025-13", "text": "", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 422 and "月份格式" in bad.text and "请描述" in bad.text
    employer_id = re.search(r'<option value="(\d+)"', page.text).group(1)
    r = browser.post(
        "/portal/discrepancies",
        data={
            "employer_id": employer_id,
            "period": "2025-04",
            "text": "四月份未申报",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert r.status_code == 303
    listed = browser.get("/portal/discrepancies").text
    assert "四月份未申报" in listed and "等待经办机构答复" in listed
    with unit_of_work() as uow:
        rows = uow.session.scalars(
            select(DiscrepancyReport).where(DiscrepancyReport.person_id == holder.person_id)
        ).all()
    assert len(rows) == 1 and rows[0].employer_id == int(employer_id)


# rule INS-4 / FIN-1: the yearly statement downloads as PDF; the medical settlement is listed
def test_statements_and_settlements(browser) -> None:
    holder = holder_with_statement()
    sign_in(browser, holder)
    listing = browser.get("/portal/statements").text
    assert f"/portal/statements/{YEAR}.pdf?doc=zh" in listing
    pdf = browser.get(f"/portal/statements/{YEAR}.pdf?doc=en")
    assert (
        pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    )
    assert browser.get("/portal/statements/1999.pdf").status_code == 404
    money = browser.get(f"/portal/money?year={YEAR}").text
    assert "医保结算" in money and "-¥123.45" in money


# rule FIN-2: the debit account's balance and movements, the card masked
def test_debit_account(browser) -> None:
    holder = holder_with_records(year=china_today().year)
    sign_in(browser, holder)
    html = browser.get("/portal/money").text
    assert "¥500.00" in html and "现金存入" in html and holder.card_nos[0] not in html


# rule PIN-5 / PIN-2: a locked PIN is shown as locked with where to unlock it; an enabled one with the
# tries left; the PIN itself (or its verification value) never appears
def test_pin_states_are_shown_never_the_pin(browser) -> None:
    from sscard.credentials.pin.models import CardPin
    from sscard.db.base import utcnow

    holder = holder_with_records(year=china_today().year)
    with unit_of_work() as uow:
        ids = dict(uow.session.execute(select(Card.card_no, Card.id).where(Card.card_no.in_(holder.card_nos))).all())
        social, medical = (ids[no] for no in holder.card_nos)
        uow.session.add(CardPin(card_id=social, pvv=b"\x01" * 32, pvk_version=1, failures=2))
        uow.session.add(CardPin(card_id=medical, pvv=b"\x02" * 32, pvk_version=1, failures=6, locked_at=utcnow()))
    sign_in(browser, holder)
    html = browser.get("/portal/cards?lang=en").text
    assert "Locked after too many wrong PINs" in html and "tries left" in html
    assert re.search(r"tries left\D*4", html)  # six allowed, two used
    assert ("01" * 32) not in html and ("02" * 32) not in html and "pvv" not in html.lower()
