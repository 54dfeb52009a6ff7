"""Card PIN operations at a service outlet or the card's bank outlet (PIN-6, PIN-7, PIN-8, CH-2).

Each needs the holder's ID document and the card: the clerk records which document was checked
(type and masked number, ``evidence.py``), the change is audited with it (CH-4) and the holder is
told on the phone or email on file (CH-5). The card must be active: a card that is not activated
has nothing to reset (CARD-4), a blocked one is invalid for every use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sscard.audit import Actor
from sscard.cards.lifecycle import audit_card
from sscard.cards.models import Card
from sscard.cards.service import get_card_or_raise
from sscard.credentials.pin import crypto
from sscard.credentials.pin.errors import (
    PinAtActivationNotOffered,
    PinNotEnabled,
    PinNothingToRestore,
    PinNotLocked,
    PinResetModeNotAllowed,
    PinTooSimple,
)
from sscard.credentials.pin.evidence import CheckedEvidence, check_identity_evidence
from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.notices import PinEvent, notify_pin_event
from sscard.credentials.pin.service import TerminalRef, card_policy, usable_card_for_pin
from sscard.credentials.pin.status import PinStatus, pin_status_of
from sscard.credentials.pin.store import get_pin_row, lock_pin_row
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.people.models import Person
from sscard.people.service import get_person_or_raise
from sscard.policy.schemas import PinResetMode


@dataclass(frozen=True, slots=True)
class PinPadEntry:
    """A new PIN typed by the holder on the counter's PIN pad, enciphered under the pad's terminal key."""

    pad: TerminalRef
    pin_block: bytes


@dataclass(frozen=True, slots=True)
class CounterTarget:
    card: Card
    person: Person
    evidence: CheckedEvidence


def prepare_counter_target(uow: UnitOfWork, *, card_no: str, document_type: str, document_number: str) -> CounterTarget:
    """The active card, its holder and the identity evidence checked against the holder (CH-2)."""
    card = usable_card_for_pin(uow, card_no, purpose="reset, cancelled or restored")
    person = get_person_or_raise(uow, card.person_id)
    evidence = check_identity_evidence(person=person, document_type=document_type, document_number=document_number)
    return CounterTarget(card=card, person=person, evidence=evidence)


def get_card_pin_status(uow: UnitOfWork, *, card_no: str) -> PinStatus:
    """The PIN state of a card for the counter screen: enabled, failures, locked, restorable."""
    card = get_card_or_raise(uow, card_no)
    return pin_status_of(get_pin_row(uow, card.id), threshold=card_policy(uow, card).pin_lockout_threshold)


def _apply(
    uow: UnitOfWork,
    target: CounterTarget,
    *,
    actor: Actor,
    event: PinEvent,
    change: Callable[[CardPin, PinStatus], dict[str, object]],
) -> PinStatus:
    now = utcnow()
    threshold = card_policy(uow, target.card).pin_lockout_threshold
    row = lock_pin_row(uow, card_id=target.card.id, now=now)
    before = pin_status_of(row, threshold=threshold)
    details = change(row, before)
    row.failures, row.locked_at, row.updated_at = 0, None, now  # every counter operation clears the lock
    if event != "unlock":
        row.changed_at, row.changed_channel = now, actor.channel.value
    uow.flush()
    audit_card(
        uow,
        target.card,
        actor=actor,
        action=f"pin.{event}",
        details={
            "evidence": target.evidence.as_details(),
            "was_enabled": before.enabled,
            "was_locked": before.locked,
            **details,
        },
    )
    notify_pin_event(uow, person=target.person, card=target.card, event=event)
    return pin_status_of(row, threshold=threshold)


def reset_card_pin(
    uow: UnitOfWork, *, target: CounterTarget, actor: Actor, new_pin: PinPadEntry | None = None
) -> PinStatus:
    """PIN-6: back to the initial PIN, or to a new PIN typed on the PIN pad, as the region's policy allows."""
    policy = card_policy(uow, target.card)
    mode = policy.pin_reset_mode
    if new_pin is None and mode is PinResetMode.NEW_PIN:
        raise PinResetModeNotAllowed("this region's policy resets to a new PIN typed by the holder on the PIN pad")
    if new_pin is not None and mode is PinResetMode.INITIAL:
        raise PinResetModeNotAllowed("this region's policy resets to the initial PIN; no new PIN is taken")

    def change(row: CardPin, _before: PinStatus) -> dict[str, object]:
        row.restorable, row.prior_pvv, row.prior_pvk_version = False, None, None
        if new_pin is None:
            row.pvv, row.pvk_version = None, None
            return {"to": "initial"}
        # A reset replaces a forgotten PIN, so only the simplicity rules apply, not "equals current".
        reason = crypto.screen_new_pin_block(
            new_pin.pad,
            card_no=target.card.card_no,
            pin_block=new_pin.pin_block,
            person=target.person,
            rule=policy.initial_pin_rule,
            current_pvv=None,
            current_pvk_version=None,
        )
        if reason is not None:
            raise PinTooSimple(reason.message, reason=reason.code)
        row.pvv, row.pvk_version = crypto.pin_verification_value(
            new_pin.pad, card_no=target.card.card_no, pin_block=new_pin.pin_block
        )
        return {"to": "new_pin", "pin_pad": new_pin.pad.terminal_id}

    return _apply(uow, target, actor=actor, event="reset", change=change)


def unlock_card_pin(uow: UnitOfWork, *, target: CounterTarget, actor: Actor) -> PinStatus:
    """PIN-5/PIN-6: lift a lock and clear the count; the PIN itself stays as it was."""

    def change(_row: CardPin, before: PinStatus) -> dict[str, object]:
        if not before.locked:
            raise PinNotLocked("the card's PIN is not locked")
        return {"failures": before.failures}

    return _apply(uow, target, actor=actor, event="unlock", change=change)


def cancel_card_pin(uow: UnitOfWork, *, target: CounterTarget, actor: Actor) -> PinStatus:
    """PIN-7: an enabled PIN returns to "not enabled": transactions need no PIN again."""

    def change(row: CardPin, before: PinStatus) -> dict[str, object]:
        if not before.enabled:
            raise PinNotEnabled("the card's PIN is not enabled, so there is nothing to cancel")
        row.pvv, row.pvk_version = None, None
        row.restorable, row.prior_pvv, row.prior_pvk_version = False, None, None
        return {"to": "not_enabled"}

    return _apply(uow, target, actor=actor, event="cancel", change=change)


def restore_card_pin(uow: UnitOfWork, *, target: CounterTarget, actor: Actor) -> PinStatus:
    """PIN-8: undo the holder's last change (e.g. an interrupted terminal operation): the original PIN again."""

    def change(row: CardPin, _before: PinStatus) -> dict[str, object]:
        if not row.restorable:
            raise PinNothingToRestore("no PIN change since the last counter operation: nothing to restore")
        row.pvv, row.pvk_version = row.prior_pvv, row.prior_pvk_version
        row.restorable, row.prior_pvv, row.prior_pvk_version = False, None, None
        return {"to": "enabled" if row.pvv is not None else "initial"}

    return _apply(uow, target, actor=actor, event="restore", change=change)


def activate_with_pin(
    uow: UnitOfWork,
    *,
    card_no: str,
    document_type: str,
    document_number: str,
    new_pin: PinPadEntry,
    actor: Actor,
) -> tuple[Card, PinStatus]:
    """PIN-4: activate an issued card and set the holder's own PIN from the counter's PIN pad in one step.

    At the counter after the identity check (so no current PIN is asked, PIN-4), offered only where the
    region's policy says so (``pin_at_activation``). The new PIN meets every PIN-3 rule (it is not the
    initial PIN); a refused PIN refuses the whole step, so the card is never left half done: the channel's
    unit of work rolls the activation back with it. The card ends active with an enabled PIN.
    """
    from sscard.cards.service import activate_card

    card = get_card_or_raise(uow, card_no)
    policy = card_policy(uow, card)
    if not policy.pin_at_activation:
        raise PinAtActivationNotOffered("activate the card, then the holder changes the initial PIN (PIN-4)")
    person = get_person_or_raise(uow, card.person_id)
    evidence = check_identity_evidence(person=person, document_type=document_type, document_number=document_number)
    card = activate_card(uow, card_no=card_no, actor=actor)
    target = CounterTarget(card=card, person=person, evidence=evidence)

    def change(row: CardPin, before: PinStatus) -> dict[str, object]:
        reason = crypto.screen_new_pin_block(
            new_pin.pad,
            card_no=card.card_no,
            pin_block=new_pin.pin_block,
            person=person,
            rule=policy.initial_pin_rule,
            current_pvv=row.pvv,
            current_pvk_version=row.pvk_version,
        )
        if reason is not None:
            raise PinTooSimple(reason.message, reason=reason.code)
        row.pvv, row.pvk_version = crypto.pin_verification_value(
            new_pin.pad, card_no=card.card_no, pin_block=new_pin.pin_block
        )
        row.restorable, row.prior_pvv, row.prior_pvk_version = False, None, None
        return {"at": "activation", "to": "new_pin", "pin_pad": new_pin.pad.terminal_id}

    return card, _apply(uow, target, actor=actor, event="change", change=change)
