"""Counter PIN operations (PIN-6, PIN-7, PIN-8): reset, unlock, cancel, restore, status.

Staff of a service outlet or bank outlet, inside their region (CH-2), with the identity document
checked and recorded. Every operation is audited with that evidence and notified to the holder.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound, CardTypeInvalid
from sscard.cards.numbers import mask_card_no
from sscard.cards.service import get_card_or_raise
from sscard.credentials.pin.counter_ops import (
    CounterTarget,
    PinPadEntry,
    cancel_card_pin,
    get_card_pin_status,
    prepare_counter_target,
    reset_card_pin,
    restore_card_pin,
    unlock_card_pin,
)
from sscard.credentials.pin.errors import (
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    PinInputInvalid,
    PinNotEnabled,
    PinNothingToRestore,
    PinNotLocked,
    PinResetModeNotAllowed,
    PinTooSimple,
)
from sscard.credentials.pin.pinpad import counter_pin_pad
from sscard.credentials.pin.schemas import CounterPinRequest, CounterPinReset, PinStatusRead
from sscard.db.session import UnitOfWork
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.people.errors import PersonNotFound
from sscard.policy.errors import PolicyInvalid
from sscard.staff.errors import CardOtherBank, OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.terminal_registry.errors import TerminalNotFound

router = APIRouter(prefix="/counter/cards/{card_no}/pin", tags=["counter"], route_class=IdempotentRoute)

# PIN-6: at a social security service outlet or the card's bank outlet (a bank clerk acts only on cards
# issued through the bank on the clerk's account: 403 CARD_OTHER_BANK otherwise).
PIN_STAFF = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR, Role.BANK_CLERK)


def _actor(staff: StaffPrincipal) -> Actor:
    return staff.actor(Channel(ROLE_CHANNEL[staff.role]))


def _target(uow: UnitOfWork, staff: StaffPrincipal, card_no: str, body: CounterPinRequest) -> CounterTarget:
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    return prepare_counter_target(
        uow, card_no=card_no, document_type=body.evidence.document_type, document_number=body.evidence.document_number
    )


def _read(target: CounterTarget, status: object) -> PinStatusRead:
    return PinStatusRead.of(mask_card_no(target.card.card_no), status)  # type: ignore[arg-type]


@router.get("", response_model=PinStatusRead)  # type: ignore[arg-type]
@raises(CardOtherBank, OutsideRegion, CardNotFound, CardIllegalTransition, CardTypeInvalid, PolicyInvalid)
def pin_status(
    card_no: str, staff: StaffPrincipal = Depends(PIN_STAFF), uow: UnitOfWork = TRANSACTION
) -> PinStatusRead:
    """Show whether the card's PIN is enabled, locked, how many tries are left and whether it can be restored."""
    card = get_card_or_raise(uow, card_no)
    staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    return PinStatusRead.of(mask_card_no(card.card_no), get_card_pin_status(uow, card_no=card_no))


@router.post("/reset", response_model=PinStatusRead)  # type: ignore[arg-type]
@raises(
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    PersonNotFound,
    TerminalNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    PinInputInvalid,
    PinResetModeNotAllowed,
    PinTooSimple,
    PolicyInvalid,
)
def reset(
    card_no: str, body: CounterPinReset, staff: StaffPrincipal = Depends(PIN_STAFF), uow: UnitOfWork = TRANSACTION
) -> PinStatusRead:
    """Reset the PIN (PIN-6): to the initial PIN, or to a new PIN typed on the PIN pad, per the region's policy."""
    target = _target(uow, staff, card_no, body)
    new_pin: PinPadEntry | None = None
    if body.pin_pad is not None:
        pad = counter_pin_pad(uow, terminal_id=body.pin_pad.terminal_id, staff_region=staff.region_code)
        new_pin = PinPadEntry(pad=pad, pin_block=bytes.fromhex(body.pin_pad.pin_block))
    return _read(target, reset_card_pin(uow, target=target, actor=_actor(staff), new_pin=new_pin))


@router.post("/unlock", response_model=PinStatusRead)  # type: ignore[arg-type]
@raises(
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    PinNotLocked,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    PolicyInvalid,
)
def unlock(
    card_no: str,
    body: CounterPinRequest,
    staff: StaffPrincipal = Depends(PIN_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> PinStatusRead:
    """Lift a PIN lock and clear the failure count; the PIN itself is kept (PIN-5, PIN-6)."""
    target = _target(uow, staff, card_no, body)
    return _read(target, unlock_card_pin(uow, target=target, actor=_actor(staff)))


@router.post("/cancel", response_model=PinStatusRead)  # type: ignore[arg-type]
@raises(
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    PinNotEnabled,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    PolicyInvalid,
)
def cancel_pin(
    card_no: str,
    body: CounterPinRequest,
    staff: StaffPrincipal = Depends(PIN_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> PinStatusRead:
    """Cancel an enabled PIN: the card returns to "not enabled" and transactions need no PIN (PIN-7)."""
    target = _target(uow, staff, card_no, body)
    return _read(target, cancel_card_pin(uow, target=target, actor=_actor(staff)))


@router.post("/restore", response_model=PinStatusRead)  # type: ignore[arg-type]
@raises(
    CardOtherBank,
    OutsideRegion,
    CardNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    PinNothingToRestore,
    CardTypeInvalid,
    IdentityEvidenceInvalid,
    IdentityEvidenceMismatch,
    InvalidCitizenId,
    PolicyInvalid,
)
def restore(
    card_no: str,
    body: CounterPinRequest,
    staff: StaffPrincipal = Depends(PIN_STAFF),
    uow: UnitOfWork = TRANSACTION,
) -> PinStatusRead:
    """Restore the original PIN after a failed modification (PIN-8); the holder then changes it again."""
    target = _target(uow, staff, card_no, body)
    return _read(target, restore_card_pin(uow, target=target, actor=_actor(staff)))
