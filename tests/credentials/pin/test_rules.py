"""The PIN verification rule as one pure decision (credentials/pin/rules/decision.py): no database.

Each row is one case of the rule, on the single path and on the batched path; the batched path may
only accept what writes nothing but the audit entry, and hands everything else to the single path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from sscard.cards.states import CardState
from sscard.credentials.pin.rules.decision import (
    FULL_PATH,
    Accept,
    Check,
    Refuse,
    decide_verify,
    verify_details,
)
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration

LOCKED_AT = datetime(2026, 1, 1, tzinfo=UTC)
THRESHOLD = 6


@dataclass(frozen=True)
class Row:
    pvv: bytes | None = b"\x01" * 8
    failures: int = 0
    locked_at: datetime | None = None


ENABLED, INITIAL = Row(), Row(pvv=None)
A = CardState.ACTIVE

# (rule, card state, row, PIN entered, PIN right (None: not asked), single path, batched path)
CASES = [
    # CARD-4: a card not yet activated cannot be used; a blocked one neither
    ("CARD-4", CardState.ISSUED, ENABLED, True, None, Refuse("CARD_NOT_ACTIVE", "card_not_active"), FULL_PATH),
    ("CARD-4", CardState.APPLIED, INITIAL, False, None, Refuse("CARD_NOT_ACTIVE", "card_not_active"), FULL_PATH),
    ("CARD-5", CardState.LOST, ENABLED, True, None, Refuse("CARD_BLOCKED", "card_blocked"), FULL_PATH),
    # PIN-5: a locked PIN is refused before the block is opened, however right it is
    ("PIN-5", A, Row(locked_at=LOCKED_AT), True, None, Refuse("PIN_LOCKED", "locked"), FULL_PATH),
    ("PIN-5", A, Row(failures=THRESHOLD), True, None, Refuse("PIN_LOCKED", "locked"), FULL_PATH),
    ("PIN-5", A, Row(pvv=None, locked_at=LOCKED_AT), False, None, Refuse("PIN_LOCKED", "locked"), FULL_PATH),
    # PIN-2: an enabled PIN is required; a PIN not enabled needs none (and its campaign may prompt, PIN-9)
    ("PIN-2", A, ENABLED, False, None, Refuse("PIN_REQUIRED", "pin_required", tries_left=6), FULL_PATH),
    ("PIN-2", A, Row(failures=2), False, None, Refuse("PIN_REQUIRED", "pin_required", tries_left=4), FULL_PATH),
    ("PIN-2", A, INITIAL, False, None, Accept(False, 6, reset_failures=False, campaign=True), FULL_PATH),
    ("PIN-2", None, None, False, None, Accept(False, 6, reset_failures=False, campaign=True), FULL_PATH),
    # PIN-1: not enabled, a PIN entered: the initial PIN is checked
    ("PIN-1", A, INITIAL, True, True, Accept(False, 6, reset_failures=False, campaign=True), FULL_PATH),
    ("PIN-1", A, INITIAL, True, False, Refuse("PIN_WRONG", "wrong_pin"), FULL_PATH),
    # PIN-5: a wrong PIN is counted (on the single path); a right one resets the count
    ("PIN-5", A, ENABLED, True, False, Refuse("PIN_WRONG", "wrong_pin"), FULL_PATH),
    ("PIN-5", A, Row(failures=5), True, True, Accept(True, 6, reset_failures=True, campaign=False), FULL_PATH),
    ("PIN-5", A, Row(failures=5), True, False, Refuse("PIN_WRONG", "wrong_pin"), FULL_PATH),
    # the common case, the only one the batched path decides
    ("PIN-2", A, ENABLED, True, True, Accept(True, 6, reset_failures=False, campaign=False), "same"),
]


def _case_id(case: tuple) -> str:
    # Plain characters only: a test id is also a command-line argument (make mutation selects tests by id).
    row = case[2]
    facts = "none" if row is None else f"{'enabled' if row.pvv else 'initial'}-failures{row.failures}"
    facts += "-locked" if row is not None and row.locked_at else ""
    return f"{case[0]}-{case[1]}-{facts}-entered={case[3]}-right={case[4]}"


# rules CARD-4 CARD-5 PIN-1 PIN-2 PIN-5 PIN-9
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_the_pin_rule_decides_each_case_the_same_on_both_paths(case) -> None:
    _, state, row, entered, right, single, batched = case
    for is_batched, expected in ((False, single), (True, single if batched == "same" else batched)):
        asked: list[Check] = []

        def pin_is_right(check: Check, asked=asked) -> bool | None:
            asked.append(check)
            return right

        decision = decide_verify(card_state=state or A, row=row, threshold=THRESHOLD, pin_entered=entered,
                                 pin_is_right=pin_is_right, batched=is_batched)  # fmt: skip
        assert decision == expected, (is_batched, decision)
        if right is None:
            assert asked == [], "the PIN block must not be opened when the rule does not need it"


# rules PIN-11 PIN-1: the check asked for follows the PIN row: enabled → verification value, else initial
def test_the_rule_asks_for_the_check_the_pin_row_needs() -> None:
    for row, check in ((ENABLED, Check.VERIFICATION_VALUE), (INITIAL, Check.INITIAL), (None, Check.INITIAL)):
        asked: list[Check] = []
        decide_verify(card_state=A, row=row, threshold=THRESHOLD, pin_entered=True,
                      pin_is_right=lambda c, asked=asked: asked.append(c) or True)  # fmt: skip
        assert asked == [check]


# rule PIN-5: a threshold the policy lowered below the count locks at once; an unknown one decides nothing here
def test_the_threshold_shapes_the_lock_and_the_tries_left() -> None:
    decide = lambda threshold, batched=False: decide_verify(  # noqa: E731
        card_state=A, row=Row(failures=3), threshold=threshold, pin_entered=True,
        pin_is_right=lambda _c: True, batched=batched,
    )  # fmt: skip
    assert decide(3) == Refuse("PIN_LOCKED", "locked")
    assert decide(4) == Accept(True, 4, reset_failures=True, campaign=False)
    assert decide(None, batched=True) is FULL_PATH
    plain = decide_verify(card_state=A, row=ENABLED, threshold=None, pin_entered=True,
                          pin_is_right=lambda _c: True, batched=True)  # fmt: skip
    assert plain is FULL_PATH


# PIN-11: a PIN check that cannot be made on the batched path (a malformed block) hands the request on
def test_a_check_that_cannot_be_made_here_hands_the_request_on() -> None:
    decision = decide_verify(card_state=A, row=ENABLED, threshold=THRESHOLD, pin_entered=True,
                             pin_is_right=lambda _c: None, batched=True)  # fmt: skip
    assert decision is FULL_PATH


# rule CH-4: one builder of an accepted verification's audit details, on both paths
def test_the_audit_details_of_an_accepted_verification() -> None:
    assert verify_details(pin_entered=True, pin_enabled=True) == {"pin_entered": True, "pin_enabled": True}
    assert verify_details(pin_entered=False, pin_enabled=False, campaign="2026-spring") == {
        "pin_entered": False,
        "pin_enabled": False,
        "campaign": "2026-spring",
    }


# rule PIN-5 (POL): the batch's threshold cache forgets when the policy's generation changes
def test_the_threshold_cache_forgets_when_the_policy_changes() -> None:
    reads: list[tuple[str, str]] = []

    class Counting(LockoutThresholds):
        def read(self, uow, region_code, card_type):
            reads.append((region_code, card_type))
            return 5

    cache = Counting()
    cache.observe(PolicyGeneration(versions=3, in_force=3))
    assert cache.get("130102", "social") is None and cache.missing  # type: ignore[arg-type]
    cache.read_missing(uow=None)  # type: ignore[arg-type]
    assert cache.get("130102", "social") == 5 and not cache.missing  # type: ignore[arg-type]
    cache.observe(PolicyGeneration(versions=3, in_force=3))  # nothing changed: kept
    assert cache.get("130102", "social") == 5  # type: ignore[arg-type]
    cache.observe(PolicyGeneration(versions=3, in_force=4))  # a scheduled version came into force
    assert cache.get("130102", "social") is None  # type: ignore[arg-type]
    cache.read_missing(uow=None)  # type: ignore[arg-type]
    cache.observe(PolicyGeneration(versions=4, in_force=4))  # a version was saved
    assert cache.get("130102", "social") is None  # type: ignore[arg-type]
    assert reads == [("130102", "social")] * 2


# a failed read is asked for again, not lost
def test_a_failed_threshold_read_is_asked_for_again() -> None:
    class Failing(LockoutThresholds):
        def read(self, uow, region_code, card_type):
            raise RuntimeError("the policy could not be read")

    cache = Failing()
    assert cache.get("130102", "social") is None  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        cache.read_missing(uow=None)  # type: ignore[arg-type]
    assert cache.missing


# rule PIN-5 (issue 26, surviving mutants): a right PIN after a single wrong one resets the count
@pytest.mark.parametrize(("row", "entered"), [(Row(failures=1), True), (Row(pvv=None, failures=1), True),
                                             (Row(pvv=None, failures=1), False)])  # fmt: skip
def test_a_right_pin_after_one_wrong_one_resets_the_count(row, entered) -> None:
    decision = decide_verify(card_state=A, row=row, threshold=THRESHOLD, pin_entered=entered,
                             pin_is_right=lambda check: True)  # fmt: skip
    assert isinstance(decision, Accept) and decision.reset_failures is True
