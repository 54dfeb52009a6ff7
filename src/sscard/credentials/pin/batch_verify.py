"""Terminal PIN verification in batches: the common case, many requests to one transaction.

Most PIN checks at a pharmacy or hospital are the holder typing the right PIN on an active card
that has no failure on record. That case writes nothing but the request's nonce (CH-3) and its
audit entry (CH-4), so a batch of them shares its reads (terminals, cards, policies), its writes
(one multi-row nonce insert, one audit append) and its commit (``db/group_commit.py``).

Everything else is handed back undecided, and the caller runs the one-request path
(``api/terminal_pin.py``), which decides exactly as before:
- ``None``: not authenticated here (malformed headers, unknown or blocked terminal, wrong MAC, stale
  timestamp, a nonce already spent): the caller authenticates the request itself, which refuses it
  with its contract code and audits the refusal. Nothing was written for it here.
- ``Authenticated``: the request is authentic and its nonce is spent (committed with the batch, as
  the one-request path commits it before the route runs), but the card is not the common case (a
  PIN not enabled, no PIN entered, a failure on record, a lock, a wrong PIN, a card not active): the
  caller runs ``verify_card_pin`` in its own transaction, which counts, locks and audits (PIN-5).
- ``Verified``: the right PIN; the nonce and the audit entry commit with the batch.

The card rows are read without a lock, as in ``verify_card_pin`` for a card with no failure on
record: a verification serialises before any wrong PIN that commits after its read (PIN-5).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from sscard.audit import AuditEvent, record_events
from sscard.cards.lifecycle import card_event
from sscard.cards.models import Card
from sscard.cards.numbers import normalise_card_no
from sscard.cards.states import CardState
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin import crypto
from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.service import PinCheck
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, member_of, per_dialect
from sscard.errors import DomainError
from sscard.policy.service import get_effective_policy
from sscard.terminal.protocol import ProtocolError, SignedHeaders, parse_headers
from sscard.terminals.auth import AuthenticatedTerminal, NonceUse, check_signature, consume_nonces, purge_when_due
from sscard.terminals.service import terminal_facts


@dataclass(frozen=True, slots=True)
class PinVerifyAttempt:
    """One signed verify request as received, its body already validated."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    card_no: str
    pin_block: bytes | None
    received_at: float


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Authentic, nonce spent; the PIN is for the one-request path to decide."""

    terminal: AuthenticatedTerminal


@dataclass(frozen=True, slots=True)
class Verified:
    """The right PIN, audited and committed."""

    terminal: AuthenticatedTerminal
    check: PinCheck


Outcome = Verified | Authenticated | None
# A refusal of one attempt must not fail its whole batch: the attempt is handed back, and the
# one-request path meets the same error again and answers with its contract code.
_ONE_REQUEST_ERRORS = (DomainError, ValueError)

_CARD_ROWS = per_dialect(
    lambda dialect: (
        select(
            Card.id,
            Card.card_no,
            Card.person_id,
            Card.card_type,
            Card.state,
            Card.region_code,
            CardPin.pvv,
            CardPin.pvk_version,
            CardPin.failures,
            CardPin.locked_at,
        )  # fmt: skip
        .outerjoin(CardPin, CardPin.card_id == Card.id)
        .where(member_of(Card.card_no, "card_nos", dialect))
    )
)
# The lockout threshold only shapes the ``tries_left`` a right PIN answers with (a card here has no
# failure on record, so no threshold locks it); every counting and locking decision is made by
# ``verify_card_pin`` on a fresh read. So a batch may reuse it for a few seconds after a policy change.
THRESHOLD_SECONDS = 5.0
_thresholds: dict[tuple[str, str], tuple[float, int]] = {}


def _lockout_threshold(uow: UnitOfWork, region_code: str, card_type: CardType) -> int:
    key = (region_code, card_type.value)
    cached = _thresholds.get(key)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        policy = get_effective_policy(uow, region_code=region_code, card_type=card_type)
        cached = _thresholds[key] = (now + THRESHOLD_SECONDS, policy.pin_lockout_threshold)
    return cached[1]


def verify_batch(uow: UnitOfWork, attempts: list[PinVerifyAttempt]) -> list[Outcome]:
    """Decide the common case of each attempt; see the module docstring for the three outcomes."""
    signed = [_signed(a) for a in attempts]
    terminals = terminal_facts(uow, {s.terminal_id for s in signed if s is not None})
    authentic: list[AuthenticatedTerminal | None] = []
    for attempt, headers in zip(attempts, signed, strict=True):
        checked = None
        if headers is not None:
            terminal = terminals.get(headers.terminal_id)
            try:
                checked = check_signature(terminal, headers, method=attempt.method, target=attempt.target,
                                          body=attempt.body, now=attempt.received_at)  # fmt: skip
            except _ONE_REQUEST_ERRORS:
                checked = None  # e.g. a key version the module does not know: answered one by one
        authentic.append(checked if isinstance(checked, AuthenticatedTerminal) else None)
    _spend_nonces(uow, signed, authentic)
    if not any(authentic):
        return [None] * len(attempts)
    purge_when_due(uow, requests=sum(t is not None for t in authentic), now=attempts[0].received_at)

    card_nos = {i: normalise_card_no(attempts[i].card_no) for i, t in enumerate(authentic) if t is not None}
    found = uow.session.connection().execute(_CARD_ROWS[dialect_of(uow)], {"card_nos": sorted(set(card_nos.values()))})
    cards = {row.card_no: row for row in found}
    outcomes: list[Outcome] = []
    events: list[AuditEvent] = []
    for i, (attempt, terminal) in enumerate(zip(attempts, authentic, strict=True)):
        if terminal is None:
            outcomes.append(None)
            continue
        card = cards.get(card_nos[i])
        if card is None or not _right_pin_of_a_plain_card(card, attempt, terminal):
            outcomes.append(Authenticated(terminal))
            continue
        tries_left = _lockout_threshold(uow, card.region_code, card.card_type)
        events.append(card_event(card, actor=terminal.actor(), action="pin.verify",
                                 details={"pin_entered": True, "pin_enabled": True}))  # fmt: skip
        outcomes.append(Verified(terminal, PinCheck(pin_enabled=True, tries_left=tries_left)))
    record_events(uow, events)
    return outcomes


def _signed(attempt: PinVerifyAttempt) -> SignedHeaders | None:
    try:
        return parse_headers(attempt.headers)
    except ProtocolError:
        return None


def _spend_nonces(
    uow: UnitOfWork, signed: list[SignedHeaders | None], authentic: list[AuthenticatedTerminal | None]
) -> None:
    """Spend the nonce of every authentic attempt; one whose nonce was spent already loses its place."""
    uses: dict[tuple[str, str], NonceUse] = {}
    for i, (headers, terminal) in enumerate(zip(signed, authentic, strict=True)):
        if terminal is None or headers is None:
            continue
        pair = (headers.terminal_id, headers.nonce)
        if pair in uses:  # the same request twice in one batch: the first one only
            authentic[i] = None
            continue
        uses[pair] = NonceUse(headers.terminal_id, headers.nonce, headers.timestamp)
    new = consume_nonces(uow, list(uses.values()))
    for i, headers in enumerate(signed):
        if authentic[i] is not None and headers is not None and (headers.terminal_id, headers.nonce) not in new:
            authentic[i] = None  # a replay: the one-request path refuses it with REPLAY


def _right_pin_of_a_plain_card(card: Any, attempt: PinVerifyAttempt, terminal: AuthenticatedTerminal) -> bool:
    """An active card, PIN enabled, no failure on record, not locked, and the PIN entered is right."""
    if card.state is not CardState.ACTIVE or attempt.pin_block is None:
        return False
    if card.pvv is None or card.pvk_version is None or card.failures != 0 or card.locked_at is not None:
        return False
    try:
        return crypto.verify_pin_block(terminal, card_no=card.card_no, pin_block=attempt.pin_block, pvv=card.pvv,
                                       pvk_version=card.pvk_version)  # fmt: skip
    except _ONE_REQUEST_ERRORS:
        return False  # a malformed PIN block, a revoked key: the one-request path answers with its code


@lru_cache(maxsize=1)
def pin_verifier() -> GroupCommitter[PinVerifyAttempt, Outcome]:
    """This process's batcher of terminal PIN verifications."""
    settings = get_settings()
    return GroupCommitter(
        "pin-verify",
        verify_batch,
        on_failure=lambda _attempt: None,  # rolled back: the one-request path does everything
        max_batch=settings.pin_verify_batch,
        connections=settings.pin_verify_connections,
    )
