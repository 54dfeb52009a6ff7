"""The card state machine, without a database (CARD-1)."""

from __future__ import annotations

import itertools

import pytest

from sscard.cards.errors import CardIllegalTransition
from sscard.cards.states import (
    BLOCKED_STATES,
    EVENT_TARGET,
    FINAL_STATES,
    LIVE_STATES,
    TRANSITIONS,
    CardEvent,
    CardState,
    can_transition,
    events_from,
    next_state,
)

S, E = CardState, CardEvent

# The whole legal table, written out independently of the module (CARD-1, CARD-5).
LEGAL = {
    (S.APPLIED, E.ISSUE): S.ISSUED,
    (S.ISSUED, E.ACTIVATE): S.ACTIVE,
    (S.ACTIVE, E.REPORT_LOSS): S.LOSS_REPORTED,
    (S.LOSS_REPORTED, E.EXPIRE_LOSS): S.ACTIVE,
    (S.LOSS_REPORTED, E.WITHDRAW_LOSS): S.ACTIVE,
    (S.LOSS_REPORTED, E.CONFIRM_LOSS): S.LOST,
    (S.ACTIVE, E.CONFIRM_LOSS): S.LOST,
    (S.LOST, E.REPLACE): S.REPLACED,
    (S.ACTIVE, E.REPLACE): S.REPLACED,
    **{(s, E.CANCEL): S.CANCELLED for s in (S.APPLIED, S.ISSUED, S.ACTIVE, S.LOSS_REPORTED, S.LOST)},
}
ALL_PAIRS = list(itertools.product(CardState, CardEvent))


# rule CARD-1: every legal (state, event) pair goes where the rule says
@pytest.mark.parametrize(("state", "event"), sorted(LEGAL))
def test_legal_transitions(state: CardState, event: CardEvent) -> None:
    assert next_state(state, event) is LEGAL[(state, event)]
    assert next_state(state.value, event.value) is LEGAL[(state, event)]


# rule CARD-1: every other pair is refused with CARD_ILLEGAL_TRANSITION naming from and to
@pytest.mark.parametrize(("state", "event"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_transitions(state: CardState, event: CardEvent) -> None:
    with pytest.raises(CardIllegalTransition) as exc:
        next_state(state, event)
    err = exc.value
    assert err.code == "CARD_ILLEGAL_TRANSITION" and err.status == 409
    assert err.from_state == state.value and err.to_state == EVENT_TARGET[event].value
    assert state.value in err.detail and EVENT_TARGET[event].value in err.detail
    assert err.extra["from_state"] == state.value  # what the problem+json body carries


# rule CARD-1: the module's table is exactly the rule's table
def test_table_matches_rule() -> None:
    assert dict(TRANSITIONS) == LEGAL


# rule CARD-1: state pairs (for UIs and checks that think in states)
def test_state_pairs() -> None:
    reachable = {(s, t) for (s, _), t in LEGAL.items()}
    for src, dst in itertools.product(CardState, CardState):
        assert can_transition(src, dst) is ((src, dst) in reachable)
    assert not can_transition(S.ISSUED, S.LOSS_REPORTED)  # a card never activated cannot be blocked (CARD-4)
    assert not can_transition(S.LOSS_REPORTED, S.REPLACED)  # a provisional report must be confirmed first


# rule CARD-1: replaced and cancelled are final; final states are the only non-live ones
def test_final_states() -> None:
    for state in FINAL_STATES:
        assert events_from(state) == frozenset()
    assert LIVE_STATES | FINAL_STATES == set(CardState) and not LIVE_STATES & FINAL_STATES
    assert FINAL_STATES <= BLOCKED_STATES and S.ACTIVE not in BLOCKED_STATES


# rule CARD-5: a provisional report lapses back to active
def test_loss_report_expiry_back_to_active() -> None:
    assert next_state(next_state(S.ACTIVE, E.REPORT_LOSS), E.EXPIRE_LOSS) is S.ACTIVE


def test_unknown_values_rejected() -> None:
    with pytest.raises(ValueError):
        next_state("nonsense", E.ISSUE)
    with pytest.raises(ValueError):
        next_state(S.ACTIVE, "explode")


# rule CARD-1 (issue 26, a surviving mutant): the events a state accepts, as the UIs show them
def test_events_from_lists_what_each_state_accepts() -> None:
    from sscard.cards.states import CardEvent as Ev
    from sscard.cards.states import CardState as St
    from sscard.cards.states import events_from

    assert events_from("active") == {Ev.REPORT_LOSS, Ev.CONFIRM_LOSS, Ev.REPLACE, Ev.CANCEL}
    assert events_from(St.LOSS_REPORTED) == {Ev.EXPIRE_LOSS, Ev.WITHDRAW_LOSS, Ev.CONFIRM_LOSS, Ev.CANCEL}
    assert events_from("issued") == {Ev.ACTIVATE, Ev.CANCEL}
    assert events_from("replaced") == frozenset() == events_from("cancelled")
