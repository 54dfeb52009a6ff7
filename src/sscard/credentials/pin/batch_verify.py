"""The batched path of terminal PIN verification: many requests, one transaction (the throughput lane).

Most PIN checks at a pharmacy or hospital are the holder typing the right PIN on an active card
that has no failure on record. That case writes nothing but the request's nonce (CH-3) and its
audit entry (CH-4), so a batch of them shares its reads (terminals, cards), its writes (one
multi-row nonce insert, one audit append) and its commit (``db/group_commit.py``).

Which request is that case is the PIN rule's to say, not this module's: each one is decided by
``rules.decision.decide_verify`` (``batched=True``), the same function the single path calls. What it
does not accept here is handed back undecided, and the single path (``api/terminal_pin.py``,
``service.verify_card_pin``) decides it:
- ``None``: not authenticated here (malformed headers, unknown or blocked terminal, wrong MAC, stale
  timestamp, a nonce already spent): the caller authenticates the request itself, which refuses it
  with its contract code and audits the refusal. Nothing was written for it here.
- ``Authenticated``: the request is authentic and its nonce is spent (committed with the batch, as
  the single path commits it before the route runs), but the rule did not accept it here
  (``FULL_PATH``): the caller runs ``verify_card_pin`` in its own transaction, which counts, locks
  and audits (PIN-5).
- ``Verified``: the right PIN; the nonce and the audit entry commit with the batch.

The batch follows the one locking rule of a card's PIN state (``service.verify_card_pin``): the
statement that reads its cards' PIN rows locks them (``FOR UPDATE``, in card order, so two batches
never deadlock), before the batch locks any audit stream head, as every PIN operation does. On
PostgreSQL a row another transaction holds is read as that transaction committed it, so a change,
a lock or a reset committed before is seen, and one still to come waits for this batch and appends
its entries after this batch's: a right PIN decided here serialises where the batch locked, and each
card's chain shows that order (PIN-2, PIN-5). The lock costs no round trip: the read is the first
statement of the round trip that spends the nonces and locks the heads.

The steps are written once (``_steps``, free of I/O) and run by two drivers: libpq's pipeline mode
(``verify_batch_pg``: the server on PostgreSQL, three round trips a batch, in the batch's own
``batch_db.BatchUnitOfWork``) and SQLAlchemy (``verify_batch``: SQLite, and direct calls, in the
batcher's unit of work). Every statement is ``batch_db.py``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple, Protocol, cast

import structlog
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from sscard.audit import AuditEvent, record_events
from sscard.audit.service import by_stream, chain_entries, lock_heads, streams_of
from sscard.cards.lifecycle import card_event, card_stream_key
from sscard.cards.numbers import normalise_card_no
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin import batch_db, crypto
from sscard.credentials.pin.rules.decision import Accept, Check, decide_verify, verify_details
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration
from sscard.credentials.pin.service import PinCheck
from sscard.db.driver import Command, DriverStatement
from sscard.db.group_commit import GroupCommitter
from sscard.db.session import UnitOfWork, unit_of_work_on
from sscard.db.statements import dialect_of
from sscard.errors import DomainError
from sscard.terminal.protocol import ProtocolError, SignedHeaders, parse_headers
from sscard.terminal_registry.auth import AuthenticatedTerminal, NonceUse, check_signature, consume_nonces, purge_is_due


class SignedAttempt(Protocol):
    """What authentication and the PIN check read of a batched terminal request (a PIN verification,
    or a settlement: ``settlement/batch.py``)."""

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def pin_block(self) -> bytes | None: ...
    @property
    def received_at(self) -> float: ...


class PinVerifyAttempt(NamedTuple):
    """One signed verify request as received, its body already validated (a named tuple: built on every
    terminal PIN check, cheaper than a frozen dataclass; bench/README.md, "figures moved out of the code")."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    card_no: str
    pin_block: bytes | None
    received_at: float


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Authentic, nonce spent; the PIN is for the single path to decide."""

    terminal: AuthenticatedTerminal


@dataclass(frozen=True, slots=True)
class Verified:
    """The right PIN, audited and committed."""

    terminal: AuthenticatedTerminal
    check: PinCheck


Outcome = Verified | Authenticated | None
# A refusal of one attempt must not fail its whole batch: the attempt is handed back, and the
# single path meets the same error again and answers with its contract code.
_ONE_REQUEST_ERRORS = (DomainError, ValueError)

log = structlog.get_logger("sscard.credentials.pin.batch_verify")


@dataclass(frozen=True, slots=True)
class _ReadTerminals:
    """Read the terminals (and the policy's generation, for the threshold cache)."""

    terminal_ids: set[str]


@dataclass(frozen=True, slots=True)
class _LockReadSpend:
    """Lock and read the cards' PIN rows, then spend the nonces and lock the audit heads (in this order)."""

    uses: list[NonceUse]
    streams: set[int]
    card_nos: list[str]


@dataclass(frozen=True, slots=True)
class _Append:
    """Append the audit entries (and purge expired nonces when due), then commit."""

    events: list[AuditEvent]
    heads: dict[int, Any]
    purge: bool


_Step = _ReadTerminals | _LockReadSpend | _Append
# Asked of the driver for a card's lockout threshold: None when it cannot tell without a read.
_Threshold = Callable[[str, CardType], "int | None"]


def _steps(attempts: list[PinVerifyAttempt], threshold: _Threshold) -> Generator[_Step, Any, list[Outcome]]:
    """The batch, free of I/O: it yields what it needs of the database, in order, and is sent the
    answers (terminals by id; card rows, spent pairs and locked heads; nothing). Each card's PIN is
    decided by the PIN rule (``decide_verify``), which accepts here only what writes nothing else."""
    signed = [signed_headers(a) for a in attempts]
    terminals = yield _ReadTerminals({s.terminal_id for s in signed if s is not None})
    authentic = authentic_terminals(attempts, signed, terminals)
    if not any(authentic):
        return [None] * len(attempts)
    card_nos = {i: normalise_card_no(attempts[i].card_no) for i, t in enumerate(authentic) if t is not None}
    uses = {i: NonceUse(h.terminal_id, h.nonce, h.timestamp) for i, h in enumerate(signed) if h and authentic[i]}
    streams = streams_of(map(card_stream_key, card_nos.values()))
    found, spent, heads = yield _LockReadSpend(list(uses.values()), streams, sorted(set(card_nos.values())))
    for i, use in uses.items():
        if (use.terminal_id, use.nonce) not in spent:
            authentic[i] = None  # a replay: the single path refuses it with REPLAY
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
        if card is None:  # not active, or no PIN row (never changed, never failed): the single path's
            outcomes.append(Authenticated(terminal))
            continue
        decision = decide_verify(
            card_state=card.state, row=card, threshold=threshold(card.region_code, card.card_type),
            pin_entered=attempt.pin_block is not None, batched=True,
            pin_is_right=partial(pin_block_matches, card, attempt, terminal),
        )  # fmt: skip
        if not isinstance(decision, Accept):
            outcomes.append(Authenticated(terminal))
            continue
        details = verify_details(pin_entered=True, pin_enabled=decision.pin_enabled)
        events.append(card_event(card, actor=terminal.actor(), action="pin.verify", details=details))
        outcomes.append(Verified(terminal, PinCheck(pin_enabled=decision.pin_enabled, tries_left=decision.tries_left)))
    yield _Append(events, heads, purge_is_due(len(spent)))
    return outcomes


def pin_block_matches(card: Any, attempt: SignedAttempt, terminal: AuthenticatedTerminal, check: Check) -> bool | None:
    """The PIN check the rule asks for, inside the security module; None when it cannot be told here
    (a malformed PIN block, a revoked key: the single path answers with its code)."""
    if check is not Check.VERIFICATION_VALUE or attempt.pin_block is None:
        return None
    try:
        return crypto.verify_pin_block(terminal, card_no=card.card_no, pin_block=attempt.pin_block, pvv=card.pvv,
                                       pvk_version=card.pvk_version)  # fmt: skip
    except _ONE_REQUEST_ERRORS:
        return None


def verify_batch(
    uow: UnitOfWork, attempts: list[PinVerifyAttempt], *, thresholds: LockoutThresholds | None = None
) -> list[Outcome]:
    """Run the batch on SQLAlchemy in ``uow`` (SQLite, and the tests' direct calls); see the module
    docstring for the three outcomes. Thresholds the cache lacks are read in ``uow``."""
    cache = LockoutThresholds() if thresholds is None else thresholds
    steps = _steps(attempts, lambda region_code, card_type: cache.get_or_read(uow, region_code, card_type))
    try:
        step = next(steps)
        while True:
            step = steps.send(_run(uow, step, cache))
    except StopIteration as done:
        return cast("list[Outcome]", done.value)


def _run(uow: UnitOfWork, step: _Step, thresholds: LockoutThresholds) -> Any:
    connection, dialect = uow.session.connection(), dialect_of(uow)
    if isinstance(step, _ReadTerminals):
        rows = connection.execute(batch_db.TERMINAL_FACTS[dialect], {"terminal_ids": sorted(step.terminal_ids)})
        thresholds.observe(PolicyGeneration(*connection.execute(batch_db.POLICY_GENERATION,
                                                                batch_db.generation_params()).one()))  # fmt: skip
        return {row.terminal_id: row for row in rows}
    if isinstance(step, _LockReadSpend):
        found = list(connection.execute(batch_db.CARD_ROWS[dialect], {"card_nos": step.card_nos}))
        if dialect == "postgresql":
            spend = connection.execute(batch_db.SPEND_AND_LOCK_PG,
                                       batch_db.spend_and_lock_params(step.uses, step.streams))  # fmt: skip
            return found, *batch_db.spent_and_heads(spend)
        # SQLite: the nonce and audit tables' own statements (one writer at a time: nothing to lock).
        return found, consume_nonces(uow, step.uses), lock_heads(uow, step.streams)
    record_events(uow, step.events, locked=step.heads)
    if step.purge:
        connection.execute(batch_db.PURGE_EXPIRED, batch_db.purge_params())
    return None


async def verify_batch_pg(
    connection: AsyncConnection, attempts: list[PinVerifyAttempt], *, thresholds: LockoutThresholds
) -> list[Outcome]:
    """Run the batch on PostgreSQL, straight on psycopg's libpq handle, in three round trips of its
    ``BatchUnitOfWork`` (BEGIN, the terminals and the policy's generation; the cards' PIN rows locked
    and read, then the nonces spent with the heads locked; the audit append and COMMIT).
    Thresholds the cache lacks are read after the commit, for the next batches."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101 - a live connection: the runner checked it out just now
    statements = batch_db.driver_statements(connection.dialect)
    steps = _steps(attempts, thresholds.get)
    async with batch_db.BatchUnitOfWork(raw, deadline_s=get_settings().timeouts.answer_deadline_s) as uow:
        step = next(steps)
        while True:
            answer = await _run_pg(uow, statements, step, thresholds)
            try:
                step = steps.send(answer)
            except StopIteration as done:
                outcomes = cast("list[Outcome]", done.value)
                break
    if thresholds.missing:
        await read_missing_thresholds(connection, thresholds)
    return outcomes


async def _run_pg(
    uow: batch_db.BatchUnitOfWork, statements: dict[str, DriverStatement], step: _Step, thresholds: LockoutThresholds
) -> Any:
    if isinstance(step, _ReadTerminals):
        facts, generation = statements["terminals"], statements["generation"]
        rows, generation_rows = await uow.round_trip((facts, {"terminal_ids": sorted(step.terminal_ids)}),
                                                     (generation, batch_db.generation_params()))  # fmt: skip
        thresholds.observe(PolicyGeneration(*generation_rows[0]))
        return {row.terminal_id: row for row in facts.rows(rows)}
    if isinstance(step, _LockReadSpend):
        cards, spend = await uow.round_trip(
            (statements["cards"], {"card_nos": step.card_nos}),
            (statements["spend_and_lock"], batch_db.spend_and_lock_params(step.uses, step.streams)),
        )
        return statements["cards"].rows(cards), *batch_db.spent_and_heads(spend)
    commands: list[Command] = []
    if step.events:
        grouped = by_stream(step.events)
        if not step.heads.keys() >= grouped.keys():  # a database created before these streams existed
            raise RuntimeError("audit stream heads are missing")  # the single path creates them
        commands.append((statements["append"], batch_db.append_params(*chain_entries(grouped, step.heads))))
    if step.purge:
        commands.append((statements["purge"], batch_db.purge_params()))
    await uow.commit(*commands)
    return None


async def read_missing_thresholds(connection: AsyncConnection, thresholds: LockoutThresholds) -> None:
    """After the commit: the thresholds this batch lacked, read for the batches that follow."""

    def read(sync_connection: Connection) -> None:
        with unit_of_work_on(sync_connection) as uow:
            thresholds.read_missing(uow)

    try:
        async with asyncio.timeout(get_settings().timeouts.answer_deadline_s):
            await connection.run_sync(read)
    except Exception as exc:  # noqa: BLE001 - after the commit: the batch's answers stand whatever happens here
        log.warning("pin_verify.threshold_read_failed", error_type=type(exc).__name__)  # asked again next time
        if isinstance(exc, TimeoutError):
            await connection.invalidate()  # cut off mid-statement: not used for another batch


def signed_headers(attempt: SignedAttempt) -> SignedHeaders | None:
    try:
        return parse_headers(attempt.headers)
    except ProtocolError:
        return None


def authentic_terminals(
    attempts: Sequence[SignedAttempt], signed: list[SignedHeaders | None], terminals: dict[str, Any]
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


class PinBatchVerifier(GroupCommitter[PinVerifyAttempt, Outcome]):
    """This process's batcher of terminal PIN verifications (the lane's channel: it owns each batch's
    unit of work), with the lockout threshold cache its batches share (``rules/threshold.py``)."""

    def __init__(self) -> None:
        settings = get_settings()
        self.thresholds = LockoutThresholds()
        super().__init__(
            "pin-verify",
            partial(verify_batch, thresholds=self.thresholds),
            on_failure=lambda _attempt: None,  # rolled back: the single path does everything
            max_batch=settings.pin_verify_batch,
            connections=settings.pin_verify_connections,
            linger=settings.pin_verify_linger_ms / 1000,
            in_loop=partial(verify_batch_pg, thresholds=self.thresholds),
        )


@lru_cache(maxsize=1)
def pin_verifier() -> PinBatchVerifier:
    """This process's batcher of terminal PIN verifications."""
    return PinBatchVerifier()
