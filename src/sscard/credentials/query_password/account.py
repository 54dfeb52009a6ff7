"""The holder's query-password row and the facts the rules need about it (QPW-1, QPW-3, issue 5 item 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import LargeBinary, Table, and_, bindparam, select, update
from sqlalchemy.orm import aliased

from sscard.credentials.query_password.models import LoginThrottle, QueryPassword
from sscard.credentials.query_password.rules import HolderContext
from sscard.db.session import UnitOfWork
from sscard.db.statements import upsert
from sscard.people.models import Person
from sscard.policy.schemas import RegionalPolicy

T = cast(Table, QueryPassword.__table__)
# Words of this site, refused inside a new password like the holder's own data.
SITE_WORDS = ("sscard", "shebao", "12333")


def get_account(uow: UnitOfWork, person_id: int) -> QueryPassword | None:
    """The holder's row as committed now (None: never logged in, never changed: the initial password)."""
    return uow.session.scalar(
        select(QueryPassword).where(QueryPassword.person_id == person_id).execution_options(populate_existing=True)
    )


@dataclass(frozen=True, slots=True)
class LoginState:
    person: Person | None
    account: QueryPassword | None
    account_counter: LoginThrottle | None
    source_counter: LoginThrottle | None


def _login_state_query() -> Any:
    anchor = select(bindparam("account_key", type_=LargeBinary).label("k")).subquery()
    account_counter, source_counter = aliased(LoginThrottle), aliased(LoginThrottle)
    source_key = bindparam("source_key", type_=LargeBinary)
    return (
        select(Person, QueryPassword, account_counter, source_counter)
        .select_from(anchor)
        .outerjoin(Person, Person.id_number_bidx == anchor.c.k)
        .outerjoin(QueryPassword, QueryPassword.person_id == Person.id)
        .outerjoin(account_counter, and_(account_counter.kind == "account", account_counter.key == anchor.c.k))
        .outerjoin(source_counter, and_(source_counter.kind == "source", source_counter.key == source_key))
        .execution_options(populate_existing=True)
    )


# Built once (statement, aliases and cache key): every portal login starts with it.
_LOGIN_STATE = _login_state_query()


def read_login_state(uow: UnitOfWork, *, account_key: bytes, source_key: bytes) -> LoginState:
    """The person behind an ID index, their query-password row and both throttle counters: one query.

    The login path is dominated by one Argon2id verification; everything around it should cost as
    little as possible, so the four reads it needs are one round trip (LEFT JOINs from the key).
    """
    row = uow.session.execute(_LOGIN_STATE, {"account_key": account_key, "source_key": source_key}).one()
    return LoginState(row[0], row[1], row[2], row[3])


def record_login(uow: UnitOfWork, *, person_id: int, now: datetime, new_hash: str | None = None) -> None:
    """After a login with the password or the initial one: one upsert that voids a pending temporary
    password (the holder remembered a real credential) and stores an upgraded hash. The login itself
    is in the audit log; nothing is written here when there is nothing to change (the hot path)."""
    values: dict[str, Any] = {
        "updated_at": now,
        "temp_hash": None,
        "temp_issued_at": None,
        "temp_expires_at": None,
        "temp_used_at": None,
    }
    if new_hash is not None:
        values["password_hash"] = new_hash
    stmt = upsert(uow, T).values(person_id=person_id, **values)
    uow.session.execute(stmt.on_conflict_do_update(index_elements=[T.c.person_id], set_=values))


def use_temporary(uow: UnitOfWork, *, person_id: int, temp_hash: str, now: datetime) -> bool:
    """QPW-5: mark the temporary password used; False if another login used (or replaced) it first."""
    stmt = (
        update(T)
        .where(
            T.c.person_id == person_id,
            T.c.temp_hash == temp_hash,
            T.c.temp_used_at.is_(None),
            T.c.temp_expires_at > now,
        )
        .values(temp_used_at=now, updated_at=now)
        .returning(T.c.person_id)
    )
    return uow.session.execute(stmt).first() is not None


def lock_account(uow: UnitOfWork, *, person_id: int, now: datetime) -> QueryPassword:
    """The holder's row, created if absent, row-locked until commit (changes are serialised per holder)."""
    ins = upsert(uow, T).values(person_id=person_id, updated_at=now)
    uow.session.execute(ins.on_conflict_do_nothing(index_elements=[T.c.person_id]))
    row = uow.session.scalar(
        select(QueryPassword)
        .where(QueryPassword.person_id == person_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # noqa: S101 - inserted just above in this transaction
    return row


def uses_initial_password(account: QueryPassword | None) -> bool:
    """QPW-1: no password was ever set (or the counter re-initialised it)."""
    return account is None or account.password_hash is None


def initial_password_expires_at(
    policy: RegionalPolicy, person: Person, account: QueryPassword | None
) -> datetime | None:
    """Issue 5 item 7: when a never-changed initial password stops working (None: never, by policy).

    Counted from the latest of the holder's registration, the counter's last re-initialisation and
    the policy's ``initial_query_password_expiry_from``, so introducing the rule locks nobody out at once.
    """
    days = policy.initial_query_password_valid_days
    if days is None:
        return None
    starts = [person.created_at]
    if account is not None and account.reinitialised_at is not None:
        starts.append(account.reinitialised_at)
    if policy.initial_query_password_expiry_from is not None:
        starts.append(datetime.combine(policy.initial_query_password_expiry_from, time.min, tzinfo=UTC))
    return max(starts) + timedelta(days=days)


def temporary_pending(account: QueryPassword | None, now: datetime) -> bool:
    """QPW-5: an issued temporary password that is neither used nor expired."""
    return (
        account is not None
        and account.temp_hash is not None
        and account.temp_used_at is None
        and account.temp_expires_at is not None
        and account.temp_expires_at > now
    )


def holder_context(person: Person) -> HolderContext:
    """What an attacker may know of the holder (QPW-6 context words), opened from the protected fields."""
    return HolderContext(
        id_number=person.id_number,
        birth_date=person.birth_date,
        name=person.name,
        phone=person.phone,
        email=person.email,
        extra=SITE_WORDS,
    )
