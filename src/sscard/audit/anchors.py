"""Audit anchors: the chain's state, MACed and chained, kept outside the database (CH-4).

Why: whoever can edit the database can delete the newest entries of a stream and set its head, its
checkpoint and any row in it back; the chain's MACs only stop them from forging entries. So, at every
``sscard audit verify``, at every ``sscard audit anchor`` (cron) and, when enabled, every
``SSCARD_AUDIT_ANCHOR_INTERVAL_S`` in ``sscard serve``, the heads of every stream are *anchored*:

* one JSON line appended to ``SSCARD_AUDIT_ANCHOR_FILE`` (default ``<data_dir>/audit/anchors.jsonl``),
  opened ``O_APPEND``, owner-only (0600), fsynced, under an exclusive ``flock``; this code never
  rewrites or truncates it, and operators ship it to write-once storage;
* a row in ``audit_anchor`` (its number, time and line hash: what the file must hold at least);
* an ``audit.anchor`` entry in the chain itself, and a notice to the auditors' department inbox
  (the notify outbox, department channel, ``SSCARD_AUDIT_ANCHOR_DEPARTMENT``) with the digest.

A line: ``{"v", "chain", "n", "at", "db_n", "prev", "streams", "entries", "digest", "heads", "faults",
"mac"}``. ``heads`` is the full list ``[stream, seq, hash]`` of every stream written to, so the latest
line alone is the whole anchored state (no replay); ``digest`` is SHA-256 over that list (what the
notices carry); ``prev`` is the SHA-256 of the previous line as written and ``n`` counts lines from 1,
so a line removed, inserted or altered breaks the file's own chain; ``db_n`` is the newest anchor the
database recorded when the line was written. ``mac`` is HMAC under the security module's ``ANCHOR``
key, which serves nothing else (an anchor can never pass for a chain link or checkpoint); without it
nobody can write a line that verifies. A MAC, not a signature: the module holds no signing key, so
auditors compare the digests of their notices with the file rather than check the MAC themselves.

What an anchor guarantees: the anchored state only moves forward. Writing an anchor checks every head
against the previous anchor — at or past the anchored seq, the entry at the anchored seq still
hashing to the anchored hash, the head's hash that of the entry it names — and a stream that fails
keeps its previous anchored (seq, hash), with the fault written into the line. So a truncation, or a
truncation followed by honest appends that refill the seqs, stays visible in every later anchor,
and verification (``check_heads``) compares the database with the latest anchor only.

What it does not: entries written and removed between two anchors are the database's word alone
(anchor often); and someone who can rewrite both the database and this file (and its shipped copy,
and the auditors' notices) is out of reach. Verification reads the anchor file before the heads, so
an anchor written meanwhile covers only entries committed before those heads were read: honest
appends are never taken for tampering. The database's count is read before the file, and the file
is written before the database's row commits, so the file is never legitimately behind it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, select, tuple_

from sscard.audit.actor import Actor
from sscard.audit.archive import archived_places, load_horizons
from sscard.audit.models import AuditAnchor, AuditEntry
from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.errors import Conflict
from sscard.security_module import get_security_module

VERSION = 1
# The MAC input starts with a tag no entry or checkpoint input has (they use another key as well).
_TAG = b"sscard audit anchor v1|"
_NO_PREV = "0" * 64
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_ENTRY = cast(Table, AuditEntry.__table__)
_PAIRS_CHUNK = 256  # (stream, seq) pairs per lookup query
_TAIL_CHUNK = 1 << 16


class AnchorRefused(Conflict):
    """The anchor file does not continue the database's record: anchoring now would hide that."""

    code = "AUDIT_ANCHOR_REFUSED"
    title = "The audit anchor file does not match the database's record of it."
    title_zh = "审计锚定文件与数据库记录不符。"


Heads = dict[int, tuple[int, bytes]]  # stream → (seq, hash)


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file, checked against its MAC."""

    n: int
    chain: str
    at: datetime
    db_n: int
    prev: str
    heads: Heads
    digest: bytes
    faults: tuple[tuple[int, int, str], ...]
    line_hash: bytes

    @property
    def entries(self) -> int:
        return sum(seq for seq, _ in self.heads.values())


@dataclass(frozen=True)
class AnchorStatus:
    """What the anchor file and the database's record of it say, and what is wrong with them."""

    path: str
    latest: Anchor | None  # the newest line (None: never anchored, or the file is unreadable)
    db_count: int  # the newest anchor number the database records
    problem: str | None = None
    full: bool = False  # every line's MAC and link checked (else the newest lines only)
    first_at: datetime | None = None

    @property
    def count(self) -> int:
        return 0 if self.latest is None else self.latest.n

    def age(self, now: datetime | None = None) -> timedelta | None:
        return None if self.latest is None else (now or utcnow()) - self.latest.at


def anchor_path() -> Path:
    return get_settings().anchor_path


def heads_digest(heads: Mapping[int, tuple[int, bytes]]) -> bytes:
    digest = hashlib.sha256(b"sscard audit heads v1|")
    for stream in sorted(heads):
        seq, hash_ = heads[stream]
        digest.update(stream.to_bytes(4, "big") + seq.to_bytes(8, "big") + hash_)
    return digest.digest()


def _mac(body: bytes) -> str:
    return get_security_module().anchor_mac(_TAG + hashlib.sha256(body).digest()).hex()


def _body(fields: dict[str, Any]) -> bytes:
    return _ENCODER.encode(fields).encode()


def parse_line(line: bytes) -> Anchor:
    """The anchor of one line (without its newline); ``ValueError`` when it is malformed or its MAC
    does not match."""
    try:
        fields = json.loads(line)
        mac = fields.pop("mac")
        if fields.get("v") != VERSION:
            raise ValueError("unknown anchor version")
        if not secrets.compare_digest(_mac(_body(fields)), str(mac)):
            raise ValueError("does not match its MAC (altered or forged)")
        heads = {int(s): (int(q), bytes.fromhex(h)) for s, q, h in fields["heads"]}
        anchor = Anchor(
            n=int(fields["n"]),
            chain=str(fields["chain"]),
            at=datetime.fromisoformat(fields["at"]),
            db_n=int(fields["db_n"]),
            prev=str(fields["prev"]),
            heads=heads,
            digest=bytes.fromhex(fields["digest"]),
            faults=tuple((int(s), int(q), str(r)) for s, q, r in fields["faults"]),
            line_hash=hashlib.sha256(line).digest(),
        )
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"is not a well-formed anchor ({type(exc).__name__})") from None
    if heads_digest(heads) != anchor.digest:
        raise ValueError("heads do not match its digest")
    return anchor


def _read_lines(path: Path, *, last: int | None, locked: bool = False) -> tuple[list[bytes], bool]:
    """The file's complete lines (all, or the ``last`` few read from the end) and whether it ends in
    an incomplete line (a write cut short). A missing file has no lines. ``locked``: the caller holds
    the file's exclusive lock (a shared one taken here on another descriptor would wait for it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return [], False
    try:
        if not locked:
            fcntl.flock(fd, fcntl.LOCK_SH)  # no line half-written by an anchor in progress
        size = os.fstat(fd).st_size
        if last is None:
            data = os.pread(fd, size, 0)
        else:
            data, offset = b"", size
            while offset > 0 and data.count(b"\n") <= last:
                step = min(_TAIL_CHUNK, offset)
                offset -= step
                data = os.pread(fd, step, offset) + data
            if offset > 0:  # drop the partial first line of the window
                data = data[data.index(b"\n") + 1 :]
    finally:
        os.close(fd)
    parts = data.split(b"\n")
    torn = parts[-1] != b""  # the last write was cut short (a complete line ends in a newline)
    lines = parts[:-1]
    return (lines[-last:] if last is not None else lines), torn


def _db_record(uow: UnitOfWork) -> tuple[int, AuditAnchor | None]:
    newest = uow.session.scalar(select(func.max(AuditAnchor.n))) or 0
    query = select(AuditAnchor).where(AuditAnchor.n == newest).execution_options(populate_existing=True)
    return int(newest), uow.session.scalars(query).first() if newest else None


def anchor_status(
    uow: UnitOfWork, *, full: bool = False, path: Path | None = None, locked: bool = False
) -> AnchorStatus:
    """Check the anchor file against itself and against the database's record of it.

    ``full``: every line's MAC and link (the nightly ``audit verify``); otherwise the newest lines
    only (the audit report): a line altered in the middle is then the next full check's to find.
    The database is read before the file (see the module's docstring)."""
    path = path or anchor_path()
    db_n, db_row = _db_record(uow)
    raw, torn = _read_lines(path, last=None if full else 1, locked=locked)
    if not full and raw and not torn:
        # The file may be ahead of the database (an anchor whose transaction did not commit): read
        # back to the database's newest anchor, to compare the two.
        try:
            behind = parse_line(raw[-1]).n - db_n
        except ValueError:
            behind = 0
        if 0 < behind < 10_000 and db_n:
            raw, torn = _read_lines(path, last=behind + 1, locked=locked)

    def make(latest: Anchor | None, problem: str | None = None, first_at: datetime | None = None) -> AnchorStatus:
        return AnchorStatus(str(path), latest, db_n, problem, full, first_at)

    if torn:
        return make(None, f"the anchor file {path} ends in an incomplete line")
    anchors: list[Anchor] = []
    for line in raw:
        try:
            anchors.append(parse_line(line))
        except ValueError as exc:
            where = f"after anchor {anchors[-1].n}" if anchors else "first line read"
            return make(None, f"anchor file line ({where}) {exc}")
    latest = anchors[-1] if anchors else None
    first_at = anchors[0].at if full and anchors else None

    def bad(problem: str) -> AnchorStatus:
        return make(latest, problem, first_at)

    if latest is None:
        if db_n:
            return bad(f"the anchor file {path} is missing or empty; the database records {db_n} anchors")
        return make(None)
    for before, after in zip(anchors, anchors[1:], strict=False):
        if after.n != before.n + 1 or after.prev != before.line_hash.hex() or after.chain != before.chain:
            return bad(f"anchor {after.n} does not follow anchor {before.n} (anchors removed, inserted or replaced)")
    if full and (anchors[0].n != 1 or anchors[0].prev != _NO_PREV):
        return bad(f"the anchor file starts at anchor {anchors[0].n} (its first anchors were removed)")
    if db_row is None:
        return bad(f"the database records no anchor, the anchor file holds {latest.n} (anchor records removed)")
    if latest.n < db_n:
        return bad(f"the anchor file holds {latest.n} anchors, the database records {db_n} (anchors removed)")
    if latest.chain != db_row.chain:
        return bad("the anchor file belongs to another audit chain than this database's")
    by_n = {a.n: a for a in anchors}
    recorded = by_n.get(db_n)
    if recorded is not None and recorded.line_hash != db_row.line_hash:
        return bad(f"anchor {db_n} in the file differs from the one the database recorded (file replaced)")
    if full:
        for row in uow.session.scalars(select(AuditAnchor).where(AuditAnchor.n < db_n)):
            same_n = by_n.get(row.n)
            if same_n is not None and same_n.line_hash != row.line_hash:
                return bad(f"anchor {row.n} in the file differs from the one the database recorded")
    return make(latest, None, first_at)


def lookup_hashes(connection: Any, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, bytes]]:
    """(stream, seq) → (entry id, stored hash) of the entries at these places (absent when removed)."""
    wanted = sorted(set(pairs))
    found: dict[tuple[int, int], tuple[int, bytes]] = {}
    for i in range(0, len(wanted), _PAIRS_CHUNK):
        chunk = wanted[i : i + _PAIRS_CHUNK]
        rows = connection.execute(
            select(_ENTRY.c.stream, _ENTRY.c.seq, _ENTRY.c.id, _ENTRY.c.hash).where(
                tuple_(_ENTRY.c.stream, _ENTRY.c.seq).in_(chunk)
            )
        )
        for row in rows:
            found[(row.stream, row.seq)] = (row.id, row.hash)
    return found


@dataclass(frozen=True)
class LinkFault:
    stream: int
    seq: int
    entry_id: int | None
    reason: str


def check_heads(
    anchored: Mapping[int, tuple[int, bytes]],
    heads: Mapping[int, tuple[int, bytes]],
    found: Mapping[tuple[int, int], tuple[int, bytes]],
    *,
    what: str = "anchor",
) -> list[LinkFault]:
    """Where the heads as read do not continue the anchored (or checkpointed) state: a stream without
    a head, a head behind the anchored seq, or an entry at the anchored seq that is gone or changed.
    ``found`` holds the entries at the anchored places (``lookup_hashes``)."""
    faults: list[LinkFault] = []
    for stream, (seq, hash_) in sorted(anchored.items()):
        head = heads.get(stream)
        if head is None:
            reason = f"stream has no head, its {what} records {seq} entries (stream removed)"
            faults.append(LinkFault(stream, seq, None, reason))
            continue
        if head[0] < seq:
            faults.append(LinkFault(stream, seq, None,
                                    f"stream head records {head[0]} entries, its {what} {seq} "
                                    "(entries removed from the end)"))  # fmt: skip
            continue
        entry = found.get((stream, seq))
        if entry is None or entry[1] != hash_:
            faults.append(LinkFault(stream, seq, None if entry is None else entry[0],
                                    f"the entry its {what} records at this place was changed or removed"))  # fmt: skip
    return faults


def write_anchor(
    uow: UnitOfWork,
    *,
    heads: Mapping[int, tuple[int, bytes]],
    actor: Actor,
    broken: Iterable[int] = (),
    path: Path | None = None,
) -> Anchor:
    """Append the next anchor for ``heads`` (as read, committed: read them before this transaction
    appends anything), record it in the database, the chain and the auditors' inbox; the caller
    commits. Streams in ``broken`` (a walk found them broken) keep their anchored state.
    ``AnchorRefused`` when the file does not continue the database's record of it."""
    path = path or anchor_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one anchor at a time: read the newest line, then append
        status = anchor_status(uow, path=path, locked=True)
        if status.problem:
            raise AnchorRefused(status.problem)
        previous = status.latest
        anchored: Heads = dict(previous.heads) if previous else {}
        faults = _advance(uow, anchored, heads, set(broken))
        fields: dict[str, Any] = {
            "v": VERSION,
            "chain": previous.chain if previous else secrets.token_hex(16),
            "n": (previous.n if previous else 0) + 1,
            "at": utcnow().isoformat(timespec="microseconds"),
            "db_n": status.db_count,
            "prev": previous.line_hash.hex() if previous else _NO_PREV,
            "streams": len(anchored),
            "entries": sum(seq for seq, _ in anchored.values()),
            "digest": heads_digest(anchored).hex(),
            "heads": [[s, seq, h.hex()] for s, (seq, h) in sorted(anchored.items())],
            "faults": [[f.stream, f.seq, f.reason] for f in faults],
        }
        line = _ENCODER.encode({**fields, "mac": _mac(_body(fields))}).encode()
        data = memoryview(line + b"\n")
        while data:  # a line is tens of kilobytes with a thousand streams: a write may be partial
            data = data[os.write(fd, data) :]
        os.fsync(fd)
        if created:
            _fsync_dir(path.parent)
    finally:
        os.close(fd)
    anchor = parse_line(line)
    uow.session.add(AuditAnchor(n=anchor.n, chain=anchor.chain, at=anchor.at, line_hash=anchor.line_hash,
                                digest=anchor.digest, streams=len(anchored), entries=anchor.entries,
                                faults=len(faults)))  # fmt: skip
    uow.flush()
    _record(uow, anchor, actor)
    return anchor


def _advance(
    uow: UnitOfWork, anchored: Heads, heads: Mapping[int, tuple[int, bytes]], broken: set[int]
) -> list[LinkFault]:
    """Move ``anchored`` forward to ``heads`` where they continue it; the faults where they do not."""
    pairs = [(s, seq) for s, (seq, _) in anchored.items() if s in heads]
    pairs += [(s, seq) for s, (seq, _) in heads.items() if seq > 0]
    found = lookup_hashes(uow.session.connection(), pairs)
    # A head or anchored place in the archived months (a stream unwritten since): compared with its horizon.
    places = [(s, q, h) for r in (anchored, heads) for s, (q, h) in r.items()]
    found.update(archived_places(load_horizons(uow.session.connection()), places))
    faults = check_heads(anchored, heads, found)
    bad = {f.stream for f in faults}
    for stream, (seq, hash_) in heads.items():
        if seq == 0 or stream in bad or stream in broken:
            continue
        entry = found.get((stream, seq))
        if entry is None or entry[1] != hash_:
            faults.append(LinkFault(stream, seq, None if entry is None else entry[0],
                                    "stream head's hash differs from the entry it names (head rewritten)"))  # fmt: skip
            continue
        anchored[stream] = (seq, hash_)
    return sorted(faults, key=lambda f: (f.stream, f.seq))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record(uow: UnitOfWork, anchor: Anchor, actor: Actor) -> None:
    from sscard.audit.service import record_event

    details = {"n": anchor.n, "streams": len(anchor.heads), "entries": anchor.entries,
               "digest": anchor.digest.hex(), "faults": len(anchor.faults)}  # fmt: skip
    record_event(uow, actor=actor, action="audit.anchor", subject="audit",
                 result="faults" if anchor.faults else "ok", details=details)  # fmt: skip
    department = get_settings().audit_anchor_department
    if not department:
        return
    from sscard.notify import notify_department

    at = anchor.at.isoformat(timespec="seconds")
    lines = [
        f"审计日志锚定 / audit chain anchor {anchor.n} ({at} UTC)",
        f"chain {anchor.chain}",
        f"streams {len(anchor.heads)}, entries {anchor.entries}",
        f"heads digest (SHA-256) {anchor.digest.hex()}",
        f"line hash (SHA-256) {anchor.line_hash.hex()}",
        f"previous line hash {anchor.prev}",
    ]
    if anchor.faults:
        lines.append(f"发现篡改 / TAMPERING FOUND in {len(anchor.faults)} streams (they keep their anchored state):")
        lines += [f"  stream {s} seq {q}: {r}" for s, q, r in anchor.faults[:20]]
    lines.append("请与锚定文件核对并留存 / keep this notice and compare it with the anchor file.")
    subject = f"【审计】{'发现篡改 ' if anchor.faults else ''}审计日志锚定 {anchor.n} / audit anchor"
    notify_department(uow, department_code=department, topic="audit.anchor.fault" if anchor.faults else "audit.anchor",
                      subject=subject, body="\n".join(lines)[:3900])  # fmt: skip


def anchor_now(uow: UnitOfWork, *, actor: Actor, path: Path | None = None) -> Anchor:
    """Anchor the heads as they are now (``sscard audit anchor``, the serve loop): no walk."""
    from sscard.audit.models import AuditStreamHead

    heads = {h.stream: (h.seq, h.last_hash) for h in uow.session.scalars(select(AuditStreamHead))}
    return write_anchor(uow, heads=heads, actor=actor, path=path)


def anchor_gaps(
    uow: UnitOfWork, *, start: datetime, end: datetime, max_gap: timedelta, now: datetime | None = None
) -> tuple[datetime | None, list[tuple[datetime, datetime]]]:
    """(since when the chain is anchored, the stretches of [start, end) longer than ``max_gap`` without
    an anchor, the time before the first anchor included), from the database's record of the anchors
    (whose newest entry ``anchor_status`` checks against the file)."""
    stop = min(end, now or utcnow())
    first = uow.session.scalar(select(func.min(AuditAnchor.at)))
    before = uow.session.scalar(select(func.max(AuditAnchor.at)).where(AuditAnchor.at <= start))
    times = uow.session.scalars(
        select(AuditAnchor.at).where(AuditAnchor.at > start, AuditAnchor.at < stop).order_by(AuditAnchor.at)
    )
    points = [before or start, *times, stop]
    gaps = [(max(a, start), b) for a, b in zip(points, points[1:], strict=False) if b - a > max_gap]
    return first, gaps
