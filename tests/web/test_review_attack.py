"""Findings of the attack review of the merged pages and channels (issues 21, 25): each test names its rule."""

from __future__ import annotations

from sqlalchemy import select

from sscard.cards.models import Card
from sscard.credentials.pin.issuance import TOPIC
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.people.service import find_person_by_id_number
from tests.people.factories import new_id_number
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region
from tests.web.test_counter_pages import _post, _sign_in, _staff


def _notices(id_number: str) -> tuple[int, int]:
    """(cards of the person, issuance notices queued to them)."""
    with unit_of_work() as uow:
        person = find_person_by_id_number(uow, id_number)
        cards = len(list(uow.session.scalars(select(Card.id).where(Card.person_id == person.id))))
        notices = len(list(uow.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.person_id == person.id, OutboxMessage.topic == TOPIC)
        )))  # fmt: skip
    return cards, notices


# rule PIN-12: a card issued or replaced through the counter pages tells the holder the initial PIN rule,
# as the API and the CLI do (the pages called issue_card/replace_card without the notice)
def test_counter_pages_issue_and_replace_send_the_issuance_notice(browser) -> None:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
    id_number = new_id_number(region=region)
    _sign_in(browser, _staff(region=region[:2] + "0000"))
    r = _post(browser, "/counter/register", {"id_number": id_number, "name": "王五", "phone": "13812345678"})
    assert r.status_code == 303, r.text
    r = _post(browser, r.headers["location"] + "/issue", {"card_type": "social"})
    assert r.status_code == 303, r.text
    assert _notices(id_number) == (1, 1)
    card_page = r.headers["location"]
    evidence = {"document_type": "resident_id_card", "document_number": id_number}
    r = _post(browser, card_page + "/activate", {})
    assert r.status_code == 303, r.text
    r = _post(browser, r.headers["location"] + "/loss-confirm", evidence)
    assert r.status_code == 303, r.text
    r = _post(browser, r.headers["location"] + "/replace", evidence)
    assert r.status_code == 303, r.text
    assert _notices(id_number) == (2, 2)


# rule INS-3: the employer's CSV upload takes files up to the page's own limit (20 MB, as the page says):
# a 12 MB file reaches the page (which judges its header) instead of a JSON 413 from the input guard, and
# a file over 20 MB is refused by the page in the employer's language
def test_employer_upload_limit_is_the_pages(browser) -> None:
    from sscard.api.middleware import UPLOAD_LIMITS
    from sscard.web.employer.routes import MAX_UPLOAD
    from tests.web.conftest import csrf_of
    from tests.web.test_employer_pages import _employer
    from tests.web.test_employer_pages import _sign_in as _employer_sign_in

    assert UPLOAD_LIMITS["/employer/declarations/upload"] > MAX_UPLOAD  # the page's limit, with the form's room
    _, uscc = _employer()
    _employer_sign_in(browser, uscc)
    page = browser.get("/employer/declarations?lang=en")
    body = b"not,the,columns\n" + b"x" * (12 * 1024 * 1024)
    r = browser.post("/employer/declarations/upload", data={"csrf_token": csrf_of(page.text)},
                     files={"file": ("big.csv", body, "text/csv")})  # fmt: skip
    assert r.status_code != 413 and r.headers["content-type"].startswith("text/html"), r.text[:200]
    over = b"x" * (MAX_UPLOAD + 1)
    r = browser.post("/employer/declarations/upload", data={"csrf_token": csrf_of(page.text)},
                     files={"file": ("huge.csv", over, "text/csv")})  # fmt: skip
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "larger than 20 MB" in r.text
