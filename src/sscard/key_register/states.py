"""State machines of key carriers (KEY-5), handovers (KEY-7) and incidents (KEY-9). Pure: no database.

Key carriers (master key card, key mother card, transmission key card, PSAM card):

    received ──deploy──> in_service ──store──> in_custody ──deploy──> in_service
    received ──store──> in_custody           in_service | in_custody ──hand_over──> handed_over
    handed_over | in_service ──recover──> recovered ──deploy | store──> in_service | in_custody
    in_custody | recovered ──destroy──> destroyed
    any state but destroyed and lost ──report_loss──> lost
    received | in_service | in_custody | recovered ──block──> blocked ──recover──> recovered

``blocked`` (KEY-9): the carrier holds a key an incident revoked; it cannot be used, deployed or handed
over and is only withdrawn (recovered) for destruction. A carrier with a third party is recovered
through its handover first.

``destroyed`` and ``lost`` are final: a lost carrier that turns up again is never trusted again; it
is registered as found in the incident and destroyed through a new ministry procedure, not revived.
A carrier is destroyed only from the safe or after recovery, never straight out of a terminal or a
third party's hands, so that what is destroyed is what was counted back in.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from sscard.key_register.errors import CarrierIllegalTransition, HandoverIllegalTransition, IncidentIllegalTransition


class CarrierType(StrEnum):
    MASTER_KEY_CARD = "master_key_card"  # 主密钥卡
    KEY_MOTHER_CARD = "key_mother_card"  # 密钥母卡
    TRANSMISSION_KEY_CARD = "transmission_key_card"  # 传输密钥卡
    PSAM_CARD = "psam_card"  # 安全存取模块 (PSAM 卡)


CARRIER_TYPE_ZH = {
    CarrierType.MASTER_KEY_CARD: "主密钥卡",
    CarrierType.KEY_MOTHER_CARD: "密钥母卡",
    CarrierType.TRANSMISSION_KEY_CARD: "传输密钥卡",
    CarrierType.PSAM_CARD: "PSAM卡",
}


class CarrierState(StrEnum):
    RECEIVED = "received"
    IN_SERVICE = "in_service"
    IN_CUSTODY = "in_custody"
    HANDED_OVER = "handed_over"
    RECOVERED = "recovered"
    DESTROYED = "destroyed"
    LOST = "lost"
    BLOCKED = "blocked"  # KEY-9: holds a revoked key


CARRIER_STATE_ZH = {
    CarrierState.RECEIVED: "已签收",
    CarrierState.IN_SERVICE: "使用中",
    CarrierState.IN_CUSTODY: "保管中",
    CarrierState.HANDED_OVER: "已交第三方",
    CarrierState.RECOVERED: "已收回",
    CarrierState.DESTROYED: "已销毁",
    CarrierState.LOST: "已遗失",
    CarrierState.BLOCKED: "已冻结",
}


class CarrierEvent(StrEnum):
    DEPLOY = "deploy"
    STORE = "store"
    HAND_OVER = "hand_over"
    RECOVER = "recover"
    DESTROY = "destroy"
    REPORT_LOSS = "report_loss"
    BLOCK = "block"


CS, CE = CarrierState, CarrierEvent

CARRIER_FINAL = frozenset({CS.DESTROYED, CS.LOST})
CARRIER_LIVE = frozenset(set(CarrierState) - CARRIER_FINAL)

CARRIER_TARGET: Mapping[CarrierEvent, CarrierState] = MappingProxyType(
    {
        CE.DEPLOY: CS.IN_SERVICE,
        CE.STORE: CS.IN_CUSTODY,
        CE.HAND_OVER: CS.HANDED_OVER,
        CE.RECOVER: CS.RECOVERED,
        CE.DESTROY: CS.DESTROYED,
        CE.REPORT_LOSS: CS.LOST,
        CE.BLOCK: CS.BLOCKED,
    }
)

CARRIER_ALLOWED_FROM: Mapping[CarrierEvent, frozenset[CarrierState]] = MappingProxyType(
    {
        CE.DEPLOY: frozenset({CS.RECEIVED, CS.IN_CUSTODY, CS.RECOVERED}),
        CE.STORE: frozenset({CS.RECEIVED, CS.IN_SERVICE, CS.RECOVERED}),
        # KEY-7: to a third party only from our own hands (in use or from the safe).
        CE.HAND_OVER: frozenset({CS.IN_SERVICE, CS.IN_CUSTODY}),
        # Back from a third party, or withdrawn from a terminal (KEY-8 recovery).
        CE.RECOVER: frozenset({CS.HANDED_OVER, CS.IN_SERVICE, CS.BLOCKED}),
        CE.DESTROY: frozenset({CS.IN_CUSTODY, CS.RECOVERED}),
        # KEY-9: a loss can happen anywhere the carrier still exists.
        CE.REPORT_LOSS: CARRIER_LIVE,
        # KEY-9: a carrier holding a revoked key, wherever it is in our hands.
        CE.BLOCK: frozenset({CS.RECEIVED, CS.IN_SERVICE, CS.IN_CUSTODY, CS.RECOVERED}),
    }
)

CARRIER_TRANSITIONS: Mapping[tuple[CarrierState, CarrierEvent], CarrierState] = MappingProxyType(
    {(src, ev): CARRIER_TARGET[ev] for ev, sources in CARRIER_ALLOWED_FROM.items() for src in sources}
)

# Where a carrier may be used for its purpose (a logged use, KEY-5): in our service, taken from the
# safe for a ceremony, or by the third party under supervision.
CARRIER_USABLE = frozenset({CS.IN_SERVICE, CS.IN_CUSTODY, CS.HANDED_OVER})


def next_carrier_state(current: CarrierState | str, event: CarrierEvent | str) -> CarrierState:
    """The carrier's state after ``event``; ``CarrierIllegalTransition`` naming from/to when not allowed."""
    src, ev = CarrierState(current), CarrierEvent(event)
    target = CARRIER_TRANSITIONS.get((src, ev))
    if target is None:
        raise CarrierIllegalTransition(src.value, CARRIER_TARGET[ev].value, ev.value)
    return target


def carrier_events_from(state: CarrierState | str) -> frozenset[CarrierEvent]:
    """The events a carrier in ``state`` accepts."""
    src = CarrierState(state)
    return frozenset(ev for (s, ev) in CARRIER_TRANSITIONS if s is src)


# --- third-party handovers (KEY-7) -----------------------------------------------------------------


class HandoverState(StrEnum):
    REQUESTED = "requested"  # conditions being gathered; the carrier is still ours
    HANDED_OVER = "handed_over"  # completed: the third party holds the carrier, under supervision
    RECOVERED = "recovered"
    CANCELLED = "cancelled"


_HANDOVER_NEXT: Mapping[tuple[HandoverState, str], HandoverState] = MappingProxyType(
    {
        (HandoverState.REQUESTED, "complete"): HandoverState.HANDED_OVER,
        (HandoverState.REQUESTED, "cancel"): HandoverState.CANCELLED,
        (HandoverState.HANDED_OVER, "recover"): HandoverState.RECOVERED,
        # The carrier was lost while with the third party: supervision ends, the incident takes over.
        (HandoverState.HANDED_OVER, "close_on_loss"): HandoverState.CANCELLED,
        (HandoverState.REQUESTED, "close_on_loss"): HandoverState.CANCELLED,
    }
)


def next_handover_state(current: HandoverState | str, action: str) -> HandoverState:
    """The handover's state after ``action`` (complete, cancel, recover, close_on_loss)."""
    src = HandoverState(current)
    target = _HANDOVER_NEXT.get((src, action))
    if target is None:
        raise HandoverIllegalTransition(f"cannot {action.replace('_', ' ')} a handover that is {src.value}")
    return target


# --- security incidents (KEY-9) --------------------------------------------------------------------


class IncidentState(StrEnum):
    REPORTED = "reported"
    HANDLING = "handling"  # cause and handling being recorded
    CLOSED = "closed"


_INCIDENT_NEXT: Mapping[tuple[IncidentState, str], IncidentState] = MappingProxyType(
    {
        (IncidentState.REPORTED, "record_findings"): IncidentState.HANDLING,
        (IncidentState.HANDLING, "record_findings"): IncidentState.HANDLING,
        (IncidentState.HANDLING, "close"): IncidentState.CLOSED,
    }
)


def next_incident_state(current: IncidentState | str, action: str) -> IncidentState:
    """The incident's state after ``action`` (record_findings, close)."""
    src = IncidentState(current)
    target = _INCIDENT_NEXT.get((src, action))
    if target is None:
        raise IncidentIllegalTransition(f"cannot {action.replace('_', ' ')} an incident that is {src.value}")
    return target
