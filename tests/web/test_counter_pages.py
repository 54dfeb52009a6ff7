"""The counter console through the pages: who may do what (CH-2, ID-5, PIN-6), CSRF, no session."""

from __future__ import annotations

import re

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.states import CardState
from sscard.db.session import unit_of_work
from sscard.people.service import get_person_or_raise
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number
from tests.policy.factories import fresh_district
from tests.staff.factories import PASSWORD, TEST_BANK, ensure_region, make_staff
from tests.web.conftest import csrf_of

REF = re.compile(r'href="/counter/(?:card|person|correction)/([A-Za-z0-9_-]+)"')


def _staff(role: Role = Role.COUNTER_CLERK, region: str = "110000", **kwargs) -> str:
    with unit_of_work() as uow:
        return make_staff(uow, role=role, region_code=region, **kwargs).username


def _card(region: str, bank_code: str | None = None, activate: bool = True) -> tuple[str, str, int]:
    """A card of a new person of ``region``: (card number, the holder's ID number, the card's row id)."""
    with unit_of_work() as uow:
        ensure_region(uow, region)
        card = make_card(uow, id_number=new_id_number(region=region), bank_code=bank_code, activate=activate)
        id_number = get_person_or_raise(uow, card.person_id).id_number
        return card.card_no, id_number, card.id


def _sign_in(browser, username: str, password: str = PASSWORD):
    form = browser.get("/counter/")
    return browser.post(
        "/counter/login", data={"username": username, "password": password, "csrf_token": csrf_of(form.text)}
    )


def _post(browser, path: str, data: dict[str, str], *, lang: str = ""):
    """POST ``data`` with the CSRF token of the current session (taken from the start page)."""
    token = csrf_of(browser.get("/counter/home").text)
    return browser.post(path + lang, data={**data, "csrf_token": token})


def _open_card(browser, card_no: str) -> str:
    r = _post(browser, "/counter/lookup", {"card_no": card_no})
    assert r.status_code == 303, r.text
    return r.headers["location"]


# rule CH-2: every counter page needs a signed-in counter staff member
def test_no_session_goes_to_sign_in(browser) -> None:
    for path in ("/counter/home", "/counter/register", "/counter/card/abc", "/counter/person/abc/reveal"):
        r = browser.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/counter/", path
    r = browser.post("/counter/lookup", data={"card_no": "A00000001"})  # no session, no CSRF token
    assert r.status_code == 403 and "表单已过期" in r.text


# rule CH-2: a form posted without the session's CSRF token is refused, nothing happens
def test_csrf_missing_is_refused(browser) -> None:
    card_no, _, card_id = _card("110105", activate=False)
    assert _sign_in(browser, _staff(region="110000")).headers["location"] == "/counter/home"
    assert 'href="/counter/register"' in browser.get("/counter/home").text  # a service outlet registers persons
    card_page = _open_card(browser, card_no)
    r = browser.post(card_page + "/activate", data={})
    assert r.status_code == 403 and "CSRF_REFUSED" in r.text
    r = browser.post(card_page + "/activate", data={"csrf_token": "forged"})
    assert r.status_code == 403
    with unit_of_work() as uow:
        from sscard.cards.models import Card

        assert uow.session.get(Card, card_id).state is CardState.ISSUED


# rule CH-2: the failures of the staff login are counted as in the API; wrong words never echo the password
def test_login_refusals(browser) -> None:
    username = _staff()
    r = _sign_in(browser, username, "not the password")
    assert r.status_code == 401 and "not the password" not in r.text and 'name="username"' in r.text
    r = _sign_in(browser, "")
    assert r.status_code == 422 and "请输入用户名" in r.text
    with unit_of_work() as uow:
        failed = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "staff.login", AuditEntry.subject == f"staff:{username}")
        ).all()
    assert [e.result for e in failed] == ["failed"]


# rule CH-2: a role of another channel does not sign in to the counter (its session is ended at once)
def test_other_roles_cannot_use_the_counter(browser) -> None:
    r = _sign_in(browser, _staff(Role.HOTLINE_OPERATOR))
    assert r.status_code == 403 and 'name="password"' in r.text
    assert browser.get("/counter/home").status_code == 303


# rule CH-2: a clerk of another region neither finds the person nor the card
def test_clerk_of_another_region(browser) -> None:
    card_no, id_number, _ = _card("110105")
    _sign_in(browser, _staff(region="440000"))
    r = _post(browser, "/counter/lookup", {"id_number": id_number, "document_type": "resident_id_card"})
    assert r.status_code == 403 and "目标不在您的管辖地区内" in r.text
    assert "张三" not in r.text and "/counter/person/" not in r.text  # nothing of the person is shown
    r = _post(browser, "/counter/lookup", {"card_no": card_no})
    assert r.status_code == 403 and "目标不在您的管辖地区内" in r.text and "/counter/card/" not in r.text


# rule CH-2: a ref is valid only in the session that made it (another clerk's browser gets 404)
def test_refs_belong_to_their_session(browser) -> None:
    from tests.conftest import app_client
    from tests.credentials.query_password.conftest import fresh_address

    card_no, _, _ = _card("110105")
    _sign_in(browser, _staff(region="110000"))
    card_page = _open_card(browser, card_no)
    with app_client(address=fresh_address()) as other:
        other.follow_redirects = False
        _sign_in(other, _staff(region="110000"))
        assert other.get(card_page).status_code == 404


# rules PIN-6 / FIN-3: a bank clerk sees only the cards issued through their bank, and never by ID
def test_bank_clerk_and_another_banks_card(browser) -> None:
    own, own_id, _ = _card("110105", bank_code=TEST_BANK)
    foreign, _, _ = _card("110105", bank_code="OTHERBANK")
    plain, _, _ = _card("110105")
    _sign_in(browser, _staff(Role.BANK_CLERK))
    for card_no in (foreign, plain):
        r = _post(browser, "/counter/lookup", {"card_no": card_no})
        assert r.status_code == 403 and "该卡不是由您所在银行发行的" in r.text and "/counter/card/" not in r.text
    home = browser.get("/counter/home")
    assert 'name="id_number"' not in home.text  # no lookup by ID for a bank outlet
    assert 'href="/counter/register"' not in home.text and 'href="/counter/corrections"' not in home.text
    r = _post(browser, "/counter/lookup", {"id_number": own_id, "document_type": "resident_id_card"})
    assert r.status_code == 403
    assert browser.get("/counter/register").status_code == 403
    card_page = _open_card(browser, own)
    page = browser.get(card_page)
    assert page.status_code == 200 and own not in page.text, page.text[page.text.find(own) - 400 :][:500]
    assert "/counter/person/" not in page.text  # the holder's record is not a bank clerk's
    assert f"{card_page}/pin-reset" in page.text and f"{card_page}/replace" not in page.text
    assert browser.get(card_page + "/replace").status_code == 403


# rules ID-5 / CH-2: only a supervisor shows the full ID, with the document checked, and it is audited
def test_reveal_is_a_supervisors_and_audited(browser) -> None:
    _, id_number, _ = _card("110105")
    _sign_in(browser, _staff())
    r = _post(browser, "/counter/lookup", {"id_number": id_number, "document_type": "resident_id_card"})
    person_page = r.headers["location"]
    page = browser.get(person_page)
    assert id_number not in page.text and id_number[-4:] in page.text
    # rule ID-5: nor can the number be spelled out of what is shown: no full birth date (region + birth date +
    # the last four would be the whole number), in any of the forms a page might print it
    birth = id_number[6:14]
    for shown in (
        birth,
        f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
        f"{int(birth[:4])}年{int(birth[4:6])}月{int(birth[6:])}日",
    ):
        assert shown not in page.text
    assert browser.get(person_page + "/reveal").status_code == 403
    r = _post(browser, person_page + "/reveal", {"document_type": "resident_id_card", "document_number": id_number})
    assert r.status_code == 403 and id_number not in r.text

    browser.cookies.clear()
    _sign_in(browser, _staff(Role.COUNTER_SUPERVISOR))
    person_page = _post(browser, "/counter/lookup", {"id_number": id_number, "document_type": "resident_id_card"})
    person_page = person_page.headers["location"]
    wrong = new_id_number(region="110105")
    r = _post(browser, person_page + "/reveal", {"document_type": "resident_id_card", "document_number": wrong})
    assert r.status_code == 422 and id_number not in r.text
    r = _post(browser, person_page + "/reveal", {"document_type": "resident_id_card", "document_number": id_number})
    assert r.status_code == 200 and id_number in r.text
    assert id_number not in browser.get(person_page).text  # shown once only
    with unit_of_work() as uow:
        reveals = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.reveal")).all()
    assert any(id_number[-4:] in e.details and id_number not in e.details for e in reveals)


# rules CARD-1 / CARD-2 / CARD-5 / PIN-6: the card journey through the pages, each step the service's
def test_card_journey(browser) -> None:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
    id_number = new_id_number(region=region)
    _sign_in(browser, _staff(region=region[:2] + "0000"))
    r = _post(browser, "/counter/register", {"id_number": id_number, "name": "李四", "phone": "13812345678"})
    assert r.status_code == 303, r.text
    person_page = r.headers["location"]
    r = _post(browser, person_page + "/issue", {"card_type": "social"})
    assert r.status_code == 303, r.text
    card_page = r.headers["location"]
    issued = browser.get(card_page).text
    assert "卡片已发放" in issued and "已发卡，未启用" in issued
    evidence = {"document_type": "resident_id_card", "document_number": id_number}
    for action, data in (("activate", {}), ("pin-unlock", evidence)):
        r = _post(browser, f"{card_page}/{action}", data)
        if action == "activate":
            assert r.status_code == 303, r.text
            card_page = r.headers["location"]
    assert r.status_code == 409  # PIN_NOT_LOCKED: the service's refusal on the form
    r = _post(browser, card_page + "/pin-reset", {"document_type": "resident_id_card", "document_number": "110101"})
    assert r.status_code == 422
    r = _post(browser, card_page + "/loss-confirm", evidence)
    assert r.status_code == 303
    r = _post(browser, r.headers["location"] + "/replace", evidence)
    assert r.status_code == 303
    new_card = browser.get(r.headers["location"])
    assert "已补换新卡" in new_card.text and "已发卡，未启用" in new_card.text  # the new card, not yet active
    r = _post(browser, r.headers["location"] + "/cancel", {"reason": "issued_in_error"})
    assert r.status_code == 303
    with unit_of_work() as uow:
        from sscard.cards.models import Card
        from sscard.people.service import find_person_by_id_number

        person = find_person_by_id_number(uow, id_number)
        states = sorted(c.state.value for c in uow.session.scalars(select(Card).where(Card.person_id == person.id)))
    assert states == ["cancelled", "replaced"]


# rules PER-1 / QPW-3 / CH-2: a citizen ID correction is asked by a clerk and applied only when a counter
# supervisor other than the requester approves (a clerk cannot, the requesting supervisor cannot)
def test_id_correction_needs_another_supervisor(browser) -> None:
    from tests.conftest import app_client
    from tests.credentials.query_password.conftest import fresh_address

    region = fresh_district()  # a district of its own: its queue holds this test's request only
    _, old_id, _ = _card(region)
    right = new_id_number(region=region)
    requester = _staff(Role.COUNTER_SUPERVISOR, region)
    _sign_in(browser, requester)
    person_page = _post(browser, "/counter/lookup", {"id_number": old_id, "document_type": "resident_id_card"})
    person_page = person_page.headers["location"]
    data = {"new_id_number": right, "reason": "登记时号码录入错误", "document_type": "resident_id_card"}
    r = _post(browser, person_page + "/id-number", {**data, "document_number": old_id})  # not the new number's
    assert r.status_code == 422
    r = _post(browser, person_page + "/id-number", {**data, "document_number": right})
    assert r.status_code == 303, r.text
    correction_page = r.headers["location"]
    page = browser.get(correction_page)
    assert right not in page.text and old_id not in page.text and "由您申请" in page.text
    r = _post(browser, correction_page + "/approve", {})  # the requester's own approval
    assert r.status_code == 403
    with app_client(address=fresh_address()) as clerk:
        clerk.follow_redirects = False
        _sign_in(clerk, _staff(Role.COUNTER_CLERK, region))
        pending = clerk.get("/counter/corrections")
        assert pending.status_code == 200 and right[-4:] in pending.text and right not in pending.text
        ref = REF.search(pending.text.split("<tbody>", 1)[1])
        assert ref is not None
        r = _post(clerk, f"/counter/correction/{ref.group(1)}/approve", {})
        assert r.status_code == 403  # a clerk does not approve
    with app_client(address=fresh_address()) as boss:
        boss.follow_redirects = False
        _sign_in(boss, _staff(Role.COUNTER_SUPERVISOR, region))
        pending = boss.get("/counter/corrections")
        link = re.search(r'href="(/counter/correction/[A-Za-z0-9_-]+)"', pending.text.split("<tbody>", 1)[1])
        assert link is not None
        r = _post(boss, link.group(1) + "/approve", {"note": "核对户口簿"})
        assert r.status_code == 303, r.text
        assert "已批准并生效" in boss.get(r.headers["location"]).text
    with unit_of_work() as uow:
        from sscard.people.service import find_person_by_id_number

        assert find_person_by_id_number(uow, right) is not None and find_person_by_id_number(uow, old_id) is None


# rule CH-2: a role with a second factor is asked for its one-time code (field otp, as the API); a right code
# still does not open the counter to a role of another channel
def test_second_factor_role_is_asked_for_otp_then_refused(browser) -> None:
    from tests.staff.factories import current_otp

    officer = _staff(Role.SECURITY_OFFICER)
    r = _sign_in(browser, officer)
    assert r.status_code == 401 and 'name="otp"' in r.text and "动态验证码" in r.text
    form = browser.get("/counter/")
    data = {"username": officer, "password": PASSWORD, "otp": current_otp(), "csrf_token": csrf_of(form.text)}
    r = browser.post("/counter/login", data=data)
    assert r.status_code == 403 and "此账号不能使用柜面系统" in r.text
    assert browser.get("/counter/home").status_code == 303


# rules CARD-5 / PIN-8: a hotline loss report is withdrawn at the counter; a PIN is restored after a change
def test_loss_withdrawn_and_pin_restored(browser) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from sscard.credentials.pin.counter_ops import get_card_pin_status
    from sscard.credentials.pin.store import lock_pin_row
    from sscard.db.base import utcnow
    from tests.people.factories import CLERK

    card_no, id_number, card_id = _card("110105")
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    _sign_in(browser, _staff(region="110000"))
    card_page = _open_card(browser, card_no)
    assert "临时挂失" in browser.get(card_page).text
    evidence = {"document_type": "resident_id_card", "document_number": id_number}
    r = _post(browser, card_page + "/loss-withdraw", evidence)
    assert r.status_code == 303, r.text
    card_page = r.headers["location"]
    assert "已撤销挂失" in browser.get(card_page).text
    with unit_of_work() as uow:  # a PIN change that the holder wants undone (PIN-8)
        row = lock_pin_row(uow, card_id=card_id, now=utcnow())
        row.pvv, row.pvk_version = b"\x22" * 8, 1
        row.prior_pvv, row.prior_pvk_version, row.restorable = b"\x11" * 8, 1, True
        uow.flush()
    assert f"{card_page}/pin-restore" in browser.get(card_page).text
    r = _post(browser, card_page + "/pin-restore", evidence)
    assert r.status_code == 303, r.text
    with unit_of_work() as uow:
        status = get_card_pin_status(uow, card_no=card_no)
    assert status.enabled and not status.restorable
    r = _post(browser, r.headers["location"] + "/pin-restore", evidence)
    assert r.status_code == 409 and "没有可恢复的原密码" in r.text  # nothing left to restore (on the form)
