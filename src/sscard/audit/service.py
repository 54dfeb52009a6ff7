"""Write and verify the audit chain (CH-4).

``record_event`` runs inside the caller's unit of work, so an audit entry exists if and only if the
change it records was committed. Per stream: an atomic ``UPDATE … RETURNING`` takes the next
sequence number and row-locks the head until commit, so concurrent writers to one stream are
serialised by the database, never by Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable, Table, and_, bindparam, func, insert, or_, select, text, update

from sscard.audit.actor import Actor, Channel
from sscard.audit.anchors import Anchor, AnchorStatus, anchor_status, check_heads, lookup_hashes, write_anchor
from sscard.audit.archive import Horizon, archived_places, horizon_fault, load_horizons
from sscard.audit.checkpoints import checkpoint_fault, checkpoint_mac, load_checkpoints, record_checkpoints
from sscard.audit.models import AuditCheckpoint, AuditEntry, AuditStreamHead
from sscard.audit.signatures import is_signed, sign_entry
from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.partitions import archived_before
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, member_of
from sscard.security_module import get_security_module

GENESIS = b"\x00" * 32
# Built once: ``json.dumps`` with any non-default argument builds a new encoder on every call, and
# every audited request encodes two documents. Same output as ``json.dumps`` with these arguments.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_COMPACT_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_bytes(
    *, stream: int, seq: int, at: datetime, actor: Actor, subject: str, action: str, result: str, details: str
) -> bytes:
    """The exact bytes that are MACed: every column except the hashes, in a fixed order."""
    return _canonical(stream, seq, _at_text(at), actor, subject, action, result, details)


def _at_text(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _canonical(
    stream: int, seq: int, at_text: str, actor: Actor, subject: str, action: str, result: str, details: str
) -> bytes:
    """``canonical_bytes`` with the time already formatted (a batch's entries share one time)."""
    fields = [
        str(stream),
        str(seq),
        at_text,
        actor.kind,
        actor.id,
        actor.role,
        actor.channel.value,
        actor.region,
        subject,
        action,
        result,
        details,
    ]
    return _COMPACT.encode(fields).encode()


def chain_hash(prev_hash: bytes, content: bytes) -> bytes:
    return get_security_module().audit_mac(prev_hash + content)[:32]


@lru_cache(maxsize=65536)  # asked twice per audited PIN check (the lock, then the append) for the same card
def stream_for(subject_key: str, streams: int) -> int:
    return int.from_bytes(hashlib.sha256(subject_key.encode()).digest()[:4], "big") % streams


def ensure_streams(uow: UnitOfWork) -> None:
    """Create missing stream heads (idempotent; run at ``db upgrade`` and before first use)."""
    n = get_settings().audit_streams
    existing = set(uow.session.scalars(select(AuditStreamHead.stream)))
    for stream in range(n):
        if stream not in existing:
            uow.session.add(AuditStreamHead(stream=stream, seq=0, last_hash=GENESIS))
    uow.flush()


_HEAD = cast(Table, AuditStreamHead.__table__)
_ENTRY = cast(Table, AuditEntry.__table__)
_TAKE_SEQ = (
    update(_HEAD)
    .where(_HEAD.c.stream == bindparam("h_stream"))
    .values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.last_hash)
)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.stream == bindparam("h_stream")).values(last_hash=bindparam("h_hash"))
_APPEND = (
    insert(_ENTRY).values({c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _ENTRY.c if c.name != "id"})
).returning(_ENTRY.c.id)
_APPEND_PG = _APPEND.add_cte(_MOVE_HEAD.cte("moved_head"))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry to append: ``subject`` and ``details`` already masked (no PIN, key or full ID)."""

    actor: Actor
    action: str
    subject: str
    result: str = "ok"
    details: dict[str, Any] | None = None
    subject_key: str | None = None  # the stream key when it differs from the subject (one card, one stream)

    def stream(self, streams: int) -> int:
        return stream_for(self.subject_key or self.subject, streams)


def _entry_values(
    event: AuditEvent, *, stream: int, seq: int, prev_hash: bytes, at: datetime, at_text: str | None = None
) -> dict[str, Any]:
    """The row of one entry, its chain hash computed over the canonical bytes (the single append).
    ``at_text``: ``at`` already formatted, when many entries share it."""
    values, content = _unchained(event, stream=stream, seq=seq, at=at, at_text=at_text or _at_text(at))
    values["prev_hash"], values["hash"] = prev_hash, chain_hash(prev_hash, content)
    return values


def _unchained(event: AuditEvent, *, stream: int, seq: int, at: datetime, at_text: str) -> tuple[dict[str, Any], bytes]:
    """The row of one entry but its hashes, and the canonical bytes its hash is computed over."""
    details_json = _COMPACT_SORTED.encode(event.details or {})
    actor = event.actor
    content = _canonical(stream, seq, at_text, actor, event.subject, event.action, event.result, details_json)
    return {
        "stream": stream,
        "seq": seq,
        "at": at,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "role": actor.role,
        "channel": actor.channel.value,
        "region": actor.region,
        "subject": event.subject,
        "action": event.action,
        "result": event.result,
        "details": details_json,
    }, content


def record_event(
    uow: UnitOfWork,
    *,
    actor: Actor,
    action: str,
    subject: str,
    result: str = "ok",
    details: dict[str, Any] | None = None,
    subject_key: str | None = None,
) -> AuditEntry:
    """Append one entry. ``subject`` and ``details`` must already be masked (no PIN, key or full ID)."""
    return append_event(uow, AuditEvent(actor, action, subject, result, details, subject_key))


def append_event(uow: UnitOfWork, event: AuditEvent) -> AuditEntry:
    """Append one entry (see ``record_event``)."""
    stream = event.stream(get_settings().audit_streams)
    session = uow.session
    row = session.execute(_TAKE_SEQ, {"h_stream": stream}).one_or_none()
    if row is None:
        ensure_streams(uow)
        return append_event(uow, event)
    seq, prev_hash = row
    values = _entry_values(event, stream=stream, seq=seq, prev_hash=prev_hash, at=utcnow())
    # Prebuilt Core statements on the tables (not ORM add + flush, not ORM-enabled DML): this runs in
    # every audited request (PIN, login), compiled once, and the entry is never read back through the
    # session. On PostgreSQL the head update and the insert are one statement (a data-modifying CTE).
    # Entry binds are prefixed: an UPDATE given a parameter named like a column would SET that column.
    params = {**{f"e_{k}": v for k, v in values.items()}, "h_stream": stream, "h_hash": values["hash"]}
    if dialect_of(uow) == "postgresql":
        entry_id = session.execute(_APPEND_PG, params).scalar_one()
    else:
        session.execute(_MOVE_HEAD, {"h_stream": stream, "h_hash": values["hash"]})
        entry_id = session.execute(_APPEND, params).scalar_one()
    entry = AuditEntry(id=entry_id, **values)  # detached: what was written, for callers and tests
    if is_signed(event.action, event.actor.kind, event.result):  # non-repudiation: the acting staff member signs it
        sign_entry(uow, entry)
    return entry


# The batch append locks every head it extends in stream order, so two batches never deadlock
# (``ORDER BY`` then ``FOR UPDATE``: PostgreSQL locks the rows in the sorted order).
_LOCK_HEADS: dict[str, Executable] = {
    "postgresql": text(
        "SELECT stream, seq, last_hash FROM audit_stream_head "
        "WHERE stream = ANY(CAST(:streams AS integer[])) ORDER BY stream FOR UPDATE"
    ),
    # SQLite has no row locks: a transaction there holds the write lock from its start (BEGIN IMMEDIATE).
    "sqlite": select(_HEAD.c.stream, _HEAD.c.seq, _HEAD.c.last_hash).where(
        member_of(_HEAD.c.stream, "streams", "sqlite")
    ),
}
_SET_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.stream == bindparam("h_stream"))
    .values(seq=bindparam("h_seq"), last_hash=bindparam("h_hash"))
)


_ENTRY_COLUMNS = [c.name for c in _ENTRY.c if c.name not in ("id", "at")]
_SQL_TYPES = {"stream": "integer", "seq": "bigint"}
_HASHES = ("prev_hash", "hash")  # bytea, sent as hex: JSON has no bytes


def _entry_field(i: int, column: str) -> str:
    """The SQL of an entry's ``column``, the ``i``-th of its JSON array."""
    if column in _HASHES:
        return f"decode(e.r->>{i}, 'hex')"
    return f"CAST(e.r->>{i} AS {_SQL_TYPES[column]})" if column in _SQL_TYPES else f"e.r->>{i}"


# PostgreSQL: every head and entry of a batch in one statement whatever the batch's size, the rows as
# one JSON document (one parameter to send, where an array per column cost more than the statement),
# each head and entry an array of its columns (entries in ``_ENTRY_COLUMNS`` order): no key names to
# encode, send and parse (objects through ``jsonb_to_recordset`` cost the backend more CPU: bench/README.md,
# settlement, sixteenth session). Inserted in the order given: the ids, and so the order verify_chain
# walks, follow seq. Shared by every batch that appends (``record_events``, the terminal batches'
# ``credentials/pin/batch_db.py``). The SQL is built once from the table's own column names, never from input.
APPEND_MANY_PG = text(
    "WITH moved AS (UPDATE audit_stream_head AS h SET seq = m.seq, last_hash = decode(m.hash, 'hex') "  # noqa: S608
    "FROM (SELECT CAST(x->>0 AS integer) AS stream, CAST(x->>1 AS bigint) AS seq, x->>2 AS hash "
    "FROM jsonb_array_elements(CAST(:heads AS jsonb)) AS x) AS m WHERE h.stream = m.stream) "
    f"INSERT INTO audit_entry (at, {', '.join(_ENTRY_COLUMNS)}) "
    "SELECT :at, "
    + ", ".join(_entry_field(i, c) for i, c in enumerate(_ENTRY_COLUMNS))
    + " FROM jsonb_array_elements(CAST(:entries AS jsonb)) WITH ORDINALITY AS e(r, n) ORDER BY e.n"
).bindparams(bindparam("at", type_=_ENTRY.c.at.type))


def _as_json_row(values: dict[str, Any]) -> list[Any]:
    return [values[c].hex() if c in _HASHES else values[c] for c in _ENTRY_COLUMNS]


def streams_of(subject_keys: Iterable[str]) -> set[int]:
    """The chain streams that entries with these subject keys append to (what a batch locks first)."""
    n = get_settings().audit_streams
    return {stream_for(key, n) for key in subject_keys}


def lock_heads(uow: UnitOfWork, streams: Iterable[int]) -> dict[int, Any]:
    """Lock the heads of ``streams`` in stream order until commit; their rows (seq, last_hash) by stream."""
    rows = uow.session.connection().execute(_LOCK_HEADS[dialect_of(uow)], {"streams": sorted(set(streams))})
    return {row.stream: row for row in rows}


def record_events(uow: UnitOfWork, events: Sequence[AuditEvent], *, locked: Mapping[int, Any] | None = None) -> None:
    """Append many entries in two statements whatever their number (the terminal channel's group
    commit). Entries of one stream are chained in the order given. ``locked``: heads the caller has
    already locked with ``lock_heads`` in this transaction (then only the append is left to do)."""
    if not events:
        return
    grouped = by_stream(events)
    heads = dict(locked or {})
    if not heads.keys() >= grouped.keys():
        heads.update(lock_heads(uow, grouped.keys() - heads.keys()))
    if not heads.keys() >= grouped.keys():  # a database created before these streams existed
        ensure_streams(uow)
        heads.update(lock_heads(uow, grouped.keys() - heads.keys()))
    at, rows, moves = chain_entries(grouped, heads)
    # Core statements on the session's connection: nothing here needs the ORM's bookkeeping.
    connection = uow.session.connection()
    if dialect_of(uow) == "postgresql":
        connection.execute(APPEND_MANY_PG, append_many_params(at, rows, moves))
    else:
        connection.execute(_SET_HEAD, moves)
        connection.execute(insert(_ENTRY), rows)
    to_sign = [r for r in rows if is_signed(r["action"], r["actor_kind"], r["result"])]
    if to_sign:  # rare in a batch (terminals hold no signing key): read the ids back, then sign
        where = or_(*(and_(_ENTRY.c.stream == r["stream"], _ENTRY.c.seq == r["seq"]) for r in to_sign))
        ids = {
            (row.stream, row.seq): row.id
            for row in connection.execute(select(_ENTRY.c.id, _ENTRY.c.stream, _ENTRY.c.seq).where(where))
        }
        for r in to_sign:
            sign_entry(uow, AuditEntry(id=ids[(r["stream"], r["seq"])], **r))


def chain_entries(
    by_stream: Mapping[int, Sequence[AuditEvent]], heads: Mapping[int, Any]
) -> tuple[datetime, list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of the entries, chained after the locked ``heads`` (rows with ``seq`` and ``last_hash``)
    stream by stream in the order given, and the heads' moves. Every link is MACed in one call of the
    security module (one key look-up for the batch, not one per entry)."""
    at = utcnow()
    at_text = _at_text(at)
    rows: list[list[dict[str, Any]]] = []
    chains: list[tuple[bytes, list[bytes]]] = []
    for stream, stream_events in by_stream.items():
        stream_rows, contents = [], []
        for seq, event in enumerate(stream_events, start=heads[stream].seq + 1):
            values, content = _unchained(event, stream=stream, seq=seq, at=at, at_text=at_text)
            stream_rows.append(values)
            contents.append(content)
        rows.append(stream_rows)
        chains.append((heads[stream].last_hash, contents))
    moves: list[dict[str, Any]] = []
    all_links = get_security_module().audit_chains(chains)
    for stream_rows, (prev_hash, _), links in zip(rows, chains, all_links, strict=True):
        for values, link in zip(stream_rows, links, strict=True):
            values["prev_hash"], values["hash"] = prev_hash, link
            prev_hash = link
        moves.append({"h_stream": stream_rows[-1]["stream"], "h_seq": stream_rows[-1]["seq"], "h_hash": prev_hash})
    return at, [values for stream_rows in rows for values in stream_rows], moves


def by_stream(events: Iterable[AuditEvent]) -> dict[int, list[AuditEvent]]:
    """The events grouped by the stream they append to, each group in the order given."""
    n = get_settings().audit_streams
    grouped: dict[int, list[AuditEvent]] = {}
    for event in events:
        grouped.setdefault(event.stream(n), []).append(event)
    return grouped


def append_many_params(at: datetime, rows: list[dict[str, Any]], moves: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of ``APPEND_MANY_PG`` (PostgreSQL) for ``chain_entries``' result."""
    heads_json = [[m["h_stream"], m["h_seq"], m["h_hash"].hex()] for m in moves]
    entries_json = [_as_json_row(r) for r in rows]
    return {"at": at, "heads": _COMPACT.encode(heads_json), "entries": _COMPACT.encode(entries_json)}


@dataclass(frozen=True)
class ChainProblem:
    stream: int
    seq: int
    entry_id: int | None
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    streams: int
    problem: ChainProblem | None  # the first (earliest written) of ``problems``
    # Walked from checkpoints: the oldest full walk whose checkpoint was used (entries up to each
    # checkpoint were found intact then); None when every stream was walked from its first entry.
    checked_since: datetime | None = None
    intact_heads: tuple[AuditStreamHead, ...] = ()  # the streams found intact, as read before the walk
    heads: tuple[AuditStreamHead, ...] = ()  # every head, as read before the walk
    problems: tuple[ChainProblem, ...] = ()
    anchors: AnchorStatus | None = None  # the anchor file and the database's record of it
    # Older months archived (``sscard partitions detach``, PostgreSQL): the first month the walk covers;
    # each stream was walked from its archive horizon (audit/archive.py). None: from the first entry.
    archived_before: date | None = None

    @property
    def anchor_problem(self) -> str | None:
        return None if self.anchors is None else self.anchors.problem

    @property
    def ok(self) -> bool:
        return self.problem is None and self.anchor_problem is None


# Told (entries walked, entries to walk) as a walk goes: a full walk of a national log takes hours.
Progress = Callable[[int, int], None]


def verify_chain(
    uow: UnitOfWork, *, batch: int = 5000, since_checkpoints: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Walk every stream up to its head as read first (entries appended meanwhile are the next walk's);
    report the first entry that was modified, deleted, inserted or reordered. ``since_checkpoints``:
    start each stream at its checkpoint (``audit/checkpoints.py``) where it has a valid one.

    Every stream is also compared with what was verified or anchored before it: a checkpoint or the
    latest anchor (``audit/anchors.py``) beyond the head, one whose stream has no head, an entry at a
    checkpointed or anchored place that is gone or changed, entries in a stream without a head: that
    is tampering too (a tail cut off with its head set back, a stream removed with its head). The
    anchors and checkpoints are read *before* the heads: each only records heads committed before it
    was written, so a head read after it is at or past it unless entries were removed, and an honest
    append meanwhile is never taken for tampering. ``since_checkpoints`` checks the anchor file's
    newest lines only, the full walk every line."""
    anchors = anchor_status(uow, full=not since_checkpoints)
    all_checkpoints = load_checkpoints(uow)
    horizons = load_horizons(uow.session.connection())
    # populate_existing: heads this session loaded before (appends move them with Core statements,
    # which the session does not see) are read again, never taken from its identity map.
    query = select(AuditStreamHead).order_by(AuditStreamHead.stream).execution_options(populate_existing=True)
    heads = list(uow.session.scalars(query))
    connection = uow.session.connection()
    problems, skip = _link_problems(connection, heads, all_checkpoints, anchors, horizons)
    checkpoints = {s: c for s, c in all_checkpoints.items() if s not in skip} if since_checkpoints else {}
    # A checkpoint in the archived months is behind the horizon: the walk starts at the horizon then.
    checkpoints = {s: c for s, c in checkpoints.items() if s not in horizons or c.seq > horizons[s].seq}
    to_walk = sum(h.seq - _walk_start(h.stream, checkpoints, horizons) + 1 for h in heads)
    past_heads = _streams_past(connection, heads)
    total = 0
    intact: list[AuditStreamHead] = []
    used: list[datetime] = []
    for head in heads:
        if since_checkpoints and head.stream in skip:
            continue  # its checkpoint is not to be trusted: found already, the full walk does the rest
        checkpoint = checkpoints.get(head.stream)
        tell = None if progress is None else _after(total, to_walk, progress)
        count, problem = _verify_stream(
            uow, head, batch, checkpoint, tell, head.stream in past_heads, horizons.get(head.stream)
        )
        total += count
        if problem:
            problems.append(problem)
        elif head.stream not in skip:
            intact.append(head)
            if checkpoint is not None:
                used.append(checkpoint.verified_at)
    # "First" = the earliest written bad entry; a truncated tail has no entry and sorts last.
    problems.sort(key=lambda p: (p.entry_id is None, p.entry_id or 0, p.stream, p.seq))
    return VerifyReport(
        entries=total,
        streams=len(heads),
        problem=problems[0] if problems else None,
        checked_since=min(used, default=None),
        intact_heads=tuple(intact),
        heads=tuple(heads),
        problems=tuple(problems),
        anchors=anchors,
        archived_before=archived_before(connection, "audit_entry"),
    )


def _walk_start(stream: int, checkpoints: Mapping[int, AuditCheckpoint], horizons: Mapping[int, Horizon]) -> int:
    """The first seq a walk of ``stream`` reads (for the progress count)."""
    if stream in checkpoints:
        return checkpoints[stream].seq
    return horizons[stream].seq + 1 if stream in horizons else 1


def _link_problems(
    connection: Any,
    heads: Sequence[AuditStreamHead],
    checkpoints: Mapping[int, AuditCheckpoint],
    anchors: AnchorStatus,
    horizons: Mapping[int, Horizon],
) -> tuple[list[ChainProblem], set[int]]:
    """The streams that do not continue their checkpoints or the latest anchor (``check_heads``), and
    entries in streams without a head: the problems and the streams they are in. A few queries for
    every stream together (the places looked up by index), whatever the log's size."""
    head_of = {h.stream: (h.seq, h.last_hash) for h in heads}
    problems: list[ChainProblem] = []
    checkpointed: dict[int, tuple[int, bytes]] = {}
    for stream, checkpoint in checkpoints.items():
        expected = checkpoint_mac(stream=stream, seq=checkpoint.seq, hash_=checkpoint.hash,
                                  verified_at=checkpoint.verified_at)  # fmt: skip
        if expected != checkpoint.mac:
            problems.append(ChainProblem(stream, checkpoint.seq, None,
                                         "checkpoint does not match its MAC (altered or forged)"))  # fmt: skip
        else:
            checkpointed[stream] = (checkpoint.seq, checkpoint.hash)
    latest = anchors.latest
    anchored = latest.heads if latest is not None else {}
    found = lookup_hashes(connection, [*((s, q) for s, (q, _) in checkpointed.items() if s in head_of),
                                       *((s, q) for s, (q, _) in anchored.items() if s in head_of)])  # fmt: skip
    # Places in the archived months are not in the table any more: compared with the horizons.
    found.update(archived_places(horizons, [(s, q, h) for r in (checkpointed, anchored) for s, (q, h) in r.items()]))
    faults = check_heads(checkpointed, head_of, found, what="checkpoint")
    if latest is not None:
        faults += check_heads(anchored, head_of, found, what=f"anchor {latest.n} ({latest.at:%Y-%m-%d %H:%M} UTC)")
    problems += [ChainProblem(f.stream, f.seq, f.entry_id, f.reason) for f in faults]
    problems += _headless(connection, set(head_of))
    for stream, horizon in horizons.items():
        fault = horizon_fault(horizon, head_of[stream][0] if stream in head_of else None)
        if fault:
            problems.append(ChainProblem(stream, horizon.seq, None, fault))
    return problems, {p.stream for p in problems}


def _headless(connection: Any, head_streams: set[int]) -> list[ChainProblem]:
    """Entries of streams that have no head (its row deleted): nothing walks them otherwise. Two
    index lookups (the lowest and highest stream) plus one per stream missing a head in between."""
    low, high = connection.execute(select(func.min(_ENTRY.c.stream), func.max(_ENTRY.c.stream))).one()
    if low is None:
        return []
    candidates = [s for s in (low, high) if s not in head_streams]
    if head_streams:
        candidates += [s for s in range(max(low, min(head_streams)), min(high, max(head_streams)) + 1)
                       if s not in head_streams]  # fmt: skip
    problems = []
    for stream in sorted(set(candidates)):
        first = connection.execute(
            select(_ENTRY.c.seq, _ENTRY.c.id).where(_ENTRY.c.stream == stream).order_by(_ENTRY.c.seq).limit(1)
        ).first()
        if first is not None:
            reason = "entries in a stream that has no head (stream head removed)"
            problems.append(ChainProblem(stream, first.seq, first.id, reason))
    return problems


def _after(walked: int, to_walk: int, progress: Progress) -> Callable[[int], None]:
    """A stream's progress (entries of it walked) told as the whole walk's."""
    return lambda n: progress(walked + n, max(to_walk, walked + n))


def checkpoint_chain(uow: UnitOfWork, *, actor: Actor, progress: Progress | None = None) -> tuple[VerifyReport, int]:
    """The full walk, then a checkpoint at each stream found intact (audited); the report and how many."""
    report, recorded, _anchor = verify_and_anchor(uow, actor=actor, progress=progress, anchor=False)
    return report, recorded


def verify_and_anchor(
    uow: UnitOfWork, *, actor: Actor, progress: Progress | None = None, anchor: bool = True
) -> tuple[VerifyReport, int, Anchor | None]:
    """``sscard audit verify``: the full walk, a checkpoint at each stream found intact and (``anchor``)
    an anchor of the heads as the walk read them (streams found broken keep their anchored state);
    audited. No anchor when the anchor file itself is in question (the report says why)."""
    report = verify_chain(uow, progress=progress)
    recorded = record_checkpoints(uow, report.intact_heads, at=utcnow())
    written = None
    if anchor and report.anchor_problem is None:
        heads = {h.stream: (h.seq, h.last_hash) for h in report.heads}
        written = write_anchor(uow, heads=heads, actor=actor, broken={p.stream for p in report.problems})
    record_event(uow, actor=actor, action="audit.checkpoint", subject="audit",
                 result="ok" if report.ok else "broken",
                 details={"entries": report.entries, "streams": report.streams, "checkpoints": recorded})  # fmt: skip
    return report, recorded, written


# The columns a walk reads, as plain rows (ORM objects cost more than the hash itself). Walked by
# (stream, seq), the unique index: the hash covers seq and the link, so a deleted, inserted or moved
# entry still shows as a gap, a broken link or a wrong hash.
_WALK = select(
    _ENTRY.c.id, _ENTRY.c.stream, _ENTRY.c.seq, _ENTRY.c.at, _ENTRY.c.actor_kind, _ENTRY.c.actor_id,
    _ENTRY.c.role, _ENTRY.c.channel, _ENTRY.c.region, _ENTRY.c.subject, _ENTRY.c.action, _ENTRY.c.result,
    _ENTRY.c.details, _ENTRY.c.prev_hash, _ENTRY.c.hash,
).order_by(_ENTRY.c.seq)  # fmt: skip
# One page of one stream's walk, built once (a walk runs it for every stream: building and caching the
# statement anew each time cost more than running it).
_WALK_PAGE = _WALK.where(
    _ENTRY.c.stream == bindparam("w_stream"),
    _ENTRY.c.seq <= bindparam("w_head"),
    _ENTRY.c.seq >= bindparam("w_from"),
).limit(bindparam("w_batch"))


def _verify_stream(
    uow: UnitOfWork,
    head: AuditStreamHead,
    batch: int,
    checkpoint: AuditCheckpoint | None = None,
    tell: Callable[[int], None] | None = None,
    past_head: bool = True,
    horizon: Horizon | None = None,
) -> tuple[int, ChainProblem | None]:
    """Walk one stream; ``past_head``: whether it may hold entries past its head (``_streams_past``);
    ``horizon``: where it continues after its archived months (unless ``checkpoint`` is past it)."""
    connection = uow.session.connection()
    if checkpoint is not None:
        start: tuple[bytes, int] | ChainProblem = _start_at(connection, head, checkpoint)
    elif horizon is not None:
        start = (horizon.hash, horizon.seq + 1)
    else:
        start = (GENESIS, 1)
    if isinstance(start, ChainProblem):
        return 0, start
    (prev_hash, expected_seq), count = start, 0
    # A stream never written to has nothing to walk (a stray entry in it is past its head).
    while expected_seq <= head.seq:
        page = {"w_stream": head.stream, "w_head": head.seq, "w_from": expected_seq, "w_batch": batch}
        rows = connection.execute(_WALK_PAGE, page).all()
        for entry in rows:
            count += 1
            reason = _entry_fault(entry, expected_seq, prev_hash)
            if reason:
                return count, ChainProblem(head.stream, entry.seq, entry.id, reason)
            prev_hash, expected_seq = entry.hash, expected_seq + 1
        if tell is not None and rows:
            tell(count)
        if len(rows) < batch:  # the last page
            break
    if head.seq != expected_seq - 1:
        reason = f"stream head records {head.seq} entries, found {expected_seq - 1} (entries removed from the end)"
        return count, ChainProblem(head.stream, expected_seq, None, reason)
    if head.last_hash != prev_hash:
        reason = f"stream head's hash differs from entry {head.seq}'s (head or entry rewritten)"
        return count, ChainProblem(head.stream, head.seq, None, reason)
    return count, _beyond_head(connection, head) if past_head else None


# Heads per query when looking for entries past them (an OR of index range scans, one per head).
_PAST_HEADS_CHUNK = 256


def _streams_past(connection: Any, heads: Sequence[AuditStreamHead]) -> set[int]:
    """The streams holding an entry past their head as read: the only ones ``_beyond_head`` must look at
    (one query per few hundred streams instead of one per stream; each range is empty on a sound log)."""
    found: set[int] = set()
    for i in range(0, len(heads), _PAST_HEADS_CHUNK):
        chunk = heads[i : i + _PAST_HEADS_CHUNK]
        chunk = [*chunk, *[chunk[-1]] * (_PAST_HEADS_CHUNK - len(chunk))]  # a short chunk repeats its last head
        params = {}
        for n, head in enumerate(chunk):
            params[f"p_s{n}"], params[f"p_q{n}"] = head.stream, head.seq
        found.update(connection.execute(_PAST_HEADS, params).scalars())
    return found


# Built once, for a full chunk (building it per chunk cost more than running it).
_PAST_RANGES = [
    and_(_ENTRY.c.stream == bindparam(f"p_s{n}"), _ENTRY.c.seq > bindparam(f"p_q{n}")) for n in range(_PAST_HEADS_CHUNK)
]
_PAST_HEADS = select(_ENTRY.c.stream).where(or_(*_PAST_RANGES)).distinct()


def _start_at(connection: Any, head: AuditStreamHead, checkpoint: AuditCheckpoint) -> tuple[bytes, int] | ChainProblem:
    """(link, seq) to walk from: the checkpoint's own entry, its content checked against its own link
    (the link itself was checked by the full walk); or why the checkpoint cannot be used."""
    fault = checkpoint_fault(checkpoint, head)
    if fault:
        return ChainProblem(head.stream, checkpoint.seq, None, fault)
    entry = connection.execute(_WALK.where(_ENTRY.c.stream == head.stream, _ENTRY.c.seq == checkpoint.seq)).first()
    if entry is None or entry.hash != checkpoint.hash:
        reason = "the entry the last full check ended at was changed or removed"
        return ChainProblem(head.stream, checkpoint.seq, None if entry is None else entry.id, reason)
    return entry.prev_hash, checkpoint.seq


def _beyond_head(connection: Any, head: AuditStreamHead) -> ChainProblem | None:
    """An entry past the head as read before the walk is an append since, unless it is past the head
    as it is now too (read after it: an append commits its entry and its head together)."""
    last = connection.execute(
        select(_ENTRY.c.seq, _ENTRY.c.id)
        .where(_ENTRY.c.stream == head.stream, _ENTRY.c.seq > head.seq)
        .order_by(_ENTRY.c.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    now = connection.execute(select(_HEAD.c.seq).where(_HEAD.c.stream == head.stream)).scalar_one()
    if last.seq <= now:
        return None
    reason = f"entry with sequence {last.seq} past the stream head's {now} (inserted outside the chain)"
    return ChainProblem(head.stream, last.seq, last.id, reason)


def _entry_fault(entry: Any, expected_seq: int, prev_hash: bytes) -> str | None:
    """Why ``entry`` (a row of ``_WALK``) breaks its stream's chain; None when it does not."""
    if entry.seq != expected_seq:
        return f"sequence {entry.seq} where {expected_seq} was expected (entry deleted, inserted or moved)"
    if entry.prev_hash != prev_hash:
        return "link to the previous entry is broken (an earlier entry was changed, removed or reordered)"
    actor = Actor(entry.actor_kind, entry.actor_id, Channel(entry.channel), entry.role, entry.region)
    content = canonical_bytes(
        stream=entry.stream,
        seq=entry.seq,
        at=entry.at,
        actor=actor,
        subject=entry.subject,
        action=entry.action,
        result=entry.result,
        details=entry.details,
    )
    if chain_hash(prev_hash, content) != entry.hash:
        return "content does not match its hash (entry modified)"
    return None


def count_entries(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
