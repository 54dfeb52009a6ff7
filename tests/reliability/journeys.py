"""What the crash and outage tests do to a real server: cards, a terminal, a clerk, and the record
of every answer a client saw, so that after a crash each acknowledged change can be looked for."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.models import Card
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from sscard.terminal import TerminalProfile, enroll
from sscard.terminal.client import TerminalClient, TerminalError
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number
from tests.staff.factories import ensure_region, login_token, make_staff

REGION = "150102"  # Hohhot Xincheng: the national policy (initial PIN 123456, 6 tries)
INITIAL_PIN = "123456"
# PINs that pass PIN-3 for any holder (not simple, no birth date form: the factories' holders are born
# before 2010, and these are not dates of one's own century), cycled through by each card's changes.
GOOD_PINS = ["802461", "935172", "470395", "618204", "357091", "729460"]


@dataclass
class Fixture:
    terminal: TerminalProfile
    clerk_token: str
    pin_cards: list[str]
    issued_cards: list[str]


def prepare(app_client: TestClient, *, pin_cards: int, issued_cards: int) -> Fixture:
    """Cards in REGION (active ones for PIN changes, issued ones to activate), a terminal enrolled
    through the SDK exactly as a terminal would be, and a counter clerk's token."""
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        officer = make_staff(uow, role=Role.SECURITY_OFFICER, region_code="150000")
        officer_token = login_token(uow, officer)
        clerk_token = login_token(uow, make_staff(uow, role=Role.COUNTER_CLERK, region_code="150000"))
        active = [make_card(uow, id_number=new_id_number(region=REGION)).card_no for _ in range(pin_cards)]
        issued = [
            make_card(uow, id_number=new_id_number(region=REGION), activate=False).card_no for _ in range(issued_cards)
        ]
    terminal = enroll(
        "http://testserver",
        staff_token=officer_token,
        institution="可靠性测试药房",
        institution_type="pharmacy",
        region_code=REGION,
        http=app_client,
    )
    return Fixture(terminal, clerk_token, active, issued)


@dataclass
class Ledger:
    """What the clients were told, per card: acknowledged PIN changes and activations, and the
    changes whose answer never came (their fate is unknown to the client, so either is allowed)."""

    acked_pin: dict[str, str] = field(default_factory=dict)
    pin_changes_acked: Counter[str] = field(default_factory=Counter)
    pin_change_unknown: dict[str, str] = field(default_factory=dict)
    activated: set[str] = field(default_factory=set)
    activation_unknown: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def change_pins(base_url: str, fx: Fixture, cards: list[str], ledger: Ledger, stop: threading.Event) -> None:
    """Change each card's PIN again and again (old → next good PIN) until ``stop`` or the server dies."""
    with TerminalClient(base_url, fx.terminal, timeout=30) as terminal:
        current = dict.fromkeys(cards, INITIAL_PIN)
        step = 0
        while not stop.is_set():
            for card_no in cards:
                new = GOOD_PINS[step % len(GOOD_PINS)]
                if new == current[card_no]:
                    new = GOOD_PINS[(step + 1) % len(GOOD_PINS)]
                body = {
                    "card_no": card_no,
                    "old_pin_block": terminal.pin_block(card_no, current[card_no]),
                    "new_pin_block": terminal.pin_block(card_no, new),
                }
                try:
                    terminal.request("POST", "/terminal/pin/change", json_body=body)
                except TerminalError as exc:
                    if exc.status == 0 or exc.status >= 500:  # no answer, or not kept: fate unknown
                        with ledger.lock:
                            ledger.pin_change_unknown[card_no] = new
                        return
                    with ledger.lock:
                        ledger.errors.append(f"{card_no}: {exc.code}")
                    return
                current[card_no] = new
                with ledger.lock:
                    ledger.acked_pin[card_no] = new
                    ledger.pin_changes_acked[card_no] += 1
            step += 1


def activate_cards(base_url: str, fx: Fixture, cards: list[str], ledger: Ledger, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {fx.clerk_token}"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for card_no in cards:
            if stop.is_set():
                return
            try:
                r = http.post(f"/api/v1/counter/cards/{card_no}/activate", headers=headers)
            except httpx.HTTPError:
                with ledger.lock:
                    ledger.activation_unknown.add(card_no)
                return
            with ledger.lock:
                if r.status_code == 200:
                    ledger.activated.add(card_no)
                elif r.status_code >= 500:
                    ledger.activation_unknown.add(card_no)
                    return
                else:
                    ledger.errors.append(f"{card_no}: {r.status_code} {r.text[:200]}")
                    return


def pin_in_effect(terminal: TerminalClient, card_no: str, pin: str) -> bool:
    try:
        terminal.request(
            "POST",
            "/terminal/pin/verify",
            json_body={"card_no": card_no, "pin_block": terminal.pin_block(card_no, pin)},
        )
        return True
    except TerminalError as exc:
        if exc.code == "PIN_WRONG":
            return False
        raise


def ok_entries(action: str) -> Counter[int]:
    """How many ``ok`` audit entries of ``action`` each card has (by the card id in the details)."""
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action, AuditEntry.result == "ok")
        ).scalars()
        return Counter(json.loads(details)["card_id"] for details in rows)


def card_ids(card_nos: list[str]) -> dict[str, int]:
    with unit_of_work() as uow:
        rows = uow.session.execute(select(Card.card_no, Card.id).where(Card.card_no.in_(card_nos)))
        return dict(rows.all())


def card_states(card_nos: list[str]) -> dict[str, str]:
    with unit_of_work() as uow:
        rows = uow.session.execute(select(Card.card_no, Card.state).where(Card.card_no.in_(card_nos)))
        return {card_no: str(getattr(state, "value", state)) for card_no, state in rows}


def run_until(enough: Callable[[], bool], workers: list[threading.Thread], *, at_least: float, at_most: float) -> None:
    """Start the workers and return once ``enough()`` holds (and ``at_least`` seconds have passed), or
    after ``at_most`` seconds. A fixed sleep proved too short on a loaded CI host: once no activation
    had been answered after 2.5 s, and the kill then proved nothing about activations."""
    for worker in workers:
        worker.start()
    started = time.monotonic()
    time.sleep(at_least)
    while not enough() and time.monotonic() - started < at_most:
        time.sleep(0.1)
