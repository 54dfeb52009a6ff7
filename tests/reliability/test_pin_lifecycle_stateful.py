"""The card and PIN life cycle against a small model (hypothesis stateful), on SQLite and PostgreSQL.

Random sequences of what happens to two persons' cards: apply, issue, activate, hotline loss report,
counter confirm and withdraw, replace, cancel; at a terminal, verify with the right PIN, a wrong one
or none, change with the right or a wrong current PIN to a valid or a too simple new one; at the
counter, reset to the initial PIN, unlock, cancel the PIN, restore it. Each operation runs in its own
unit of work, committed as its route commits it (a refusal that counts or locks is remembered). The
model below is written from the rules, not from the code; after every step the database must agree
with it: each card's state, PIN state and audit entries, and at most one live card per person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.audit.service import stream_for
from sscard.cards.loss import report_loss_by_hotline
from sscard.cards.models import Card
from sscard.cards.service import (
    activate_card,
    apply_for_card,
    cancel_card,
    confirm_loss,
    issue_card,
    replace_card,
    withdraw_loss,
)
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin.counter_ops import (
    cancel_card_pin,
    prepare_counter_target,
    reset_card_pin,
    restore_card_pin,
    unlock_card_pin,
)
from sscard.credentials.pin.errors import PinLocked, PinRequired, PinTooSimple, PinWrong
from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.service import change_card_pin, verify_card_pin
from sscard.credentials.pin.status import pin_status_of
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import unit_of_work
from sscard.errors import DomainError
from sscard.policy.service import get_effective_policy
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401 - fixtures
from tests.people.factories import CALLER, CLERK, add_test_person, new_id_number

REGION = "150102"
INITIAL = "123456"  # rule PIN-1: the national policy's initial PIN
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")
VALID = ("802461", "730952", "915837")  # not simple, no birth date in any form; no phone on file (PIN-3)
SIMPLE = ("111111", "654321", INITIAL)  # all alike, descending, the initial PIN (PIN-3)
WRONG = "555121"  # never anyone's PIN here
EVIDENCE = "resident ID card checked at the counter"
# rule CARD-7: every issue (first card or replacement) records what was personalised, audited after the issue
PERSONALISED = ("card.personalise", "ok")
REMEMBERED = (PinWrong, PinLocked, PinRequired, PinTooSimple)  # committed with their answer, as the routes do

# rule CARD-1: the states and the transitions the rules allow, written out from the spec
LIVE = {"applied", "issued", "active", "loss_reported", "lost"}
ALLOWED: dict[str, tuple[set[str], str]] = {
    "activate": ({"issued"}, "active"),
    "report_loss": ({"active"}, "loss_reported"),
    "confirm_loss": ({"loss_reported", "active"}, "lost"),
    "withdraw_loss": ({"loss_reported"}, "active"),
    "replace": ({"lost", "active"}, "replaced"),
    "cancel": (set(LIVE), "cancelled"),
}


@dataclass
class CardModel:
    card_no: str
    card_id: int
    person: int
    state: str
    pin: str | None = None  # rule PIN-2: None = not enabled, the initial PIN applies and none is needed
    failures: int = 0
    prior: str | None = None  # rule PIN-8: the PIN before the holder's last change
    restorable: bool = False
    audit: list[tuple[str, str]] = field(default_factory=list)

    @property
    def right_pin(self) -> str:
        return self.pin or INITIAL


def _outcome(fn: Callable[[Any], Any]) -> tuple[Any, DomainError | None]:
    """Run ``fn(uow)`` in a unit of work of its own: its result, or the domain error it refused with."""
    try:
        with unit_of_work() as uow, commit_early_on(uow, *REMEMBERED, why=Why.FAILURE_COUNTED):
            return fn(uow), None
    except DomainError as exc:
        return None, exc


def _code(error: DomainError | None) -> str | None:
    return None if error is None else error.code


class CardLife(RuleBasedStateMachine):
    terminal: ClassVar[AuthenticatedTerminal]
    pin_block: ClassVar[Callable[[str, str], bytes]]
    threshold: ClassVar[int]

    def __init__(self) -> None:
        super().__init__()
        self.persons: list[tuple[int, str]] = []  # (person id, citizen ID number)
        self.cards: list[CardModel] = []

    @initialize()
    def two_persons_with_active_cards(self) -> None:
        for person in range(2):
            with unit_of_work() as uow:
                id_number = new_id_number(region=REGION)
                person_id = add_test_person(uow, id_number=id_number).id
                card_no = issue_card(uow, person_id=person_id, actor=CLERK).card_no
                activate_card(uow, card_no=card_no, actor=CLERK)
            self.persons.append((person_id, id_number))
            self._new_card(
                card_no,
                person,
                "active",
                [("card.apply", "ok"), ("card.issue", "ok"), PERSONALISED, ("card.activate", "ok")],
            )

    # --- the model's helpers ---------------------------------------------------------------------

    def _card(self, i: int) -> CardModel:
        return self.cards[i % len(self.cards)]

    def _active(self, i: int) -> CardModel:
        active = [c for c in self.cards if c.state == "active"]
        return active[i % len(active)]

    def _has_active(self) -> bool:
        return any(c.state == "active" for c in self.cards)

    def _has_unusable(self) -> bool:
        return any(c.state != "active" for c in self.cards)

    def _live_of(self, person: int) -> CardModel | None:
        return next((c for c in self.cards if c.person == person and c.state in LIVE), None)

    def _new_card(self, card_no: str, person: int, state: str, audit: list[tuple[str, str]]) -> CardModel:
        with unit_of_work() as uow:
            card_id = uow.session.scalar(select(Card.id).where(Card.card_no == card_no))
        card = CardModel(card_no, int(card_id), person, state, audit=audit)
        self.cards.append(card)
        return card

    def _usable_or_refused(self, card: CardModel, error: DomainError | None) -> bool:
        """Whether the card may be used for a PIN operation; if not, that the refusal is the rules'."""
        if card.state in ("applied", "issued"):
            assert _code(error) == "CARD_NOT_ACTIVE", error  # rule CARD-4: not activated, no PIN use or change
            return False
        if card.state != "active":
            assert _code(error) == "CARD_BLOCKED", error  # rule CARD-2 / CARD-5: blocked or invalid card
            return False
        return True

    def _count_wrong(self, card: CardModel, action: str, error: DomainError | None) -> None:
        card.failures += 1  # rule PIN-5: per card, across channels and operations
        card.audit.append((action, "wrong_pin"))
        assert isinstance(error, PinWrong), error
        assert error.extra["tries_left"] == max(0, self.threshold - card.failures)
        if card.failures >= self.threshold:
            card.audit.append(("pin.lock", "ok"))  # rule PIN-5: the threshold-th wrong PIN locks

    # --- card life (CARD-1, CARD-2, CARD-5) --------------------------------------------------------

    @rule(person=st.integers(0, 1))
    def apply(self, person: int) -> None:
        person_id = self.persons[person][0]
        card_no, error = _outcome(lambda uow: apply_for_card(uow, person_id=person_id, actor=CLERK).card_no)
        if self._live_of(person) is not None:
            assert _code(error) == "CARD_LIVE_EXISTS", error  # rule CARD-2
            return
        assert error is None, error
        self._new_card(card_no, person, "applied", [("card.apply", "ok")])

    @rule(person=st.integers(0, 1))
    def issue(self, person: int) -> None:
        person_id = self.persons[person][0]
        card_no, error = _outcome(lambda uow: issue_card(uow, person_id=person_id, actor=CLERK).card_no)
        live = self._live_of(person)
        if live is not None and live.state != "applied":
            assert _code(error) == "CARD_LIVE_EXISTS", error  # rule CARD-2
            return
        assert error is None, error
        if live is not None:  # the pending application is personalised
            assert card_no == live.card_no
            live.state = "issued"
            live.audit += [("card.issue", "ok"), PERSONALISED]
        else:
            self._new_card(card_no, person, "issued", [("card.apply", "ok"), ("card.issue", "ok"), PERSONALISED])

    @rule(person=st.integers(0, 1))
    def report_loss_by_hotline(self, person: int) -> None:
        id_number = self.persons[person][1]
        _, error = _outcome(lambda uow: report_loss_by_hotline(uow, id_number=id_number, actor=CALLER).id)
        live = self._live_of(person)
        if live is None or live.state not in ("active", "loss_reported"):
            assert _code(error) == "LOSS_REPORT_NO_CARD", error
            return
        assert error is None, error
        if live.state == "loss_reported":  # reported again: the same report, the call still audited
            live.audit.append(("card.report_loss", "already_reported"))
        else:
            live.state = "loss_reported"  # rule CARD-5: blocked at once, no password needed
            live.audit.append(("card.report_loss", "ok"))

    @precondition(lambda self: self.cards)
    @rule(
        i=st.integers(0, 15), event=st.sampled_from(["activate", "confirm_loss", "withdraw_loss", "replace", "cancel"])
    )
    def card_event(self, i: int, event: str) -> None:
        card = self._card(i)
        calls: dict[str, Callable[[Any], Any]] = {
            "activate": lambda uow: activate_card(uow, card_no=card.card_no, actor=CLERK).card_no,
            "confirm_loss": lambda uow: confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence=EVIDENCE).id,
            "withdraw_loss": lambda uow: withdraw_loss(uow, card_no=card.card_no, actor=CLERK, evidence=EVIDENCE).id,
            "replace": lambda uow: replace_card(uow, card_no=card.card_no, actor=CLERK, evidence=EVIDENCE).card_no,
            "cancel": lambda uow: cancel_card(uow, card_no=card.card_no, actor=CLERK).card_no,
        }
        result, error = _outcome(calls[event])
        sources, target = ALLOWED[event]
        if card.state not in sources:
            assert _code(error) == "CARD_ILLEGAL_TRANSITION", (card.state, event, error)  # rule CARD-1
            return
        assert error is None, (card.state, event, error)
        card.state = target
        card.audit.append((f"card.{event}", "ok"))  # rule CH-4 / CARD-1: every transition audited
        if event == "replace":  # rule CARD-2: a new number; the old card invalid; credentials not inherited
            card.audit.append(("card.replaced_by", "ok"))
            assert result != card.card_no
            self._new_card(result, card.person, "issued", [("card.apply", "ok"), ("card.issue", "ok"), PERSONALISED])

    # --- the PIN at terminals (PIN-2..PIN-5, CARD-4) -----------------------------------------------

    @precondition(lambda self: self._has_active())
    @rule(i=st.integers(0, 15), entered=st.sampled_from(["right", "wrong", "none"]))
    def verify(self, i: int, entered: str) -> None:
        self._verify(self._active(i), entered)

    @precondition(lambda self: self._has_active())
    @rule(i=st.integers(0, 15), tries=st.integers(2, 7))
    def wrong_pins_in_a_row(self, i: int, tries: int) -> None:
        card = self._active(i)
        for _ in range(tries):  # rule PIN-5: consecutive wrong PINs, up to the lock and past it
            self._verify(card, "wrong")

    @precondition(lambda self: self._has_unusable())
    @rule(i=st.integers(0, 15), op=st.sampled_from(["verify", "change", "reset", "cancel"]))
    def pin_use_of_a_card_not_active(self, i: int, op: str) -> None:
        card = [c for c in self.cards if c.state != "active"][i % sum(c.state != "active" for c in self.cards)]
        if op == "verify":
            self._verify(card, "right")
        elif op == "change":
            self._change(card, old_right=True, new=VALID[0])
        else:
            self._counter(card, op)

    def _verify(self, card: CardModel, entered: str) -> None:
        block = (
            None if entered == "none" else self.pin_block(card.card_no, card.right_pin if entered == "right" else WRONG)
        )
        check, error = _outcome(
            lambda uow: verify_card_pin(
                uow, card_no=card.card_no, pin_block=block, terminal=self.terminal, actor=self.terminal.actor()
            )
        )
        if not self._usable_or_refused(card, error):
            return
        if card.failures >= self.threshold:  # rule PIN-5: locked refuses every PIN, the right one too
            assert isinstance(error, PinLocked), error
            card.audit.append(("pin.verify", "locked"))
        elif entered == "none" and card.pin is not None:  # rule PIN-2: an enabled PIN is needed
            assert isinstance(error, PinRequired), error
            card.audit.append(("pin.verify", "pin_required"))
        elif entered == "wrong":
            self._count_wrong(card, "pin.verify", error)
        else:  # rule PIN-2: not enabled needs none; rule PIN-5: a right PIN resets the count
            assert error is None, error
            assert check.pin_enabled is (card.pin is not None) and check.tries_left == self.threshold
            card.failures = 0
            card.audit.append(("pin.verify", "ok"))

    @precondition(lambda self: self._has_active())
    @rule(i=st.integers(0, 15), old_right=st.booleans(), new=st.sampled_from(VALID + SIMPLE))
    def change(self, i: int, old_right: bool, new: str) -> None:
        self._change(self._active(i), old_right=old_right, new=new)

    def _change(self, card: CardModel, *, old_right: bool, new: str) -> None:
        old_block = self.pin_block(card.card_no, card.right_pin if old_right else WRONG)
        new_block = self.pin_block(card.card_no, new)
        _, error = _outcome(
            lambda uow: change_card_pin(
                uow,
                card_no=card.card_no,
                old_pin_block=old_block,
                new_pin_block=new_block,
                terminal=self.terminal,
                actor=self.terminal.actor(),
            )
        )
        if not self._usable_or_refused(card, error):  # rule CARD-4: not activated, the PIN cannot be changed
            return
        if card.failures >= self.threshold:  # rule PIN-5
            assert isinstance(error, PinLocked), error
            card.audit.append(("pin.change", "locked"))
            return
        if not old_right:  # rule PIN-4 / PIN-5: the current PIN is checked, and a wrong one counted
            self._count_wrong(card, "pin.change", error)
            return
        card.failures = 0  # the right current PIN resets the count, whatever happens to the new one
        if new in SIMPLE or new == card.pin:  # rule PIN-3: simple, the initial PIN, or the current PIN
            assert isinstance(error, PinTooSimple), error
            card.audit.append(("pin.change", "too_simple"))
            return
        assert error is None, error
        card.prior, card.restorable, card.pin = card.pin, True, new  # rule PIN-2: the PIN is now enabled
        card.audit.append(("pin.change", "ok"))

    # --- the PIN at the counter (PIN-5..PIN-8) ------------------------------------------------------

    @precondition(lambda self: self._has_active())
    @rule(i=st.integers(0, 15), op=st.sampled_from(["reset", "unlock", "cancel", "restore"]))
    def counter(self, i: int, op: str) -> None:
        self._counter(self._active(i), op)

    @precondition(lambda self: self._has_active())
    @rule(i=st.integers(0, 15), new=st.sampled_from(VALID), then=st.sampled_from(["restore", "cancel"]))
    def change_then_counter(self, i: int, new: str, then: str) -> None:
        card = self._active(i)
        self._change(card, old_right=True, new=new)  # e.g. a change the holder says went wrong (seed 004)
        self._counter(card, then)  # rule PIN-8: restored at the counter; rule PIN-7: or cancelled there

    def _counter(self, card: CardModel, op: str) -> None:
        id_number = self.persons[card.person][1]
        ops = {
            "reset": reset_card_pin,
            "unlock": unlock_card_pin,
            "cancel": cancel_card_pin,
            "restore": restore_card_pin,
        }

        def run(uow: Any) -> None:
            target = prepare_counter_target(
                uow, card_no=card.card_no, document_type="resident_id_card", document_number=id_number
            )
            ops[op](uow, target=target, actor=CLERK)

        _, error = _outcome(run)
        if not self._usable_or_refused(card, error):
            return
        locked = card.failures >= self.threshold
        refusals = {
            "unlock": (not locked, "PIN_NOT_LOCKED"),
            "cancel": (card.pin is None, "PIN_NOT_ENABLED"),
            "restore": (not card.restorable, "PIN_NOTHING_TO_RESTORE"),
        }
        refused, code = refusals.get(op, (False, ""))
        if refused:
            assert _code(error) == code, error
            return
        assert error is None, error
        if op in ("reset", "cancel"):  # rule PIN-6 back to the initial PIN; rule PIN-7 not enabled
            card.pin, card.prior, card.restorable = None, None, False
        elif op == "restore":  # rule PIN-8: the PIN before the failed modification
            card.pin, card.prior, card.restorable = card.prior, None, False
        card.failures = 0  # rule PIN-5 / PIN-6: every counter operation clears the count and the lock
        card.audit.append((f"pin.{op}", "ok"))

    # --- the database agrees with the model ----------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        if not self.cards:
            return
        ids = [c.card_id for c in self.cards]
        with unit_of_work() as uow:
            # Each card with its PIN row (the card's primary key is the PIN row's): one query, not two.
            rows = uow.session.execute(
                select(Card.id, Card.state, CardPin)
                .outerjoin(CardPin, CardPin.card_id == Card.id)
                .where(Card.id.in_(ids))
            ).all()
            states: dict[int, Any] = {row[0]: row[1] for row in rows}
            pins = {row[0]: row[2] for row in rows if row[2] is not None}
            streams = {stream_for(f"card:{c.card_no}", get_settings().audit_streams) for c in self.cards}
            entries = uow.session.execute(
                select(AuditEntry.action, AuditEntry.result, AuditEntry.details)
                .where(AuditEntry.stream.in_(streams))
                .order_by(AuditEntry.stream, AuditEntry.seq)
            ).all()
        audited: dict[int, list[tuple[str, str]]] = {}
        for action, result, details in entries:
            # A timestamp's microseconds are six digits too ("…T13:43:27.802461+00:00" once matched a PIN):
            # they are taken out before the search, the rest of the entry is searched whole.
            searched = _TIMESTAMP.sub("", details)
            for pin in (*VALID, WRONG):
                assert pin not in searched  # rule PIN-11: never a PIN in the audit log
            audited.setdefault(json.loads(details).get("card_id"), []).append((action, result))
        for card in self.cards:
            assert states[card.card_id].value == card.state  # rule CARD-1
            status = pin_status_of(pins.get(card.card_id), threshold=self.threshold)
            assert status.enabled is (card.pin is not None)  # rule PIN-2
            assert status.failures == card.failures and status.locked is (card.failures >= self.threshold)  # PIN-5
            assert status.restorable is card.restorable  # rule PIN-8
            assert audited.get(card.card_id, []) == card.audit  # rule CH-4: every transition and PIN decision
        for person in range(len(self.persons)):  # rule CARD-2: at most one live (so one active) card
            person_cards = [c for c in self.cards if c.person == person]
            assert sum(states[c.card_id].value in LIVE for c in person_cards) <= 1
            assert sum(states[c.card_id].value == "active" for c in person_cards) <= 1


# rules CARD-1 CARD-2 CARD-4 CARD-5 PIN-2 PIN-3 PIN-5 PIN-6 PIN-7 PIN-8 CH-4, on SQLite and PostgreSQL
def test_card_and_pin_life_agree_with_the_model(db_env, terminal) -> None:  # noqa: F811
    t = terminal("pharmacy", REGION)
    p = t.profile
    CardLife.terminal = AuthenticatedTerminal(
        p.terminal_id, p.institution, InstitutionType.PHARMACY, p.region_code, p.key_version, p.suite
    )
    CardLife.pin_block = staticmethod(lambda card_no, pin: bytes.fromhex(t.pin_block(card_no, pin)))  # type: ignore[assignment]
    with unit_of_work() as uow:  # the policy of the cards' region and type: the lockout threshold (PIN-5)
        CardLife.threshold = get_effective_policy(
            uow, region_code=REGION, card_type=CardType.SOCIAL
        ).pin_lockout_threshold
    run_state_machine_as_test(
        CardLife,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        ),
    )
