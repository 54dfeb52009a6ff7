"""A region's own lockout threshold at a terminal (issue 26): no other PIN test sets a non-default one.

PIN-5 counts wrong PINs per card and locks at the threshold of the policy in force for the card's region
and type (POL); the default is six. A region whose policy says five must lock on the fifth wrong PIN,
and every answer's ``tries_left`` must count down from five, on the batched lane as on the single path.
"""

from __future__ import annotations

from sqlalchemy import select

from sscard.credentials.pin.models import CardPin
from sscard.db.session import unit_of_work
from sscard.policy.service import set_policy
from tests.credentials.pin.test_batch_thresholds import ADMIN
from tests.credentials.pin.test_batch_verify import PIN, _enabled_card
from tests.credentials.pin.test_terminal_flow import _refusal, _verify
from tests.staff.factories import ensure_region

REGION = "140902"  # a region of its own: its policy locks after five wrong PINs


def _locked(card_id: int) -> bool:
    with unit_of_work() as uow:
        return uow.session.scalar(select(CardPin.locked_at).where(CardPin.card_id == card_id)) is not None


# rule PIN-5 (POL): a region whose policy locks after 5 wrong PINs locks on the 5th, and tries_left counts from 5
def test_a_region_threshold_of_five_locks_on_the_fifth_wrong_pin(terminal) -> None:
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        set_policy(uow, region_code=REGION, actor=ADMIN, reason="five tries", values={"pin_lockout_threshold": 5})
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy, REGION)

    assert _verify(pharmacy, card_no, PIN)["tries_left"] == 5  # the right PIN: the region's threshold
    lefts = []
    for n in range(1, 6):
        refusal = _refusal(_verify, pharmacy, card_no, "000123")
        lefts.append(refusal.problem["tries_left"])
        assert _locked(card_id) is (n == 5), f"after wrong PIN {n}"
    assert lefts == [4, 3, 2, 1, 0]
    locked = _refusal(_verify, pharmacy, card_no, PIN)  # now even the right PIN is refused
    assert locked.code == "PIN_LOCKED" and locked.status == 423


# rule PIN-5 (POL): a right PIN resets the count, and the region's threshold is what it resets to
def test_the_right_pin_resets_to_the_region_threshold(terminal) -> None:
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        set_policy(uow, region_code=REGION, actor=ADMIN, reason="five tries", values={"pin_lockout_threshold": 5})
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy, REGION)
    assert [_refusal(_verify, pharmacy, card_no, "000123").problem["tries_left"] for _ in range(4)] == [4, 3, 2, 1]
    assert _verify(pharmacy, card_no, PIN)["tries_left"] == 5
    assert _refusal(_verify, pharmacy, card_no, "000123").problem["tries_left"] == 4
    assert not _locked(card_id)


# rule PIN-5 / CARD-3 (POL): the threshold is the one of the card's type in its region
def test_the_threshold_is_read_for_the_cards_type(uow) -> None:
    from sscard.cards.types import CardType
    from sscard.credentials.pin.rules.threshold import LockoutThresholds, policy_threshold

    region = "140904"  # a region of its own: medical cards there lock after three
    ensure_region(uow, region)
    set_policy(uow, region_code=region, actor=ADMIN, reason="medical", values={"pin_lockout_threshold": 3},
               card_type="medical")  # fmt: skip
    assert policy_threshold(uow, region_code=region, card_type=CardType.MEDICAL) == 3
    assert policy_threshold(uow, region_code=region, card_type=CardType.SOCIAL) == 6
    assert LockoutThresholds().read(uow, region, CardType.MEDICAL) == 3
