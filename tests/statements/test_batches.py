"""How ``statements generate`` cuts the contributors into batches (jobs/statements.py)."""

from __future__ import annotations

import pytest

from sscard.jobs.statements import split_batches


@pytest.mark.parametrize("count", [0, 1, 49, 50, 51, 100, 101, 499, 500, 523])
@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_every_person_once_in_order(count: int, parallel: int) -> None:
    pending = [(pid, "110105") for pid in range(count)]
    batches = split_batches(pending, 50, parallel=parallel)
    assert [p for batch in batches for p in batch] == pending
    assert all(0 < len(batch) <= 50 for batch in batches)


def test_last_batches_cut_small_so_workers_finish_together() -> None:
    pending = [(pid, "110105") for pid in range(523)]
    sizes = [len(b) for b in split_batches(pending, 50, parallel=2)]
    # whole batches first, then the last two batches' worth (100 persons) in quarters
    assert sizes[:8] == [50] * 8 and sum(sizes[9:]) == 100 and max(sizes[9:]) == 12
    assert [len(b) for b in split_batches(pending, 50, parallel=1)] == [50] * 10 + [23]  # no workers: as given
    assert [len(b) for b in split_batches(pending[:50], 50, parallel=2)] == [50]  # one batch: left whole
