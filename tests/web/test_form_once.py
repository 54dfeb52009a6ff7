"""A rendered form acts once (issue 21, double submission): the same form POSTed again shows the first
answer and moves nothing; the same form with other values is refused; a refused form is decided again."""

from __future__ import annotations

import re
import threading

from sqlalchemy import func, select

from sscard.cards.models import Card
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.debit.service import counter_view
from sscard.insurance.discrepancies.models import DiscrepancyReport
from sscard.staff.roles import Role
from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address
from tests.staff.factories import TEST_BANK
from tests.web.portal_factories import holder_with_records
from tests.web.test_counter_pages import _card, _open_card, _post, _sign_in, _staff
from tests.web.test_employer_pages import signed_in_with_worker
from tests.web.test_portal_records import sign_in as _holder_sign_in

DONE_100 = "已办理。当前余额为 ¥100.00。"


def form_of(html: str, action: str) -> dict[str, str]:
    """The hidden fields (CSRF and one-time form token) of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    fields = dict(re.findall(r'<input type="hidden" name="(csrf_token|form_token)" value="([^"]+)"', form))
    assert set(fields) == {"csrf_token", "form_token"}, form
    return fields


def _balance(card_id: int) -> int:
    with unit_of_work() as uow:
        return int(counter_view(uow, uow.session.get(Card, card_id))["balance_fen"])


def _debit_page(browser) -> tuple[str, int]:
    card_no, _, card_id = _card("110105", bank_code=TEST_BANK)
    _sign_in(browser, _staff(Role.BANK_CLERK))
    debit_page = _open_card(browser, card_no).replace("/counter/card/", "/counter/debit/")
    assert _post(browser, debit_page + "/open", {}).status_code == 303
    return debit_page, card_id


# rule FIN-2: a clerk's double click on "deposit" moves the money once; both answers show the same result
def test_same_rendered_form_twice_moves_money_once(browser) -> None:
    debit_page, card_id = _debit_page(browser)
    hidden = form_of(browser.get(debit_page).text, debit_page + "/move")
    deposit = {**hidden, "kind": "deposit", "amount": "100"}
    first = browser.post(debit_page + "/move", data=deposit)
    assert first.status_code == 303 and DONE_100 in browser.get(first.headers["location"]).text
    second = browser.post(debit_page + "/move", data=deposit)
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    assert browser.get(second.headers["location"]).text.count(DONE_100) == 1  # the first answer, shown again
    # sent twice before either redirect is followed (the browser dropped the first answer): one message
    browser.post(debit_page + "/move", data=deposit)
    browser.post(debit_page + "/move", data=deposit)
    assert browser.get(second.headers["location"]).text.count(DONE_100) == 1
    assert _balance(card_id) == 10_000
    # the same form edited after Back (another amount): refused, nothing moves
    edited = browser.post(debit_page + "/move", data={**deposit, "amount": "50"})
    assert edited.status_code == 409 and "该表单已提交过" in edited.text
    assert _balance(card_id) == 10_000
    # a new rendering of the form is a new entry
    again = {**form_of(browser.get(debit_page).text, debit_page + "/move"), "kind": "deposit", "amount": "100"}
    assert browser.post(debit_page + "/move", data=again).status_code == 303
    assert _balance(card_id) == 20_000


# rule FIN-2: a refused form keeps nothing: sent again it is decided again (here: refused again, then the
# same form once the money is there goes through)
def test_refused_form_is_decided_again(browser) -> None:
    debit_page, card_id = _debit_page(browser)
    hidden = form_of(browser.get(debit_page).text, debit_page + "/move")
    withdraw = {**hidden, "kind": "withdrawal", "amount": "30"}
    assert browser.post(debit_page + "/move", data=withdraw).status_code == 409  # INSUFFICIENT_FUNDS
    assert browser.post(debit_page + "/move", data=withdraw).status_code == 409
    deposit = {**form_of(browser.get(debit_page).text, debit_page + "/move"), "kind": "deposit", "amount": "100"}
    assert browser.post(debit_page + "/move", data=deposit).status_code == 303
    assert browser.post(debit_page + "/move", data=withdraw).status_code == 303
    assert _balance(card_id) == 7_000


# rule FIN-2: two copies of one form at the same moment (a double click reaching two workers): the second
# waits for the first's commit and gets its answer
def test_concurrent_copies_of_one_form_move_money_once(browser) -> None:
    debit_page, card_id = _debit_page(browser)
    hidden = form_of(browser.get(debit_page).text, debit_page + "/move")
    deposit = {**hidden, "kind": "deposit", "amount": "100"}
    answers: list[tuple[int, str]] = []
    gate = threading.Barrier(2)

    def send() -> None:
        with app_client(address=fresh_address()) as client:
            client.follow_redirects = False
            client.cookies.update(browser.cookies)
            gate.wait()
            r = client.post(debit_page + "/move", data=deposit)
            answers.append((r.status_code, r.headers.get("location", "")))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == 2 and answers[0] == answers[1] and answers[0][0] == 303, answers
    assert _balance(card_id) == 10_000
    assert browser.get(answers[0][1]).text.count(DONE_100) == 1  # the message once, though two answers carried it


# rule INS-3: an employer's declaration sent twice from one form: the second answer is the first's
# ("posted"), not a second decision ("already present")
def test_declaration_form_twice_shows_the_first_answer(browser) -> None:
    number = signed_in_with_worker(browser)
    page = browser.get("/employer/declarations?lang=en")
    line = {**form_of(page.text, "/employer/declarations"), "id_number": number, "period": f"{utcnow():%Y-%m}",
            "base_yuan": "8000.00"}  # fmt: skip
    for _ in range(2):
        r = browser.post("/employer/declarations", data=line)
        assert r.status_code == 303
        listing = browser.get("/employer/declarations").text
        assert "The declaration has been posted." in listing and "already present" not in listing


# rule INS-6: a holder's discrepancy report sent twice from one form is one report
def test_discrepancy_report_twice_is_one_report(browser) -> None:
    holder = holder_with_records(year=utcnow().year)
    _holder_sign_in(browser, holder)
    page = browser.get("/portal/discrepancies").text
    employer_id = re.search(r'<option value="(\d+)"', page).group(1)
    report = {**form_of(page, "/portal/discrepancies"), "employer_id": employer_id, "period": "2025-04",
              "text": "四月份未申报"}  # fmt: skip
    locations = {browser.post("/portal/discrepancies", data=report).headers["location"] for _ in range(2)}
    assert len(locations) == 1
    with unit_of_work() as uow:
        count = uow.session.scalar(
            select(func.count()).select_from(DiscrepancyReport).where(DiscrepancyReport.person_id == holder.person_id)
        )
    assert count == 1
