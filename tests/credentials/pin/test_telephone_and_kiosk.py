"""The telephone PIN service (PIN-4) and kiosk information queries (PIN-12) over the terminal protocol.

The call centre's secure keypad (IVR) is a terminal of its own type: it enciphers the PIN blocks under
its own key and signs each request, so the change goes through the same PIN rules, counters and audit
as at a pharmacy. The kiosk's information query needs the PIN exactly when it is enabled.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sscard.credentials.pin.models import CardPin
from sscard.db.session import unit_of_work
from sscard.people.service import get_person_or_raise
from sscard.terminal.client import TerminalError
from tests.credentials.pin.factories import card_audit, insure_as_employee, make_card
from tests.people.factories import new_id_number

REGION = "110105"


def _card(*, insured: bool = False, activate: bool = True) -> str:
    with unit_of_work() as uow:
        card = make_card(uow, activate=activate, id_number=new_id_number(region=REGION, born=date(1979, 2, 3)),
                         phone="13612345678", name="欧阳明")  # fmt: skip
        if insured:
            insure_as_employee(uow, get_person_or_raise(uow, card.person_id))
        return card.card_no


def _change(t, card_no: str, old: str, new: str) -> dict:
    body = {"card_no": card_no, "old_pin_block": t.pin_block(card_no, old), "new_pin_block": t.pin_block(card_no, new)}
    return t.request("POST", "/terminal/pin/change", json_body=body)


def _verify(t, card_no: str, pin: str | None = None) -> dict:
    body = {"card_no": card_no}
    if pin is not None:
        body["pin_block"] = t.pin_block(card_no, pin)
    return t.request("POST", "/terminal/pin/verify", json_body=body)


def _info(t, card_no: str, pin: str | None = None) -> dict:
    body = {"card_no": card_no}
    if pin is not None:
        body["pin_block"] = t.pin_block(card_no, pin)
    return t.request("POST", "/terminal/card/info", json_body=body)


def _refusal(fn, *args) -> TerminalError:
    with pytest.raises(TerminalError) as exc:
        fn(*args)
    return exc.value


def _actions(card_no: str) -> list[tuple[str, str, str]]:
    with unit_of_work() as uow:
        return [(e.action, e.result, e.role) for e in card_audit(uow, card_no)]


# rule PIN-4: by telephone, the IVR keypad changes the PIN with the card number and the current (initial) PIN
def test_phone_change_with_initial_then_current_pin(terminal) -> None:
    card_no = _card()
    ivr = terminal("ivr", REGION)
    assert _change(ivr, card_no, "123456", "740296")["ok"]
    with unit_of_work() as uow:
        from sscard.cards.models import Card

        card_id = uow.session.scalar(select(Card.id).where(Card.card_no == card_no))
        row = uow.session.get(CardPin, card_id)
        assert row.pvv is not None and row.changed_channel == "terminal"
    # the same PIN rules as any terminal: a simple PIN is refused with its reason (PIN-3)
    err = _refusal(_change, ivr, card_no, "740296", "111111")
    assert err.code == "PIN_TOO_SIMPLE" and err.problem["reason"]
    # the PIN set by phone is the card's PIN at a pharmacy too
    pharmacy = terminal("pharmacy", REGION)
    assert _verify(pharmacy, card_no, "740296")["pin_enabled"] is True
    assert _change(ivr, card_no, "740296", "502817")["ok"]  # and the phone changes it again with the current one
    changes = [role for a, r, role in _actions(card_no) if a == "pin.change" and r == "ok"]
    assert changes == ["ivr", "ivr"]  # audited as the telephone keypad's (CH-4)


# rule PIN-5 / PIN-4: a wrong current PIN on the phone counts toward the same lock as every other channel
def test_wrong_pin_on_the_phone_counts_toward_the_lock(terminal) -> None:
    card_no = _card()
    ivr, pharmacy = terminal("ivr", REGION), terminal("pharmacy", REGION)
    assert _change(pharmacy, card_no, "123456", "740296")["ok"]
    lefts = [_refusal(_change, ivr, card_no, "000111", "502817").problem["tries_left"] for _ in range(3)]
    assert lefts == [5, 4, 3]
    assert _refusal(_verify, pharmacy, card_no, "999990").problem["tries_left"] == 2
    assert [_refusal(_change, ivr, card_no, "000111", "502817").problem["tries_left"] for _ in range(2)] == [1, 0]
    # locked: even the right current PIN is refused, on the phone and at the pharmacy
    assert _refusal(_change, ivr, card_no, "740296", "502817").code == "PIN_LOCKED"
    assert _refusal(_verify, pharmacy, card_no, "740296").code == "PIN_LOCKED"
    refused = [a for a, r, _ in _actions(card_no) if r != "ok"]
    assert refused.count("pin.change") >= 5 and "pin.lock" in [a for a, _, _ in _actions(card_no)]


# rule PIN-4 / CARD-4: the phone cannot change the PIN of a card not yet activated
def test_phone_change_needs_an_active_card(terminal) -> None:
    card_no = _card(activate=False)
    assert _refusal(_change, terminal("ivr", REGION), card_no, "123456", "740296").code == "CARD_NOT_ACTIVE"


# rule PIN-12: the kiosk query needs no PIN while it is not enabled, and exactly the PIN once enabled
def test_kiosk_query_requires_the_pin_when_enabled(terminal) -> None:
    card_no = _card(insured=True)
    kiosk = terminal("kiosk", REGION)
    info = _info(kiosk, card_no)
    assert info["ok"] and info["pin_enabled"] is False and info["state"] == "active"
    assert info["name_masked"] != "欧阳明" and "*" in info["name_masked"]
    assert card_no not in str(info) and "*" in info["card_no_masked"]
    assert {"basic_pension", "employee_medical"} <= set(info["insurance"])
    assert _change(kiosk, card_no, "123456", "740296")["ok"]
    err = _refusal(_info, kiosk, card_no)
    assert err.code == "PIN_REQUIRED" and err.status == 428
    err = _refusal(_info, kiosk, card_no, "999999")
    assert err.code == "PIN_WRONG" and err.problem["tries_left"] == 5  # counted toward the lock (PIN-5)
    info = _info(kiosk, card_no, "740296")
    assert info["pin_enabled"] is True and info["card_type"] == "social"
    # every answer is a disclosure, audited (CH-4)
    assert [a for a, r, _ in _actions(card_no) if a == "card.info_query"] == ["card.info_query"] * 2


# rule PIN-12: the information query is a kiosk service; a pharmacy or the phone keypad cannot ask it
def test_info_query_only_at_kiosks(terminal) -> None:
    card_no = _card()
    for kind in ("pharmacy", "ivr"):
        err = _refusal(_info, terminal(kind, REGION), card_no)
        assert err.code == "INFO_QUERY_NOT_OFFERED" and err.status == 403
