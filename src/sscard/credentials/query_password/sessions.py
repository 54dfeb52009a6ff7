"""Portal sessions: opaque tokens returned once, stored as SHA-256 digests, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, select, update

from sscard.credentials.query_password.errors import PortalSessionInvalid
from sscard.credentials.query_password.models import PortalSession
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork

SESSION_TTL = timedelta(minutes=30)
TOKEN_PREFIX = "pst_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True, slots=True)
class HolderSession:
    """The signed-in holder behind a portal token."""

    session_id: int
    person_id: int
    must_change: bool
    via_temporary: bool
    expires_at: datetime


def token_digest(token: str) -> bytes:
    # 256 random bits: a fast hash suffices, and a stolen table yields no usable token.
    return hashlib.sha256(token.encode()).digest()


_SESSIONS = cast(Table, PortalSession.__table__)
# Prebuilt Core INSERT (compiled once): every portal login runs it.
_OPEN = insert(_SESSIONS).returning(_SESSIONS.c.id)


def open_session(
    uow: UnitOfWork, *, person_id: int, must_change: bool, via_temporary: bool, now: datetime
) -> tuple[str, int, datetime]:
    """Create a session: (the clear token, returned once and never stored; the session id; its expiry)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + SESSION_TTL
    params = {
        "token_hash": token_digest(token),
        "person_id": person_id,
        "must_change": must_change,
        "via_temporary": via_temporary,
        "created_at": now,
        "expires_at": expires_at,
    }
    session_id = uow.session.execute(_OPEN, params).scalar_one()
    return token, int(session_id), expires_at


def resolve_session(uow: UnitOfWork, *, token: str, now: datetime | None = None) -> HolderSession:
    """The holder behind a live token; ``UNAUTHENTICATED`` when unknown, expired or revoked."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise PortalSessionInvalid("the token is not a portal session token")
    row = uow.session.scalar(select(PortalSession).where(PortalSession.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        raise PortalSessionInvalid("the session is not valid; sign in again")
    if row.expires_at <= now:
        raise PortalSessionInvalid("the session has expired; sign in again")
    return HolderSession(row.id, row.person_id, row.must_change, row.via_temporary, row.expires_at)


def revoke_sessions(uow: UnitOfWork, *, person_id: int, now: datetime, keep: int | None = None) -> int:
    """End every live session of a holder (except ``keep``); how many were ended."""
    stmt = update(PortalSession).where(PortalSession.person_id == person_id, PortalSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(PortalSession.id != keep)
    return len(uow.session.execute(stmt.values(revoked_at=now).returning(PortalSession.id)).all())


def end_session(uow: UnitOfWork, *, session_id: int, now: datetime) -> None:
    uow.session.execute(
        update(PortalSession)
        .where(PortalSession.id == session_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def clear_must_change(uow: UnitOfWork, *, session_id: int) -> None:
    uow.session.execute(
        update(PortalSession).where(PortalSession.id == session_id).values(must_change=False, via_temporary=False)
    )
