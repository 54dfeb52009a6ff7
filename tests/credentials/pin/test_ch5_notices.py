"""CH-5: every event the rule names queues its notice to the holder, and no notice carries a secret
(issue 26). One test case per event: a loss report (oral and formal), a PIN lock, change, reset, unlock,
cancel and restore, a query-password change and a counter re-initialisation. Each runs through the channel
that causes it, then the holder's new outbox messages are opened: the event's topic is there, on every
contact on file, and no PIN, password, full ID or card number is in a subject or a body."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from sscard.cards.service import confirm_loss, report_loss_by_hotline
from sscard.credentials.pin.counter_ops import (
    cancel_card_pin,
    prepare_counter_target,
    reset_card_pin,
    restore_card_pin,
    unlock_card_pin,
)
from sscard.db.session import unit_of_work
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.credentials.pin.test_counter_ops import PVV_A, PVV_B, _enable
from tests.credentials.pin.test_terminal_flow import _change, _refusal, _verify
from tests.credentials.query_password.test_portal_api import _holder, bearer
from tests.people.factories import CALLER, CLERK, new_id_number

REGION = "130102"
PIN, WRONG = "802461", "000123"
LOGIN, PASSWORD = "/api/v1/portal/login", "/api/v1/portal/password"


class Event:
    """What one case leaves behind: the holder, the topic expected, and the secrets that must not show."""

    def __init__(self, person_id: int, topic: str, secrets: list[str]) -> None:
        self.person_id, self.topic, self.secrets = person_id, topic, secrets


def _card(t, *, enable: bool = True) -> tuple[str, int, str]:
    number = new_id_number(region=REGION)
    with unit_of_work() as uow:
        card = make_card(uow, id_number=number, phone="13912345678", email="holder@example.com")
        card_no, person_id = card.card_no, card.person_id
    if enable:
        assert _change(t, card_no, "123456", PIN)["ok"]
    return card_no, person_id, number


def _counter_op(op: Callable, topic: str, *, restorable: bool = False) -> Callable:
    def run(t, client, staff_headers) -> Event:
        card_no, person_id, number = _card(t)
        with unit_of_work() as uow:
            target = prepare_counter_target(
                uow, card_no=card_no, document_type="resident_id_card", document_number=number
            )
            if restorable:  # a PIN change that failed to reach the chip: the prior PIN may come back
                _enable(uow, target.card, PVV_B, prior=PVV_A, restorable=True)
            op(uow, target=target, actor=CLERK)
        return Event(person_id, topic, [PIN, number, card_no, PVV_A.hex(), PVV_B.hex()])

    return run


def _loss_reported(t, client, staff_headers) -> Event:
    card_no, person_id, number = _card(t)
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    return Event(person_id, "card.loss_reported", [PIN, number, card_no])


def _loss_confirmed(t, client, staff_headers) -> Event:
    card_no, person_id, number = _card(t)
    with unit_of_work() as uow:
        confirm_loss(uow, card_no=card_no, actor=CLERK, evidence="resident ID card")
    return Event(person_id, "card.loss_confirmed", [PIN, number, card_no])


def _pin_lock(t, client, staff_headers) -> Event:
    card_no, person_id, number = _card(t)
    for _ in range(6):
        _refusal(_verify, t, card_no, WRONG)
    assert _refusal(_verify, t, card_no, PIN).code == "PIN_LOCKED"
    return Event(person_id, "pin.lock", [PIN, WRONG, number, card_no])


def _pin_change(t, client, staff_headers) -> Event:
    card_no, person_id, number = _card(t, enable=False)
    assert _change(t, card_no, "123456", PIN)["ok"]
    return Event(person_id, "pin.change", [PIN, "123456", number, card_no])


def _pin_unlock(t, client, staff_headers) -> Event:
    card_no, person_id, number = _card(t)
    for _ in range(6):
        _refusal(_verify, t, card_no, WRONG)
    with unit_of_work() as uow:
        target = prepare_counter_target(uow, card_no=card_no, document_type="resident_id_card", document_number=number)
        unlock_card_pin(uow, target=target, actor=CLERK)
    assert _verify(t, card_no, PIN)["ok"]
    return Event(person_id, "pin.unlock", [PIN, WRONG, number, card_no])


def _password_changed(t, client, staff_headers) -> Event:
    person_id, number, initial = _holder()
    login = client.post(LOGIN, json={"id_number": number, "password": initial})
    assert login.status_code == 200, login.text
    new = "Quiet-harbour 7391 lantern"
    r = client.post(
        PASSWORD, headers=bearer(login.json()["access_token"]), json={"old_password": initial, "new_password": new}
    )
    assert r.status_code == 204, r.text
    return Event(person_id, "qpw.password_changed", [initial, new, number])


def _password_reinitialised(t, client, staff_headers) -> Event:
    person_id, number, initial = _holder()
    evidence = {"document_type": "resident_id_card", "document_number": number}
    r = client.post(
        "/api/v1/counter/query-password/reinitialise",
        json={"id_number": number, "evidence": evidence},
        headers=staff_headers(Role.COUNTER_CLERK, number[:6]),
    )
    assert r.status_code == 200, r.text
    return Event(person_id, "qpw.password_reinitialised", [initial, number])


EVENTS: dict[str, Callable] = {
    "loss report (hotline)": _loss_reported,
    "loss report (counter)": _loss_confirmed,
    "PIN lock": _pin_lock,
    "PIN change": _pin_change,
    "PIN reset": _counter_op(reset_card_pin, "pin.reset"),
    "PIN unlock": _pin_unlock,
    "PIN cancel": _counter_op(cancel_card_pin, "pin.cancel"),
    "PIN restore": _counter_op(restore_card_pin, "pin.restore", restorable=True),
    "password change": _password_changed,
    "password re-initialisation": _password_reinitialised,
}


# rule CH-5: the holder is told of this event on the contacts on file, and the notice holds no secret
@pytest.mark.parametrize("event", list(EVENTS))
def test_the_event_queues_its_notice_without_a_secret(client, staff_headers, terminal, event: str) -> None:
    pharmacy = terminal("pharmacy", REGION)
    done = EVENTS[event](pharmacy, client, staff_headers)
    with unit_of_work() as uow:
        messages = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.person_id == done.person_id).order_by(OutboxMessage.id)
        ).all()
        mine = [m for m in messages if m.topic == done.topic]
        assert mine, f"no {done.topic} notice among {[m.topic for m in messages]}"
        assert {m.channel.value for m in mine} == {"sms", "email"}  # every contact on file
        for message in messages:
            text = f"{message.subject}\n{open_body(message)}"
            for secret in done.secrets:
                assert secret not in text, f"{message.topic} carries a secret"
