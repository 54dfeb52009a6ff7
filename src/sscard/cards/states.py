"""The card state machine (CARD-1), pure: no database, no clock.

    applied --issue--> issued --activate--> active --report_loss--> loss_reported --confirm_loss--> lost
    loss_reported --expire_loss | withdraw_loss--> active      active --confirm_loss--> lost
    active | lost --replace--> replaced                        any live state --cancel--> cancelled

``replaced`` and ``cancelled`` are final. A provisional (hotline) loss report that lapses returns the
card to ``active`` (CARD-5); withdrawing one (the holder found the card) does the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from sscard.cards.errors import CardIllegalTransition


class CardState(StrEnum):
    APPLIED = "applied"
    ISSUED = "issued"
    ACTIVE = "active"
    LOSS_REPORTED = "loss_reported"
    LOST = "lost"
    REPLACED = "replaced"
    CANCELLED = "cancelled"


class CardEvent(StrEnum):
    ISSUE = "issue"
    ACTIVATE = "activate"
    REPORT_LOSS = "report_loss"
    EXPIRE_LOSS = "expire_loss"
    WITHDRAW_LOSS = "withdraw_loss"
    CONFIRM_LOSS = "confirm_loss"
    REPLACE = "replace"
    CANCEL = "cancel"


S, E = CardState, CardEvent

# Each event has exactly one target state; the table says from which states it is allowed.
EVENT_TARGET: Mapping[CardEvent, CardState] = MappingProxyType(
    {
        E.ISSUE: S.ISSUED,
        E.ACTIVATE: S.ACTIVE,
        E.REPORT_LOSS: S.LOSS_REPORTED,
        E.EXPIRE_LOSS: S.ACTIVE,
        E.WITHDRAW_LOSS: S.ACTIVE,
        E.CONFIRM_LOSS: S.LOST,
        E.REPLACE: S.REPLACED,
        E.CANCEL: S.CANCELLED,
    }
)

ALLOWED_FROM: Mapping[CardEvent, frozenset[CardState]] = MappingProxyType(
    {
        E.ISSUE: frozenset({S.APPLIED}),
        E.ACTIVATE: frozenset({S.ISSUED}),
        # A card that was never activated cannot be used (CARD-4), so there is nothing to block.
        E.REPORT_LOSS: frozenset({S.ACTIVE}),
        E.EXPIRE_LOSS: frozenset({S.LOSS_REPORTED}),
        E.WITHDRAW_LOSS: frozenset({S.LOSS_REPORTED}),
        # Formal loss at a counter with the ID document, after a hotline report or directly.
        E.CONFIRM_LOSS: frozenset({S.LOSS_REPORTED, S.ACTIVE}),
        # Replacement after formal loss (补卡) or exchange of a damaged active card (换卡). A provisional
        # report must be confirmed at the counter first, so a hotline caller cannot trigger a new card.
        E.REPLACE: frozenset({S.LOST, S.ACTIVE}),
        E.CANCEL: frozenset({S.APPLIED, S.ISSUED, S.ACTIVE, S.LOSS_REPORTED, S.LOST}),
    }
)

TRANSITIONS: Mapping[tuple[CardState, CardEvent], CardState] = MappingProxyType(
    {(src, event): EVENT_TARGET[event] for event, sources in ALLOWED_FROM.items() for src in sources}
)

# CARD-2: a live card counts against "one card per person per type"; final states do not.
FINAL_STATES = frozenset({S.REPLACED, S.CANCELLED})
LIVE_STATES = frozenset(set(CardState) - FINAL_STATES)
# Invalid for every use (CARD-2, CARD-5); applied/issued cards are "not active" instead (CARD-4).
BLOCKED_STATES = frozenset({S.LOSS_REPORTED, S.LOST, S.REPLACED, S.CANCELLED})
NOT_YET_ACTIVE_STATES = frozenset({S.APPLIED, S.ISSUED})


def next_state(current: CardState | str, event: CardEvent | str) -> CardState:
    """The state after ``event``; ``CardIllegalTransition`` naming from/to when not allowed."""
    src, ev = CardState(current), CardEvent(event)
    target = TRANSITIONS.get((src, ev))
    if target is None:
        raise CardIllegalTransition(src.value, EVENT_TARGET[ev].value, ev.value)
    return target


def can_transition(src: CardState | str, dst: CardState | str) -> bool:
    """True when some event takes a card from ``src`` straight to ``dst``."""
    return (CardState(src), CardState(dst)) in {(s, t) for (s, _), t in TRANSITIONS.items()}


def events_from(state: CardState | str) -> frozenset[CardEvent]:
    """The events a card in ``state`` accepts (for UIs that show only the allowed actions)."""
    src = CardState(state)
    return frozenset(ev for (s, ev) in TRANSITIONS if s is src)
