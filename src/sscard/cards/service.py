"""Card services: apply, issue, activate, replace, cancel, and the loss reports (CARD-1..CARD-6).

Every state change goes through ``lifecycle.transition`` (state machine + audit, CH-4). CARD-2 is
held three ways: the person row is locked while a card is created, the live card is checked, and a
partial unique index in the database refuses a second live card of a type whatever the code does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor
from sscard.cards.errors import CardBlocked, CardInputInvalid, CardLiveExists, CardNotActive
from sscard.cards.lifecycle import (
    audit_card,
    close_open_report,
    get_card,
    get_card_or_raise,
    lock_card_or_raise,
    transition,
)
from sscard.cards.loss import confirm_loss, expire_loss_reports, report_loss_by_hotline, withdraw_loss
from sscard.cards.models import Card, CloseReason
from sscard.cards.numbers import allocate_card_no, mask_card_no
from sscard.cards.personalisation import record_personalisation
from sscard.cards.states import BLOCKED_STATES, LIVE_STATES, NOT_YET_ACTIVE_STATES, CardEvent, CardState, next_state
from sscard.cards.types import DEFAULT_SOCIAL_GENERATION, CardMedium, CardSpec, CardType, card_spec
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.people.errors import PersonDeceased
from sscard.people.models import Person, PersonStatus
from sscard.people.service import lock_person_or_raise
from sscard.people.validation import normalise_evidence

__all__ = [
    "activate_card",
    "apply_for_card",
    "cancel_card",
    "cancel_cards_of_deceased",
    "confirm_loss",
    "ensure_card_usable",
    "expire_loss_reports",
    "get_card",
    "get_card_or_raise",
    "get_usable_card_or_raise",
    "issue_card",
    "list_cards_of_person",
    "live_card",
    "replace_card",
    "report_loss_by_hotline",
    "withdraw_loss",
]


def live_card(uow: UnitOfWork, *, person_id: int, card_type: CardType | str) -> Card | None:
    """The person's live card of this type (CARD-2 allows at most one), or None."""
    return uow.session.scalar(
        select(Card).where(
            Card.person_id == person_id, Card.card_type == CardType(card_type), Card.state.in_(LIVE_STATES)
        )
    )


def list_cards_of_person(
    uow: UnitOfWork, *, person_id: int, live_only: bool = False, page: Keyset | None = None
) -> list[Card]:
    """The person's cards, newest first."""
    stmt = select(Card).where(Card.person_id == person_id)
    if live_only:
        stmt = stmt.where(Card.state.in_(LIVE_STATES))
    return taken(uow.session.scalars(ordered(stmt, page, Card.id.desc())), page)


def apply_for_card(
    uow: UnitOfWork,
    *,
    person_id: int,
    card_type: CardType | str = CardType.SOCIAL,
    actor: Actor,
    generation: int | None = None,
    financial: bool = False,
    bank_code: str | None = None,
    medium: CardMedium | str | None = None,
) -> Card:
    """Record an application: a new card in ``applied`` with a fresh card number (CARD-1, CARD-3)."""
    spec = card_spec(card_type, generation=generation, financial=financial, bank_code=bank_code, medium=medium)
    person = _person_for_new_card(uow, person_id)
    existing = live_card(uow, person_id=person.id, card_type=spec.card_type)
    if existing is not None:
        raise _live_exists(existing)
    return _create_card(uow, person=person, spec=spec, actor=actor)


def issue_card(
    uow: UnitOfWork,
    *,
    person_id: int,
    card_type: str = "social",
    actor: Actor,
    generation: int | None = None,
    financial: bool = False,
    bank_code: str | None = None,
    medium: CardMedium | str | None = None,
) -> Card:
    """Issue (personalise) a card: the pending application if there is one, else a new card (CARD-1, CARD-2)."""
    spec = card_spec(card_type, generation=generation, financial=financial, bank_code=bank_code, medium=medium)
    person = _person_for_new_card(uow, person_id)
    existing = live_card(uow, person_id=person.id, card_type=spec.card_type)
    if existing is not None and existing.state is not CardState.APPLIED:
        raise _live_exists(existing)
    card = existing or _create_card(uow, person=person, spec=spec, actor=actor)
    card = transition(uow, card, CardEvent.ISSUE, actor=actor)
    record_personalisation(uow, card=card, person=person, actor=actor)  # CARD-7: what the card carries
    return card


def activate_card(uow: UnitOfWork, *, card_no: str, actor: Actor) -> Card:
    """Activate an issued card at a service window or bank outlet (CARD-1, CARD-4)."""
    card = lock_card_or_raise(uow, card_no)
    return transition(uow, card, CardEvent.ACTIVATE, actor=actor)


def replace_card(uow: UnitOfWork, *, card_no: str, actor: Actor, evidence: str | None = None) -> Card:
    """Replace a lost or damaged card: a new card number; the old one is invalid for every use (CARD-2).

    The new card is a current-generation card with the same type and financial function. Accounts
    belong to the person and carry over; credentials (PIN) do not: the new card starts from the
    initial PIN state (CARD-5).
    """
    note = normalise_evidence(evidence) if evidence is not None else None
    now = utcnow()
    old = lock_card_or_raise(uow, card_no, now=now)
    next_state(old.state, CardEvent.REPLACE)  # refuse before anything is written
    person = _person_for_new_card(uow, old.person_id)
    spec = card_spec(
        old.card_type,
        generation=DEFAULT_SOCIAL_GENERATION if old.card_type is CardType.SOCIAL else None,
        financial=old.financial,
        bank_code=old.bank_code,
    )
    old.close_reason = CloseReason.REPLACED
    # Close the old card first: the partial unique index (CARD-2) must see it final before the new row.
    transition(uow, old, CardEvent.REPLACE, actor=actor, now=now, details={"evidence": note} if note else None)
    new = _create_card(uow, person=person, spec=spec, actor=actor, replaces=old)
    transition(uow, new, CardEvent.ISSUE, actor=actor, now=now, details={"replaces": mask_card_no(old.card_no)})
    # CARD-7: the replacement is personalised from the person record as it is now (corrections included).
    record_personalisation(uow, card=new, person=person, actor=actor)
    audit_card(uow, old, actor=actor, action="card.replaced_by", details={"new_card_id": new.id})
    return new


def cancel_card(
    uow: UnitOfWork, *, card_no: str, actor: Actor, reason: CloseReason | str = CloseReason.HOLDER_REQUEST
) -> Card:
    """Cancel a live card for good (CARD-1); an open provisional loss report is closed with it."""
    try:
        why = CloseReason(reason)
    except ValueError:
        why = None
    if why is None or why is CloseReason.REPLACED:
        allowed = ", ".join(r.value for r in CloseReason if r is not CloseReason.REPLACED)
        raise CardInputInvalid(f"a cancellation reason is one of: {allowed}")
    now = utcnow()
    card = lock_card_or_raise(uow, card_no, now=now)
    return _cancel(uow, card, actor=actor, reason=why, now=now)


def cancel_cards_of_deceased(uow: UnitOfWork, *, person_id: int, actor: Actor) -> int:
    """CARD-1: a deceased holder's live cards are all cancelled; returns how many."""
    now = utcnow()
    cards = uow.session.scalars(
        select(Card)
        .where(Card.person_id == person_id, Card.state.in_(LIVE_STATES))
        .order_by(Card.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for card in cards:
        _cancel(uow, card, actor=actor, reason=CloseReason.HOLDER_DECEASED, now=now)
    return len(cards)


def _cancel(uow: UnitOfWork, card: Card, *, actor: Actor, reason: CloseReason, now: datetime) -> Card:
    next_state(card.state, CardEvent.CANCEL)
    report_id = close_open_report(uow, card, now=now)
    card.close_reason = reason
    details = {"reason": reason.value, "closed_loss_report": report_id}
    return transition(uow, card, CardEvent.CANCEL, actor=actor, now=now, details=details)


def ensure_card_usable(card: Card) -> Card:
    """Refuse any use of a card that is not active: ``CARD_NOT_ACTIVE`` (CARD-4) or ``CARD_BLOCKED``."""
    if card.state in NOT_YET_ACTIVE_STATES:
        raise CardNotActive("the card is not activated; the holder activates it at a service window or bank outlet")
    if card.state in BLOCKED_STATES:
        raise CardBlocked(f"the card is {card.state.value.replace('_', ' ')}")
    return card


def get_usable_card_or_raise(uow: UnitOfWork, card_no: str) -> Card:
    """The card if it may be used right now (terminals, PIN, settlement); otherwise the reason's code."""
    return ensure_card_usable(get_card_or_raise(uow, card_no))


def _person_for_new_card(uow: UnitOfWork, person_id: int) -> Person:
    person = lock_person_or_raise(uow, person_id)
    if person.status is PersonStatus.DECEASED:
        raise PersonDeceased("no card is issued to a person registered as deceased")
    return person


def _live_exists(card: Card) -> CardLiveExists:
    return CardLiveExists(
        f"the person already holds a live {card.card_type.value} card {mask_card_no(card.card_no)} "
        f"({card.state.value}); replace or cancel it first",
        card_state=card.state.value,
    )


def _create_card(
    uow: UnitOfWork, *, person: Person, spec: CardSpec, actor: Actor, replaces: Card | None = None
) -> Card:
    card = Card(
        person_id=person.id,
        card_type=spec.card_type,
        generation=spec.generation,
        financial=spec.financial,
        bank_code=spec.bank_code,
        medium=spec.medium,
        magstripe=spec.magstripe,
        state=CardState.APPLIED,
        region_code=person.region_code,
        replaces_card_id=replaces.id if replaces is not None else None,
        applied_at=utcnow(),
    )
    try:
        # Number and row in one savepoint: a refused insert leaves no serial and no card behind.
        with uow.session.begin_nested():
            card.card_no = allocate_card_no(uow)
            uow.session.add(card)
    except IntegrityError:
        # Only the CARD-2 index can refuse here: a concurrent transaction committed a live card first.
        raise CardLiveExists(f"the person already holds a live {spec.card_type.value} card") from None
    details = {
        "generation": spec.generation,
        "financial": spec.financial,
        "medium": spec.medium.value,
        "magstripe": spec.magstripe,
        "region": person.region_code,
    }
    if replaces is not None:
        details["replaces"] = mask_card_no(replaces.card_no)
    audit_card(uow, card, actor=actor, action="card.apply", details=details)
    return card
