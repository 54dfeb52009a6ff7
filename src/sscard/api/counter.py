"""The counter console (service outlets and bank outlets): persons and cards, by staff within their region.

Every route requires a staff role (CH-2) and checks that the person or card lies in the staff
member's region before acting; sensitive steps record the identity evidence checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sscard.api.deps import TRANSACTION
from sscard.audit import Actor, Channel
from sscard.cards.models import Card
from sscard.cards.schemas import CardCancel, CardCreate, CardRead
from sscard.cards.service import (
    activate_card,
    cancel_card,
    confirm_loss,
    get_card_or_raise,
    issue_card,
    list_cards_of_person,
    replace_card,
    withdraw_loss,
)
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.identity import parse_citizen_id
from sscard.people.schemas import (
    EvidenceIn,
    PersonCreate,
    PersonLookup,
    PersonRead,
    PersonReveal,
    PersonRevealRequest,
    PersonStatusChange,
)
from sscard.people.service import (
    add_person,
    get_person_by_id_number_or_raise,
    get_person_or_raise,
    lookup_person_at_counter,
    person_read,
    reveal_person,
    set_person_status,
)
from sscard.staff.deps import StaffPrincipal, require_staff
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter", tags=["counter"])

COUNTER = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR)
# CARD-1: activation happens at a service window or a bank outlet.
ACTIVATION = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR, Role.BANK_CLERK)
# ID-5 / CH-2: the full ID number, phone and email only for the supervisor.
SUPERVISOR = require_staff(Role.COUNTER_SUPERVISOR)


def _actor(staff: StaffPrincipal) -> Actor:
    return staff.actor(Channel(ROLE_CHANNEL[staff.role]))


def _card_in_region(uow: UnitOfWork, staff: StaffPrincipal, card_no: str) -> Card:
    card = get_card_or_raise(uow, card_no)
    staff.ensure_region(card.region_code)
    return card


# --- persons -------------------------------------------------------------------------------------


@router.post("/persons", status_code=status.HTTP_201_CREATED, response_model=PersonRead)
def register_person(
    body: PersonCreate, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """Register a person (PER-1, ID-4); 409 `PERSON_DUPLICATE` when the ID is already registered."""
    staff.ensure_region(parse_citizen_id(body.id_number).region_code)
    person = add_person(uow, actor=_actor(staff), **body.model_dump())
    return person_read(person)


@router.post("/persons/lookup", response_model=PersonRead)
def lookup_person(
    body: PersonLookup, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """Find a person by citizen ID, recording the identity evidence checked (CH-2); answers masked (ID-5)."""
    staff.ensure_region(get_person_by_id_number_or_raise(uow, body.id_number).region_code)
    person = lookup_person_at_counter(uow, id_number=body.id_number, actor=_actor(staff), evidence=body.evidence)
    return person_read(person)


@router.get("/persons/{person_id}", response_model=PersonRead)
def show_person(
    person_id: RowId, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """A person's masked record (ID-5)."""
    person = get_person_or_raise(uow, person_id)
    staff.ensure_region(person.region_code)
    return person_read(person)


@router.post("/persons/{person_id}/reveal", response_model=PersonReveal)
def reveal(
    person_id: RowId,
    body: PersonRevealRequest,
    staff: StaffPrincipal = Depends(SUPERVISOR),
    uow: UnitOfWork = TRANSACTION,
) -> PersonReveal:
    """Full ID number / phone / email for a supervisor; audited with the evidence checked (ID-5, CH-2)."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    return reveal_person(uow, person_id=person_id, actor=_actor(staff), evidence=body.evidence, fields=body.fields)


@router.post("/persons/{person_id}/status", response_model=PersonRead)
def change_status(
    person_id: RowId,
    body: PersonStatusChange,
    staff: StaffPrincipal = Depends(COUNTER),
    uow: UnitOfWork = TRANSACTION,
) -> PersonRead:
    """Change a person's status; deceased is final and cancels every live card (PER-1, CARD-1)."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    return person_read(set_person_status(uow, person_id=person_id, status=body.status, actor=_actor(staff)))


@router.get("/persons/{person_id}/cards", response_model=list[CardRead])
def person_cards(
    person_id: RowId, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> list[CardRead]:
    """The person's cards, newest first."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    return [CardRead.of(c) for c in list_cards_of_person(uow, person_id=person_id)]


# --- cards ---------------------------------------------------------------------------------------


@router.post("/cards", status_code=status.HTTP_201_CREATED, response_model=CardRead)
def issue(body: CardCreate, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION) -> CardRead:
    """Issue a card (CARD-1, CARD-3); 409 `CARD_LIVE_EXISTS` when the person already holds one of the type."""
    staff.ensure_region(get_person_or_raise(uow, body.person_id).region_code)
    card = issue_card(
        uow,
        person_id=body.person_id,
        card_type=body.card_type.value,
        actor=_actor(staff),
        generation=body.generation,
        financial=body.financial,
        bank_code=body.bank_code,
    )
    return CardRead.of(card)


@router.get("/cards/{card_no}", response_model=CardRead)
def show_card(card_no: str, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION) -> CardRead:
    """A card: type, medium, applications, state and dates."""
    return CardRead.of(_card_in_region(uow, staff, card_no))


@router.post("/cards/{card_no}/activate", response_model=CardRead)
def activate(card_no: str, staff: StaffPrincipal = Depends(ACTIVATION), uow: UnitOfWork = TRANSACTION) -> CardRead:
    """Activate an issued card at a service window or bank outlet (CARD-1, CARD-4); a bank clerk only
    activates cards issued through the clerk's bank (403 `CARD_OTHER_BANK`)."""
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    return CardRead.of(activate_card(uow, card_no=card_no, actor=_actor(staff)))


@router.post("/cards/{card_no}/loss/confirm", response_model=CardRead)
def confirm(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Make a loss formal after checking the holder's ID document (CARD-5, CH-2)."""
    _card_in_region(uow, staff, card_no)
    report = confirm_loss(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence)
    return CardRead.of(report.card)


@router.post("/cards/{card_no}/loss/withdraw", response_model=CardRead)
def withdraw(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """The holder found the card: withdraw the provisional loss report and unblock it."""
    _card_in_region(uow, staff, card_no)
    return CardRead.of(withdraw_loss(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence))


@router.post("/cards/{card_no}/replace", status_code=status.HTTP_201_CREATED, response_model=CardRead)
def replace(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Replace a lost or damaged card: answers the new card; the old number is invalid for every use (CARD-2)."""
    _card_in_region(uow, staff, card_no)
    return CardRead.of(replace_card(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence))


@router.post("/cards/{card_no}/cancel", response_model=CardRead)
def cancel(
    card_no: str, body: CardCancel, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Cancel a card for good (CARD-1)."""
    _card_in_region(uow, staff, card_no)
    return CardRead.of(cancel_card(uow, card_no=card_no, actor=_actor(staff), reason=body.reason))
