"""Witnessed destruction of a key carrier (KEY-8 for PSAM cards; applied to every carrier type).

A custodian records the destruction (method, place, reason); it takes effect only when two
different staff members, neither of them the one who recorded it, have each signed it with their own
session (or, on the command line, their own authentication). Dual control: no one person
can make a carrier disappear from the register.
"""

from __future__ import annotations

from sqlalchemy import func, select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.key_register.access import KEY_ROLES, text
from sscard.key_register.carriers import carrier_subject, get_carrier_or_raise, move_carrier
from sscard.key_register.errors import (
    CarrierIllegalTransition,
    DestructionClosed,
    DestructionNotFound,
    DuplicateSignature,
    StaffNotEligible,
)
from sscard.key_register.models import CarrierDestruction, DestructionSignature
from sscard.key_register.states import CARRIER_ALLOWED_FROM, CARRIER_TARGET, CarrierEvent

SIGNATURES_NEEDED = 2


def request_destruction(
    uow: UnitOfWork, *, carrier_id: int, method: str, place: str, reason: str, actor: Actor
) -> CarrierDestruction:
    """Record a destruction to be witnessed; the carrier must be in custody or recovered."""
    from sscard.key_register.access import ensure_in_region

    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    ensure_in_region(actor, carrier.region_code)
    if carrier.state not in CARRIER_ALLOWED_FROM[CarrierEvent.DESTROY]:
        raise CarrierIllegalTransition(carrier.state.value, CARRIER_TARGET[CarrierEvent.DESTROY].value, "destroy")
    if open_destruction(uow, carrier_id=carrier.id) is not None:
        raise DestructionClosed("a destruction of this carrier is already awaiting signatures")
    record = CarrierDestruction(
        carrier_id=carrier.id,
        method=text(method, "method", max_len=64),
        place=text(place, "place", max_len=128),
        reason=text(reason, "reason", max_len=200),
        requested_by=actor.id,
    )
    uow.session.add(record)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="carrier.destruction_request",
        subject=carrier_subject(carrier),
        details={"destruction": record.id, "method": record.method, "place": record.place},
    )
    return record


def open_destruction(uow: UnitOfWork, *, carrier_id: int) -> CarrierDestruction | None:
    return uow.session.scalar(
        select(CarrierDestruction).where(
            CarrierDestruction.carrier_id == carrier_id, CarrierDestruction.completed_at.is_(None)
        )
    )


def get_destruction_or_raise(uow: UnitOfWork, destruction_id: int) -> CarrierDestruction:
    record = uow.session.get(CarrierDestruction, destruction_id)
    if record is None:
        raise DestructionNotFound(f"no destruction record {destruction_id}")
    return record


def sign_destruction(
    uow: UnitOfWork, *, destruction_id: int, actor: Actor, statement: str = "witnessed the destruction"
) -> CarrierDestruction:
    """Sign as a witness; the second signature by a different person destroys the carrier (KEY-8)."""
    from sscard.key_register.access import ensure_in_region

    record = get_destruction_or_raise(uow, destruction_id)
    carrier = get_carrier_or_raise(uow, record.carrier_id, for_update=True)
    ensure_in_region(actor, carrier.region_code)
    # A signature is a named security officer's or custodian's own act (the CLI needs --as).
    if actor.kind != "staff" or actor.role not in {r.value for r in KEY_ROLES}:
        raise StaffNotEligible("a witness must be a security officer or key custodian", part="witness")
    if record.completed_at is not None:
        raise DestructionClosed(f"destruction {destruction_id} is already complete")
    # Dual control: the witnesses are two people other than the one who recorded the destruction.
    if actor.id == record.requested_by:
        raise StaffNotEligible("the person who recorded the destruction cannot witness it", part="witness")
    signers = set(
        uow.session.scalars(select(DestructionSignature.signer).where(DestructionSignature.destruction_id == record.id))
    )
    if actor.id in signers:
        raise DuplicateSignature("you have already signed this destruction; a second person must sign")
    uow.session.add(
        DestructionSignature(
            destruction_id=record.id,
            signer=actor.id,
            role=actor.role[:32],
            statement=text(statement, "statement", max_len=200),
        )
    )
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="carrier.destruction_sign",
        subject=carrier_subject(carrier),
        details={"destruction": record.id, "signature": len(signers) + 1},
    )
    count = uow.session.scalar(
        select(func.count()).select_from(DestructionSignature).where(DestructionSignature.destruction_id == record.id)
    )
    if (count or 0) >= SIGNATURES_NEEDED:
        move_carrier(
            uow,
            carrier,
            CarrierEvent.DESTROY,
            actor=actor,
            location=record.place,
            holder="-",
            purpose=f"destroyed by {record.method}: {record.reason}",
            details={"destruction": record.id, "witnesses": sorted(signers | {actor.id})},
        )
        record.completed_at = utcnow()
        uow.flush()
    return record


def signatures_of(uow: UnitOfWork, *, destruction_id: int) -> list[DestructionSignature]:
    return list(
        uow.session.scalars(
            select(DestructionSignature)
            .where(DestructionSignature.destruction_id == destruction_id)
            .order_by(DestructionSignature.id)
        )
    )
