"""What every batch of money-moving terminal requests shares (medical settlement, ``settlement/batch.py``;
bank POS consumption, ``debit/batch.py``): the two drivers (``run_batch`` on SQLAlchemy, ``run_batch_pg`` on
libpq's pipeline, three round trips), authentication of the batch's signed requests, the stored
transaction ids, and the write of the accepted payments — each a row in the terminal transaction store
(``txn_store``: terminal + txn id, digest, first answer) and a double-entry posting of two legs, the
holder's account − and a counter account + (an institution's or a bank's clearing account).

The write is one statement on PostgreSQL (``WRITE_PG``) after the counter accounts are locked in id order
(``LOCK_COUNTER_ACCOUNTS``); on SQLAlchemy (SQLite, direct calls) one multi-row claim, ``ledger.post_many``
and the postings named (``claim_and_post``). Neither uses ``ON CONFLICT``: a transaction id claimed by a
transaction that committed meanwhile fails the write, and with it the batch (every request then takes the
single path, which gives the stored answer or ``TXN_CONFLICT``). A kind of payment brings its own
statements (its holders' accounts, its terminals' rows) and its rules (``PaymentBatch``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache, partial
from typing import Any, NamedTuple, Protocol, cast

from prometheus_client import Counter
from sqlalchemy import (
    Dialect,
    Select,
    Table,
    bindparam,
    column,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from sscard.audit import Actor, AuditEvent, record_events
from sscard.audit.service import by_stream, chain_entries, lock_heads, streams_of
from sscard.cards.lifecycle import card_stream_key
from sscard.cards.numbers import normalise_card_no
from sscard.cards.types import CardType
from sscard.config import get_settings
from sscard.credentials.pin import batch_db
from sscard.credentials.pin.batch_verify import (
    SignedAttempt,
    authentic_terminals,
    read_missing_thresholds,
    signed_headers,
)
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration
from sscard.db.base import utcnow
from sscard.db.driver import Command, DriverStatement, compiled
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, member_of
from sscard.ledger.models import LedgerAccount, LedgerPosting
from sscard.ledger.rules import Leg
from sscard.ledger.service import NewPosting, post_many
from sscard.settlement import txn_store
from sscard.settlement.models import TerminalTxn
from sscard.terminal.protocol import SignedHeaders
from sscard.terminal_registry.auth import AuthenticatedTerminal, NonceUse, consume_nonces, purge_is_due

_ACC = cast(Table, LedgerAccount.__table__)
_TXN = cast(Table, TerminalTxn.__table__)
_POSTING = cast(Table, LedgerPosting.__table__)


class CardAttempt(SignedAttempt, Protocol):
    """A batched money-moving request: signed, for a card and a transaction id of its terminal."""

    @property
    def card_no(self) -> str: ...
    @property
    def txn_id(self) -> str: ...


class Payment(NamedTuple):
    """One payment a batch accepted: what its stored transaction, posting and legs are made of."""

    terminal_id: str
    txn_id: str
    request: dict[str, object]  # the fields of its stored digest (``txn_store.request_digest``), purpose aside
    institution_id: int
    card_id: int
    account_id: int  # the holder's account (−)
    counter_id: int  # the clearing account paid into (+)
    paid: int
    answer: dict[str, Any]
    actor: Actor


# The batch's (terminal, transaction id) pairs already taken, found through the idempotency key's unique
# index (a look-up by transaction id alone scanned the whole table, once per batch). PostgreSQL: in the
# key table (migration 0020, docs/partitioning.md): one probe per pair where the partitioned store would
# be probed once per month attached, and an id of an archived month counts as taken (the single path
# refuses it) instead of failing the whole batch's write; the pairs as two arrays unnested side by side,
# one statement text whatever their number. Elsewhere a row-value IN on the store itself.
_TXN_KEY = table(
    "terminal_txn_key", column("terminal_id", _TXN.c.terminal_id.type), column("txn_id", _TXN.c.txn_id.type)
)
_PAIRS = (
    func.unnest(
        bindparam("terminal_ids", type_=ARRAY(_TXN.c.terminal_id.type)),
        bindparam("txn_ids", type_=ARRAY(_TXN.c.txn_id.type)),
    )
    .table_valued("terminal_id", "txn_id")
    .render_derived(name="pairs")
)
# ``LIMIT 1`` (the pair is unique anyway) keeps the look-up one index probe per pair: the planner would
# otherwise hash-join a seq scan of the table while it is small, and a plan is kept per connection.
_FOUND = (
    select(_TXN_KEY.c.terminal_id, _TXN_KEY.c.txn_id)
    .where(_TXN_KEY.c.terminal_id == _PAIRS.c.terminal_id, _TXN_KEY.c.txn_id == _PAIRS.c.txn_id)
    .limit(literal_column("1"))  # in the SQL: the pipeline driver sends only the named parameters
    .lateral("found")
)
STORED_TXNS = {
    "postgresql": select(_FOUND.c.terminal_id, _FOUND.c.txn_id).select_from(_PAIRS).join(_FOUND, true()),
    "sqlite": select(_TXN.c.terminal_id, _TXN.c.txn_id).where(
        tuple_(_TXN.c.terminal_id, _TXN.c.txn_id).in_(bindparam("pairs", expanding=True))
    ),
}
LOCK_COUNTER_ACCOUNTS = (
    select(_ACC.c.id).where(member_of(_ACC.c.id, "account_ids", "postgresql")).order_by(_ACC.c.id).with_for_update()
)
# PostgreSQL: every accepted payment's posting, legs, balances and stored transaction in one statement.
# The row ids are drawn first, so each posting names its transaction (``source_ref``) and each transaction
# its posting (the sequences looked up once a statement, not twice a row); the foreign keys are checked at
# the statement's end. No ``ON CONFLICT`` (module docstring). The balances' accounts are also named as one
# array (``a.id = ANY(ARRAY(...))``): the generic plan, made once per connection and estimating 100 rows a
# batch, then probes the accounts' primary key whatever the table's size; without it, on a table of a few
# thousand accounts (the benchmarks'), it hash-joined a scan of every account, once per batch
# (bench/README.md, settlement, seventeenth session).
# The rows come as one JSON array of arrays (``write_params``: ``_WRITE_FIELDS`` in order, no key names to
# encode, send and parse), numbered by their place.
_WRITE_FIELDS = (("terminal_id", None), ("txn_id", None), ("digest", None), ("institution_id", "bigint"),
                 ("card_id", "bigint"), ("account_id", "bigint"), ("counter_id", "bigint"), ("paid", "bigint"),
                 ("answer", "json"), ("actor", None), ("channel", None))  # fmt: skip
WRITE_PG = text(
    "WITH r AS (SELECT x.n, "  # noqa: S608 - built from the constants above, never from input
    + ", ".join(
        f"CAST(x.r->{i} AS {sql_type}) AS {name}" if sql_type else f"x.r->>{i} AS {name}"
        for i, (name, sql_type) in enumerate(_WRITE_FIELDS)
    )
    + " FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS x(r, n)), "
    "seqs AS MATERIALIZED (SELECT CAST(pg_get_serial_sequence('terminal_txn', 'id') AS regclass) AS txn_seq, "
    "CAST(pg_get_serial_sequence('ledger_posting', 'id') AS regclass) AS posting_seq), "
    "ids AS MATERIALIZED (SELECT r.*, nextval(seqs.txn_seq) AS txn_row_id, nextval(seqs.posting_seq) AS posting_id "
    "FROM r CROSS JOIN seqs ORDER BY n), "
    "postings AS (INSERT INTO ledger_posting (id, kind, business_date, actor, channel, source_ref, memo, "
    "created_at) SELECT posting_id, :kind, :business_date, actor, channel, 'terminal_txn:' || txn_row_id, "
    "terminal_id || '/' || txn_id, :now FROM ids ORDER BY n), "
    "legs AS (INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) "
    "SELECT posting_id, account_id, -paid, :business_date FROM ids "
    "UNION ALL SELECT posting_id, counter_id, paid, :business_date FROM ids), "
    "balances AS (UPDATE ledger_account AS a SET balance_fen = a.balance_fen + d.delta FROM "
    "(SELECT account_id AS id, -sum(paid) AS delta FROM ids GROUP BY account_id UNION ALL "
    "SELECT counter_id, sum(paid) FROM ids GROUP BY counter_id) AS d WHERE a.id = d.id "
    "AND a.id = ANY(ARRAY(SELECT account_id FROM ids UNION ALL SELECT counter_id FROM ids))) "
    "INSERT INTO terminal_txn (id, terminal_id, txn_id, purpose, request_digest, institution_id, card_id, "
    "account_id, amount_fen, posting_id, reversed, business_date, answer, created_at) "
    "SELECT txn_row_id, terminal_id, txn_id, :purpose, digest, institution_id, card_id, account_id, -paid, "
    "posting_id, false, :business_date, answer, :now FROM ids ORDER BY n"
).bindparams(
    bindparam("business_date", type_=_POSTING.c.business_date.type),
    bindparam("now", type_=_POSTING.c.created_at.type),
)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


Signed = list[SignedHeaders | None]  # each attempt's headers, parsed once a batch (None: malformed)


def authenticated(
    attempts: Sequence[CardAttempt], signed: Signed, terminals: dict[str, Any]
) -> tuple[list[AuthenticatedTerminal | None], dict[int, str], dict[int, NonceUse]]:
    """Each attempt's terminal if its MAC and headers hold (None otherwise), the authentic ones' card
    numbers (normalised) and nonces to spend, by the attempt's index."""
    authentic = authentic_terminals(attempts, signed, terminals)
    card_nos = {i: normalise_card_no(attempts[i].card_no) for i, t in enumerate(authentic) if t is not None}
    uses = {i: NonceUse(h.terminal_id, h.nonce, h.timestamp) for i, h in enumerate(signed) if h and authentic[i]}
    return authentic, card_nos, uses


def drop_replays(authentic: list[AuthenticatedTerminal | None], uses: dict[int, NonceUse], spent: set[Any]) -> None:
    """Unauthenticate the attempts whose nonce was spent already: the route refuses them with ``REPLAY``."""
    for i, use in uses.items():
        if (use.terminal_id, use.nonce) not in spent:
            authentic[i] = None


def terminal_ids_of(signed: Signed) -> list[str]:
    return sorted({h.terminal_id for h in signed if h is not None})


def stored_params(dialect: str, attempts: Sequence[CardAttempt], signed: Signed) -> dict[str, Any]:
    """``STORED_TXNS``' parameters: the (terminal id, transaction id) pairs of the signed attempts."""
    pairs = sorted({(h.terminal_id, a.txn_id) for h, a in zip(signed, attempts, strict=True) if h is not None})
    if dialect == "postgresql":
        return {"terminal_ids": [t for t, _ in pairs], "txn_ids": [x for _, x in pairs]}
    return {"pairs": pairs}


# The batch's statements are key look-ups and writes of the batch's own rows: their generic plans (index
# probes) serve any batch. Left to choose, PostgreSQL re-planned the accounts' locks for half the batches
# (custom plans, ~0.1-0.3 ms each; bench/settle_batch.py shows them).
_GENERIC_PLANS = b"SET LOCAL plan_cache_mode = force_generic_plan"


def _digests(paid: list[Payment], purpose: str) -> list[str]:
    """Each payment's stored request digest, the same as the single path's, in one call of the module."""
    return txn_store.request_digests(purpose, [p.request for p in paid])


def write_params(paid: list[Payment], *, kind: str, purpose: str) -> dict[str, Any]:
    """``WRITE_PG``'s parameters for ``paid`` (postings of ``kind``, stored transactions of ``purpose``)."""
    rows = [
        [
            p.terminal_id,
            p.txn_id,
            digest,
            p.institution_id,
            p.card_id,
            p.account_id,
            p.counter_id,
            p.paid,
            p.answer,
            p.actor.id[:64],
            p.actor.channel.value[:16],
        ]
        for p, digest in zip(paid, _digests(paid, purpose), strict=True)
    ]  # fmt: skip (``_WRITE_FIELDS``' order)
    return {
        "rows": _JSON.encode(rows),
        "kind": kind,
        "purpose": purpose,
        "business_date": date.fromisoformat(paid[0].answer["business_date"]),
        "now": utcnow(),
    }


def claim_and_post(uow: UnitOfWork, paid: list[Payment], *, kind: str, purpose: str) -> None:
    """SQLAlchemy: claim the payments in the store (one statement; an id claimed meanwhile fails the
    batch), post them (``ledger.post_many``: the accounts locked in id order), name the postings."""
    today, now = date.fromisoformat(paid[0].answer["business_date"]), utcnow()
    values = [
        {"terminal_id": p.terminal_id, "txn_id": p.txn_id, "purpose": purpose, "request_digest": digest,
         "institution_id": p.institution_id, "card_id": p.card_id, "account_id": p.account_id,
         "amount_fen": -p.paid, "original_id": None, "reversed": False, "business_date": today,
         "answer": p.answer, "created_at": now}
        for p, digest in zip(paid, _digests(paid, purpose), strict=True)
    ]  # fmt: skip
    claim = insert(_TXN).values(values).returning(_TXN.c.id, _TXN.c.terminal_id, _TXN.c.txn_id)
    ids = {(r.terminal_id, r.txn_id): r.id for r in uow.session.execute(claim)}
    row_ids = [ids[(p.terminal_id, p.txn_id)] for p in paid]
    postings = [
        NewPosting(
            kind=kind,
            legs=[Leg(p.account_id, -p.paid), Leg(p.counter_id, p.paid)],
            business_date=today,
            source_ref=f"terminal_txn:{row_id}",
            memo=f"{p.terminal_id}/{p.txn_id}",
        )
        for row_id, p in zip(row_ids, paid, strict=True)
    ]
    posting_ids = post_many(uow, postings=postings, actor=[p.actor for p in paid])
    uow.session.execute(
        update(_TXN).where(_TXN.c.id == bindparam("rid")).values(posting_id=bindparam("pid")),
        [{"rid": rid, "pid": pid} for rid, pid in zip(row_ids, posting_ids, strict=True)],
    )


@dataclass(slots=True)
class BatchFacts:
    """What a batch read: each authentic attempt's card number, the holders' accounts (locked) and the cards'
    PIN rows (locked), both by card number, the stored transaction ids, and each terminal's own row of the
    kind (its institution, and the clearing account where the kind keeps one there)."""

    card_nos: dict[int, str]
    accounts: dict[str, Any]
    cards: dict[str, Any]
    stored: set[tuple[str, str]]
    terminals: dict[str, Any]


# A kind's rules: each attempt's outcome, the payments accepted and their audit entries. Its thresholds are
# asked of the caches the batch was given, in their order (None: not known yet, the single path decides).
Threshold = Callable[[str, CardType], "int | None"]
Decide = Callable[[list[Any], list[AuthenticatedTerminal | None], BatchFacts, list[Threshold]],
                  tuple[list[Any], list[Payment], list[AuditEvent]]]  # fmt: skip


@dataclass(frozen=True, eq=False)
class PaymentBatch:
    """A kind of batched payment, as the shared drivers (``run_batch``, ``run_batch_pg``) run it:
    ``accounts`` reads and locks the holders' accounts (bound ``card_nos``, rows with ``card_no``, locked in
    id order), ``by_terminal`` reads each terminal's row (bound ``terminal_ids``, rows with ``terminal_id`` first
    and then a column never NULL, the row's key: on PostgreSQL it is left-joined to the terminals' facts),
    ``decide`` applies the kind's rules, and the payments are written as postings of ``kind`` and stored
    transactions of ``purpose``; ``decided`` counts what the batches paid and handed on."""

    accounts: dict[str, Any]
    by_terminal: dict[str, Any]
    decide: Decide
    kind: str
    purpose: str
    decided: Counter

    @cached_property
    def _counters(self) -> tuple[Any, Any]:
        """The two children of ``decided``, looked up once (``labels`` takes a lock and checks its labels)."""
        return self.decided.labels("paid"), self.decided.labels("handed_on")

    def counted(self, outcomes: list[Any], paid: list[Payment]) -> list[Any]:
        paid_counter, handed_on = self._counters
        paid_counter.inc(len(paid))
        handed_on.inc(len(outcomes) - len(paid))
        return outcomes


def run_batch(uow: UnitOfWork, attempts: list[Any], spec: PaymentBatch, caches: list[LockoutThresholds]) -> list[Any]:
    """Decide ``attempts`` in ``uow`` on SQLAlchemy (SQLite, and the tests' direct calls; the server on
    PostgreSQL runs ``run_batch_pg``), in the lock order of the kind's single path: the holders' accounts,
    the PIN rows, the audit heads, the clearing accounts. Thresholds the caches lack are read in ``uow``."""
    connection, dialect = uow.session.connection(), dialect_of(uow)
    signed = [signed_headers(a) for a in attempts]
    terminal_ids = {"terminal_ids": terminal_ids_of(signed)}
    terminals = {r.terminal_id: r for r in connection.execute(batch_db.TERMINAL_FACTS[dialect], terminal_ids)}
    generation = PolicyGeneration(*connection.execute(batch_db.POLICY_GENERATION, batch_db.generation_params()).one())
    for cache in caches:
        cache.observe(generation)
    authentic, card_nos, uses = authenticated(attempts, signed, terminals)
    if not any(authentic):
        return spec.counted([None] * len(attempts), [])
    wanted = {"card_nos": sorted(set(card_nos.values()))}
    accounts = {r.card_no: r for r in connection.execute(spec.accounts[dialect], wanted)}
    cards = {r.card_no: r for r in connection.execute(batch_db.CARD_ROWS[dialect], wanted)}
    streams = streams_of(map(card_stream_key, card_nos.values()))
    if dialect == "postgresql":
        rows = connection.execute(batch_db.SPEND_AND_LOCK_PG, batch_db.spend_and_lock_params([*uses.values()], streams))
        spent, heads = batch_db.spent_and_heads(rows)
    else:  # SQLite: one writer at a time, nothing to lock
        spent, heads = consume_nonces(uow, [*uses.values()]), lock_heads(uow, streams)
    drop_replays(authentic, uses, spent)
    taken = connection.execute(STORED_TXNS[dialect], stored_params(dialect, attempts, signed))
    stored = {(r.terminal_id, r.txn_id) for r in taken}
    own = {r.terminal_id: r for r in connection.execute(spec.by_terminal[dialect], terminal_ids)}
    facts = BatchFacts(card_nos, accounts, cards, stored, own)
    outcomes, paid, events = spec.decide(attempts, authentic, facts, [partial(c.get_or_read, uow) for c in caches])
    if paid:
        claim_and_post(uow, paid, kind=spec.kind, purpose=spec.purpose)
    record_events(uow, events, locked=heads)
    if purge_is_due(len(spent)):
        connection.execute(batch_db.PURGE_EXPIRED, batch_db.purge_params())
    return spec.counted(outcomes, paid)


def terminal_rows_pg(by_terminal: Select[Any]) -> Select[Any]:
    """PostgreSQL: one statement for what the first round trip reads of the batch's terminals — each terminal's
    facts (``batch_db.TERMINAL_FACTS``) with its own row of the kind (``by_terminal``, left-joined: its columns
    NULL when it has none) and, on every row, the policy's generation (``batch_db.POLICY_GENERATION``): one
    statement where three were sent (each costs the backend and the client its fixed part, whatever the
    batch's size; bench/README.md, settlement, seventeenth session). No terminal found, no row: then no
    request of the batch is authentic, and nothing is decided with the generation."""
    facts = batch_db.TERMINAL_FACTS["postgresql"].subquery("facts")
    own = by_terminal.subquery("own")
    generation = batch_db.POLICY_GENERATION.subquery("generation")
    own_columns = [c for c in own.c if c.key != "terminal_id"]
    clash = {c.key for c in own_columns} & {c.key for c in facts.c}
    if clash:  # the rows are read by name: a kind's row may not shadow a terminal fact
        raise ValueError(f"by_terminal columns named as terminal facts: {sorted(clash)}")
    versions, in_force = generation.c
    return select(
        *facts.c, *own_columns, versions.label("generation_versions"), in_force.label("generation_in_force")
    ).select_from(facts.outerjoin(own, own.c.terminal_id == facts.c.terminal_id).join(generation, true()))


# The place in ``terminal_rows_pg``'s rows of the kind's first column after ``terminal_id``: never NULL in a
# row of the kind (``PaymentBatch.by_terminal``), so NULL there means the terminal has none.
_OWN_KEY = len(batch_db.TERMINAL_FACTS["postgresql"].selected_columns)


@lru_cache(maxsize=8)
def _driver_statements(spec: PaymentBatch, dialect: Dialect) -> dict[str, DriverStatement]:
    return compiled({
        "terminals": terminal_rows_pg(spec.by_terminal["postgresql"]),
        "stored": STORED_TXNS["postgresql"],
        "accounts": spec.accounts["postgresql"],
        "cards": batch_db.CARD_ROWS["postgresql"],
        "spend_and_lock": batch_db.SPEND_AND_LOCK_PG,
        "lock_counters": LOCK_COUNTER_ACCOUNTS,
        "write": WRITE_PG,
        "append": batch_db.APPEND_PG,
        "purge": batch_db.PURGE_EXPIRED,
    }, dialect)  # fmt: skip


async def run_batch_pg(
    connection: AsyncConnection, attempts: list[Any], spec: PaymentBatch, caches: list[LockoutThresholds]
) -> list[Any]:
    """The batch on PostgreSQL, straight on libpq's pipeline (``db/driver.py``), in three round trips of its
    own ``BatchUnitOfWork``: (1) BEGIN, the terminals, the policy's generation, the stored transaction ids,
    each terminal's own row; (2) the holders' accounts locked, the PIN rows locked and read, the nonces
    spent with the audit heads locked, in this order; (3) the clearing accounts locked in id order, the
    payments written (``WRITE_PG``), the audit append, COMMIT. Thresholds the caches lack are read after
    the commit, for the next batches."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101 - a live connection: the runner checked it out just now
    st = _driver_statements(spec, connection.dialect)
    signed = [signed_headers(a) for a in attempts]
    terminal_ids = {"terminal_ids": terminal_ids_of(signed)}
    async with batch_db.BatchUnitOfWork(raw, deadline_s=get_settings().timeouts.answer_deadline_s) as uow:
        found, stored_rows = await uow.round_trip(
            _GENERIC_PLANS,
            (st["terminals"], {**terminal_ids, **batch_db.generation_params()}),
            (st["stored"], stored_params("postgresql", attempts, signed)),
        )
        terminal_rows = st["terminals"].rows(found)
        if terminal_rows:
            first = terminal_rows[0]
            for cache in caches:
                cache.observe(PolicyGeneration(first.generation_versions, first.generation_in_force))
        terminals = {r.terminal_id: r for r in terminal_rows}
        authentic, card_nos, uses = authenticated(attempts, signed, terminals)
        if not any(authentic):
            await uow.commit()
            return spec.counted([None] * len(attempts), [])
        wanted = {"card_nos": sorted(set(card_nos.values()))}
        streams = streams_of(map(card_stream_key, card_nos.values()))
        account_rows, card_rows, spend = await uow.round_trip(
            (st["accounts"], wanted),
            (st["cards"], wanted),
            (st["spend_and_lock"], batch_db.spend_and_lock_params([*uses.values()], streams)),
        )
        spent, heads = batch_db.spent_and_heads(spend)
        drop_replays(authentic, uses, spent)
        facts = BatchFacts(
            card_nos,
            {r.card_no: r for r in st["accounts"].rows(account_rows)},
            {r.card_no: r for r in st["cards"].rows(card_rows)},
            {(r.terminal_id, r.txn_id) for r in st["stored"].rows(stored_rows)},
            {r.terminal_id: r for r in terminal_rows if r[_OWN_KEY] is not None},
        )
        outcomes, paid, events = spec.decide(attempts, authentic, facts, [c.get for c in caches])
        commands: list[Command] = []
        if paid:
            commands.append((st["lock_counters"], {"account_ids": sorted({p.counter_id for p in paid})}))
            commands.append((st["write"], write_params(paid, kind=spec.kind, purpose=spec.purpose)))
        if events:
            grouped = by_stream(events)
            if not heads.keys() >= grouped.keys():  # a database created before these streams existed
                raise RuntimeError("audit stream heads are missing")  # the single path creates them
            commands.append((st["append"], batch_db.append_params(*chain_entries(grouped, heads))))
        if purge_is_due(len(spent)):
            commands.append((st["purge"], batch_db.purge_params()))
        await uow.commit(*commands)
    for cache in caches:
        if cache.missing:
            await read_missing_thresholds(connection, cache)
    return spec.counted(outcomes, paid)
