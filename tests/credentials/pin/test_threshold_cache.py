"""The batched path's cache of lockout thresholds (PIN-5, POL; rules/threshold.py), as a pure object: what
it answers, what it remembers to read, and when it forgets (issue 26: its PostgreSQL-only tests were the
only ones that reached it)."""

from __future__ import annotations

import pytest

from sscard.cards.types import CardType
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration

SOCIAL = CardType.SOCIAL


class Cache(LockoutThresholds):
    """The cache with the policy read replaced: thresholds from a dict, every read recorded."""

    def __init__(self, policy: dict[str, int]) -> None:
        super().__init__()
        self.policy, self.reads, self.fail = policy, [], False

    def read(self, uow, region_code, card_type):
        self.reads.append((uow, region_code, card_type))
        if self.fail:
            raise RuntimeError("the policy could not be read")
        return self.policy[region_code]


# rule PIN-5: an unknown threshold is not guessed: None, remembered, read after the batch, then served
def test_a_missing_threshold_is_read_later_in_the_given_unit_of_work() -> None:
    cache, uow = Cache({"110105": 5, "310104": 6}), object()
    assert cache.get("110105", SOCIAL) is None and cache.missing
    assert cache.get("310104", SOCIAL) is None
    cache.read_missing(uow)
    assert not cache.missing
    assert sorted(cache.reads, key=lambda r: r[1]) == [(uow, "110105", SOCIAL), (uow, "310104", SOCIAL)]
    assert cache.get("110105", SOCIAL) == 5 and cache.get("310104", SOCIAL) == 6
    assert not cache.missing  # served from the cache: nothing more to read


# rule PIN-5: a failed read leaves the thresholds asked for again next time
def test_a_failed_read_keeps_them_missing() -> None:
    cache = Cache({"110105": 5})
    cache.get("110105", SOCIAL)
    cache.fail = True
    with pytest.raises(RuntimeError):
        cache.read_missing(object())
    assert cache.missing
    cache.fail = False
    cache.read_missing(object())
    assert cache.get("110105", SOCIAL) == 5


# rule PIN-5 / POL: a new policy generation empties the cache; the same generation keeps it
def test_a_new_policy_generation_forgets_every_threshold() -> None:
    cache = Cache({"110105": 5})
    cache.observe(PolicyGeneration(1, 1))
    assert cache.get_or_read(object(), "110105", SOCIAL) == 5
    cache.observe(PolicyGeneration(1, 1))
    assert cache.get("110105", SOCIAL) == 5 and len(cache.reads) == 1
    cache.policy["110105"] = 4
    cache.observe(PolicyGeneration(2, 1))
    assert cache.get("110105", SOCIAL) is None
    assert cache.get_or_read(object(), "110105", SOCIAL) == 4
    cache.clear()
    assert cache.get("110105", SOCIAL) is None and cache.missing
    cache.clear()
    assert not cache.missing


def test_the_full_path_marker_names_itself() -> None:
    # rule PIN-5: FULL_PATH shows as such in logs and test reports
    from sscard.credentials.pin.rules.decision import FULL_PATH

    assert repr(FULL_PATH) == "FULL_PATH"


# rule PIN-5: the SQLAlchemy driver's read goes through the cache: read once, in the batch's unit of work
def test_get_or_read_reads_once_in_the_given_unit_of_work() -> None:
    cache, uow = Cache({"110105": 5}), object()
    assert cache.get_or_read(uow, "110105", SOCIAL) == 5
    assert cache.get_or_read(object(), "110105", SOCIAL) == 5
    assert cache.reads == [(uow, "110105", SOCIAL)]
