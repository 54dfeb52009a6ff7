"""QPW-7 login throttles in SQL: every counter change is ONE atomic statement.

Two kinds of counter share one table: per account (keyed by the ID number's blind index, consecutive
failures until a success or a counter re-initialisation, escalating waits, then the policy's hard
lock) and per source address (keyed by the address's blind index, failures within a sliding window,
escalating waits). ``failures = failures + 1 … RETURNING`` lets the database serialise concurrent
guesses on the row, so each is counted exactly once, and the ``WHERE hard_locked_at IS NULL`` guard
stops counting at the lock: N parallel wrong passwords count exactly up to the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, literal, or_, select, update

from sscard.credentials.query_password.errors import AccountLocked, LoginThrottled
from sscard.credentials.query_password.models import LoginThrottle
from sscard.db.session import UnitOfWork
from sscard.db.statements import upsert
from sscard.errors import DomainError
from sscard.identity.protected import ID_NUMBER
from sscard.policy.schemas import RegionalPolicy
from sscard.security_module import get_security_module

T = cast(Table, LoginThrottle.__table__)
ACCOUNT = "account"
SOURCE = "source"


@dataclass(frozen=True, slots=True)
class Counted:
    """A failure as counted: the new count, the wait it started, whether it reached the hard lock."""

    failures: int
    wait_seconds: int
    locked: bool


@dataclass(frozen=True, slots=True)
class Limits:
    free: int
    base_seconds: int
    max_seconds: int
    hard_lock: int | None = None
    window_seconds: int | None = None

    @classmethod
    def account(cls, policy: RegionalPolicy) -> Limits:
        return cls(
            policy.login_free_failures,
            policy.login_wait_base_seconds,
            policy.login_wait_max_seconds,
            hard_lock=policy.login_hard_lock_failures,
        )

    @classmethod
    def source(cls, policy: RegionalPolicy) -> Limits:
        return cls(
            policy.source_free_failures,
            policy.source_wait_base_seconds,
            policy.source_wait_max_seconds,
            window_seconds=policy.source_window_seconds,
        )

    def wait_after(self, failures: int) -> int:
        """Seconds to wait after ``failures``: none while free, then base, 2×base, 4×base … up to max."""
        if failures <= self.free:
            return 0
        return min(self.base_seconds * 2 ** min(failures - self.free - 1, 30), self.max_seconds)


def account_key(id_number: str) -> bytes:
    """The account counter's key: the ID number's blind index (the person table uses the same one)."""

    return ID_NUMBER.index(id_number)


def source_key(address: str) -> bytes:
    """The source counter's key: a keyed index of the address (addresses are personal data, never stored)."""
    return get_security_module().blind_index(address.encode(), purpose="login_source")


def read_counters(uow: UnitOfWork, *, account: bytes | None, source: bytes) -> dict[str, LoginThrottle]:
    """The current rows of both counters ({} for a key that never failed)."""
    cond = and_(T.c.kind == SOURCE, T.c.key == source)
    if account is not None:
        cond = or_(cond, and_(T.c.kind == ACCOUNT, T.c.key == account))
    rows = uow.session.scalars(select(LoginThrottle).where(cond).execution_options(populate_existing=True)).all()
    return {r.kind: r for r in rows}


def account_row(uow: UnitOfWork, *, key: bytes) -> LoginThrottle | None:
    """The account counter's row (None when the account never failed)."""
    return read_counters(uow, account=key, source=b"").get(ACCOUNT)


def source_row(uow: UnitOfWork, *, key: bytes) -> LoginThrottle | None:
    """The source counter's row (None when the source never failed)."""
    return counter_row(uow, kind=SOURCE, key=key)


def counter_row(uow: UnitOfWork, *, kind: str, key: bytes) -> LoginThrottle | None:
    """A counter's row by kind and key (None when nothing was ever counted)."""
    return uow.session.scalar(
        select(LoginThrottle).where(T.c.kind == kind, T.c.key == key).execution_options(populate_existing=True)
    )


def refusal(row: LoginThrottle | None, now: datetime) -> DomainError | None:
    """The error that refuses a login before any password is looked at (QPW-7), or None."""
    if row is None:
        return None
    if row.hard_locked_at is not None:
        return AccountLocked()
    wait = wait_left(row, now)
    return LoginThrottled(retry_after=wait) if wait else None


def wait_left(row: LoginThrottle | None, now: datetime) -> int:
    """Whole seconds (at least 1) until the counter's wait ends; 0 when it is not waiting."""
    if row is None or row.wait_until is None or row.wait_until <= now:
        return 0
    return max(1, math.ceil((row.wait_until - now).total_seconds()))


def count_failure(uow: UnitOfWork, *, kind: str, key: bytes, limits: Limits, now: datetime) -> Counted | None:
    """Count one failure and set the wait / hard lock it earns. None: already hard-locked, nothing counted."""
    failures: ColumnElement[Any]
    first: ColumnElement[Any]
    if limits.window_seconds is not None:
        # A source's count restarts once its first failure has left the window.
        stale = T.c.first_failure_at < literal(
            now - timedelta(seconds=limits.window_seconds), T.c.first_failure_at.type
        )
        failures = case((stale, 1), else_=T.c.failures + 1)
        first = case((stale, literal(now, T.c.first_failure_at.type)), else_=T.c.first_failure_at)
    else:
        failures, first = T.c.failures + 1, T.c.first_failure_at
    ins = upsert(uow, T).values(kind=kind, key=key, failures=1, first_failure_at=now, updated_at=now)
    stmt = ins.on_conflict_do_update(
        index_elements=[T.c.kind, T.c.key],
        set_={"failures": failures, "first_failure_at": first, "updated_at": now},
        where=T.c.hard_locked_at.is_(None),
    ).returning(T.c.failures)
    counted = uow.session.execute(stmt).scalar_one_or_none()
    if counted is None:
        return None
    n = int(counted)
    locked = limits.hard_lock is not None and n >= limits.hard_lock
    wait = limits.wait_after(n)
    # Same transaction, row already locked by the statement above: nobody can interleave here.
    uow.session.execute(
        update(T)
        .where(T.c.kind == kind, T.c.key == key)
        .values(
            wait_until=now + timedelta(seconds=wait) if wait else None,
            hard_locked_at=now if locked else None,
        )
    )
    return Counted(failures=n, wait_seconds=wait, locked=locked)


def clear_after_success(uow: UnitOfWork, *, key: bytes, now: datetime) -> bool:
    """A right password: reset the account counter unless a lock or wait was committed meanwhile.

    False means the account was locked (or made to wait) by concurrent failures: refuse the login.
    """
    stmt = (
        update(T)
        .where(
            T.c.kind == ACCOUNT,
            T.c.key == key,
            T.c.hard_locked_at.is_(None),
            or_(T.c.wait_until.is_(None), T.c.wait_until <= now),
        )
        .values(failures=0, first_failure_at=None, wait_until=None, updated_at=now)
        .returning(T.c.key)
    )
    return uow.session.execute(stmt).first() is not None


def reset_account(uow: UnitOfWork, *, key: bytes) -> None:
    """QPW-3: the counter verified the holder: forget failures, waits and the hard lock."""
    uow.session.execute(delete(T).where(T.c.kind == ACCOUNT, T.c.key == key))
