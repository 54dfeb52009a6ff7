"""The counter console (service outlets and bank outlets): persons and cards, by staff within their region.

Every route requires a staff role (CH-2) and checks that the person or card lies in the staff
member's region before acting; sensitive steps record the identity evidence checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel
from sscard.cards.errors import (
    CardIllegalTransition,
    CardInputInvalid,
    CardLiveExists,
    CardNotFound,
    CardSpecInvalid,
    CardTypeInvalid,
    PersonalisationNotRecorded,
)
from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.cards.person_status import set_person_status
from sscard.cards.personalisation import check_presented_card
from sscard.cards.schemas import (
    CardCancel,
    CardCreate,
    CardRead,
    FieldCheckRead,
    PersonalisationCheckRead,
    PresentedCard,
)
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
from sscard.credentials.pin import counter_ops
from sscard.credentials.pin.errors import (
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    PinAtActivationNotOffered,
    PinInputInvalid,
    PinTooSimple,
)
from sscard.credentials.pin.issuance import notify_card_issued
from sscard.credentials.pin.pinpad import counter_pin_pad
from sscard.credentials.pin.schemas import ActivatedWithPinRead, ActivateWithPin, PinStatusRead
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.identity import parse_citizen_id
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.notify.errors import NotifyInvalid
from sscard.people.errors import (
    EmailInvalid,
    EvidenceRequired,
    GenderInvalid,
    IdMismatch,
    NameInvalid,
    PersonDeceased,
    PersonDuplicate,
    PersonNotFound,
    PersonStatusInvalid,
    PhoneInvalid,
    RevealFieldsInvalid,
    RevealForbidden,
)
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
)
from sscard.policy.errors import PolicyInvalid
from sscard.staff.errors import CardOtherBank, OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.terminal_registry.errors import TerminalNotFound

router = APIRouter(prefix="/counter", tags=["counter"], route_class=IdempotentRoute)

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
@raises(
    OutsideRegion,
    PersonDuplicate,
    EmailInvalid,
    GenderInvalid,
    InvalidCitizenId,
    IdMismatch,
    NameInvalid,
    PersonStatusInvalid,
    PhoneInvalid,
)
def register_person(
    body: PersonCreate, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """Register a person (PER-1, ID-4); 409 `PERSON_DUPLICATE` when the ID is already registered."""
    staff.ensure_region(parse_citizen_id(body.id_number).region_code)
    person = add_person(uow, actor=_actor(staff), **body.model_dump())
    return person_read(person)


@router.post("/persons/lookup", response_model=PersonRead)
@raises(OutsideRegion, PersonNotFound, EvidenceRequired, InvalidCitizenId)
def lookup_person(
    body: PersonLookup, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """Find a person by citizen ID, recording the identity evidence checked (CH-2); answers masked (ID-5)."""
    staff.ensure_region(get_person_by_id_number_or_raise(uow, body.id_number).region_code)
    person = lookup_person_at_counter(uow, id_number=body.id_number, actor=_actor(staff), evidence=body.evidence)
    return person_read(person)


@router.get("/persons/{person_id}", response_model=PersonRead)
@raises(OutsideRegion, PersonNotFound)
def show_person(
    person_id: RowId, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonRead:
    """A person's masked record (ID-5)."""
    person = get_person_or_raise(uow, person_id)
    staff.ensure_region(person.region_code)
    return person_read(person)


@router.post("/persons/{person_id}/reveal", response_model=PersonReveal)
@raises(OutsideRegion, RevealForbidden, PersonNotFound, EvidenceRequired, RevealFieldsInvalid)
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
@raises(OutsideRegion, PersonNotFound, CardIllegalTransition, PersonDeceased, PersonStatusInvalid)
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
@raises(OutsideRegion, PersonNotFound)
def person_cards(
    person_id: RowId, staff: StaffPrincipal = Depends(COUNTER), page: PageQuery = PAGE, uow: UnitOfWork = TRANSACTION
) -> list[CardRead]:
    """The person's cards, newest first."""
    staff.ensure_region(get_person_or_raise(uow, person_id).region_code)
    return [CardRead.of(c) for c in list_cards_of_person(uow, person_id=person_id, page=page)]


# --- cards ---------------------------------------------------------------------------------------


@router.post("/cards", status_code=status.HTTP_201_CREATED, response_model=CardRead)
@raises(
    OutsideRegion,
    PersonNotFound,
    CardIllegalTransition,
    CardLiveExists,
    PersonDeceased,
    CardSpecInvalid,
    CardTypeInvalid,
    NotifyInvalid,
    PolicyInvalid,
)
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
    notify_card_issued(uow, card=card, actor=_actor(staff))  # PIN-12: the initial PIN rule, never the PIN
    return CardRead.of(card)


@router.get("/cards/{card_no}", response_model=CardRead, summary="Show a card")
@raises(OutsideRegion, CardNotFound, CardIllegalTransition)
def show_card(card_no: str, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION) -> CardRead:
    """A card: type, medium, applications, state and dates."""
    return CardRead.of(_card_in_region(uow, staff, card_no))


@router.post("/cards/{card_no}/activate", response_model=CardRead)
@raises(CardOtherBank, OutsideRegion, CardNotFound, CardIllegalTransition)
def activate(card_no: str, staff: StaffPrincipal = Depends(ACTIVATION), uow: UnitOfWork = TRANSACTION) -> CardRead:
    """Activate an issued card at a service window or bank outlet (CARD-1, CARD-4); a bank clerk only
    activates cards issued through the clerk's bank (403 `CARD_OTHER_BANK`)."""
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    return CardRead.of(activate_card(uow, card_no=card_no, actor=_actor(staff)))


@router.post("/cards/{card_no}/activate-with-pin", response_model=ActivatedWithPinRead)
@raises(
    CardOtherBank,
    OutsideRegion,
    PinAtActivationNotOffered,
    CardNotFound,
    PersonNotFound,
    TerminalNotFound,
    CardIllegalTransition,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    PinInputInvalid,
    PinTooSimple,
    PolicyInvalid,
)
def activate_with_pin(
    card_no: str, body: ActivateWithPin, staff: StaffPrincipal = Depends(ACTIVATION), uow: UnitOfWork = TRANSACTION
) -> ActivatedWithPinRead:
    """Activate an issued card and set the holder's own PIN from the counter's PIN pad in the same step (PIN-4);
    offered where the region's policy `pin_at_activation` allows (403 `PIN_AT_ACTIVATION_NOT_OFFERED`)."""
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    pad = counter_pin_pad(uow, terminal_id=body.pin_pad.terminal_id, staff_region=staff.region_code)
    card, status = counter_ops.activate_with_pin(
        uow,
        card_no=card_no,
        document_type=body.evidence.document_type,
        document_number=body.evidence.document_number,
        new_pin=counter_ops.PinPadEntry(pad=pad, pin_block=bytes.fromhex(body.pin_pad.pin_block)),
        actor=_actor(staff),
    )
    return ActivatedWithPinRead(card=CardRead.of(card), pin=PinStatusRead.of(mask_card_no(card.card_no), status))


@router.post("/cards/{card_no}/personalisation/check", response_model=PersonalisationCheckRead)
@raises(
    OutsideRegion,
    CardNotFound,
    PersonalisationNotRecorded,
    PersonNotFound,
    CardIllegalTransition,
    CardInputInvalid,
    GenderInvalid,
    InvalidCitizenId,
    NameInvalid,
)
def check_personalisation(
    card_no: str, body: PresentedCard, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> PersonalisationCheckRead:
    """Check a presented card's data against what was personalised on it (CARD-7): each field given is
    named as matching or not, with the recorded value masked only."""
    card = _card_in_region(uow, staff, card_no)
    result = check_presented_card(
        uow,
        card_no=card_no,
        presented=body.model_dump(),
        person=get_person_or_raise(uow, card.person_id),
        actor=_actor(staff),
    )
    return PersonalisationCheckRead(
        card_no_masked=result.card_no_masked,
        matches=result.matches,
        fields=[FieldCheckRead(field=f.field, match=f.match, recorded_masked=f.recorded_masked) for f in result.fields],
        chip_serial=result.chip_serial,
        personalised_on=result.personalised_on,
        bureau=result.bureau,
        person_changed=result.person_changed,
    )


@router.post("/cards/{card_no}/loss/confirm", response_model=CardRead)
@raises(OutsideRegion, CardNotFound, CardIllegalTransition, EvidenceRequired, NotifyInvalid)
def confirm(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Make a loss formal after checking the holder's ID document (CARD-5, CH-2)."""
    _card_in_region(uow, staff, card_no)
    report = confirm_loss(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence)
    return CardRead.of(report.card)


@router.post("/cards/{card_no}/loss/withdraw", response_model=CardRead)
@raises(OutsideRegion, CardNotFound, CardIllegalTransition, EvidenceRequired)
def withdraw_loss_report(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """The holder found the card: withdraw the provisional loss report and unblock it."""
    _card_in_region(uow, staff, card_no)
    return CardRead.of(withdraw_loss(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence))


@router.post("/cards/{card_no}/replace", status_code=status.HTTP_201_CREATED, response_model=CardRead)
@raises(
    OutsideRegion,
    CardNotFound,
    PersonNotFound,
    CardIllegalTransition,
    CardLiveExists,
    PersonDeceased,
    CardSpecInvalid,
    CardTypeInvalid,
    EvidenceRequired,
    NotifyInvalid,
    PolicyInvalid,
)
def replace(
    card_no: str, body: EvidenceIn, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Replace a lost or damaged card: answers the new card; the old number is invalid for every use (CARD-2)."""
    _card_in_region(uow, staff, card_no)
    new = replace_card(uow, card_no=card_no, actor=_actor(staff), evidence=body.evidence)
    notify_card_issued(uow, card=new, actor=_actor(staff))  # PIN-12: the new card starts on the initial PIN
    return CardRead.of(new)


@router.post("/cards/{card_no}/cancel", response_model=CardRead)
@raises(OutsideRegion, CardNotFound, CardIllegalTransition, CardInputInvalid)
def cancel_issued_card(
    card_no: str, body: CardCancel, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> CardRead:
    """Cancel a card for good (CARD-1)."""
    _card_in_region(uow, staff, card_no)
    return CardRead.of(cancel_card(uow, card_no=card_no, actor=_actor(staff), reason=body.reason))
