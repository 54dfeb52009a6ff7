"""The lockout threshold (PIN-5): how many consecutive wrong PINs lock a card, from the regional policy.

A card's threshold is ``pin_lockout_threshold`` of the policy in force for its issuing region and
card type (POL). The single path reads the policy on each request (it needs the rest of it too:
the initial PIN rule, the campaign). The batched path asks a ``LockoutThresholds`` cache instead: it
must not spend a round trip of its transaction on the policy, and on the path it decides (a right
PIN, no failure on record) the threshold only sets the ``tries_left`` of the answer.

When the cache forgets: each batch reads the policy's ``PolicyGeneration`` in its first round trip
(how many policy versions exist, and how many are in force at that moment; ``batch_db.py``) and
hands it to ``observe``. A different generation (any process saved a version, or a scheduled one
came into force) empties the cache before the batch asks it, so the first batch that starts after
a policy change commits sees the change, in every process, without a timer.

What it does not know it does not guess: ``get`` answers None (that request takes the single path)
and remembers the scope, and the batch's driver reads the missing ones after its commit
(``read_missing``), for the batches that follow.
"""

from __future__ import annotations

from typing import NamedTuple

from sscard.cards.types import CardType
from sscard.db.session import UnitOfWork
from sscard.policy.service import get_effective_policy


class PolicyGeneration(NamedTuple):
    """Changes whenever the policy in force may have changed: a version saved, or one come into force."""

    versions: int
    in_force: int


def policy_threshold(uow: UnitOfWork, *, region_code: str, card_type: CardType) -> int:
    """The threshold the regional policy sets now for cards of ``card_type`` issued in ``region_code``."""
    return get_effective_policy(uow, region_code=region_code, card_type=card_type).pin_lockout_threshold


class LockoutThresholds:
    """The batched path's cache of lockout thresholds, one per (region, card type); see the module
    docstring. One per batcher (``batch_verify.PinBatchVerifier``); used from its event loop only."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, CardType], int] = {}
        self._missing: set[tuple[str, CardType]] = set()
        self._generation: PolicyGeneration | None = None

    def observe(self, generation: PolicyGeneration) -> None:
        """The policy's generation as a batch read it: a different one empties the cache."""
        if generation != self._generation:
            self._values.clear()
            self._generation = generation

    def get(self, region_code: str, card_type: CardType) -> int | None:
        """The cached threshold, or None (remembered, to be read by ``read_missing``)."""
        value = self._values.get((region_code, card_type))
        if value is None:
            self._missing.add((region_code, card_type))
        return value

    def get_or_read(self, uow: UnitOfWork, region_code: str, card_type: CardType) -> int:
        """The threshold, read in ``uow`` when not cached (the SQLAlchemy driver reads in its transaction)."""
        value = self._values.get((region_code, card_type))
        if value is None:
            value = self._values[region_code, card_type] = self.read(uow, region_code, card_type)
        return value

    @property
    def missing(self) -> bool:
        return bool(self._missing)

    def read_missing(self, uow: UnitOfWork) -> None:
        """Read the thresholds asked for while missing. On an error, they are asked for again next time."""
        wanted, self._missing = self._missing, set()
        try:
            for region_code, card_type in wanted:
                self._values[region_code, card_type] = self.read(uow, region_code, card_type)
        except BaseException:
            self._missing |= wanted
            raise

    def read(self, uow: UnitOfWork, region_code: str, card_type: CardType) -> int:
        """One threshold from the policy (a method, so a test can make it fail)."""
        return policy_threshold(uow, region_code=region_code, card_type=card_type)

    def clear(self) -> None:
        """Forget every threshold (and the generation): the next batch reads them again."""
        self._values.clear()
        self._missing.clear()
        self._generation = None
