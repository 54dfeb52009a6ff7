"""QPW-7 throttle counters, function by function (each test keys its own rows with random bytes)."""

from __future__ import annotations

import secrets
from datetime import timedelta, timezone

from sscard.credentials.query_password import throttle
from sscard.credentials.query_password.errors import AccountLocked, LoginThrottled
from sscard.credentials.query_password.models import LoginThrottle
from sscard.db.base import utcnow
from sscard.policy.schemas import RegionalPolicy

ACCOUNT_LIMITS = throttle.Limits(free=2, base_seconds=30, max_seconds=100, hard_lock=4)
SOURCE_LIMITS = throttle.Limits(free=100, base_seconds=10, max_seconds=900, window_seconds=60)


def _key() -> bytes:
    return secrets.token_bytes(32)


def _row(uow, kind: str, key: bytes) -> LoginThrottle | None:
    return throttle.counter_row(uow, kind=kind, key=key)


# rule QPW-7: no wait while the failures are free, then base, 2×base, 4×base … capped at the maximum
def test_the_wait_doubles_from_the_base_up_to_the_maximum() -> None:
    assert [ACCOUNT_LIMITS.wait_after(n) for n in range(1, 7)] == [0, 0, 30, 60, 100, 100]
    # The doubling stops at 2**30 × base (the exponent is capped, so huge counts cannot overflow).
    unbounded = throttle.Limits(free=0, base_seconds=1, max_seconds=2**40)
    assert unbounded.wait_after(31) == 2**30
    assert unbounded.wait_after(45) == 2**30


# rule QPW-7: the account and source limits come from their own fields of the policy
def test_the_limits_are_read_from_the_policy() -> None:
    policy = RegionalPolicy(
        login_free_failures=4,
        login_wait_base_seconds=31,
        login_wait_max_seconds=301,
        login_hard_lock_failures=12,
        source_free_failures=25,
        source_wait_base_seconds=11,
        source_wait_max_seconds=601,
        source_window_seconds=1801,
    )
    assert throttle.Limits.account(policy) == throttle.Limits(4, 31, 301, hard_lock=12, window_seconds=None)
    assert throttle.Limits.source(policy) == throttle.Limits(25, 11, 601, hard_lock=None, window_seconds=1801)


# rule QPW-7: the refusal before any password: 423 when hard-locked, 429 with the seconds left (rounded up)
def test_the_refusal_and_the_seconds_left() -> None:
    now = utcnow()
    assert throttle.refusal(None, now) is None
    assert throttle.wait_left(None, now) == 0
    assert throttle.refusal(LoginThrottle(failures=1), now) is None
    assert throttle.wait_left(LoginThrottle(failures=1), now) == 0
    waiting = LoginThrottle(failures=5, wait_until=now + timedelta(seconds=10, milliseconds=200))
    assert throttle.wait_left(waiting, now) == 11
    refused = throttle.refusal(waiting, now)
    assert isinstance(refused, LoginThrottled) and refused.extra["retry_after"] == 11
    assert throttle.wait_left(LoginThrottle(wait_until=now + timedelta(milliseconds=1)), now) == 1
    assert throttle.wait_left(LoginThrottle(wait_until=now + timedelta(microseconds=1)), now) == 1
    ended = LoginThrottle(failures=5, wait_until=now)
    assert throttle.wait_left(ended, now) == 0 and throttle.refusal(ended, now) is None
    locked = LoginThrottle(failures=5, wait_until=now + timedelta(seconds=30), hard_locked_at=now)
    assert isinstance(throttle.refusal(locked, now), AccountLocked)


# rule QPW-7: an account's failures earn the wait of their count, then the hard lock, after which nothing counts
def test_account_failures_wait_then_lock(uow) -> None:
    key, other, now = _key(), _key(), utcnow()
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=other, limits=ACCOUNT_LIMITS, now=now)
    counted = [throttle.count_failure(uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=now)]
    row = _row(uow, throttle.ACCOUNT, key)
    assert (row.failures, row.first_failure_at, row.updated_at, row.wait_until, row.hard_locked_at) == (
        1, now, now, None, None
    )  # fmt: skip
    for step in (1, 2):
        counted.append(
            throttle.count_failure(
                uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=now + timedelta(seconds=step)
            )
        )
    row = _row(uow, throttle.ACCOUNT, key)
    assert row.failures == 3 and row.first_failure_at == now and row.updated_at == now + timedelta(seconds=2)
    assert row.wait_until == now + timedelta(seconds=2 + 30) and row.hard_locked_at is None
    later = now + timedelta(seconds=40)
    counted.append(throttle.count_failure(uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=later))
    assert counted == [
        throttle.Counted(failures=1, wait_seconds=0, locked=False),
        throttle.Counted(failures=2, wait_seconds=0, locked=False),
        throttle.Counted(failures=3, wait_seconds=30, locked=False),
        throttle.Counted(failures=4, wait_seconds=60, locked=True),
    ]
    row = _row(uow, throttle.ACCOUNT, key)
    assert row.hard_locked_at == later and row.wait_until == later + timedelta(seconds=60)
    # Locked: the next failure is not counted at all.
    assert throttle.count_failure(uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=later) is None
    assert _row(uow, throttle.ACCOUNT, key).failures == 4
    # Another account's counter keeps its own state (no wait, no lock).
    row = _row(uow, throttle.ACCOUNT, other)
    assert (row.failures, row.wait_until, row.hard_locked_at) == (1, None, None)
    # The same key counted as a source is a counter of its own.
    assert _row(uow, throttle.SOURCE, key) is None


# rule QPW-7: a source counts failures within a sliding window: once its first failure has left, it starts over
def test_a_source_counts_within_its_window(uow) -> None:
    key, start = _key(), utcnow()

    def fail(seconds: int) -> throttle.Counted | None:
        at = start + timedelta(seconds=seconds)
        return throttle.count_failure(uow, kind=throttle.SOURCE, key=key, limits=SOURCE_LIMITS, now=at)

    assert [fail(0).failures, fail(30).failures, fail(60).failures] == [1, 2, 3]  # 60 s: still in the window
    assert _row(uow, throttle.SOURCE, key).first_failure_at == start
    assert fail(61).failures == 1  # the first failure left the window: the count starts over from here
    row = _row(uow, throttle.SOURCE, key)
    assert row.first_failure_at == start + timedelta(seconds=61) and row.updated_at == row.first_failure_at
    assert fail(100).failures == 2
    assert _row(uow, throttle.SOURCE, key).first_failure_at == start + timedelta(seconds=61)


# rule QPW-7: the window is kept by the instant, whatever the timezone of the clock that is given
def test_a_source_window_is_kept_in_any_timezone(uow) -> None:
    key, start = _key(), utcnow().astimezone(timezone(timedelta(hours=8)))

    def fail(seconds: int) -> throttle.Counted | None:
        at = start + timedelta(seconds=seconds)
        return throttle.count_failure(uow, kind=throttle.SOURCE, key=key, limits=SOURCE_LIMITS, now=at)

    assert [fail(0).failures, fail(30).failures] == [1, 2]  # the second is within the window
    assert fail(91).failures == 1  # restarts at the instant given
    assert _row(uow, throttle.SOURCE, key).first_failure_at == start + timedelta(seconds=91)
    assert fail(100).failures == 2


# rule QPW-7: a right password resets the account's count, unless a wait or a lock was set meanwhile
def test_a_success_clears_only_an_account_that_is_not_waiting(uow) -> None:
    key, other, now = _key(), _key(), utcnow()
    assert not throttle.clear_after_success(uow, key=key, now=now)  # no counter: nothing to clear
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=other, limits=ACCOUNT_LIMITS, now=now)
    for _ in range(3):  # the 3rd failure starts a 30 s wait
        throttle.count_failure(uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=now)
        throttle.count_failure(uow, kind=throttle.SOURCE, key=key, limits=SOURCE_LIMITS, now=now)
    assert not throttle.clear_after_success(uow, key=key, now=now + timedelta(seconds=29))
    assert _row(uow, throttle.ACCOUNT, key).failures == 3
    later = now + timedelta(seconds=30)
    assert throttle.clear_after_success(uow, key=key, now=later)  # the wait ended at this instant
    row = _row(uow, throttle.ACCOUNT, key)
    assert (row.failures, row.first_failure_at, row.wait_until, row.updated_at) == (0, None, None, later)
    assert _row(uow, throttle.SOURCE, key).failures == 3  # the source's count is not the account's
    assert _row(uow, throttle.ACCOUNT, other).failures == 1  # nor is another account's


# rule QPW-7: a hard-locked account is not cleared by a right password
def test_a_success_does_not_clear_a_hard_lock(uow) -> None:
    key, now = _key(), utcnow()
    for _ in range(4):
        throttle.count_failure(uow, kind=throttle.ACCOUNT, key=key, limits=ACCOUNT_LIMITS, now=now)
    assert not throttle.clear_after_success(uow, key=key, now=now + timedelta(days=1))
    row = _row(uow, throttle.ACCOUNT, key)
    assert row.failures == 4 and row.hard_locked_at == now


# rule QPW-3 / QPW-7: the counter's re-initialisation forgets the account's counter, not the source's
def test_reset_forgets_the_account_counter_only(uow) -> None:
    key, other, now = _key(), _key(), utcnow()
    for k in (key, other):
        for kind, limits in ((throttle.ACCOUNT, ACCOUNT_LIMITS), (throttle.SOURCE, SOURCE_LIMITS)):
            throttle.count_failure(uow, kind=kind, key=k, limits=limits, now=now)
    throttle.reset_account(uow, key=key)
    assert _row(uow, throttle.ACCOUNT, key) is None
    assert _row(uow, throttle.SOURCE, key) is not None
    assert _row(uow, throttle.ACCOUNT, other) is not None


# rule QPW-7: both counters read at once, each by its kind and key; without an account, only the source's
def test_read_counters_reads_the_source_and_the_account(uow) -> None:
    # The wrong rows are written last and sort last (a read matching too much would end on one of them).
    source, account, now = b"\x00" + _key()[1:], b"\xff" + _key()[1:], utcnow()
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=account, limits=ACCOUNT_LIMITS, now=now)
    throttle.count_failure(uow, kind=throttle.SOURCE, key=source, limits=SOURCE_LIMITS, now=now)
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=source, limits=ACCOUNT_LIMITS, now=now)
    throttle.count_failure(uow, kind=throttle.SOURCE, key=account, limits=SOURCE_LIMITS, now=now)
    both = throttle.read_counters(uow, account=account, source=source)
    assert {kind: row.key for kind, row in both.items()} == {throttle.ACCOUNT: account, throttle.SOURCE: source}
    only = throttle.read_counters(uow, account=None, source=source)
    assert {kind: row.key for kind, row in only.items()} == {throttle.SOURCE: source}
    assert throttle.account_row(uow, key=account).key == account
    assert throttle.source_row(uow, key=source).key == source
    assert throttle.source_row(uow, key=_key()) is None


# rule QPW-7: the counters are read as they are now, not as this session loaded them before a failure was counted
def test_read_counters_sees_a_count_made_after_it_was_loaded(uow) -> None:
    account, source, now = _key(), _key(), utcnow()
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=account, limits=ACCOUNT_LIMITS, now=now)
    loaded = throttle.read_counters(uow, account=account, source=source)[throttle.ACCOUNT]  # held: in the session
    assert loaded.failures == 1
    throttle.count_failure(uow, kind=throttle.ACCOUNT, key=account, limits=ACCOUNT_LIMITS, now=now)
    assert throttle.read_counters(uow, account=account, source=source)[throttle.ACCOUNT].failures == 2
