"""The carrier, handover and incident state machines, without a database (KEY-5, KEY-7, KEY-9)."""

from __future__ import annotations

import itertools

import pytest

from sscard.key_register.errors import CarrierIllegalTransition, HandoverIllegalTransition, IncidentIllegalTransition
from sscard.key_register.states import (
    CARRIER_FINAL,
    CARRIER_TRANSITIONS,
    CarrierEvent,
    CarrierState,
    carrier_events_from,
    next_carrier_state,
    next_handover_state,
    next_incident_state,
)

S, E = CarrierState, CarrierEvent


# rule KEY-5: the life of a carrier received from the ministry
def test_carrier_lifecycle_path() -> None:
    state = S.RECEIVED
    for event, expected in [
        (E.DEPLOY, S.IN_SERVICE),
        (E.STORE, S.IN_CUSTODY),
        (E.HAND_OVER, S.HANDED_OVER),
        (E.RECOVER, S.RECOVERED),
        (E.DESTROY, S.DESTROYED),
    ]:
        state = next_carrier_state(state, event)
        assert state is expected


# rule KEY-5: lost is reachable from every state in which the carrier still exists
@pytest.mark.parametrize("state", sorted(set(CarrierState) - CARRIER_FINAL))
def test_loss_from_any_live_state(state: CarrierState) -> None:
    assert next_carrier_state(state, E.REPORT_LOSS) is S.LOST


# rule KEY-5: destroyed and lost are final
@pytest.mark.parametrize(("state", "event"), list(itertools.product(sorted(CARRIER_FINAL), list(CarrierEvent))))
def test_final_states_accept_nothing(state: CarrierState, event: CarrierEvent) -> None:
    with pytest.raises(CarrierIllegalTransition) as exc:
        next_carrier_state(state, event)
    assert exc.value.code == "CARRIER_ILLEGAL_TRANSITION" and exc.value.from_state == state.value


# rule KEY-5: every out-of-order step is refused with both states named
@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s, e in itertools.product(list(CarrierState), list(CarrierEvent)) if (s, e) not in CARRIER_TRANSITIONS],
)
def test_out_of_order_steps_are_refused(state: CarrierState, event: CarrierEvent) -> None:
    with pytest.raises(CarrierIllegalTransition) as exc:
        next_carrier_state(state, event)
    assert state.value in exc.value.detail and exc.value.extra["to_state"]


def test_specific_refusals() -> None:
    # rule KEY-7: a carrier goes to a third party only from our own hands
    with pytest.raises(CarrierIllegalTransition):
        next_carrier_state(S.RECEIVED, E.HAND_OVER)
    # rule KEY-8: destroyed only after recovery or from custody, never straight from a terminal
    with pytest.raises(CarrierIllegalTransition):
        next_carrier_state(S.IN_SERVICE, E.DESTROY)
    with pytest.raises(CarrierIllegalTransition):
        next_carrier_state(S.HANDED_OVER, E.DESTROY)
    assert E.REPORT_LOSS in carrier_events_from(S.HANDED_OVER)
    assert carrier_events_from(S.DESTROYED) == frozenset()


# rule KEY-7: a handover completes once, is recovered once; a cancelled one stays cancelled
def test_handover_machine() -> None:
    assert next_handover_state("requested", "complete").value == "handed_over"
    assert next_handover_state("handed_over", "recover").value == "recovered"
    for state, action in [
        ("requested", "recover"),
        ("recovered", "complete"),
        ("cancelled", "complete"),
        ("handed_over", "cancel"),
    ]:
        with pytest.raises(HandoverIllegalTransition):
            next_handover_state(state, action)


# rule KEY-9: an incident is closed only after findings; closed is final
def test_incident_machine() -> None:
    assert next_incident_state("reported", "record_findings").value == "handling"
    assert next_incident_state("handling", "close").value == "closed"
    for state, action in [("reported", "close"), ("closed", "close"), ("closed", "record_findings")]:
        with pytest.raises(IncidentIllegalTransition):
            next_incident_state(state, action)


# rule KEY-5: a refusal names the step, the state the carrier is in and the state the step leads to
def test_a_carrier_refusal_says_from_where_to_where() -> None:
    with pytest.raises(CarrierIllegalTransition) as exc:
        next_carrier_state("received", "hand_over")
    assert exc.value.detail == "cannot hand over: a carrier cannot go from received to handed_over"
    assert (exc.value.from_state, exc.value.extra["to_state"]) == ("received", "handed_over")
    assert next_carrier_state("in_custody", "hand_over") is S.HANDED_OVER  # the same step, allowed from the safe


# rule KEY-5: the events each state accepts are exactly the table's
def test_carrier_events_from_lists_what_each_state_accepts() -> None:
    for state in CarrierState:
        expected = {event for (source, event) in CARRIER_TRANSITIONS if source is state}
        assert carrier_events_from(state) == expected
        assert carrier_events_from(state.value) == expected
    assert carrier_events_from(S.RECEIVED) >= {E.DEPLOY, E.REPORT_LOSS}


# rule KEY-7 / KEY-9: every handover step, including the close on a loss, and each refusal in words
def test_every_handover_step_and_its_refusal() -> None:
    steps = {
        ("requested", "complete"): "handed_over",
        ("requested", "cancel"): "cancelled",
        ("handed_over", "recover"): "recovered",
        ("handed_over", "close_on_loss"): "cancelled",
        ("requested", "close_on_loss"): "cancelled",
    }
    for (state, action), target in steps.items():
        assert next_handover_state(state, action).value == target
    with pytest.raises(HandoverIllegalTransition) as exc:
        next_handover_state("recovered", "close_on_loss")
    assert exc.value.detail == "cannot close on loss a handover that is recovered"


# rule KEY-9: findings may be recorded again while handling; each refusal in words
def test_every_incident_step_and_its_refusal() -> None:
    assert next_incident_state("handling", "record_findings").value == "handling"
    with pytest.raises(IncidentIllegalTransition) as exc:
        next_incident_state("closed", "record_findings")
    assert exc.value.detail == "cannot record findings an incident that is closed"
