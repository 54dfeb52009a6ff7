"""Counter re-initialisation of the online query password (QPW-3), after a recorded identity check (CH-2)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.cards.errors import CardTypeInvalid
from sscard.credentials.pin.errors import IdentityEvidenceInvalid, IdentityEvidenceMismatch
from sscard.credentials.pin.schemas import IdentityEvidenceIn
from sscard.credentials.query_password.counter import reinitialise_query_password
from sscard.credentials.query_password.service import initial_password_state
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number, parse_citizen_id
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.notify.errors import NotifyInvalid
from sscard.people.errors import PersonDeceased, PersonNotFound
from sscard.people.service import get_person_by_id_number_or_raise
from sscard.policy.errors import PolicyInvalid
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter/query-password", tags=["counter"], route_class=IdempotentRoute)

COUNTER = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR)


class ReinitialiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32, description="The holder's citizen ID number.")
    evidence: IdentityEvidenceIn


class QueryPasswordStateRead(BaseModel):
    id_number_masked: str
    initial: bool = Field(description="The initial password (ID last 8, X→0) applies.")
    initial_expired: bool
    message_zh: str = "初始查询密码为身份证号码后8位（X转为0），请提醒参保人登录后立即修改。"


@router.post(
    "/reinitialise",
    response_model=QueryPasswordStateRead,
)
@raises(
    OutsideRegion,
    PersonNotFound,
    PersonDeceased,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    NotifyInvalid,
    PolicyInvalid,
)
def reinitialise(
    body: ReinitialiseIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> QueryPasswordStateRead:
    """Set the holder's query password back to the initial one after checking the ID document (QPW-3)."""
    person = get_person_by_id_number_or_raise(uow, body.id_number)
    staff.ensure_region(person.region_code)
    reinitialise_query_password(
        uow,
        person=person,
        document_type=body.evidence.document_type,
        document_number=body.evidence.document_number,
        actor=staff.actor(Channel(ROLE_CHANNEL[staff.role])),
    )
    state = initial_password_state(uow, person=person)
    return QueryPasswordStateRead(
        id_number_masked=mask_id_number(parse_citizen_id(body.id_number).number),
        initial=bool(state["initial"]),
        initial_expired=bool(state["initial_expired"]),
    )
