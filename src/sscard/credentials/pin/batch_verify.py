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

The batch follows the one locking rule of a card's PIN state (``service.verify_card_pin``): the
statement that reads its cards' PIN rows locks them (``FOR UPDATE``, in card order, so two batches
never deadlock), before the batch locks any audit stream head, as every PIN operation does. On
PostgreSQL a row another transaction holds is read as that transaction committed it, so a change,
a lock or a reset committed before is seen, and one still to come waits for this batch and appends
its entries after this batch's: a right PIN decided here serialises where the batch locked, and each
card's chain shows that order (PIN-2, PIN-5). The lock costs no round trip: the read is the first
statement of the round trip that spends the nonces and locks the heads.

The decisions are written once (``_steps``, free of I/O) and run by two drivers: SQLAlchemy
(``verify_batch``: SQLite, and direct calls) and libpq's pipeline mode (``verify_batch_pg``: the
server on PostgreSQL, three round trips a batch; ``db/driver.py`` says why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, cast

import structlog
from sqlalchemy import ColumnElement, Connection, Dialect, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from sscard.audit import AuditEvent, record_events
from sscard.audit.service import (
    APPEND_MANY_PG,
    HEADS_FOR_UPDATE_PG,
    append_many_params,
    by_stream,
    chain_entries,
    lock_heads,
    streams_of,
)
from sscard.cards.lifecycle import card_event, card_stream_key
from sscard.cards.models import Card
from sscard.cards.numbers import normalise_card_no
from sscard.cards.states import CardState
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin import crypto
from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.service import PinCheck
from sscard.db.driver import BEGIN, COMMIT, Command, DriverStatement, PipelinedTransaction, compiled
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import UnitOfWork, unit_of_work_on
from sscard.db.statements import dialect_of, member_of, per_dialect
from sscard.errors import DomainError
from sscard.policy.service import get_effective_policy
from sscard.terminal.protocol import ProtocolError, SignedHeaders, parse_headers
from sscard.terminals.auth import (
    NONCE_INSERT_PG,
    PURGE_EXPIRED,
    AuthenticatedTerminal,
    NonceUse,
    check_signature,
    consume_nonces,
    nonce_rows,
    purge_expired_nonces,
    purge_is_due,
    purge_params,
)
from sscard.terminals.service import FACTS_BY_TERMINAL_IDS, terminal_facts


class PinVerifyAttempt(NamedTuple):
    """One signed verify request as received, its body already validated (a named tuple: built on every
    terminal PIN check, at a fifth of a frozen dataclass's cost)."""

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

# In the SQL, not a parameter (the driver sends only the card numbers); built from the enum, never from input.
_ACTIVE: ColumnElement[Any] = literal_column(f"'{CardState.ACTIVE.value}'")
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
        # The locking rule (module docstring): the PIN rows this batch may decide on are locked by the
        # statement that reads them, in card order, before any audit head. Only an active card's row:
        # a card with no row, or not active, is the one-request path's to decide anyway, and a card
        # whose lapsed loss report another transaction is expiring is never waited for here.
        .join(CardPin, CardPin.card_id == Card.id)
        .where(member_of(Card.card_no, "card_nos", dialect), Card.state == _ACTIVE)
        .order_by(CardPin.card_id)
        .with_for_update(of=CardPin)
    )
)
# The lockout threshold only shapes the ``tries_left`` a right PIN answers with (a card here has no
# failure on record, so no threshold locks it); every counting and locking decision is made by
# ``verify_card_pin`` on a fresh read. So a batch may reuse it for a few seconds after a policy change.
THRESHOLD_SECONDS = 5.0
log = structlog.get_logger("sscard.credentials.pin.batch_verify")
_thresholds: dict[tuple[str, str], tuple[float, int]] = {}
_stale: set[tuple[str, CardType]] = set()  # asked of the cache while missing or expired (the driver path)


def _lockout_threshold(uow: UnitOfWork, region_code: str, card_type: CardType) -> int:
    key = (region_code, card_type.value)
    cached = _thresholds.get(key)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        policy = get_effective_policy(uow, region_code=region_code, card_type=card_type)
        cached = _thresholds[key] = (now + THRESHOLD_SECONDS, policy.pin_lockout_threshold)
    return cached[1]


def _cached_threshold(region_code: str, card_type: CardType) -> int | None:
    """The cached threshold, even expired (read again after this batch); None when never read: that
    attempt goes the one-request way, and the batches after this one have it."""
    cached = _thresholds.get((region_code, card_type.value))
    if cached is None or cached[0] < time.monotonic():
        _stale.add((region_code, card_type))
    return None if cached is None else cached[1]


async def _read_missing_thresholds(connection: AsyncConnection) -> None:
    if not _stale:
        return
    wanted = list(_stale)
    _stale.clear()

    def read(sync_connection: Connection) -> None:
        with unit_of_work_on(sync_connection) as uow:
            for region_code, card_type in wanted:
                _thresholds.pop((region_code, card_type.value), None)
                _lockout_threshold(uow, region_code, card_type)

    try:
        async with asyncio.timeout(get_settings().timeouts.answer_deadline_s):
            await connection.run_sync(read)
    except Exception as exc:  # noqa: BLE001 - after the commit: the batch's answers stand whatever happens here
        _stale.update(wanted)  # asked for again after the next batch
        log.warning("pin_verify.threshold_read_failed", error_type=type(exc).__name__)
        if isinstance(exc, TimeoutError):
            await connection.invalidate()  # cut off mid-statement: not used for another batch


@dataclass(frozen=True, slots=True)
class _ReadTerminals:
    terminal_ids: set[str]


@dataclass(frozen=True, slots=True)
class _LockReadSpend:
    """Lock and read the cards' PIN rows, then spend the nonces and lock the audit heads (in this order)."""

    uses: list[NonceUse]
    streams: set[int]
    card_nos: list[str]


@dataclass(frozen=True, slots=True)
class _Append:
    events: list[AuditEvent]
    heads: dict[int, Any]
    purge: bool  # expired nonces are due to go


_Step = _ReadTerminals | _LockReadSpend | _Append
# Asked of the driver for a card's lockout threshold: None when it cannot tell without a read.
_Threshold = Callable[[str, CardType], "int | None"]


def _steps(attempts: list[PinVerifyAttempt], threshold: _Threshold) -> Generator[_Step, Any, list[Outcome]]:
    """The batch's decisions, free of I/O: it yields what it needs of the database, in order, and is sent
    the answers (terminals by id; card rows, spent pairs and locked heads; nothing). Two drivers run it,
    one on SQLAlchemy (``verify_batch``), one on libpq's pipeline mode (``verify_batch_pg``)."""
    signed = [_signed(a) for a in attempts]
    terminals = yield _ReadTerminals({s.terminal_id for s in signed if s is not None})
    authentic = _authentic(attempts, signed, terminals)
    if not any(authentic):
        return [None] * len(attempts)
    card_nos = {i: normalise_card_no(attempts[i].card_no) for i, t in enumerate(authentic) if t is not None}
    uses = {i: NonceUse(h.terminal_id, h.nonce, h.timestamp) for i, h in enumerate(signed) if h and authentic[i]}
    streams = streams_of(map(card_stream_key, card_nos.values()))
    found, spent, heads = yield _LockReadSpend(list(uses.values()), streams, sorted(set(card_nos.values())))
    for i, use in uses.items():
        if (use.terminal_id, use.nonce) not in spent:
            authentic[i] = None  # a replay: the one-request path refuses it with REPLAY
    # Read with the cards' PIN rows locked: what was committed before is seen here, and what comes
    # after waits for this batch's commit, so each card's chain shows the order decided.
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
        tries_left = threshold(card.region_code, card.card_type)
        if tries_left is None:
            outcomes.append(Authenticated(terminal))
            continue
        events.append(card_event(card, actor=terminal.actor(), action="pin.verify",
                                 details={"pin_entered": True, "pin_enabled": True}))  # fmt: skip
        outcomes.append(Verified(terminal, PinCheck(pin_enabled=True, tries_left=tries_left)))
    yield _Append(events, heads, purge_is_due(len(spent)))
    return outcomes


def verify_batch(uow: UnitOfWork, attempts: list[PinVerifyAttempt]) -> list[Outcome]:
    """Decide the common case of each attempt on SQLAlchemy (SQLite, and the tests' direct calls); see
    the module docstring for the three outcomes."""
    steps = _steps(attempts, lambda region_code, card_type: _lockout_threshold(uow, region_code, card_type))
    try:
        step = next(steps)
        while True:
            step = steps.send(_run(uow, step))
    except StopIteration as done:
        return cast("list[Outcome]", done.value)


def _run(uow: UnitOfWork, step: _Step) -> Any:
    if isinstance(step, _ReadTerminals):
        return terminal_facts(uow, step.terminal_ids)
    if isinstance(step, _LockReadSpend):
        found = list(uow.session.connection().execute(_CARD_ROWS[dialect_of(uow)], {"card_nos": step.card_nos}))
        spent, heads = _spend_and_lock(uow, step.uses, step.streams)
        return found, spent, heads
    record_events(uow, step.events, locked=step.heads)
    if step.purge:
        purge_expired_nonces(uow)
    return None


async def verify_batch_pg(connection: AsyncConnection, attempts: list[PinVerifyAttempt]) -> list[Outcome]:
    """Decide the common case of each attempt on PostgreSQL, straight on psycopg's libpq handle, in
    three round trips (BEGIN and the terminals; the cards' PIN rows locked and read, then the nonces
    spent with the heads locked; the audit append and COMMIT), each its statements and one Sync in one
    write (``db/driver.py``).
    Thresholds the cache does not hold are read after the commit, for the next batches."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101 - a live connection: the runner checked it out just now
    statements = _driver_statements(connection.dialect)
    steps = _steps(attempts, _cached_threshold)
    deadline = get_settings().timeouts.answer_deadline_s
    transaction = PipelinedTransaction(raw, deadline_s=deadline)
    try:
        step = next(steps)
        while True:
            answer = await _run_pg(transaction, statements, step)
            try:
                step = steps.send(answer)
            except StopIteration as done:
                outcomes = cast("list[Outcome]", done.value)
                break
        await transaction.finish()
    except BaseException:
        await transaction.abandon()
        raise
    await _read_missing_thresholds(connection)
    return outcomes


async def _run_pg(transaction: PipelinedTransaction, statements: dict[str, DriverStatement], step: _Step) -> Any:
    if isinstance(step, _ReadTerminals):
        facts = statements["terminals"]
        (rows,) = await transaction.round_trip(BEGIN, (facts, {"terminal_ids": sorted(step.terminal_ids)}))
        return {row.terminal_id: row for row in facts.rows(rows)}
    if isinstance(step, _LockReadSpend):
        spend_params = {"nonce_rows": nonce_rows(step.uses), "streams": sorted(step.streams)}
        cards, spend = await transaction.round_trip((statements["cards"], {"card_nos": step.card_nos}),
                                                    (statements["spend_and_lock"], spend_params))  # fmt: skip
        spent, heads = _spent_and_heads(spend)
        return statements["cards"].rows(cards), spent, heads
    commands: list[Command] = []
    if step.events:
        grouped = by_stream(step.events)
        if not step.heads.keys() >= grouped.keys():  # a database created before these streams existed
            raise RuntimeError("audit stream heads are missing")  # the one-request path creates them
        commands.append((statements["append"], append_many_params(*chain_entries(grouped, step.heads))))
    if step.purge:
        commands.append((statements["purge"], purge_params()))
    await transaction.round_trip(*commands, COMMIT)
    return None


@lru_cache(maxsize=2)
def _driver_statements(dialect: Dialect) -> dict[str, DriverStatement]:
    return compiled({
        "terminals": FACTS_BY_TERMINAL_IDS["postgresql"],
        "spend_and_lock": _SPEND_AND_LOCK_PG,
        "cards": _CARD_ROWS["postgresql"],
        "append": APPEND_MANY_PG,
        "purge": PURGE_EXPIRED,
    }, dialect)  # fmt: skip


def _signed(attempt: PinVerifyAttempt) -> SignedHeaders | None:
    try:
        return parse_headers(attempt.headers)
    except ProtocolError:
        return None


def _authentic(
    attempts: list[PinVerifyAttempt], signed: list[SignedHeaders | None], terminals: dict[str, Any]
) -> list[AuthenticatedTerminal | None]:
    """The terminal of each attempt whose signature checks out; the same request twice: the first only."""
    authentic: list[AuthenticatedTerminal | None] = []
    seen: set[tuple[str, str]] = set()
    for attempt, headers in zip(attempts, signed, strict=True):
        checked = None
        if headers is not None and (headers.terminal_id, headers.nonce) not in seen:
            try:
                terminal = terminals.get(headers.terminal_id)
                checked = check_signature(terminal, headers, method=attempt.method, target=attempt.target,
                                          body=attempt.body, now=attempt.received_at)  # fmt: skip
            except _ONE_REQUEST_ERRORS:
                checked = None  # e.g. a key version the module does not know: answered one by one
        if isinstance(checked, AuthenticatedTerminal) and headers is not None:
            seen.add((headers.terminal_id, headers.nonce))
            authentic.append(checked)
        else:
            authentic.append(None)
    return authentic


# PostgreSQL: the nonces spent and the audit heads locked in one statement (a round trip fewer per
# batch). Rows with a stream are heads, the others the nonces that were new.
_SPEND_AND_LOCK_PG = text(  # built once from the two modules' constant SQL, never from input
    f"WITH spent AS ({NONCE_INSERT_PG}), heads AS MATERIALIZED ({HEADS_FOR_UPDATE_PG}) "  # noqa: S608
    "SELECT terminal_id, nonce, CAST(NULL AS integer) AS stream, CAST(NULL AS bigint) AS seq, "
    "CAST(NULL AS bytea) AS last_hash FROM spent "
    "UNION ALL SELECT NULL, NULL, stream, seq, last_hash FROM heads"
)


def _spend_and_lock(
    uow: UnitOfWork, uses: list[NonceUse], streams: set[int]
) -> tuple[set[tuple[str, str]], dict[int, Any]]:
    """Spend the nonces (the (terminal id, nonce) pairs that were new) and lock the heads of ``streams``."""
    if dialect_of(uow) != "postgresql":
        return consume_nonces(uow, uses), lock_heads(uow, streams)
    rows = uow.session.connection().execute(_SPEND_AND_LOCK_PG,
                                            {"nonce_rows": nonce_rows(uses), "streams": sorted(streams)})  # fmt: skip
    return _spent_and_heads(rows)


def _spent_and_heads(rows: Iterable[Any]) -> tuple[set[tuple[str, str]], dict[int, Any]]:
    """``_SPEND_AND_LOCK_PG``'s rows: those with a stream are heads, the others the nonces that were new."""
    spent: set[tuple[str, str]] = set()
    heads: dict[int, Any] = {}
    for terminal_id, nonce, stream, seq, last_hash in rows:
        if stream is None:
            spent.add((terminal_id, nonce))
        else:
            heads[stream] = _Head(seq, last_hash)
    return spent, heads


class _Head(NamedTuple):
    seq: int
    last_hash: bytes


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
        linger=settings.pin_verify_linger_ms / 1000,
        in_loop=verify_batch_pg,
    )
