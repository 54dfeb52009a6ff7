"""Counter PIN operations (PIN-6, PIN-7, PIN-8) with the identity check recorded (CH-2), audited (CH-4)
and notified (CH-5). PIN pads and terminal changes are covered in test_terminal_flow.py."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.cards.errors import CardBlocked, CardNotActive
from sscard.cards.service import confirm_loss
from sscard.credentials.pin.counter_ops import (
    cancel_card_pin,
    get_card_pin_status,
    prepare_counter_target,
    reset_card_pin,
    restore_card_pin,
    unlock_card_pin,
)
from sscard.credentials.pin.errors import (
    IdentityEvidenceMismatch,
    PinNotEnabled,
    PinNothingToRestore,
    PinNotLocked,
    PinResetModeNotAllowed,
)
from sscard.credentials.pin.store import get_pin_row, lock_pin_row, record_failure
from sscard.db.base import utcnow
from sscard.people.service import get_person_or_raise
from tests.credentials.pin.factories import make_card
from tests.people.factories import CLERK, new_id_number

PVV_A, PVV_B = b"\xaa" * 8, b"\xbb" * 8


def _id_of(uow, card) -> str:
    return get_person_or_raise(uow, card.person_id).id_number


def _target(uow, card):
    return prepare_counter_target(
        uow, card_no=card.card_no, document_type="resident_id_card", document_number=_id_of(uow, card)
    )


def _enable(uow, card, pvv: bytes = PVV_A, *, prior: bytes | None = None, restorable: bool = False) -> None:
    row = lock_pin_row(uow, card_id=card.id, now=utcnow())
    row.pvv, row.pvk_version, row.restorable = pvv, 1, restorable
    row.prior_pvv, row.prior_pvk_version = prior, 1 if prior else None
    uow.flush()


def _lock(uow, card) -> None:
    for _ in range(6):
        record_failure(uow, card_id=card.id, threshold=6, now=utcnow())


def _entries(uow, card, action: str) -> list[AuditEntry]:
    rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action))
    return [e for e in rows if json.loads(e.details).get("card_id") == card.id]


# rule PIN-6: a locked card is reset at the counter to the initial PIN; evidence recorded (CH-2, CH-4)
def test_reset_locked_card_to_initial(uow) -> None:
    card = make_card(uow)
    _enable(uow, card)
    _lock(uow, card)
    assert get_card_pin_status(uow, card_no=card.card_no).locked
    status = reset_card_pin(uow, target=_target(uow, card), actor=CLERK)
    assert (status.enabled, status.locked, status.failures, status.tries_left) == (False, False, 0, 6)
    [entry] = _entries(uow, card, "pin.reset")
    details = json.loads(entry.details)
    assert details["evidence"]["document_type"] == "resident_id_card"
    assert "*" in details["evidence"]["document_number"]
    assert _id_of(uow, card) not in entry.details
    assert details["was_locked"] is True and details["to"] == "initial"


# rule PIN-6: the policy decides whether a reset takes a new PIN; a new-PIN-only region refuses "initial"
def test_reset_mode_follows_policy(uow) -> None:
    from sscard.policy.service import set_policy
    from tests.staff.factories import ensure_region

    region = "630102"
    ensure_region(uow, "630000")
    set_policy(uow, region_code="630000", values={"pin_reset_mode": "new_pin"}, reason="test", actor=CLERK)
    card = make_card(uow, id_number=new_id_number(region=region))
    with pytest.raises(PinResetModeNotAllowed):
        reset_card_pin(uow, target=_target(uow, card), actor=CLERK)


# rule CH-2: the document shown must be the holder's own
def test_counter_refuses_someone_elses_document(uow) -> None:
    card = make_card(uow)
    with pytest.raises(IdentityEvidenceMismatch):
        prepare_counter_target(
            uow, card_no=card.card_no, document_type="resident_id_card", document_number=new_id_number()
        )


# rule PIN-5: unlock keeps the PIN and clears the count; only a locked PIN can be unlocked
def test_unlock(uow) -> None:
    card = make_card(uow)
    _enable(uow, card)
    with pytest.raises(PinNotLocked):
        unlock_card_pin(uow, target=_target(uow, card), actor=CLERK)
    _lock(uow, card)
    status = unlock_card_pin(uow, target=_target(uow, card), actor=CLERK)
    assert status.enabled and not status.locked and status.tries_left == 6
    assert get_pin_row(uow, card.id).pvv == PVV_A  # type: ignore[union-attr]


# rule PIN-7: an enabled PIN can be cancelled back to "not enabled"; a PIN not enabled cannot
def test_cancel(uow) -> None:
    card = make_card(uow)
    with pytest.raises(PinNotEnabled):
        cancel_card_pin(uow, target=_target(uow, card), actor=CLERK)
    _enable(uow, card)
    status = cancel_card_pin(uow, target=_target(uow, card), actor=CLERK)
    assert not status.enabled and get_pin_row(uow, card.id).pvv is None  # type: ignore[union-attr]
    assert len(_entries(uow, card, "pin.cancel")) == 1


# rule PIN-8: after a failed modification the counter restores the original PIN (initial or the previous one)
def test_restore(uow) -> None:
    first = make_card(uow)
    _enable(uow, first, PVV_B, prior=None, restorable=True)  # the first change from 123456 "failed"
    status = restore_card_pin(uow, target=_target(uow, first), actor=CLERK)
    assert not status.enabled and not status.restorable  # back to the initial PIN (seed 004 item 6)
    with pytest.raises(PinNothingToRestore):
        restore_card_pin(uow, target=_target(uow, first), actor=CLERK)

    second = make_card(uow)
    _enable(uow, second, PVV_B, prior=PVV_A, restorable=True)
    status = restore_card_pin(uow, target=_target(uow, second), actor=CLERK)
    assert status.enabled and get_pin_row(uow, second.id).pvv == PVV_A  # type: ignore[union-attr]


# rule CARD-4: no PIN operation on a card that is not activated; blocked cards are refused too
def test_counter_refuses_inactive_and_blocked_cards(uow) -> None:
    inactive = make_card(uow, activate=False)
    with pytest.raises(CardNotActive) as exc:
        _target(uow, inactive)
    assert "activat" in exc.value.detail
    lost = make_card(uow)
    confirm_loss(uow, card_no=lost.card_no, actor=CLERK, evidence="resident ID card")
    with pytest.raises(CardBlocked):
        _target(uow, lost)


# rule CH-5: the holder is told of every counter PIN operation, without the PIN
def test_counter_operations_notify_holder(uow) -> None:
    from sscard.notify.models import OutboxMessage

    card = make_card(uow, phone="13912345678")
    _enable(uow, card, PVV_B, prior=PVV_A, restorable=True)
    restore_card_pin(uow, target=_target(uow, card), actor=CLERK)
    _lock(uow, card)
    unlock_card_pin(uow, target=_target(uow, card), actor=CLERK)
    cancel_card_pin(uow, target=_target(uow, card), actor=CLERK)
    reset_card_pin(uow, target=_target(uow, card), actor=CLERK)
    topics = [
        m.topic for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == card.person_id))
    ]
    assert set(topics) >= {"pin.restore", "pin.unlock", "pin.cancel", "pin.reset"}
