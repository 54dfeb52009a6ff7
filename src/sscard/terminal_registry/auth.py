"""Authenticate one terminal request (CH-3): registered and active, MAC, timestamp window, nonce.

Checks, in this order, each with the contract code it fails with:
1. the five headers are present and well formed (the code of the header's check);
2. the terminal is registered and active — else ``TERMINAL_UNKNOWN`` (blocked and retired too:
   the answer never tells an outsider which ids exist);
3. the key version is the terminal's current one and the CMAC, computed inside the security module,
   matches in constant time — else ``MAC_INVALID``;
4. the timestamp is within ±120 s of the server clock — else ``REPLAY``;
5. the nonce was never used by this terminal — else ``REPLAY``.
The MAC comes before the freshness checks so that only authentic requests learn about the clock,
and so that nobody without the key can fill the nonce table.

Transactions (the channel's, ``api/terminal.py authenticate_request``): checks 2–5 (``check_request``)
run in one short unit of work of their own that commits the nonce before the route starts. A signed
request is therefore single-use whatever the route then does (even if the route's own transaction
rolls back, its nonce stays spent). A refusal (``record_refusal``) is written in another unit of
work, so the audit entry survives the refused request's rollback (CH-4).
"""

from __future__ import annotations

import hmac
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, delete, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sscard.audit import Actor, Channel, record_event
from sscard.config import get_settings
from sscard.credentials.query_password import throttle
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of
from sscard.errors import DomainError
from sscard.logging import mask_text
from sscard.security_module import get_security_module
from sscard.terminal.protocol import (
    MAC_INVALID,
    REPLAY,
    TERMINAL_ID,
    TERMINAL_UNKNOWN,
    WINDOW_SECONDS,
    ProtocolError,
    SignedHeaders,
    canonical_request,
    is_fresh,
)
from sscard.terminal_registry.errors import MacInvalid, Replay, TerminalThrottled, TerminalUnknown
from sscard.terminal_registry.models import InstitutionType, TerminalNonce, TerminalStatus
from sscard.terminal_registry.service import get_terminal, subject_of

_ERRORS = {TERMINAL_UNKNOWN: TerminalUnknown, MAC_INVALID: MacInvalid, REPLAY: Replay}
NOT_ACTIVE = "not registered or not active"
# Expired nonces are purged by the request that happens to be every PURGE_EVERY-th in this process.
PURGE_EVERY = 500
_requests = itertools.count(1)


@dataclass(frozen=True, slots=True)
class AuthenticatedTerminal:
    """The terminal a request comes from, after every check passed. Routes depend on this."""

    terminal_id: str
    institution_name: str
    institution_type: InstitutionType
    region_code: str
    key_version: int
    suite: str

    @property
    def kind(self) -> str:
        """The institution type's value ("pharmacy", "hospital", ...): what the terminal may offer."""
        return self.institution_type.value

    def actor(self) -> Actor:
        """The audit actor for what this terminal does (CH-4)."""
        return Actor(kind="terminal", id=self.terminal_id, channel=Channel.TERMINAL, role=self.kind,
                     region=self.region_code)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    detail: str
    region: str = ""
    role: str = ""
    # The terminal is registered and active: a bad MAC or a replay (see record_refusal: audited one by one).
    known: bool = False


def refusal_of_headers(headers: Mapping[str, str], error: ProtocolError) -> tuple[str, Refusal]:
    """The refusal of a request whose five headers are missing or malformed, and the id it names."""
    raw_id = headers.get("X-Terminal-Id") or ""
    return (raw_id if TERMINAL_ID.match(raw_id) else "unknown"), Refusal(error.code, str(error))


def check_request(
    uow: UnitOfWork, signed: SignedHeaders, *, method: str, target: str, body: bytes, now: float
) -> AuthenticatedTerminal | Refusal:
    """Checks 2–5 of an authentic request; its nonce is spent in ``uow`` (the channel commits it before
    the route's own transaction starts, so a signed request is single-use whatever the route does)."""
    outcome = check_signature(
        get_terminal(uow, signed.terminal_id), signed, method=method, target=target, body=body, now=now
    )
    if isinstance(outcome, Refusal):
        return outcome
    if not consume_nonce(uow, terminal_id=outcome.terminal_id, nonce=signed.nonce, timestamp=signed.timestamp):
        return Refusal(REPLAY, "the nonce was already used", region=outcome.region_code, role=outcome.kind, known=True)
    purge_when_due(uow, requests=1, now=now)
    return outcome


class TerminalFacts(Protocol):
    """What authentication reads of a terminal: a ``Terminal``, or a row the PIN verify batch read."""

    @property
    def terminal_id(self) -> str: ...
    @property
    def institution_name(self) -> str: ...
    @property
    def institution_type(self) -> InstitutionType: ...
    @property
    def region_code(self) -> str: ...
    @property
    def status(self) -> TerminalStatus: ...
    @property
    def key_version(self) -> int: ...
    @property
    def suite(self) -> str: ...


def check_signature(
    terminal: TerminalFacts | None, signed: SignedHeaders, *, method: str, target: str, body: bytes, now: float
) -> AuthenticatedTerminal | Refusal:
    """Checks 2–4 (registered and active, key version and MAC, timestamp) on the terminal as read."""
    if terminal is None:
        return Refusal(TERMINAL_UNKNOWN, "no such terminal")
    if terminal.status != TerminalStatus.ACTIVE:
        # The audit says why; the caller only hears NOT_ACTIVE (see record_refusal).
        return _refusal_of(terminal, TERMINAL_UNKNOWN, f"terminal is {terminal.status.value}")
    if signed.key_version != terminal.key_version:
        return _refusal_of(terminal, MAC_INVALID, f"key version {signed.key_version} is not the terminal's current key")
    try:
        data = canonical_request(
            method=method, target=target, terminal_id=signed.terminal_id, timestamp=signed.timestamp,
            nonce=signed.nonce, key_version=signed.key_version, body=body,
        )  # fmt: skip
    except ProtocolError as exc:
        return _refusal_of(terminal, exc.code, str(exc))
    expected = get_security_module().terminal_mac(
        terminal_id=terminal.terminal_id, region_code=terminal.region_code, key_version=terminal.key_version, data=data
    )
    if not hmac.compare_digest(expected, signed.mac):
        return _refusal_of(terminal, MAC_INVALID, "the MAC does not match the canonical request")
    if not is_fresh(signed.timestamp, now):
        return _refusal_of(terminal, REPLAY, f"the timestamp is more than {WINDOW_SECONDS} s from the server clock")
    return AuthenticatedTerminal(
        terminal_id=terminal.terminal_id,
        institution_name=terminal.institution_name,
        institution_type=terminal.institution_type,
        region_code=terminal.region_code,
        key_version=terminal.key_version,
        suite=terminal.suite,
    )


def _refusal_of(terminal: TerminalFacts, code: str, detail: str) -> Refusal:
    """A refusal of a known terminal, audited under its region and role."""
    return Refusal(code, detail, region=terminal.region_code, role=terminal.institution_type.value,
                    known=terminal.status == TerminalStatus.ACTIVE)  # fmt: skip


def purge_when_due(uow: UnitOfWork, *, requests: int, now: float) -> None:
    """Purge expired nonces once every ``PURGE_EVERY`` accepted requests of this process."""
    if purge_is_due(requests):
        purge_expired_nonces(uow, now=now)


def purge_is_due(requests: int) -> bool:
    """Count ``requests`` more accepted requests; whether one of them is a ``PURGE_EVERY``-th."""
    return any(next(_requests) % PURGE_EVERY == 0 for _ in range(requests))


_NONCES = cast(Table, TerminalNonce.__table__)
# Prebuilt (compiled once; this runs on every terminal request), one per backend.
_NONCE_INSERT_SQLITE = sqlite_insert(_NONCES).on_conflict_do_nothing().returning(_NONCES.c.terminal_id, _NONCES.c.nonce)
# PostgreSQL: the rows as one JSON parameter (``_nonce_rows``), so one prepared statement serves any
# number of rows and the driver sends one string (a multi-row VALUES is a new statement text per count,
# parsed by the driver and planned each time; arrays per column cost the driver more than the
# statement: bench/README.md, "figures moved out of the code").
_NONCE_INSERT_PG = text(
    "INSERT INTO terminal_nonce (terminal_id, nonce, expires_at) "
    "SELECT r->>0, r->>1, to_timestamp(CAST(r->>2 AS bigint)) "
    "FROM jsonb_array_elements(CAST(:nonce_rows AS jsonb)) AS r "
    "ON CONFLICT DO NOTHING RETURNING terminal_id, nonce"
)
_JSON = json.JSONEncoder(separators=(",", ":"))
_PURGE_EXPIRED = delete(_NONCES).where(_NONCES.c.expires_at < bindparam("cutoff", type_=_NONCES.c.expires_at.type))


@dataclass(frozen=True, slots=True)
class NonceUse:
    terminal_id: str
    nonce: str
    timestamp: int


def consume_nonce(uow: UnitOfWork, *, terminal_id: str, nonce: str, timestamp: int) -> bool:
    """Record the nonce; False when it was already recorded (one atomic INSERT … ON CONFLICT DO NOTHING).

    Under concurrency the primary key decides: of N transactions inserting the same nonce exactly
    one inserts, the others wait for it and then insert nothing (or insert, if it rolled back).
    """
    return bool(consume_nonces(uow, [NonceUse(terminal_id, nonce, timestamp)]))


def consume_nonces(uow: UnitOfWork, uses: list[NonceUse]) -> set[tuple[str, str]]:
    """Record many nonces in one statement; the (terminal id, nonce) pairs that were new.

    ``uses`` must not repeat a pair: a pair twice in one statement would be reported new once for both.
    """
    if not uses:
        return set()
    connection = uow.session.connection()
    # RETURNING, not rowcount: an INSERT … ON CONFLICT does not report a reliable rowcount on every driver.
    if dialect_of(uow) == "postgresql":
        result = connection.execute(_NONCE_INSERT_PG, {"nonce_rows": _nonce_rows(uses)})
    else:
        params = [
            {"terminal_id": u.terminal_id, "nonce": u.nonce,
             "expires_at": datetime.fromtimestamp(u.timestamp + WINDOW_SECONDS, UTC)}
            for u in uses
        ]  # fmt: skip
        result = connection.execute(_NONCE_INSERT_SQLITE, params[0] if len(params) == 1 else params)
    return {(row.terminal_id, row.nonce) for row in result}


def _nonce_rows(uses: list[NonceUse]) -> str:
    """The parameter of ``_NONCE_INSERT_PG``: each use with the time its row may go."""
    return _JSON.encode([[u.terminal_id, u.nonce, u.timestamp + WINDOW_SECONDS] for u in uses])


def purge_expired_nonces(uow: UnitOfWork, *, now: float | None = None) -> int:
    """Delete nonces whose request timestamp has left the window; return how many went."""
    cutoff = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    result = uow.session.connection().execute(_PURGE_EXPIRED, {"cutoff": cutoff})
    return int(result.rowcount or 0)


REFUSAL_KIND = "termref"  # the counter kind in the throttle table (String(8)), per source address
REFUSAL_WAIT_BASE_SECONDS = 60
REFUSAL_WAIT_MAX_SECONDS = 3600


def record_refusal(
    uow: UnitOfWork, *, terminal_id: str, method: str, path: str, refusal: Refusal, source: str, now: float
) -> DomainError:
    """Count the refusal against its source address, audit what the rules need; return the error to answer.

    Issue 17 item 11/10: one audit row per refused request let anybody write audit rows at will (200
    unauthenticated requests, 200 rows in 1.3 s; each append also holds an audit stream head). Now:

    - every refusal is counted per source address (keyed index, like the login throttles) in a
      sliding window; past ``SSCARD_TERMINAL_REFUSALS_PER_WINDOW`` the source waits (60 s, doubling
      up to an hour) and its refusals are answered 429 ``TERMINAL_THROTTLED`` with nothing written;
    - a refusal nobody authenticated (malformed headers, an unknown, blocked or retired terminal id)
      is audited once per source and window: the first, with the previous window's total; the start
      of a wait is audited with the window's count. The rest is only counted;
    - a refusal of a registered, active terminal (a bad MAC, a stale timestamp, a spent nonce) is
      audited one by one (CH-3, CH-4): it is evidence about that terminal's key (KEY-9: a key or
      terminal compromise is an incident) and names a terminal an operator can act on. Its number is
      bounded by the same per-source limit.

    The channel runs this in a unit of work of its own and commits it: the refused request rolls back.
    """

    settings = get_settings()
    at = datetime.fromtimestamp(now, UTC)
    window = settings.terminal_refusal_window_seconds
    limits = throttle.Limits(
        free=settings.terminal_refusals_per_window,
        base_seconds=REFUSAL_WAIT_BASE_SECONDS,
        max_seconds=REFUSAL_WAIT_MAX_SECONDS,
        window_seconds=window,
    )
    key = throttle.source_key(source)
    actor = Actor(kind="terminal", id=terminal_id, channel=Channel.TERMINAL, role=refusal.role, region=refusal.region)
    # The path only: a query string could carry a card number or other personal data.
    where = {"method": method[:16], "path": mask_text(path)[:200]}
    source_ref = key.hex()[:16]  # correlates a source's entries; the address itself is never stored
    row = throttle.counter_row(uow, kind=REFUSAL_KIND, key=key)
    wait = throttle.wait_left(row, at)
    if not wait:
        previous = 0
        if row is not None and row.first_failure_at is not None:
            if row.first_failure_at < at - timedelta(seconds=window):
                previous = row.failures  # that window is over: its total goes into the next entry
        counted = throttle.count_failure(uow, kind=REFUSAL_KIND, key=key, limits=limits, now=at)
        n = counted.failures if counted is not None else 0
        wait = counted.wait_seconds if counted is not None else 0
        details: dict[str, object] = {**where, "reason": refusal.detail, "source": source_ref}
        if wait:
            record_event(
                uow, actor=actor, action="terminal.request.refused", subject=subject_of(terminal_id),
                result="throttled",
                details={**details, "refusals_in_window": n, "window_seconds": window, "retry_after": wait},
            )  # fmt: skip
        elif refusal.known or n == 1:
            if n == 1 and previous:
                details["previous_window_refusals"] = previous
            if not refusal.known:
                details["summary"] = f"first refusal of this source in a {window} s window; the rest are counted"
            record_event(
                uow, actor=actor, action="terminal.request.refused", subject=subject_of(terminal_id),
                result=refusal.code, details=details,
            )  # fmt: skip
    if wait:
        return TerminalThrottled(retry_after=wait)
    return _ERRORS[refusal.code](NOT_ACTIVE if refusal.code == TERMINAL_UNKNOWN else refusal.detail)
