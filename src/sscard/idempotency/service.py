"""Idempotency-Key (contract.md): the same key and body → the first answer; another body → 422.

``begin`` claims (scope, key) in the request's transaction *before* the work: an INSERT that a
concurrent copy of the request waits on (PostgreSQL: the unique index) until the first commits or
rolls back. Then the copy finds the stored answer, or (the first failed) claims the key itself.
``finish`` stores the answer in the same transaction as the change it answers; a request that fails
rolls the claim back with everything else, so a refused request is decided again when repeated
(nothing moved). Scopes separate callers: one caller's key never answers another's request.

Answers are kept ``idempotency_retention_hours`` (config.py): a key older than that is a new request,
and every ``PURGE_EVERY``-th claim of a process deletes the expired rows (as the terminal nonces are
purged by every PURGE_EVERY-th terminal request), at most ``PURGE_BATCH`` at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.db.statements import upsert
from sscard.idempotency.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from sscard.idempotency.models import IdempotentRequest
from sscard.security_module import get_security_module

T = cast(Table, IdempotentRequest.__table__)
_FIND = select(T.c.id, T.c.request_digest, T.c.status_code, T.c.answer, T.c.created_at).where(
    T.c.scope == bindparam("scope"), T.c.key == bindparam("key")
)
MAX_KEY_LENGTH = 128
PURGE_EVERY = 500
PURGE_BATCH = 5000  # bounded: the first purge after an upgrade must not hold a request for long
_claims = itertools.count(1)
log = structlog.get_logger("sscard.idempotency")


@dataclass(frozen=True, slots=True)
class Stored:
    """The first answer of this request (replayed), or the claim of a new one (``row_id``)."""

    row_id: int
    answer: dict[str, Any] | None = None
    status_code: int = 200

    @property
    def replayed(self) -> bool:
        return self.answer is not None


def _canonical(body: bytes) -> bytes:
    """A JSON body in canonical form (key order and spacing do not make another request); else as is."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        return body


def request_digest(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path and the body (JSON canonicalised), keyed.

    Keyed (the security module's blind-index HMAC over a SHA-256), not a bare hash: a body holds ID
    numbers, and a page form's fields passwords, few enough to be guessed offline against a bare digest
    read from the database or a backup."""
    body = _canonical(body)
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return get_security_module().blind_index(h.digest(), purpose="idempotent_request").hex()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise IdempotencyKeyInvalid("the Idempotency-Key must be 1 to 128 visible ASCII characters")
    return key


def begin(uow: UnitOfWork, *, scope: str, key: str, digest: str) -> Stored:
    """The first answer of this very request, or a claim on the key for this one; 422 for another body."""
    check_key(key)
    # A row seen here can be purged (past its retention) by another request before the next statement
    # reads it: then the key is free again and the claim is tried once more. That ends: a purge takes
    # only rows at least an hour old (retention >= 1 h), and the next attempt either claims the key or
    # finds a row made since, which no purge takes.
    while True:
        stored = _claim_or_answer(uow, scope=scope, key=key, digest=digest)
        if stored is not None:
            return stored


def _claim_or_answer(uow: UnitOfWork, *, scope: str, key: str, digest: str) -> Stored | None:
    """``begin``'s one attempt; None when the key's row was purged between two of its statements."""
    params = {"scope": scope, "key": key}
    now = utcnow()
    stmt = upsert(uow, T).values(
        scope=scope, key=key, request_digest=digest, status_code=0, answer=None, created_at=now
    )
    row_id = uow.session.scalar(stmt.on_conflict_do_nothing(index_elements=[T.c.scope, T.c.key]).returning(T.c.id))
    if row_id is not None:
        if next(_claims) % PURGE_EVERY == 0:
            purge_expired(uow, now=now)
        return Stored(int(row_id))
    row = uow.session.execute(_FIND, params).one_or_none()  # committed by another transaction
    if row is None:
        return None
    cutoff = expiry_cutoff(now)
    if row.created_at < cutoff:
        # Past its retention (not purged yet): a new request under an old key, whatever its body.
        taken = uow.session.scalar(
            update(T)
            .where(T.c.id == row.id, T.c.created_at < cutoff)
            .values(request_digest=digest, status_code=0, answer=None, created_at=now)
            .returning(T.c.id)
        )
        if taken is not None:
            return Stored(int(taken))
        row = uow.session.execute(_FIND, params).one_or_none()  # a concurrent copy took it over first
        if row is None:
            return None
    if row.answer is None or row.status_code == 0:
        # A claim committed without an answer: its request failed after committing what it counted
        # (db/early_commit.py: a wrong PIN) or answered without a stored answer. Nothing was kept
        # for it, so this request takes the key over, whatever its body: a refused request keeps no key,
        # as when its transaction rolled the claim back (a terminal retries a wrong PIN with the right
        # one under the same key). Two doing so at once: the row lock orders them, and the second
        # sees the first's answer (the unanswered test is evaluated again).
        taken = uow.session.scalar(
            update(T)
            .where(T.c.id == row.id, T.c.status_code == 0)  # 0: claimed, not answered
            .values(request_digest=digest, status_code=0, created_at=now)
            .returning(T.c.id)
        )
        if taken is not None:
            return Stored(int(taken))
        row = uow.session.execute(_FIND, params).one_or_none()
        if row is None:
            return None
    if row.request_digest != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was used for another request; use a new key")
    return Stored(int(row.id), dict(row.answer), int(row.status_code))


def finish(uow: UnitOfWork, *, claim: Stored, answer: dict[str, Any], status_code: int = 200) -> None:
    """Store the answer with the claim (in the transaction that made the change)."""
    uow.session.execute(update(T).where(T.c.id == claim.row_id).values(answer=answer, status_code=status_code))


def expiry_cutoff(now: datetime | None = None) -> datetime:
    """Rows created before this are past their retention."""
    return (now or utcnow()) - timedelta(hours=get_settings().idempotency_retention_hours)


def purge_expired(uow: UnitOfWork, *, now: datetime | None = None) -> int:
    """Delete up to ``PURGE_BATCH`` answers past their retention (oldest first); return how many went.

    Rows another transaction holds (a key being taken over) are skipped on PostgreSQL, not waited for."""
    expired = (
        select(T.c.id)
        .where(T.c.created_at < expiry_cutoff(now))
        .order_by(T.c.created_at)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    ids = list(uow.session.scalars(expired))
    if ids:
        uow.session.execute(delete(T).where(T.c.id.in_(ids)))
        log.info("idempotency.purged", rows=len(ids), retention_hours=get_settings().idempotency_retention_hours)
    return len(ids)


def forget_scopes(uow: UnitOfWork, scopes: list[str]) -> None:
    """Delete every stored answer of callers that are gone (a swept page session's): the unique index's
    leading column finds them."""
    if scopes:
        uow.session.execute(delete(T).where(T.c.scope.in_(scopes)))


def release(uow: UnitOfWork, *, claim: Stored) -> None:
    """Give the key up (the request failed); a failed database transaction rolls the claim back anyway."""
    try:
        with uow.session.begin_nested():
            uow.session.execute(delete(T).where(T.c.id == claim.row_id))
    except SQLAlchemyError:
        pass
