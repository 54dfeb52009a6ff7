"""Card PIN at terminals: verify a PIN and change it (PIN-1..PIN-5, PIN-9, PIN-11, CARD-4).

The rules themselves are in ``rules/`` (``rules/__init__.py`` is the map): this module reads the
card and its PIN row under the row's lock, asks the rule, and carries out what it decided.

The terminal sends ISO 9564 format-4 PIN blocks enciphered under its own key; every PIN operation
happens inside the security module (``pin/crypto.py``), so no clear PIN exists in this process.

Failures count per card across all channels through single atomic statements (``store.py``). A
wrong or refused PIN still has to be remembered, so the routes commit before answering with the
error: callers must commit the unit of work when ``PinWrong``/``PinLocked``/``PinRequired``/
``PinTooSimple`` is raised (see ``api/terminal_pin.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, select

from sscard.audit import Actor
from sscard.cards.errors import CardNotActive
from sscard.cards.lifecycle import audit_card
from sscard.cards.models import Card
from sscard.cards.numbers import normalise_card_no
from sscard.cards.service import ensure_card_usable, get_card_or_raise
from sscard.cards.states import NOT_YET_ACTIVE_STATES, CardState
from sscard.credentials.pin import crypto
from sscard.credentials.pin.campaign import CampaignPrompt, campaign_prompt_for, local_date
from sscard.credentials.pin.errors import PinLocked, PinRequired, PinTooSimple, PinWrong
from sscard.credentials.pin.notices import notify_pin_event
from sscard.credentials.pin.rules.decision import Accept, Check, Refuse, decide_verify, verify_details
from sscard.credentials.pin.status import PinStatus, pin_status_of
from sscard.credentials.pin.store import lock_pin_row, record_failure
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.people.models import Person
from sscard.people.service import get_person_or_raise
from sscard.policy.schemas import EffectivePolicy
from sscard.policy.service import get_effective_policy


class TerminalRef(Protocol):
    """The authenticated terminal a PIN block comes from (its key enciphered the block)."""

    @property
    def terminal_id(self) -> str: ...
    @property
    def region_code(self) -> str: ...
    @property
    def key_version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PinCheck:
    """A verification that passed: the transaction may continue (after the prompt, if any)."""

    pin_enabled: bool
    tries_left: int
    campaign_prompt: CampaignPrompt | None = None


def card_policy(uow: UnitOfWork, card: Card) -> EffectivePolicy:
    """The policy of the card's issuing region and type: initial PIN rule, lockout, reset (POL)."""
    return get_effective_policy(uow, region_code=card.region_code, card_type=card.card_type)


def _ensure_pin_usable(card: Card, *, purpose: str) -> Card:
    if card.state in NOT_YET_ACTIVE_STATES:
        # CARD-4 / seed 004 item 5: a card that is not activated cannot be used nor its PIN changed.
        raise CardNotActive(
            f"the card is not activated, so its PIN cannot be {purpose}; the holder activates it at a "
            "social security card service window or the card's bank outlet"
        )
    return ensure_card_usable(card)


def usable_card_for_pin(uow: UnitOfWork, card_no: str, *, purpose: str) -> Card:
    """The card if its PIN may be used or changed now; ``CARD_NOT_ACTIVE`` (CARD-4) / ``CARD_BLOCKED``."""
    return _ensure_pin_usable(get_card_or_raise(uow, card_no), purpose=purpose)


# Built once (the statement and its cache key): this is the first query of every card transaction.
_CARD = select(Card).where(Card.card_no == bindparam("card_no")).execution_options(populate_existing=True)


def _usable_card(uow: UnitOfWork, card_no: str) -> Card:
    """The card, if it may be used now (CARD-4, CARD-5)."""
    card = uow.session.scalar(_CARD, {"card_no": normalise_card_no(card_no)})
    if card is None or card.state is CardState.LOSS_REPORTED:
        # Unknown number, or a loss report that may have lapsed: the cards domain decides (CARD-5).
        return usable_card_for_pin(uow, card_no, purpose="used")
    return _ensure_pin_usable(card, purpose="used")


def _refuse(uow: UnitOfWork, card: Card, actor: Actor, action: str, result: str, **details: object) -> None:
    audit_card(uow, card, actor=actor, action=action, result=result, details=dict(details))


def _count_failure(
    uow: UnitOfWork, *, card: Card, person: Person | None, status: PinStatus, actor: Actor, action: str, now: datetime
) -> PinWrong | PinLocked:
    """Count one wrong PIN (PIN-5) and audit it; the error to answer with (the caller commits first)."""
    failure = record_failure(uow, card_id=card.id, threshold=status.threshold, now=now)
    if failure is None:  # another channel locked it meanwhile: nothing counted
        _refuse(uow, card, actor, action, "locked")
        return PinLocked(pin_enabled=status.enabled)
    tries_left = max(0, status.threshold - failure.failures)
    _refuse(uow, card, actor, action, "wrong_pin", failures=failure.failures, tries_left=tries_left)
    if failure.locked:
        audit_card(uow, card, actor=actor, action="pin.lock", details={"failures": failure.failures})
        notify_pin_event(uow, person=person or get_person_or_raise(uow, card.person_id), card=card, event="lock")
    return PinWrong(tries_left=tries_left, pin_enabled=status.enabled, locked=failure.locked)


def verify_card_pin(
    uow: UnitOfWork, *, card_no: str, pin_block: bytes | None, terminal: TerminalRef, actor: Actor
) -> PinCheck:
    """Check a card transaction's PIN (PIN-2, PIN-5): not enabled needs none, enabled needs the right one.

    The single path: it decides every request the batched path hands on, with the same rule
    (``rules.decision.decide_verify``), and does what the decision asks (count, lock, reset, prompt,
    audit)."""
    now = utcnow()
    card = _usable_card(uow, card_no)
    policy = card_policy(uow, card)
    # The locking rule of a card's PIN state (PIN-2, PIN-5): its ``card_pin`` row is locked before the
    # state is read, and the decision uses only what was read under the lock; the lock is held until
    # commit. Every PIN decision takes it the same way (change, counter work, and the batch, which
    # locks its cards' rows in card order in the statement that reads them), always before the
    # card's audit stream head. So each decision on a card sees the one before it committed and the
    # next one waits for it: the decisions are those of the serial order in which they locked.
    row = lock_pin_row(uow, card_id=card.id, now=now)
    status = pin_status_of(row, threshold=policy.pin_lockout_threshold)
    holder: list[Person] = []  # read when the initial PIN is checked, and reused for a prompt or a lock

    def pin_is_right(check: Check) -> bool:
        if pin_block is None:
            return False
        if check is Check.VERIFICATION_VALUE and row.pvv is not None and row.pvk_version is not None:
            return crypto.verify_pin_block(
                terminal, card_no=card.card_no, pin_block=pin_block, pvv=row.pvv, pvk_version=row.pvk_version
            )
        # Not enabled but a PIN was entered: it must be the initial PIN the policy derives (PIN-1).
        holder.append(get_person_or_raise(uow, card.person_id))
        return crypto.verify_initial_pin_block(
            terminal, card_no=card.card_no, pin_block=pin_block, person=holder[0], rule=policy.initial_pin_rule
        )

    decision = decide_verify(card_state=card.state, row=row, threshold=status.threshold,
                             pin_entered=pin_block is not None, pin_is_right=pin_is_right)  # fmt: skip
    person = holder[0] if holder else None
    if isinstance(decision, Refuse):
        if decision.code == "PIN_WRONG":
            raise _count_failure(
                uow, card=card, person=person, status=status, actor=actor, action="pin.verify", now=now
            )
        if decision.code in ("CARD_NOT_ACTIVE", "CARD_BLOCKED"):
            _ensure_pin_usable(card, purpose="used")  # raises the card's own error (CARD-4, CARD-5)
        _refuse(uow, card, actor, "pin.verify", decision.audit_result)
        if decision.code == "PIN_REQUIRED":
            message = "the card's PIN is enabled: enter the PIN"
            raise PinRequired(message, pin_enabled=True, tries_left=decision.tries_left)
        raise PinLocked(pin_enabled=status.enabled)
    if not isinstance(decision, Accept):  # only the batched path is handed on
        raise RuntimeError(f"the single path must decide every request, not {decision!r}")
    if decision.reset_failures:  # a right PIN resets the count (PIN-5); the row is locked, so this is safe
        row.failures, row.updated_at = 0, now
        uow.flush()
    prompt = None
    if decision.campaign:
        person = person or get_person_or_raise(uow, card.person_id)
        terminal_policy = (
            policy
            if terminal.region_code == card.region_code
            else get_effective_policy(uow, region_code=terminal.region_code, card_type=card.card_type)
        )
        prompt = campaign_prompt_for(
            uow, terminal_policy=terminal_policy, card=card, person=person, pin_enabled=False, on=local_date(now)
        )
    details = verify_details(pin_entered=pin_block is not None, pin_enabled=decision.pin_enabled,
                             campaign=prompt.campaign if prompt is not None else None)  # fmt: skip
    audit_card(uow, card, actor=actor, action="pin.verify", details=details)
    return PinCheck(pin_enabled=decision.pin_enabled, tries_left=decision.tries_left, campaign_prompt=prompt)


def change_card_pin(
    uow: UnitOfWork, *, card_no: str, old_pin_block: bytes, new_pin_block: bytes, terminal: TerminalRef, actor: Actor
) -> PinStatus:
    """Change the PIN with the current one, or the initial one while not enabled (PIN-2..PIN-4)."""
    now = utcnow()
    card = usable_card_for_pin(uow, card_no, purpose="changed")
    policy = card_policy(uow, card)
    person = get_person_or_raise(uow, card.person_id)
    # The card's PIN state is read under its row lock (the rule in ``verify_card_pin``).
    row = lock_pin_row(uow, card_id=card.id, now=now)
    status = pin_status_of(row, threshold=policy.pin_lockout_threshold)
    if status.locked:
        _refuse(uow, card, actor, "pin.change", "locked")
        raise PinLocked(pin_enabled=status.enabled)
    # The old PIN is checked (and a wrong one counted) BEFORE the new one is screened: otherwise
    # "equals the current PIN" would let anyone test guesses without ever being counted.
    if row.pvv is not None and row.pvk_version is not None:
        right = crypto.verify_pin_block(
            terminal, card_no=card.card_no, pin_block=old_pin_block, pvv=row.pvv, pvk_version=row.pvk_version
        )
    else:
        right = crypto.verify_initial_pin_block(
            terminal, card_no=card.card_no, pin_block=old_pin_block, person=person, rule=policy.initial_pin_rule
        )
    if not right:
        raise _count_failure(uow, card=card, person=person, status=status, actor=actor, action="pin.change", now=now)
    row.failures = 0  # the right PIN resets the count (PIN-5); the row is locked, so this is safe
    reason = crypto.screen_new_pin_block(
        terminal,
        card_no=card.card_no,
        pin_block=new_pin_block,
        person=person,
        rule=policy.initial_pin_rule,
        current_pvv=row.pvv,
        current_pvk_version=row.pvk_version,
    )
    if reason is not None:
        _refuse(uow, card, actor, "pin.change", "too_simple", reason=reason.code)
        raise PinTooSimple(reason.message, reason=reason.code)
    pvv, version = crypto.pin_verification_value(terminal, card_no=card.card_no, pin_block=new_pin_block)
    row.prior_pvv, row.prior_pvk_version, row.restorable = row.pvv, row.pvk_version, True
    row.pvv, row.pvk_version = pvv, version
    row.locked_at, row.changed_at, row.changed_channel, row.updated_at = None, now, actor.channel.value, now
    uow.flush()
    audit_card(uow, card, actor=actor, action="pin.change", details={"was_enabled": status.enabled})
    notify_pin_event(uow, person=person, card=card, event="change")
    return pin_status_of(row, threshold=status.threshold)
