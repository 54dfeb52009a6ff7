"""Counter additions for insurance (INS-1): the agency's premium decision on a late registration."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.insurance.errors import PremiumAlreadyDecided, RegistrationNotFound, RegistrationNotLate
from sscard.insurance.registration import decide_premium, get_registration_or_raise
from sscard.insurance.schemas import PremiumDecisionIn, RegistrationOut
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter/insurance", tags=["counter"], route_class=IdempotentRoute)
COUNTER = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR)


@router.post(
    "/registrations/{registration_id}/premium-decision",
    response_model=RegistrationOut,
)
@raises(OutsideRegion, RegistrationNotFound, PremiumAlreadyDecided, RegistrationNotLate)
def premium_decision(
    registration_id: RowId,
    body: PremiumDecisionIn,
    staff: StaffPrincipal = Depends(COUNTER),
    uow: UnitOfWork = TRANSACTION,
) -> RegistrationOut:
    """Record the agency's decision on the premium due for a late registration (INS-1), once, audited."""
    staff.ensure_region(get_registration_or_raise(uow, registration_id).region_code)
    reg = decide_premium(
        uow,
        registration_id=registration_id,
        decision=body.decision,
        premium_fen=body.premium_fen,
        actor=staff.actor(Channel(ROLE_CHANNEL[staff.role])),
    )
    return RegistrationOut(registration_id=reg.id, late=reg.late, days_late=reg.days_late, deadline=reg.deadline)
