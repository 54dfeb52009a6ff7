"""A double click on a money form in a real browser moves the money once (issue 21, double submission).

With JavaScript (static/once.js) the second click sends nothing. The server's side (a second POST of the
same form gets the first's answer, web/once.py) is tested without a browser in tests/web/test_form_once.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from sscard.cards.models import Card
from sscard.db.session import unit_of_work
from sscard.debit.service import counter_view
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.browser.test_counter import _card, _find_card, _region, _sign_in, _staff
from tests.browser.test_counter_records import WORDS
from tests.staff.factories import TEST_BANK


@contextmanager
def _writes_held() -> Iterator[None]:
    """Hold the site's SQLite write lock: the server's requests wait (its busy timeout is 30 s) until the end."""
    path = make_url(os.environ["SSCARD_DATABASE_URL"]).database
    lock = sqlite3.connect(str(path), isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def _balance(card_no: str) -> int:
    with unit_of_work() as uow:
        card = uow.session.scalars(select(Card).where(Card.card_no == card_no)).one()
        return int(counter_view(uow, card)["balance_fen"])


def _deposit_by_double_click(tab: Any, shots: str) -> tuple[str, list[str]]:
    """A bank clerk opens a new card's debit account, then double-clicks "Confirm" on a deposit of 100:
    the card number and the deposit POSTs the browser sent."""
    w = WORDS["zh"]
    region = _region()
    card_no, _ = _card(region, bank_code=TEST_BANK)
    _sign_in(tab, w, "zh", _staff(Role.BANK_CLERK, region))
    _find_card(tab, w, card_no)
    tab.get_by_role("link", name=w["debit"]).click()
    tab.wait_for_url("**/counter/debit/*")
    tab.get_by_role("button", name=w["open"]).click()
    tab.wait_for_selector(".flash")
    posts: list[str] = []
    tab.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/move") else None)
    tab.get_by_label(w["deposit"]).check()
    tab.get_by_label(w["amount"]).fill("100")
    confirm = tab.get_by_role("button", name=w["confirm"], exact=True)
    confirm.scroll_into_view_if_needed()
    box = confirm.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with _writes_held():  # the first POST waits at the server, so the second click finds the form still there
        with tab.expect_request(lambda r: r.method == "POST" and r.url.endswith("/move")):
            tab.mouse.click(x, y)
        tab.mouse.click(x, y)  # the second click of the double click, the first POST under way
        tab.wait_for_timeout(500)
    tab.wait_for_selector(".flash")
    tab.wait_for_load_state("load")
    assert tab.inner_text("main").count("已办理。当前余额为 ¥100.00。") == 1  # one message, not two
    visit(tab, shots, lang="zh-CN")
    return card_no, posts


# rule FIN-2: with JavaScript the double click sends the form once; the money moves once
def test_double_click_sends_once(site, tab) -> None:
    card_no, posts = _deposit_by_double_click(tab, "counter-debit-double-click-zh")
    assert len(posts) == 1, posts
    assert _balance(card_no) == 10_000
