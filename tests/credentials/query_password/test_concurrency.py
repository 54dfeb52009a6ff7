"""QPW-7 counters under concurrency: parallel wrong passwords, each in its own committed transaction.

The architecture demands exact counters (single atomic UPDATE … RETURNING, never read-modify-write):
20 parallel wrong logins against a hard lock of 6 must count exactly 6, lock, and no right password
is accepted afterwards. Runs on PostgreSQL (the real concurrency) and on SQLite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sscard.credentials.query_password.errors import AccountLocked, InvalidCredentials, LoginThrottled
from sscard.credentials.query_password.service import login_holder
from sscard.credentials.query_password.throttle import account_row, source_key
from sscard.db.session import unit_of_work
from sscard.policy.service import set_policy
from tests.credentials.query_password.factories import ADMIN, make_holder
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region


def _attempt(number: str, password: str, source: str) -> str:
    try:
        with unit_of_work() as uow:
            try:
                login_holder(uow, id_number=number, password=password, source=source)
            except (InvalidCredentials, AccountLocked):
                uow.commit()  # as the route does: the counted failure outlives the error
                raise
        return "ok"
    except (InvalidCredentials, AccountLocked, LoginThrottled) as exc:
        return exc.code


def _holder_with_policy(**values) -> tuple[object, str, str]:
    region = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, region)
        set_policy(uow, region_code=region, values=values, reason="concurrency test", actor=ADMIN)
        return make_holder(uow, region=region)


# rule QPW-7: 20 parallel wrong passwords against a hard lock of 6 count exactly 6 and lock
def test_parallel_failures_lock_exactly(db_env) -> None:
    person, number, initial = _holder_with_policy(login_free_failures=100, login_hard_lock_failures=6)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: _attempt(number, f"wrong-{i:02d}-password", f"192.0.2.{i}"), range(20)))
    assert set(results) <= {"INVALID_CREDENTIALS", "ACCOUNT_LOCKED"}
    assert results.count("INVALID_CREDENTIALS") == 5  # the 6th counted failure answers ACCOUNT_LOCKED
    with unit_of_work() as uow:
        row = account_row(uow, key=person.id_number_bidx)
        assert row is not None and row.failures == 6 and row.hard_locked_at is not None
    # A locked account refuses even the right password, from anywhere.
    with ThreadPoolExecutor(max_workers=5) as pool:
        right = list(pool.map(lambda i: _attempt(number, initial, f"192.0.2.{100 + i}"), range(5)))
    assert right == ["ACCOUNT_LOCKED"] * 5


# rule QPW-7: without waits or lock, every one of 20 parallel failures is counted (no lost update)
def test_parallel_failures_all_counted(db_env) -> None:
    person, number, _ = _holder_with_policy(login_free_failures=100, login_hard_lock_failures=None)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: _attempt(number, "wrong-password", "192.0.2.200"), range(20)))
    assert results == ["INVALID_CREDENTIALS"] * 20
    with unit_of_work() as uow:
        assert account_row(uow, key=person.id_number_bidx).failures == 20
        from sscard.credentials.query_password.throttle import source_row

        assert source_row(uow, key=source_key("192.0.2.200")).failures == 20
