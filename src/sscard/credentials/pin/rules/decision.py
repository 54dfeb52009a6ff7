"""The PIN verification rule (PIN-2, PIN-5, CARD-4): one pure decision that every path calls.

Inputs: the card's facts, its ``card_pin`` row as read under the row's lock, the lockout threshold of
its regional policy, whether a PIN was entered, and the result of the PIN check. Answer: accept,
refuse with a contract code, or (batched path only) "not decided here, take the single path".

Order matters and is part of the rule: a locked card is refused before its PIN block is opened, so
a malformed block on a locked card still answers ``PIN_LOCKED``. That is why the PIN check is given
as a function the decision calls at most once, when (and only when) the rule needs its result.

The batched path (``batch_verify.py``) decides only what writes nothing but the audit entry: the
right PIN of an active card whose PIN is enabled and has no failure on record. Anything else (a
refusal, which must count and audit; a failure count to reset; a PIN not enabled, whose campaign
prompt needs the holder) is ``FULL_PATH``, and the single path (``service.verify_card_pin``) decides
it with this same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Protocol

from sscard.cards.states import NOT_YET_ACTIVE_STATES, CardState


class PinRowFacts(Protocol):
    """What the rule reads of a card's ``card_pin`` row (the ORM row, or a row the batch read)."""

    @property
    def pvv(self) -> bytes | None: ...
    @property
    def failures(self) -> int: ...
    @property
    def locked_at(self) -> datetime | None: ...


class Check(Enum):
    """Which PIN the entered block must hold."""

    VERIFICATION_VALUE = "pvv"  # PIN enabled: the PIN whose verification value is stored (PIN-11)
    INITIAL = "initial"  # PIN not enabled: the initial PIN the policy derives (PIN-1)


@dataclass(frozen=True, slots=True)
class Accept:
    """The PIN passes. ``tries_left`` is the threshold (a right PIN resets the count, PIN-5)."""

    pin_enabled: bool
    tries_left: int
    reset_failures: bool  # failures on record: the single path sets the count back to 0
    campaign: bool  # PIN not enabled: the single path asks the campaign rules for a prompt


@dataclass(frozen=True, slots=True)
class Refuse:
    """The PIN does not pass: the contract ``code`` and the audit entry's ``result``.

    ``PIN_WRONG`` is counted by the single path in one atomic statement (``store.record_failure``),
    which also tells whether that failure locked the card."""

    code: str
    audit_result: str
    tries_left: int = 0


class _FullPath:
    """Not decided on the batched path: the single path decides the request."""

    def __repr__(self) -> str:
        return "FULL_PATH"


FULL_PATH: Final = _FullPath()
Decision = Accept | Refuse | _FullPath

CARD_NOT_ACTIVE = Refuse("CARD_NOT_ACTIVE", "card_not_active")
CARD_BLOCKED = Refuse("CARD_BLOCKED", "card_blocked")
PIN_LOCKED = Refuse("PIN_LOCKED", "locked")
# Asked of a PIN check that cannot tell here (a malformed block, a revoked key on the batched path).
PinIsRight = Callable[[Check], "bool | None"]


def decide_verify(
    *,
    card_state: CardState,
    row: PinRowFacts | None,
    threshold: int | None,
    pin_entered: bool,
    pin_is_right: PinIsRight,
    batched: bool = False,
) -> Decision:
    """Decide one PIN verification; see the module docstring. ``row`` None: never changed, never failed.

    ``threshold`` None: the batched path does not know the policy's threshold yet. ``pin_is_right``
    is called at most once, after every refusal that does not need the PIN; it answers None when the
    check cannot be made on this path (the batched path then hands the request on)."""
    if card_state is not CardState.ACTIVE:
        if batched:
            return FULL_PATH
        # CARD-4: a card not yet activated cannot be used; a blocked one neither (CARD-5 decides lapses).
        return CARD_NOT_ACTIVE if card_state in NOT_YET_ACTIVE_STATES else CARD_BLOCKED
    if threshold is None:
        return FULL_PATH
    failures = row.failures if row is not None else 0
    enabled = row is not None and row.pvv is not None  # PIN-2
    # PIN-5: locked by a lock on record, or by a threshold the policy lowered below the count.
    if row is not None and (row.locked_at is not None or failures >= threshold):
        return FULL_PATH if batched else PIN_LOCKED
    if batched and (not enabled or failures or not pin_entered):
        return FULL_PATH  # writes more than the audit entry: a reset, a prompt, a refusal
    if not pin_entered:
        if enabled:  # PIN-2: an enabled PIN is required
            return Refuse("PIN_REQUIRED", "pin_required", tries_left=threshold - failures)
        return Accept(pin_enabled=False, tries_left=threshold, reset_failures=failures > 0, campaign=True)
    right = pin_is_right(Check.VERIFICATION_VALUE if enabled else Check.INITIAL)
    if right is None or (batched and not right):
        return FULL_PATH  # a wrong PIN is counted on the single path
    if not right:
        return Refuse("PIN_WRONG", "wrong_pin")
    return Accept(pin_enabled=enabled, tries_left=threshold, reset_failures=failures > 0, campaign=not enabled)


def verify_details(*, pin_entered: bool, pin_enabled: bool, campaign: str | None = None) -> dict[str, object]:
    """The details of an accepted verification's audit entry (``pin.verify``, result ok), on every path."""
    details: dict[str, object] = {"pin_entered": pin_entered, "pin_enabled": pin_enabled}
    if campaign is not None:
        details["campaign"] = campaign
    return details
