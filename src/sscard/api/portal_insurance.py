"""Portal additions for insurance (INS-2): flexible and self-employed workers register themselves."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.holder_auth import require_holder
from sscard.api.idempotency import IdempotentRoute
from sscard.cards.errors import CardTypeInvalid
from sscard.credentials.query_password.service import holder_actor
from sscard.credentials.query_password.sessions import HolderSession
from sscard.db.session import UnitOfWork
from sscard.insurance.errors import (
    BaseOutOfRange,
    InsuranceTypeInvalid,
    RegistrationDateInvalid,
    RegistrationDuplicate,
    RegistrationKindInvalid,
    RegistrationUnderage,
)
from sscard.insurance.registration import register_self
from sscard.insurance.schemas import RegistrationOut, SelfRegistrationIn
from sscard.people.errors import PersonDeceased, PersonNotFound
from sscard.people.service import get_person_or_raise
from sscard.policy.errors import PolicyInvalid

router = APIRouter(prefix="/portal/insurance", tags=["portal"], route_class=IdempotentRoute)


@router.post(
    "/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
)
@raises(
    PersonNotFound,
    PersonDeceased,
    RegistrationDuplicate,
    BaseOutOfRange,
    CardTypeInvalid,
    InsuranceTypeInvalid,
    PolicyInvalid,
    RegistrationDateInvalid,
    RegistrationKindInvalid,
    RegistrationUnderage,
)
def register_myself(
    body: SelfRegistrationIn, holder: HolderSession = Depends(require_holder), uow: UnitOfWork = TRANSACTION
) -> RegistrationOut:
    """Register yourself as a flexible or self-employed worker with a base inside the region's bounds (INS-2)."""
    person = get_person_or_raise(uow, holder.person_id)
    reg = register_self(
        uow,
        person=person,
        kind=body.kind,
        start=body.start,
        chosen_base_fen=body.chosen_base_fen,
        insurance_types=body.insurance_types,
        actor=holder_actor(person.id),
    )
    return RegistrationOut(registration_id=reg.id, late=reg.late, days_late=reg.days_late, deadline=reg.deadline)
