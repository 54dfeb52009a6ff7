"""Key carriers (KEY-5, measures arts. 23-24): master key cards, key mother cards, transmission key
cards and PSAM cards, distributed by the ministry.

Each carrier is registered on receipt with the receipt's number, date and sender; every movement
follows the state machine of ``states.py`` and every use is logged with who, where and why. The keys
a carrier holds are named by their inventory labels, so that a loss revokes exactly those (KEY-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update

from sscard.audit import Actor, record_event
from sscard.db.base import china_today
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register.access import MINISTRY_NAME, ensure_in_region, ensure_region_exists, text
from sscard.key_register.errors import (
    CarrierExists,
    CarrierNotFound,
    CarrierNotUsable,
    HandoverIllegalTransition,
    KeysInvalid,
)
from sscard.key_register.models import CarrierKey, CarrierUsage, KeyCarrier
from sscard.key_register.states import (
    CARRIER_FINAL,
    CARRIER_USABLE,
    CarrierEvent,
    CarrierState,
    CarrierType,
    next_carrier_state,
)
from sscard.regions.service import within_region


def carrier_subject(carrier: KeyCarrier) -> str:
    return f"carrier:{carrier.id}"


def _who(carrier: KeyCarrier) -> dict[str, Any]:
    return {"type": carrier.carrier_type.value, "serial": carrier.serial}


def receive_carrier(
    uow: UnitOfWork,
    *,
    carrier_type: CarrierType | str,
    serial: str,
    region_code: str,
    receipt_no: str,
    received_on: date,
    received_from: str,
    location: str,
    actor: Actor,
    holder: str | None = None,
    issuer: str = MINISTRY_NAME,
) -> KeyCarrier:
    """Register a carrier received from the ministry, with the receipt's number, date and sender (KEY-5)."""
    try:
        carrier_type = CarrierType(carrier_type)
    except ValueError:
        raise KeysInvalid(f"unknown carrier type; one of: {', '.join(t.value for t in CarrierType)}") from None
    ensure_in_region(actor, region_code)
    ensure_region_exists(uow, region_code)
    serial = text(serial, "serial", max_len=64)
    receipt_no = text(receipt_no, "receipt_no", max_len=64)
    if received_on > china_today():
        raise KeysInvalid("the receipt date is in the future", field="received_on")
    received_from = text(received_from, "received_from", max_len=128)
    clash = uow.session.scalar(
        select(KeyCarrier.id).where(KeyCarrier.carrier_type == carrier_type, KeyCarrier.serial == serial)
    )
    if clash is not None:
        raise CarrierExists(f"a {carrier_type.value} {serial} is already registered")
    # KEY-5: one delivery receipt may list several carriers; a number already used must be that receipt.
    same_receipt = uow.session.scalar(select(KeyCarrier).where(KeyCarrier.receipt_no == receipt_no).limit(1))
    if same_receipt is not None and (
        same_receipt.received_on != received_on
        or same_receipt.received_from != received_from
        or same_receipt.region_code != region_code
    ):
        raise CarrierExists(
            f"receipt {receipt_no} is already registered with another date, sender or region", field="receipt_no"
        )
    carrier = KeyCarrier(
        carrier_type=carrier_type,
        serial=serial,
        issuer=text(issuer, "issuer", max_len=128),
        region_code=region_code,
        state=CarrierState.RECEIVED,
        holder=text(holder or actor.id, "holder", max_len=128),
        location=text(location, "location", max_len=128),
        receipt_no=receipt_no,
        received_on=received_on,
        received_from=received_from,
        usage_count=0,
    )
    uow.session.add(carrier)
    uow.flush()
    _log(uow, carrier, kind="receive", actor=actor, location=carrier.location, purpose=f"receipt {receipt_no}")
    record_event(
        uow,
        actor=actor,
        action="carrier.receive",
        subject=carrier_subject(carrier),
        details={**_who(carrier), "receipt_no": receipt_no, "received_from": carrier.received_from},
    )
    return carrier


@dataclass(frozen=True)
class ReceiptLine:
    """One carrier listed on a ministry delivery receipt."""

    carrier_type: CarrierType | str
    serial: str
    holder: str | None = None


def receive_receipt(
    uow: UnitOfWork,
    *,
    region_code: str,
    receipt_no: str,
    received_on: date,
    received_from: str,
    location: str,
    lines: list[ReceiptLine],
    actor: Actor,
    issuer: str = MINISTRY_NAME,
) -> list[KeyCarrier]:
    """Register every carrier of one ministry delivery receipt at once (KEY-5): all or none."""
    if not 1 <= len(lines) <= 500:
        raise KeysInvalid("a receipt lists between 1 and 500 carriers", field="carriers")
    seen: set[tuple[str, str]] = set()
    for line in lines:
        key = (str(line.carrier_type), (line.serial or "").strip())
        if key in seen:
            raise KeysInvalid(f"the receipt lists {key[0]} {key[1]} twice", field="carriers")
        seen.add(key)
    return [
        receive_carrier(
            uow,
            carrier_type=line.carrier_type,
            serial=line.serial,
            region_code=region_code,
            receipt_no=receipt_no,
            received_on=received_on,
            received_from=received_from,
            location=location,
            holder=line.holder,
            issuer=issuer,
            actor=actor,
        )
        for line in lines
    ]


def carriers_on_receipt(uow: UnitOfWork, *, receipt_no: str) -> list[KeyCarrier]:
    """The carriers registered under one delivery receipt."""
    return list(
        uow.session.scalars(select(KeyCarrier).where(KeyCarrier.receipt_no == receipt_no).order_by(KeyCarrier.id))
    )


def get_carrier_or_raise(uow: UnitOfWork, carrier_id: int, *, for_update: bool = False) -> KeyCarrier:
    """The carrier with this id (row-locked with ``for_update``); ``CarrierNotFound`` otherwise."""
    query = select(KeyCarrier).where(KeyCarrier.id == carrier_id)
    if for_update:
        # Two officers moving one carrier at once: the second waits and then sees the new state.
        query = query.with_for_update().execution_options(populate_existing=True)
    carrier = uow.session.scalar(query)
    if carrier is None:
        raise CarrierNotFound(f"no carrier {carrier_id}")
    return carrier


def list_carriers(
    uow: UnitOfWork,
    *,
    region_code: str | None = None,
    carrier_type: CarrierType | None = None,
    state: CarrierState | None = None,
    page: Keyset | None = None,
) -> list[KeyCarrier]:
    """Carriers ordered by type and serial, optionally by region (sub-regions included), type, state."""
    query = select(KeyCarrier)
    if carrier_type is not None:
        query = query.where(KeyCarrier.carrier_type == carrier_type)
    if state is not None:
        query = query.where(KeyCarrier.state == state)
    if region_code is not None:
        query = query.where(within_region(KeyCarrier.region_code, region_code))
    order = (KeyCarrier.carrier_type, KeyCarrier.serial, KeyCarrier.id)
    return taken(uow.session.scalars(ordered(query, page, *order)), page)


def _log(
    uow: UnitOfWork, carrier: KeyCarrier, *, kind: str, actor: Actor, location: str, purpose: str, count: int = 1
) -> CarrierUsage:
    entry = CarrierUsage(
        carrier_id=carrier.id,
        kind=kind,
        used_by=actor.id,
        role=actor.role[:32],
        location=location[:128],
        purpose=purpose[:200],
        count=count,
    )
    uow.session.add(entry)
    return entry


def move_carrier(
    uow: UnitOfWork,
    carrier: KeyCarrier,
    event: CarrierEvent,
    *,
    actor: Actor,
    location: str,
    holder: str,
    purpose: str,
    details: dict[str, Any] | None = None,
) -> KeyCarrier:
    """Apply one state-machine step, log it in the carrier's usage log and audit it (shared by services)."""
    ensure_in_region(actor, carrier.region_code)
    old = carrier.state
    carrier.state = next_carrier_state(old, event)
    carrier.location = text(location, "location", max_len=128)
    carrier.holder = text(holder, "holder", max_len=128)
    purpose = text(purpose, "purpose", max_len=200)
    _log(uow, carrier, kind=event.value, actor=actor, location=carrier.location, purpose=purpose)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action=f"carrier.{event.value}",
        subject=carrier_subject(carrier),
        details={
            **_who(carrier),
            "from": old.value,
            "to": carrier.state.value,
            "location": carrier.location,
            "holder": carrier.holder,
            "purpose": purpose,
            **(details or {}),
        },
    )
    return carrier


def deploy_carrier(
    uow: UnitOfWork, *, carrier_id: int, holder: str, location: str, purpose: str, actor: Actor
) -> KeyCarrier:
    """Put a key card into service with a named holder (PSAM cards go through ``psam.deploy_psam``)."""
    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    ensure_in_region(actor, carrier.region_code)  # CH-2 first: another region learns nothing of the carrier
    if carrier.carrier_type is CarrierType.PSAM_CARD:
        raise KeysInvalid("a PSAM card is deployed with its terminal, form, environment and mode (KEY-8)")
    return move_carrier(
        uow, carrier, CarrierEvent.DEPLOY, actor=actor, location=location, holder=holder, purpose=purpose
    )


def store_carrier(
    uow: UnitOfWork, *, carrier_id: int, location: str, purpose: str, actor: Actor, holder: str | None = None
) -> KeyCarrier:
    """Put a carrier into custody (the safe), held by the custodian who stores it."""
    from sscard.key_register.psam import end_deployment

    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    moved = move_carrier(
        uow, carrier, CarrierEvent.STORE, actor=actor, location=location, holder=holder or actor.id, purpose=purpose
    )
    end_deployment(uow, carrier=moved, reason="stored", actor=actor)
    return moved


def recover_carrier(
    uow: UnitOfWork, *, carrier_id: int, location: str, purpose: str, actor: Actor, holder: str | None = None
) -> KeyCarrier:
    """Withdraw a carrier from service (a PSAM taken out of its terminal); third parties via the handover."""
    from sscard.key_register.psam import end_deployment

    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    if carrier.state is CarrierState.HANDED_OVER:
        raise HandoverIllegalTransition("the carrier is with a third party: recover it through its handover")
    moved = move_carrier(
        uow, carrier, CarrierEvent.RECOVER, actor=actor, location=location, holder=holder or actor.id, purpose=purpose
    )
    end_deployment(uow, carrier=moved, reason="recovered", actor=actor)
    return moved


def record_carrier_use(
    uow: UnitOfWork, *, carrier_id: int, location: str, purpose: str, actor: Actor, count: int = 1
) -> CarrierUsage:
    """Log a use of the carrier with who, where and why (KEY-5); ``count`` uses at once for PSAM tallies."""
    carrier = get_carrier_or_raise(uow, carrier_id)
    ensure_in_region(actor, carrier.region_code)
    if carrier.state not in CARRIER_USABLE:
        raise CarrierNotUsable(f"a carrier that is {carrier.state.value} cannot be used", state=carrier.state.value)
    if not 1 <= count <= 1_000_000:
        raise KeysInvalid("count is between 1 and 1000000", field="count")
    entry = _log(
        uow,
        carrier,
        kind="use",
        actor=actor,
        location=text(location, "location", max_len=128),
        purpose=text(purpose, "purpose", max_len=200),
        count=count,
    )
    # One atomic increment: uses are logged from many consoles at once and must all count.
    uow.session.execute(
        update(KeyCarrier).where(KeyCarrier.id == carrier.id).values(usage_count=KeyCarrier.usage_count + count)
    )
    uow.flush()
    uow.session.refresh(carrier)
    record_event(
        uow,
        actor=actor,
        action="carrier.use",
        subject=carrier_subject(carrier),
        details={**_who(carrier), "location": entry.location, "purpose": entry.purpose, "count": count},
    )
    return entry


def usage_log(uow: UnitOfWork, *, carrier_id: int, limit: int = 500, page: Keyset | None = None) -> list[CarrierUsage]:
    """The carrier's log, oldest first."""
    if page is not None:
        query = select(CarrierUsage).where(CarrierUsage.carrier_id == carrier_id)
        return taken(uow.session.scalars(ordered(query, page, CarrierUsage.id)), page)
    return list(
        uow.session.scalars(
            select(CarrierUsage)
            .where(CarrierUsage.carrier_id == carrier_id)
            .order_by(CarrierUsage.id)
            .limit(max(1, min(limit, 5000)))
        )
    )


def load_key(uow: UnitOfWork, *, carrier_id: int, key_label: str, actor: Actor) -> CarrierKey:
    """Record that the carrier holds the key with this inventory label (so a loss revokes it, KEY-9)."""
    from sscard.key_register import bridge

    carrier = get_carrier_or_raise(uow, carrier_id)
    ensure_in_region(actor, carrier.region_code)
    if carrier.state in CARRIER_FINAL:
        raise CarrierNotUsable(f"a carrier that is {carrier.state.value} cannot hold keys", state=carrier.state.value)
    key_label = text(key_label, "key_label", max_len=64)
    if not bridge.key_known(uow, key_label):
        raise KeysInvalid(f"no key labelled {key_label!r} in the key inventory", field="key_label")
    existing = uow.session.scalar(
        select(CarrierKey).where(CarrierKey.carrier_id == carrier.id, CarrierKey.key_label == key_label)
    )
    if existing is not None:
        return existing
    link = CarrierKey(carrier_id=carrier.id, key_label=key_label, loaded_by=actor.id)
    uow.session.add(link)
    _log(uow, carrier, kind="load_key", actor=actor, location=carrier.location, purpose=f"key {key_label}")
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="carrier.load_key",
        subject=carrier_subject(carrier),
        details={**_who(carrier), "key": key_label},
    )
    return link


def keys_on(uow: UnitOfWork, *, carrier_id: int) -> list[str]:
    """The inventory labels of the keys this carrier holds."""
    return list(
        uow.session.scalars(
            select(CarrierKey.key_label).where(CarrierKey.carrier_id == carrier_id).order_by(CarrierKey.key_label)
        )
    )


def carriers_holding(uow: UnitOfWork, *, labels: list[str]) -> list[KeyCarrier]:
    """Every carrier holding one of the keys with these inventory labels (KEY-9), by id."""
    if not labels:
        return []
    ids = select(CarrierKey.carrier_id).where(CarrierKey.key_label.in_(labels))
    return list(uow.session.scalars(select(KeyCarrier).where(KeyCarrier.id.in_(ids)).order_by(KeyCarrier.id)))
