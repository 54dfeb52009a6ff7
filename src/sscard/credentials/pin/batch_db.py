"""Everything the PIN verify batch sends to the database: its statements, their parameters, and its
unit of work. No other module supplies SQL to the batch; the tables' own modules keep theirs private.

The statements (``batch_verify.py`` says when each runs):
- ``TERMINAL_FACTS``: what authentication needs of the batch's terminals (CH-3);
- ``POLICY_GENERATION``: whether the policy may have changed since the last batch
  (``rules/threshold.py``: the lockout threshold cache forgets when it changes);
- ``CARD_ROWS``: the active cards and their PIN rows, the rows locked ``FOR UPDATE`` in card order;
- ``SPEND_AND_LOCK_PG``: the nonces spent and the audit stream heads locked, one statement;
- ``APPEND_PG``: the audit entries appended and their heads moved, one statement (CH-4): the audit
  package's ``APPEND_MANY_PG``, which every batch that appends shares;
- ``PURGE_EXPIRED``: expired nonces deleted, now and then.
The entries' hashes are the audit package's (``audit.service.chain_entries``): only the SQL is here.

On PostgreSQL the server runs them on libpq's pipeline (``db/driver.py``) inside a
``BatchUnitOfWork``; the SQLAlchemy driver (SQLite, direct calls) runs the Core ones on its session's
connection and, where SQLite needs other SQL, the tables' own functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, NamedTuple, cast

import psycopg
from sqlalchemy import ColumnElement, Dialect, Table, bindparam, case, delete, func, literal_column, select, text

from sscard.audit.service import APPEND_MANY_PG, append_many_params
from sscard.cards.models import Card
from sscard.cards.states import CardState
from sscard.credentials.pin.models import CardPin
from sscard.db.driver import BEGIN, COMMIT, Command, DriverStatement, PipelinedTransaction, compiled
from sscard.db.statements import member_of, per_dialect
from sscard.policy.models import PolicyVersion
from sscard.terminal.protocol import WINDOW_SECONDS
from sscard.terminal_registry.auth import NonceUse
from sscard.terminal_registry.models import Terminal, TerminalNonce

TERMINAL_FACTS = per_dialect(
    lambda dialect: select(
        Terminal.terminal_id,
        Terminal.institution_name,
        Terminal.institution_type,
        Terminal.region_code,
        Terminal.status,
        Terminal.key_version,
        Terminal.suite,
    ).where(member_of(Terminal.terminal_id, "terminal_ids", dialect))  # fmt: skip
)

_AT = bindparam("at", type_=PolicyVersion.effective_from.type)
# A handful of rows a region: counted whole, each batch (``rules/threshold.PolicyGeneration``).
POLICY_GENERATION = select(func.count(), func.count(case((PolicyVersion.effective_from <= _AT, literal_column("1")))))

# In the SQL, not a parameter (the driver sends only the card numbers); built from the enum, never from input.
_ACTIVE: ColumnElement[Any] = literal_column(f"'{CardState.ACTIVE.value}'")
CARD_ROWS = per_dialect(
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
        # The locking rule (``batch_verify.py``): the PIN rows this batch may decide on are locked by the
        # statement that reads them, in card order, before any audit head. Only an active card's row:
        # a card with no row, or not active, is the single path's to decide anyway, and a card whose
        # lapsed loss report another transaction is expiring is never waited for here.
        .join(CardPin, CardPin.card_id == Card.id)
        .where(member_of(Card.card_no, "card_nos", dialect), Card.state == _ACTIVE)
        .order_by(CardPin.card_id)
        .with_for_update(of=CardPin)
    )
)

# PostgreSQL: the nonces spent and the audit heads locked in one statement (a round trip fewer per
# batch). Rows with a stream are heads (locked in stream order, so two batches never deadlock), the
# others the nonces that were new. The nonces come as one JSON parameter (``nonce_rows``), so one
# prepared statement serves any number of them (bench/README.md, "figures moved out of the code").
SPEND_AND_LOCK_PG = text(
    "WITH spent AS (INSERT INTO terminal_nonce (terminal_id, nonce, expires_at) "
    "SELECT r->>0, r->>1, to_timestamp(CAST(r->>2 AS bigint)) "
    "FROM jsonb_array_elements(CAST(:nonce_rows AS jsonb)) AS r "
    "ON CONFLICT DO NOTHING RETURNING terminal_id, nonce), "
    "heads AS MATERIALIZED (SELECT stream, seq, last_hash FROM audit_stream_head "
    "WHERE stream = ANY(CAST(:streams AS integer[])) ORDER BY stream FOR UPDATE) "
    "SELECT terminal_id, nonce, CAST(NULL AS integer) AS stream, CAST(NULL AS bigint) AS seq, "
    "CAST(NULL AS bytea) AS last_hash FROM spent "
    "UNION ALL SELECT NULL, NULL, stream, seq, last_hash FROM heads"
)

# The audit append is the audit package's own statement (one for every batch that appends).
APPEND_PG = APPEND_MANY_PG

_NONCES = cast(Table, TerminalNonce.__table__)
PURGE_EXPIRED = delete(_NONCES).where(_NONCES.c.expires_at < bindparam("cutoff", type_=_NONCES.c.expires_at.type))

_JSON = json.JSONEncoder(separators=(",", ":"))


def generation_params() -> dict[str, datetime]:
    return {"at": datetime.now(UTC)}


def spend_and_lock_params(uses: list[NonceUse], streams: set[int]) -> dict[str, Any]:
    """``SPEND_AND_LOCK_PG``'s parameters: each nonce with the time its row may go, the streams sorted."""
    rows = [[u.terminal_id, u.nonce, u.timestamp + WINDOW_SECONDS] for u in uses]
    return {"nonce_rows": _JSON.encode(rows), "streams": sorted(streams)}


append_params = append_many_params  # ``APPEND_PG``'s parameters for ``audit.service.chain_entries``' result


def purge_params() -> dict[str, datetime]:
    """``PURGE_EXPIRED``'s parameter: nonces whose request timestamp has left the window go."""
    return {"cutoff": datetime.now(UTC)}


class Head(NamedTuple):
    seq: int
    last_hash: bytes


def spent_and_heads(rows: Iterable[Any]) -> tuple[set[tuple[str, str]], dict[int, Head]]:
    """``SPEND_AND_LOCK_PG``'s rows: those with a stream are heads, the others the nonces that were new."""
    spent: set[tuple[str, str]] = set()
    heads: dict[int, Head] = {}
    for terminal_id, nonce, stream, seq, last_hash in rows:
        if stream is None:
            spent.add((terminal_id, nonce))
        else:
            heads[stream] = Head(seq, last_hash)
    return spent, heads


@lru_cache(maxsize=2)
def driver_statements(dialect: Dialect) -> dict[str, DriverStatement]:
    """The statements compiled for libpq (one set per dialect object)."""
    return compiled({
        "terminals": TERMINAL_FACTS["postgresql"],
        "generation": POLICY_GENERATION,
        "cards": CARD_ROWS["postgresql"],
        "spend_and_lock": SPEND_AND_LOCK_PG,
        "append": APPEND_PG,
        "purge": PURGE_EXPIRED,
    }, dialect)  # fmt: skip


class BatchUnitOfWork:
    """The unit of work of one PIN verify batch on PostgreSQL: the batch channel's own transaction.

    Like a route's request transaction (``api/deps.TRANSACTION``), it belongs to the channel, here the
    lane's batcher (``batch_verify.PinBatchVerifier``), not to the decisions, which never commit. It
    is pipelined to keep the throughput: ``BEGIN`` travels in the first round trip, ``COMMIT`` in the
    last (``commit``), each round trip one write and one Sync (``db/driver.py``). Leaving the block
    without committing, or on any error, rolls it back (or closes the connection if a round trip was
    cut off). A batch commits once, at the end, with everything it decided; nothing commits early.

        async with BatchUnitOfWork(raw_connection, deadline_s=...) as uow:
            rows = await uow.round_trip(...)
            await uow.commit(...last statements...)
    """

    def __init__(self, connection: psycopg.AsyncConnection[Any], *, deadline_s: float | None = None) -> None:
        self._connection, self._deadline_s = connection, deadline_s
        self._begun = self._committed = False

    async def __aenter__(self) -> BatchUnitOfWork:
        self._transaction = PipelinedTransaction(self._connection, deadline_s=self._deadline_s)
        return self

    async def round_trip(self, *commands: Command) -> list[list[tuple[Any, ...]]]:
        """Send ``commands`` in one round trip (the first also begins the transaction); their rows."""
        if not self._begun:
            self._begun = True
            return await self._transaction.round_trip(BEGIN, *commands)
        return await self._transaction.round_trip(*commands)

    async def commit(self, *commands: Command) -> None:
        """The last round trip: ``commands``, then ``COMMIT``."""
        await self.round_trip(*commands, COMMIT)
        self._committed = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None and self._committed:
            await self._transaction.finish()  # leaves pipeline mode: the connection idle for the next batch
        else:
            await self._transaction.abandon()  # an error, or no commit: rolled back
