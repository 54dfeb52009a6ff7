"""A card that may not be used is refused on the batched PIN-verify path too (issue 26).

The batch decides only a right PIN on an active card; a card that is loss-reported, lost, replaced,
cancelled or not yet activated must be handed back to the single path, which refuses it with
CARD_BLOCKED / CARD_NOT_ACTIVE. No ``pin.verify`` entry with result ok may be written for it, with the
right PIN as much as with any other.
"""

from __future__ import annotations

import pytest

from sscard.cards import loss as card_loss
from sscard.cards import service as card_service
from sscard.credentials.pin import batch_verify
from sscard.credentials.pin.batch_verify import Authenticated, Verified, verify_batch
from sscard.db.session import unit_of_work
from tests.credentials.pin.factories import make_card
from tests.credentials.pin.test_batch_verify import PIN, _attempt, _audited
from tests.people.factories import CALLER, CLERK, new_id_number

REGION = "130102"

# state → the code the single path answers with
STATES = {
    "loss_reported": "CARD_BLOCKED",
    "lost": "CARD_BLOCKED",
    "replaced": "CARD_BLOCKED",
    "cancelled": "CARD_BLOCKED",
    "issued": "CARD_NOT_ACTIVE",
}


def _card_in(t, state: str) -> tuple[str, int, str]:
    """A card in ``state`` and the PIN that was right for it while it was usable."""
    if state == "issued":
        with unit_of_work() as uow:
            card = make_card(uow, activate=False, id_number=new_id_number(region=REGION))
            return card.card_no, card.id, "123456"
    id_number = new_id_number(region=REGION)
    with unit_of_work() as uow:
        card = make_card(uow, id_number=id_number)
        card_no, card_id = card.card_no, card.id
    body = {"card_no": card_no, "old_pin_block": t.pin_block(card_no, "123456"),
            "new_pin_block": t.pin_block(card_no, PIN)}  # fmt: skip
    t.request("POST", "/terminal/pin/change", json_body=body)  # the PIN enabled: the batch's own case
    with unit_of_work() as uow:
        if state == "loss_reported":
            card_loss.report_loss_by_hotline(uow, id_number=id_number, actor=CALLER)
        elif state == "lost":
            card_loss.confirm_loss(uow, card_no=card_no, actor=CLERK, evidence="ID card checked")
        elif state == "replaced":
            card_loss.confirm_loss(uow, card_no=card_no, actor=CLERK, evidence="ID card checked")
            card_service.replace_card(uow, card_no=card_no, actor=CLERK)
        elif state == "cancelled":
            card_service.cancel_card(uow, card_no=card_no, actor=CLERK)
    return card_no, card_id, PIN


# rules CARD-4 CARD-5 CARD-2 PIN-5 CH-4: the batch hands an unusable card back, even with the right PIN
@pytest.mark.parametrize("state", list(STATES))
def test_the_batch_never_accepts_a_card_that_may_not_be_used(terminal, state: str) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id, pin = _card_in(pharmacy, state)
    with unit_of_work() as uow:
        outcomes = verify_batch(uow, [_attempt(pharmacy, card_no, pin)])
    assert isinstance(outcomes[0], Authenticated) and not isinstance(outcomes[0], Verified)
    assert _audited(card_id) == 0


# rules CARD-4 CARD-5 CARD-2 CH-4: through the lane, the answer is the card's refusal, and no ok entry
@pytest.mark.parametrize("state", list(STATES))
def test_the_lane_refuses_a_card_that_may_not_be_used(client, terminal, state: str) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id, pin = _card_in(pharmacy, state)
    decided = batch_verify.pin_verifier().items
    body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, pin)}
    response = client.send(pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body))
    assert batch_verify.pin_verifier().items == decided + 1  # it went through the lane's batch
    assert response.status_code >= 400, response.text
    assert response.json()["code"] == STATES[state]
    assert _audited(card_id) == 0
