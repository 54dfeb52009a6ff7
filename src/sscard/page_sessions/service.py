"""Page sessions: open, resolve (idle and absolute timeouts), sign in (token rotated), sign out.

    state = open_page_session(uow, channel="portal")            # anonymous: carries the CSRF token
    state = resolve_page_session(uow, channel="portal", token=cookie)   # None: unknown/expired/revoked
    sign_in(uow, state, auth_token=..., principal="holder")       # new cookie token (no fixation)

Timeouts: ``IDLE_TIMEOUT`` since the last request, ``ABSOLUTE_TIMEOUT`` since the session opened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.idempotency.service import forget_scopes
from sscard.identity.protected import FieldKind
from sscard.page_sessions.models import PageSession

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
CHANNELS = ("portal", "counter", "employer", "console")
AUTH_TOKEN = FieldKind("page_auth_token")
SWEEP_AFTER = timedelta(days=1)
_MAX_DATA_REFS = 50


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(slots=True)
class PageSessionState:
    """One page session as a request sees it; ``token`` is set only when a new cookie must be sent."""

    row: PageSession
    token: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf_token(self) -> str:
        return self.row.csrf_token

    @property
    def principal(self) -> str | None:
        return self.row.principal

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.row.csrf_token.encode())

    def auth_token(self) -> str | None:
        """The channel's own session token (to resolve the user with the API's services)."""
        return AUTH_TOKEN.open(self.row.auth_token_enc) if self.row.auth_token_enc else None


def form_scope(row_id: int) -> str:
    """The idempotency scope of a page session's forms (web/once.py): one session's tokens never answer another."""
    return f"page:{row_id}"


def open_page_session(uow: UnitOfWork, *, channel: str, now: datetime | None = None) -> PageSessionState:
    if channel not in CHANNELS:
        raise ValueError(f"unknown page channel {channel!r}")
    now = now or utcnow()
    # Sessions past their absolute end are garbage: each new one sweeps those a day old (an index range),
    # with the answers their forms kept (web/once.py: a redirect and its messages, a balance among them).
    stale = list(uow.session.scalars(select(PageSession.id).where(PageSession.expires_at < now - SWEEP_AFTER)))
    if stale:
        forget_scopes(uow, [form_scope(row_id) for row_id in stale])
        uow.session.execute(delete(PageSession).where(PageSession.id.in_(stale)))
    token = secrets.token_urlsafe(32)
    row = PageSession(
        token_hash=_digest(token),
        channel=channel,
        csrf_token=secrets.token_urlsafe(32),
        data="{}",
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
    )
    uow.session.add(row)
    uow.session.flush()
    return PageSessionState(row=row, token=token, data={})


# Anonymous forms (sign-in, forgot password) carry a signed double-submit token instead of a session's:
# the browser keeps a random nonce in an HttpOnly SameSite=Strict cookie of the channel, the form the
# nonce's keyed MAC (the security module's blind index). No row is stored until a session is needed, so
# crawlers and health checks reading the sign-in pages leave nothing behind.
ANON_CSRF = FieldKind("page_anonymous_csrf")


def new_anonymous_nonce() -> str:
    return secrets.token_urlsafe(24)


def anonymous_csrf_token(*, channel: str, nonce: str) -> str:
    """The form token of an anonymous form: the nonce's MAC, bound to the channel."""
    return ANON_CSRF.index(f"{channel}|{nonce}").hex()


def anonymous_csrf_ok(*, channel: str, nonce: str | None, given: str | None) -> bool:
    """True when ``given`` is the MAC of the browser's own nonce cookie (an attacker sets neither)."""
    if not nonce or not given or len(nonce) > 64 or len(given) > 128:
        return False
    return hmac.compare_digest(given.encode(), anonymous_csrf_token(channel=channel, nonce=nonce).encode())


def resolve_page_session(
    uow: UnitOfWork, *, channel: str, token: str, now: datetime | None = None
) -> PageSessionState | None:
    """The live session behind a cookie, its last use moved to now; None when unknown, idle or expired."""
    now = now or utcnow()
    if not token or len(token) > 128:
        return None
    row = uow.session.scalar(select(PageSession).where(PageSession.token_hash == _digest(token)))
    if row is None or row.channel != channel or row.revoked_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + IDLE_TIMEOUT <= now:
        row.revoked_at = now
        uow.session.flush()
        return None
    row.last_seen_at = now
    uow.session.flush()
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        data = {}
    return PageSessionState(row=row, data=data if isinstance(data, dict) else {})


def save_data(uow: UnitOfWork, state: PageSessionState) -> None:
    state.row.data = json.dumps(state.data, separators=(",", ":"), sort_keys=True)
    uow.session.flush()


def sign_in(
    uow: UnitOfWork, state: PageSessionState, *, auth_token: str, principal: str, now: datetime | None = None
) -> PageSessionState:
    """Bind the channel's session to this page session under a new cookie token and CSRF token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    state.row.token_hash = _digest(token)
    state.row.csrf_token = secrets.token_urlsafe(32)
    state.row.auth_token_enc = AUTH_TOKEN.seal(auth_token)
    state.row.principal = principal
    state.row.last_seen_at = now
    state.token = token
    uow.session.flush()
    return state


def sign_out(uow: UnitOfWork, state: PageSessionState, *, now: datetime | None = None) -> None:
    state.row.revoked_at = now or utcnow()
    state.row.auth_token_enc = None
    uow.session.flush()


def revoke_channel_sessions(uow: UnitOfWork, *, channel: str, now: datetime | None = None) -> int:
    """End every live page session of a channel (an operator's emergency switch)."""
    stmt = update(PageSession).where(PageSession.channel == channel, PageSession.revoked_at.is_(None))
    return len(uow.session.execute(stmt.values(revoked_at=now or utcnow()).returning(PageSession.id)).all())


def push_flash(state: PageSessionState, kind: str, message: str) -> None:
    state.data.setdefault("flash", []).append([kind, message])


def pop_flashes(state: PageSessionState) -> list[tuple[str, str]]:
    flashes = state.data.pop("flash", [])
    return [(str(k), str(m)) for k, m in flashes]


def put_ref(state: PageSessionState, value: dict[str, Any]) -> str:
    """Keep ``value`` (row ids, never personal data) under an opaque reference for the next pages."""
    refs: dict[str, Any] = state.data.setdefault("refs", {})
    while len(refs) >= _MAX_DATA_REFS:
        refs.pop(next(iter(refs)))
    ref = secrets.token_urlsafe(12)
    refs[ref] = value
    return ref


def get_ref(state: PageSessionState, ref: str) -> dict[str, Any] | None:
    value = state.data.get("refs", {}).get(ref)
    return value if isinstance(value, dict) else None
