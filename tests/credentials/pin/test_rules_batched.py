"""The PIN rule on the batched path, as a pure function (issue 26): a card that is not active is never
decided there, whatever the PIN; the single path refuses it (test_batch_card_states.py, end to end)."""

from __future__ import annotations

import pytest

from sscard.cards.states import CardState
from sscard.credentials.pin.rules.decision import FULL_PATH, decide_verify
from tests.credentials.pin.test_rules import ENABLED


# rules CARD-4 CARD-5 CARD-2: the rule itself, on the batched path, with a PIN that is right: never accepted
@pytest.mark.parametrize("state", [s for s in CardState if s is not CardState.ACTIVE])
def test_the_batched_rule_hands_back_every_card_that_is_not_active_even_with_the_right_pin(state) -> None:
    decision = decide_verify(
        card_state=state, row=ENABLED, threshold=6, pin_entered=True, pin_is_right=lambda check: True, batched=True
    )
    assert decision is FULL_PATH
