"""PIN-4: activation at a service window or bank outlet sets the holder's own PIN from the counter's PIN pad."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.people.service import get_person_or_raise
from sscard.policy.service import set_policy
from sscard.staff.roles import Role
from tests.credentials.pin.factories import card_audit, make_card
from tests.people.factories import CLERK, new_id_number
from tests.staff.factories import ensure_region

REGION = "110105"
NO_PIN_REGION = "210102"  # a region of its own whose policy does not offer the PIN at activation


def _issued(region: str = REGION) -> tuple[str, str, int]:
    with unit_of_work() as uow:
        card = make_card(uow, activate=False, id_number=new_id_number(region=region, born=date(1981, 7, 9)),
                         phone="13587654321")  # fmt: skip
        person = get_person_or_raise(uow, card.person_id)
        return card.card_no, person.id_number, person.id


def _body(pad, card_no: str, id_number: str, pin: str) -> dict:
    return {
        "evidence": {"document_type": "resident_id_card", "document_number": id_number},
        "pin_pad": {"terminal_id": pad.profile.terminal_id, "pin_block": pad.pin_block(card_no, pin)},
    }


def _url(card_no: str) -> str:
    return f"/api/v1/counter/cards/{card_no}/activate-with-pin"


# rule PIN-4: activation and the holder's own PIN in one step: the card ends active with an enabled PIN
def test_activation_sets_the_pin(client, staff_headers, terminal) -> None:
    card_no, id_number, person_id = _issued()
    pad, pharmacy = terminal("service_outlet", REGION), terminal("pharmacy", REGION)
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    r = client.post(_url(card_no), json=_body(pad, card_no, id_number, "580413"), headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["card"]["state"] == "active" and r.json()["pin"]["pin_enabled"] is True
    assert "580413" not in r.text
    # the PIN set at activation is the card's PIN at every terminal; the initial one no longer works
    verify = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, "580413")}
    assert pharmacy.request("POST", "/terminal/pin/verify", json_body=verify)["pin_enabled"] is True
    with unit_of_work() as uow:
        entries = card_audit(uow, card_no)
        actions = [e.action for e in entries]
        details = " ".join(e.details for e in entries)
        topics = set(uow.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.person_id == person_id)))
    assert actions[-3:] == ["card.activate", "pin.change", "pin.verify"] and "activation" in details
    assert "580413" not in details and id_number not in details
    assert "pin.change" in topics  # CH-5: the holder is told


# rule PIN-4 / PIN-3: a PIN the rules refuse refuses the whole step: the card stays issued, no PIN set
def test_refused_pin_refuses_the_activation(client, staff_headers, terminal) -> None:
    card_no, id_number, _ = _issued()
    pad = terminal("service_outlet", REGION)
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    for simple in ("123456", "810709", "111111"):  # the initial PIN, the birth date, all the same
        r = client.post(_url(card_no), json=_body(pad, card_no, id_number, simple), headers=clerk)
        assert r.status_code == 422 and r.json()["code"] == "PIN_TOO_SIMPLE", r.text
    wrong_doc = _body(pad, card_no, new_id_number(region=REGION), "580413")
    r = client.post(_url(card_no), json=wrong_doc, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "IDENTITY_EVIDENCE_MISMATCH"
    assert client.get(f"/api/v1/counter/cards/{card_no}", headers=clerk).json()["state"] == "issued"
    pharmacy = terminal("pharmacy", REGION)  # not a counter PIN pad
    r = client.post(_url(card_no), json=_body(pharmacy, card_no, id_number, "580413"), headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "PIN_INPUT_INVALID"


# rule PIN-4: the region's policy decides whether the PIN is offered at activation
def test_policy_decides(client, staff_headers, terminal) -> None:
    with unit_of_work() as uow:
        ensure_region(uow, NO_PIN_REGION)
        set_policy(uow, region_code=NO_PIN_REGION, values={"pin_at_activation": False}, reason="PIN-4 test",
                   actor=CLERK)  # fmt: skip
    card_no, id_number, _ = _issued(NO_PIN_REGION)
    pad = terminal("service_outlet", NO_PIN_REGION)
    clerk = staff_headers(Role.COUNTER_CLERK, "210000")
    r = client.post(_url(card_no), json=_body(pad, card_no, id_number, "580413"), headers=clerk)
    assert r.status_code == 403 and r.json()["code"] == "PIN_AT_ACTIVATION_NOT_OFFERED"
    assert client.get(f"/api/v1/counter/cards/{card_no}", headers=clerk).json()["state"] == "issued"
    r = client.post(f"/api/v1/counter/cards/{card_no}/activate", headers=clerk)  # plain activation still works
    assert r.status_code == 200 and r.json()["state"] == "active"
