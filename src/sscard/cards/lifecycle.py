"""Card reads and the audited state change every card operation goes through (CARD-1, CH-4).

Reads apply a lapsed provisional loss report on the way (CARD-5), so a report nobody confirmed never
keeps blocking a card just because the expiry batch has not run yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from sscard.audit import Actor, AuditEvent
from sscard.audit.service import append_event
from sscard.cards.errors import CardNotFound
from sscard.cards.models import Card, LossReport, LossReportState
from sscard.cards.numbers import is_card_no, mask_card_no, normalise_card_no
from sscard.cards.states import CardEvent, CardState, next_state
from sscard.cards.types import CardType
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork


class CardFacts(Protocol):
    """What an audit entry names of a card: a ``Card`` or a row read without the ORM."""

    @property
    def id(self) -> int: ...
    @property
    def card_no(self) -> str: ...
    @property
    def person_id(self) -> int: ...
    @property
    def card_type(self) -> CardType: ...


def card_subject(card_no: str) -> str:
    """The masked audit subject of a card, e.g. ``card:A1234****`` (CH-4)."""
    return f"card:{mask_card_no(card_no)}"


def audit_card(
    uow: UnitOfWork,
    card: Card,
    *,
    actor: Actor,
    action: str,
    details: dict[str, Any] | None = None,
    result: str = "ok",
) -> None:
    """One audit entry about ``card``; the internal ids make the masked subject unambiguous."""
    append_event(uow, card_event(card, actor=actor, action=action, details=details, result=result))


def card_stream_key(card_no: str) -> str:
    """The audit stream key of a card's entries: one card's history stays in one chain stream."""
    return f"card:{card_no}"


def card_event(
    card: CardFacts, *, actor: Actor, action: str, details: dict[str, Any] | None = None, result: str = "ok"
) -> AuditEvent:
    """The audit event about ``card`` (for ``audit_card``, or for a batch append)."""
    return AuditEvent(
        actor=actor,
        action=action,
        subject=card_subject(card.card_no),
        subject_key=card_stream_key(card.card_no),
        result=result,
        details={"card_id": card.id, "person_id": card.person_id, "type": card.card_type.value, **(details or {})},
    )


def transition(
    uow: UnitOfWork,
    card: Card,
    event: CardEvent,
    *,
    actor: Actor,
    now: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Card:
    """Move ``card`` by ``event`` (``CARD_ILLEGAL_TRANSITION`` if not allowed) and audit it."""
    now = now or utcnow()
    src = card.state
    dst = next_state(src, event)
    card.state = dst
    if event is CardEvent.ISSUE:
        card.issued_at = now
    elif event is CardEvent.ACTIVATE:
        card.activated_at = now
    elif dst in (CardState.REPLACED, CardState.CANCELLED):
        card.closed_at = now
    uow.flush()
    audit_card(
        uow,
        card,
        actor=actor,
        action=f"card.{event.value}",
        details={"from": src.value, "to": dst.value, **(details or {})},
    )
    return card


def find_card(uow: UnitOfWork, card_no: str, *, for_update: bool = False) -> Card | None:
    """The card with this number (no expiry applied); ``for_update`` row-locks it until commit."""
    number = normalise_card_no(card_no)
    if not is_card_no(number):
        return None
    stmt = select(Card).where(Card.card_no == number)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return uow.session.scalar(stmt)


def lock_card_or_raise(uow: UnitOfWork, card_no: str, *, now: datetime | None = None) -> Card:
    """The card row-locked for a state change, with a lapsed loss report already applied."""
    card = find_card(uow, card_no, for_update=True)
    if card is None:
        raise CardNotFound(_not_found_detail(card_no))
    expire_if_lapsed(uow, card, now=now or utcnow())
    return card


def get_card(uow: UnitOfWork, card_no: str) -> Card | None:
    """The card with this number, or None; a lapsed provisional loss report is expired on the way."""
    card = find_card(uow, card_no)
    if card is not None and card.state is CardState.LOSS_REPORTED:
        now = utcnow()
        report = open_loss_report(uow, card.id)
        if report is not None and report.expires_at is not None and report.expires_at <= now:
            card = find_card(uow, card_no, for_update=True)  # re-read under the lock, then decide
            if card is not None:
                expire_if_lapsed(uow, card, now=now)
    return card


def get_card_or_raise(uow: UnitOfWork, card_no: str) -> Card:
    """The card with this number; ``CARD_NOT_FOUND`` otherwise (lapsed loss reports applied)."""
    card = get_card(uow, card_no)
    if card is None:
        raise CardNotFound(_not_found_detail(card_no))
    return card


def _not_found_detail(card_no: str) -> str:
    number = normalise_card_no(card_no)
    if not is_card_no(number):
        return "a card number is a letter and 8 digits"
    return f"no card {mask_card_no(number)}"


def open_loss_report(uow: UnitOfWork, card_id: int) -> LossReport | None:
    """The card's provisional loss report, if one is open."""
    return uow.session.scalar(
        select(LossReport)
        .where(LossReport.card_id == card_id, LossReport.state == LossReportState.PROVISIONAL)
        .execution_options(populate_existing=True)
    )


def expire_if_lapsed(uow: UnitOfWork, card: Card, *, now: datetime) -> bool:
    """CARD-5: if the card's provisional report has lapsed, expire it and unblock the card."""
    if card.state is not CardState.LOSS_REPORTED:
        return False
    report = open_loss_report(uow, card.id)
    if report is None or report.expires_at is None or report.expires_at > now:
        return False
    expire_report(uow, report, card, now=now)
    return True


def expire_report(uow: UnitOfWork, report: LossReport, card: Card, *, now: datetime) -> None:
    """Close a lapsed provisional report and return its card to active (system actor)."""
    report.state = LossReportState.EXPIRED
    report.closed_at = now
    transition(
        uow,
        card,
        CardEvent.EXPIRE_LOSS,
        actor=Actor.system(),
        now=now,
        details={"report_id": report.id, "expires_at": report.expires_at.isoformat() if report.expires_at else None},
    )


def close_open_report(uow: UnitOfWork, card: Card, *, now: datetime) -> int | None:
    """Close the card's provisional report because the card itself is being closed."""
    report = open_loss_report(uow, card.id)
    if report is None:
        return None
    report.state = LossReportState.CLOSED
    report.closed_at = now
    return report.id
