"""The batched path's lockout threshold cache on PostgreSQL's driver (credentials/pin/rules/threshold.py):
the batch decides the common case once the threshold is known, and sees a policy change in the next
batch that starts after it commits, in any process (the cache follows the policy's generation)."""

from __future__ import annotations

import asyncio

import pytest

from sscard.audit import Actor, Channel
from sscard.credentials.pin.batch_verify import Authenticated, Verified, verify_batch_pg
from sscard.credentials.pin.rules.threshold import LockoutThresholds
from sscard.db.session import get_async_engine, unit_of_work
from sscard.policy.service import set_policy
from tests.credentials.pin.test_batch_verify import PIN, _attempt, _enabled_card

REGION = "150107"  # a region of its own: its policy changes here
ADMIN = Actor(kind="staff", id="admin1", channel=Channel.ADMIN, role="administrator", region="000000")


async def _batch(thresholds: LockoutThresholds, attempts: list) -> list:
    engine = get_async_engine()
    assert engine is not None
    async with engine.connect() as connection:
        return await verify_batch_pg(connection, attempts, thresholds=thresholds)


# rules PIN-5 (POL): the threshold comes from the regional policy, and a change reaches the next batch
def test_the_batch_learns_the_threshold_and_sees_a_policy_change(db, terminal) -> None:
    if db.backend != "postgresql":
        pytest.skip("the driver path runs on PostgreSQL only")
    pharmacy = terminal("pharmacy", REGION)
    card_no, _ = _enabled_card(pharmacy, REGION)
    thresholds = LockoutThresholds()

    first = asyncio.run(_batch(thresholds, [_attempt(pharmacy, card_no, PIN)]))
    assert isinstance(first[0], Authenticated)  # the threshold was not known: the single path's, by design
    second = asyncio.run(_batch(thresholds, [_attempt(pharmacy, card_no, PIN)]))
    assert isinstance(second[0], Verified) and second[0].check.tries_left == 6  # read after the first commit

    with unit_of_work() as uow:
        set_policy(uow, region_code=REGION, actor=ADMIN, reason="stricter lockout", values={"pin_lockout_threshold": 4})
    changed = asyncio.run(_batch(thresholds, [_attempt(pharmacy, card_no, PIN)]))
    assert isinstance(changed[0], Authenticated)  # the generation moved: the cache forgot, nothing stale answered
    after = asyncio.run(_batch(thresholds, [_attempt(pharmacy, card_no, PIN)]))
    assert isinstance(after[0], Verified) and after[0].check.tries_left == 4
