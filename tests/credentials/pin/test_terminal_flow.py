"""The card PIN at terminals over HTTP, end to end with the real app, SDK and security module.

Seed 004 as a holder lives it at a pharmacy: initial PIN 123456 not enabled, a transaction without
PIN, the campaign prompt, a simple PIN refused with its reason, the change, PIN now required, six
wrong tries lock, even the right PIN refused, counter reset with the ID document, working again.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.service import confirm_loss
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.models import CardPin
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.people.service import get_person_or_raise
from sscard.policy.service import set_policy
from sscard.staff.roles import Role
from sscard.terminal.client import TerminalError
from tests.credentials.pin.factories import insure_as_employee, make_card
from tests.people.factories import CLERK, new_id_number
from tests.staff.factories import ensure_region

REGION = "120101"  # a region of its own: its campaign policy must not touch other tests


def _campaign_region() -> None:
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        start = (local_date() - timedelta(days=1)).isoformat()
        campaign = {
            "name": "tj-employee-medical",
            "start_date": start,
            "populations": ["urban_employee_medical"],
            "excluded_populations": ["urban_resident_medical"],
            "excluded_card_types": ["medical"],
        }
        set_policy(uow, region_code="120000", values={"pin_change_campaigns": [campaign]}, reason="seed 004 test",
                   actor=CLERK)  # fmt: skip


def _card(*, region: str = REGION, born: str | None = None, insured: bool = False, **kwargs: object) -> tuple[str, str]:
    from datetime import date

    birth = date.fromisoformat(born) if born else None
    with unit_of_work() as uow:
        card = make_card(uow, id_number=new_id_number(region=region, born=birth), phone="13912345678", **kwargs)
        person = get_person_or_raise(uow, card.person_id)
        if insured:  # PIN-9: in the employee schemes (urban employee basic medical insurance among them)
            insure_as_employee(uow, person)
        return card.card_no, person.id_number


def _verify(t, card_no: str, pin: str | None = None) -> dict:
    body: dict[str, object] = {"card_no": card_no}
    if pin is not None:
        body["pin_block"] = t.pin_block(card_no, pin)
    return t.request("POST", "/terminal/pin/verify", json_body=body)


def _change(t, card_no: str, old: str, new: str) -> dict:
    body = {"card_no": card_no, "old_pin_block": t.pin_block(card_no, old), "new_pin_block": t.pin_block(card_no, new)}
    return t.request("POST", "/terminal/pin/change", json_body=body)


def _refusal(fn, *args) -> TerminalError:
    with pytest.raises(TerminalError) as exc:
        fn(*args)
    return exc.value


# rules PIN-1 PIN-2 PIN-3 PIN-5 PIN-6 PIN-9 CH-5 — the seed 004 narrative at a pharmacy
def test_seed_004_narrative_at_a_pharmacy(client, staff_headers, terminal) -> None:
    _campaign_region()
    card_no, id_number = _card(born="1985-03-17", insured=True)
    pharmacy = terminal("pharmacy", REGION)

    # Initial PIN 123456, not enabled: a transaction needs no PIN, and the campaign prompts a change.
    answer = _verify(pharmacy, card_no)
    assert answer["ok"] and answer["pin_enabled"] is False and answer["tries_left"] == 6
    assert answer["campaign_prompt"]["campaign"] == "tj-employee-medical"
    assert answer["campaign_prompt"]["action"] == "change_pin"
    assert _verify(pharmacy, card_no, "123456")["ok"]  # the initial PIN itself is right

    # Simple PINs are refused, each with its own reason (PIN-3).
    reasons = {}
    for simple in ("111111", "345678", "987654", "850317", "170385", "912345", "5678"):
        err = _refusal(_change, pharmacy, card_no, "123456", simple)
        assert err.code == "PIN_TOO_SIMPLE", (simple, err.code)
        assert simple not in err.detail
        reasons[simple] = err.problem["reason"]
    # all same, consecutive, birth date, phone number, not six digits: five rules, five reasons
    assert len({reasons[p] for p in ("111111", "345678", "850317", "912345", "5678")}) == 5
    assert reasons["345678"] == reasons["987654"] and reasons["850317"] == reasons["170385"]
    # a wrong old PIN is counted before the new one is even looked at (no oracle on the current PIN)
    assert _refusal(_change, pharmacy, card_no, "000000", "111111").code == "PIN_WRONG"
    assert _verify(pharmacy, card_no, "123456")["tries_left"] == 6

    # The change with the initial PIN enables the PIN; now every transaction needs it (PIN-2).
    assert _change(pharmacy, card_no, "123456", "740296")["ok"]
    assert _refusal(_verify, pharmacy, card_no).code == "PIN_REQUIRED"
    answer = _verify(pharmacy, card_no, "740296")
    assert answer["pin_enabled"] is True and answer.get("campaign_prompt") is None
    # The new PIN cannot be changed to itself (PIN-3: equals the current PIN).
    assert _refusal(_change, pharmacy, card_no, "740296", "740296").code == "PIN_TOO_SIMPLE"

    # Six wrong tries lock (PIN-5); tries_left counts down; then even the right PIN is refused.
    lefts = [_refusal(_verify, pharmacy, card_no, "000123").problem["tries_left"] for _ in range(6)]
    assert lefts == [5, 4, 3, 2, 1, 0]
    err = _refusal(_verify, pharmacy, card_no, "740296")
    assert err.code == "PIN_LOCKED" and err.status == 423
    assert _refusal(_change, pharmacy, card_no, "740296", "520913").code == "PIN_LOCKED"

    # Counter reset with the holder's ID document (PIN-6, CH-2): back to the initial PIN.
    clerk = staff_headers(Role.COUNTER_CLERK, "120000")
    evidence = {"evidence": {"document_type": "resident_id_card", "document_number": id_number}}
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", json=evidence, headers=clerk)
    assert r.status_code == 200, r.text
    answer = _verify(pharmacy, card_no)
    assert answer["ok"] and answer["pin_enabled"] is False and answer["campaign_prompt"]
    assert _change(pharmacy, card_no, "123456", "740296")["ok"]
    assert _verify(pharmacy, card_no, "740296")["ok"]

    # The holder was told of the lock and the reset (CH-5); nothing PIN-like was audited (PIN-11).
    with unit_of_work() as uow:
        topics = set(
            uow.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.recipient_masked == "139****5678"))
        )
        assert {"pin.lock", "pin.reset"} <= topics
        details = " ".join(
            uow.session.scalars(select(AuditEntry.details).where(AuditEntry.subject.like(f"card:{card_no[:5]}%")))
        )
        assert "740296" not in details and id_number not in details
        row = uow.session.get(CardPin, _card_id(uow, card_no))
        assert row is not None and row.pvv is not None and b"740296" not in row.pvv


def _card_id(uow, card_no: str) -> int:
    from sscard.cards.models import Card

    return int(uow.session.scalar(select(Card.id).where(Card.card_no == card_no)))


# rule PIN-5: the count is per card across channels — a wrong old PIN at a change counts too
def test_failures_count_across_operations(terminal) -> None:
    card_no, _ = _card()
    pharmacy = terminal("pharmacy", REGION)
    assert _refusal(_change, pharmacy, card_no, "999999", "740296").problem["tries_left"] == 5
    hospital = terminal("hospital", REGION)
    assert _refusal(_verify, hospital, card_no, "999998").problem["tries_left"] == 4
    assert _verify(hospital, card_no, "123456")["tries_left"] == 6  # the right PIN resets the count


# rule CARD-4: a card not activated can't be used or have its PIN changed: go to an activation window
def test_not_activated_card(terminal) -> None:
    card_no, _ = _card(activate=False)
    pharmacy = terminal("pharmacy", REGION)
    err = _refusal(_change, pharmacy, card_no, "123456", "740296")
    assert err.code == "CARD_NOT_ACTIVE" and "activat" in err.detail
    assert _refusal(_verify, pharmacy, card_no).code == "CARD_NOT_ACTIVE"


def test_blocked_card(terminal) -> None:
    card_no, _ = _card()
    with unit_of_work() as uow:
        confirm_loss(uow, card_no=card_no, actor=CLERK, evidence="resident ID card")
    assert _refusal(_verify, terminal("pharmacy", REGION), card_no).code == "CARD_BLOCKED"


# rule PIN-4: PIN changes at designated medical institutions and kiosks, not at other terminals
def test_change_only_at_offering_terminals(terminal) -> None:
    card_no, _ = _card()
    kiosk = terminal("kiosk", REGION)
    assert _change(kiosk, card_no, "123456", "740296")["ok"]
    bank = terminal("bank_outlet", REGION)
    assert _refusal(_change, bank, card_no, "740296", "520913").code == "PIN_CHANGE_NOT_OFFERED"
    assert _verify(bank, card_no, "740296")["ok"]


# rule PIN-1: regional initial PIN rules — birth date YYMMDD, and the last six ID digits for rural cards
def test_initial_pin_rules(terminal) -> None:
    with unit_of_work() as uow:
        ensure_region(uow, "130102")
        set_policy(uow, region_code="130000", values={"initial_pin_rule": "birth_yymmdd"}, reason="test", actor=CLERK)
    card_no, _ = _card(region="130102", born="1979-11-05")
    t = terminal("clinic", "130102")
    assert _refusal(_verify, t, card_no, "123456").code == "PIN_WRONG"
    assert _verify(t, card_no, "791105")["ok"]
    assert _change(t, card_no, "791105", "740296")["ok"]

    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        set_policy(uow, region_code="120000", card_type="rural", values={"initial_pin_rule": "id_last6"},
                   reason="seed 003", actor=CLERK)  # fmt: skip
    rural_no, id_number = _card(card_type="rural")
    station = terminal("community_health_station", REGION)
    last6 = id_number[-6:].replace("X", "0")
    assert _verify(station, rural_no, last6)["ok"]
    assert _refusal(_verify, station, rural_no, "123456").code == "PIN_WRONG"
    # PIN-3: the new PIN may not be the initial one, nor the current one; each has its own reason
    initial = _refusal(_change, station, rural_no, last6, last6).problem["reason"]
    assert _change(station, rural_no, last6, "740296")["ok"]
    current = _refusal(_change, station, rural_no, "740296", "740296").problem["reason"]
    assert initial != current


# rule PIN-8: after a failed modification, the counter restores the original PIN; the holder changes again
def test_restore_after_failed_modification(client, staff_headers, terminal) -> None:
    card_no, id_number = _card()
    pharmacy = terminal("pharmacy", REGION)
    assert _change(pharmacy, card_no, "123456", "740296")["ok"]  # the holder never learned the outcome
    clerk = staff_headers(Role.COUNTER_CLERK, "120000")
    evidence = {"evidence": {"document_type": "resident_id_card", "document_number": id_number}}
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/restore", json=evidence, headers=clerk)
    assert r.status_code == 200 and r.json()["pin_enabled"] is False
    assert _verify(pharmacy, card_no, "123456")["ok"]
    assert _change(pharmacy, card_no, "123456", "520913")["ok"]
    with unit_of_work() as uow:
        entry = uow.session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "pin.restore", AuditEntry.subject.like(f"card:{card_no[:5]}%")
            )
        )
        assert entry is not None and json.loads(entry.details)["evidence"]["document_type"] == "resident_id_card"


# rule PIN-10: the portal never accepts the card PIN (and has no route that takes one)
def test_portal_never_takes_the_card_pin(client, terminal) -> None:
    card_no, id_number = _card()
    assert _change(terminal("pharmacy", REGION), card_no, "123456", "740296")["ok"]
    r = client.post("/api/v1/portal/login", json={"id_number": id_number, "password": "740296"})
    assert r.status_code == 401
    spec = client.get("/api/openapi.json").json()
    portal_bodies = json.dumps({p: v for p, v in spec["paths"].items() if "/portal/" in p})
    assert "pin" not in portal_bodies.lower()


# rule PIN-6 / PIN-11: a reset to a new PIN typed on the counter's PIN pad (enciphered by the pad)
def test_reset_to_new_pin_on_pin_pad(client, staff_headers, terminal) -> None:
    card_no, id_number = _card()
    pharmacy = terminal("pharmacy", REGION)
    assert _change(pharmacy, card_no, "123456", "740296")["ok"]
    pad = terminal("service_outlet", REGION)
    clerk = staff_headers(Role.COUNTER_CLERK, "120000")
    evidence = {"document_type": "resident_id_card", "document_number": id_number}
    body = {"evidence": evidence, "pin_pad": {"terminal_id": pad.profile.terminal_id,
                                              "pin_block": pad.pin_block(card_no, "222222")}}  # fmt: skip
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", json=body, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "PIN_TOO_SIMPLE"
    body["pin_pad"]["pin_block"] = pad.pin_block(card_no, "581307")
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", json=body, headers=clerk)
    assert r.status_code == 200 and r.json()["pin_enabled"] is True, r.text
    assert _verify(pharmacy, card_no, "581307")["ok"]
    assert _refusal(_verify, pharmacy, card_no, "740296").code == "PIN_WRONG"
    # A pharmacy terminal is not a counter PIN pad.
    body["pin_pad"] = {"terminal_id": pharmacy.profile.terminal_id, "pin_block": pharmacy.pin_block(card_no, "581307")}
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", json=body, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "PIN_INPUT_INVALID"
