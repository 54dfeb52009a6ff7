"""Audit chain checkpoints: a full walk marks where each stream was intact; later walks start there (CH-4)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from sscard.audit import Actor, Channel, record_event
from sscard.audit.checkpoints import checkpoint_mac
from sscard.audit.models import AuditCheckpoint, AuditEntry, AuditStreamHead
from sscard.audit.service import _verify_stream, checkpoint_chain, verify_chain
from tests.audit.test_chain import CLERK, _write

OPERATOR = Actor(kind="staff", id="cli:ops", channel=Channel.CLI, role="operator")


def _checkpointed(uow, n: int, prefix: str) -> list[AuditEntry]:
    entries = _write(uow, n, prefix)
    report, recorded = checkpoint_chain(uow, actor=OPERATOR)
    assert report.ok and recorded >= 1
    return entries


def n_streams() -> int:
    from sscard.config import get_settings

    return get_settings().audit_streams


def _checkpoint_of(uow, entry: AuditEntry) -> AuditCheckpoint:
    checkpoint = uow.session.get(AuditCheckpoint, entry.stream)
    assert checkpoint is not None
    return checkpoint


# rule CH-4: the full walk records a checkpoint per stream written to, audited
def test_full_walk_records_checkpoints(uow) -> None:
    entries = _checkpointed(uow, 12, "cp-a:")
    audited = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.checkpoint")).all()
    assert audited and audited[-1].result == "ok" and '"checkpoints":' in audited[-1].details
    heads = {h.stream: h for h in uow.session.scalars(select(AuditStreamHead))}
    for entry in entries:
        checkpoint = _checkpoint_of(uow, entry)
        if entry.stream == audited[-1].stream:  # the walk's own entry came after the checkpoint
            assert checkpoint.seq == audited[-1].seq - 1
            continue
        assert (checkpoint.seq, checkpoint.hash) == (heads[entry.stream].seq, heads[entry.stream].last_hash)


# rule CH-4: from the checkpoints, only what came after them is walked, and it is still checked
def test_walk_from_checkpoints_reads_only_what_came_after(uow) -> None:
    # Three entries on each of ten subjects' streams: a walk from the checkpoints reads one of each
    # three. (With one entry per stream it reads as many: each stream's checkpoint entry is re-read.)
    for _ in range(2):
        _write(uow, 10, "cp-b:")
    _checkpointed(uow, 10, "cp-b:")
    full = verify_chain(uow)
    later = _write(uow, 3, "cp-b-later:")
    since = verify_chain(uow, since_checkpoints=True)
    assert since.ok and since.checked_since is not None
    assert since.entries < full.entries  # each stream: its checkpoint entry and what followed
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == later[1].id).values(result="denied"))
    uow.session.expire_all()
    broken = verify_chain(uow, since_checkpoints=True)
    assert not broken.ok and broken.problem.entry_id == later[1].id and "modified" in broken.problem.reason


# rule CH-4: a change before a checkpoint is the next full walk's to find (the documented trade)
def test_change_before_checkpoint_found_by_full_walk(uow) -> None:
    target = record_event(uow, actor=CLERK, action="card.activate", subject="cp-c:x", details={"n": 1})
    record_event(uow, actor=CLERK, action="card.activate", subject="cp-c:x", details={"n": 2})
    checkpoint_chain(uow, actor=OPERATOR)
    assert _checkpoint_of(uow, target).seq > target.seq
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(action="card.cancel"))
    uow.session.expire_all()
    assert verify_chain(uow, since_checkpoints=True).ok
    full = verify_chain(uow)
    assert not full.ok and full.problem.entry_id == target.id


# rule CH-4: the checkpoint's own entry is re-checked against its own link
def test_checkpoint_entry_changed_is_found(uow) -> None:
    entries = _checkpointed(uow, 6, "cp-d:")
    checkpoint = _checkpoint_of(uow, entries[0])
    target = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.stream == checkpoint.stream, AuditEntry.seq == checkpoint.seq)
    )
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(subject="card:other"))
    uow.session.expire_all()
    report = verify_chain(uow, since_checkpoints=True)
    assert not report.ok and report.problem.entry_id == target.id


# rule CH-4: moving a checkpoint past altered entries needs the audit key
def test_moved_checkpoint_is_refused(uow) -> None:
    first = record_event(uow, actor=CLERK, action="card.activate", subject="cp-e:x", details={"n": 1})
    second = record_event(uow, actor=CLERK, action="card.activate", subject="cp-e:x", details={"n": 2})
    assert first.stream == second.stream
    checkpoint_chain(uow, actor=OPERATOR)
    third = record_event(uow, actor=CLERK, action="card.activate", subject="cp-e:x", details={"n": 3})
    fourth = record_event(uow, actor=CLERK, action="card.activate", subject="cp-e:x", details={"n": 4})
    # Alter the third entry, then move the checkpoint to the fourth, copying its real hash.
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == third.id).values(result="denied"))
    uow.session.execute(
        update(AuditCheckpoint).where(AuditCheckpoint.stream == fourth.stream).values(seq=fourth.seq, hash=fourth.hash)
    )
    uow.session.expire_all()
    report = verify_chain(uow, since_checkpoints=True)
    assert not report.ok and report.problem.stream == fourth.stream and "MAC" in report.problem.reason


# rule CH-4: a head set back behind its checkpoint (entries removed from the end) is found
def test_head_behind_checkpoint_is_found(uow) -> None:
    first = record_event(uow, actor=CLERK, action="card.activate", subject="cp-f:x", details={"n": 1})
    last = record_event(uow, actor=CLERK, action="card.activate", subject="cp-f:x", details={"n": 2})
    checkpoint_chain(uow, actor=OPERATOR)
    uow.session.delete(uow.session.get(AuditEntry, last.id))
    uow.session.execute(
        update(AuditStreamHead)
        .where(AuditStreamHead.stream == first.stream)
        .values(seq=first.seq, last_hash=first.hash)
    )
    uow.session.expire_all()
    for report in (verify_chain(uow), verify_chain(uow, since_checkpoints=True)):  # issue 24: the full walk too
        assert not report.ok and "removed from the end" in report.problem.reason
        assert (report.problem.stream, report.problem.seq) == (last.stream, last.seq)


# rule CH-4: an entry appended while a walk runs is the next walk's, not a fault; one past the head
# as it is now is
def test_entries_past_the_head_read_first(uow) -> None:
    entry = record_event(uow, actor=CLERK, action="card.activate", subject="cp-g:x", details={"n": 1})
    as_read = AuditStreamHead(stream=entry.stream, seq=entry.seq, last_hash=entry.hash)
    record_event(uow, actor=CLERK, action="card.activate", subject="cp-g:x", details={"n": 2})
    _count, problem = _verify_stream(uow, as_read, 5000)
    assert problem is None
    uow.session.execute(
        update(AuditEntry).where(AuditEntry.stream == entry.stream, AuditEntry.seq > entry.seq)
        .values(seq=AuditEntry.seq + 100)
    )  # fmt: skip
    uow.session.expire_all()
    _count, problem = _verify_stream(uow, as_read, 5000)
    assert problem is not None and "past the stream head" in problem.reason


def test_checkpoint_mac_binds_every_value() -> None:
    from sscard.db.base import utcnow

    at = utcnow()
    base = {"stream": 3, "seq": 10, "hash_": b"\x01" * 32, "verified_at": at}
    mac = checkpoint_mac(**base)
    for changed in (
        {"stream": 4}, {"seq": 11}, {"hash_": b"\x02" * 32}, {"verified_at": at + timedelta(microseconds=1)}
    ):  # fmt: skip
        assert checkpoint_mac(**(base | changed)) != mac


# A full walk tells how far it is (the CLI shows it): never backwards, ending at every entry walked
def test_walk_tells_progress(uow) -> None:
    _write(uow, 20, "cp-h:")
    for i in range(16):  # one stream walked in pages: two full ones and the rest
        record_event(uow, actor=CLERK, action="card.activate", subject="cp-h:paged", details={"n": i})
    told: list[tuple[int, int]] = []
    report = verify_chain(uow, batch=7, progress=lambda walked, to_walk: told.append((walked, to_walk)))
    assert report.ok and told
    assert all(a[0] <= b[0] for a, b in zip(told, told[1:], strict=False))
    assert told[-1] == (report.entries, report.entries)
    # what is to walk is known before the walk: every entry, told the same in every call, and counted exactly
    entries = uow.session.scalar(select(func.count()).select_from(AuditEntry))
    assert report.entries == entries and {total for _walked, total in told} == {entries}


# Two walks may overlap (a national walk can outlast the night): checkpoints only move forward
def test_checkpoints_only_move_forward(uow) -> None:
    from sscard.audit.checkpoints import record_checkpoints
    from sscard.db.base import utcnow

    first = record_event(uow, actor=CLERK, action="card.activate", subject="cp-i:x", details={"n": 1})
    later = record_event(uow, actor=CLERK, action="card.activate", subject="cp-i:x", details={"n": 2})
    newer = AuditStreamHead(stream=later.stream, seq=later.seq, last_hash=later.hash)
    older = AuditStreamHead(stream=first.stream, seq=first.seq, last_hash=first.hash)
    assert record_checkpoints(uow, [newer], at=utcnow()) == 1
    record_checkpoints(uow, [older], at=utcnow())  # the slower walk, finishing last
    uow.session.expire_all()
    assert _checkpoint_of(uow, later).seq == later.seq
    # a walk that read the same head leaves the checkpoint as it was: its time is when the place was first vouched
    kept = _checkpoint_of(uow, later)
    stamped = (kept.verified_at, kept.mac)
    record_checkpoints(uow, [newer], at=utcnow() + timedelta(minutes=5))
    uow.session.expire_all()
    assert (_checkpoint_of(uow, later).verified_at, _checkpoint_of(uow, later).mac) == stamped
    assert verify_chain(uow, since_checkpoints=True).ok


# rule CH-4: the walk's own audit entry says what it found: entries, streams and checkpoints, "ok" or
# "broken"
def test_the_walk_audits_what_it_found(uow) -> None:
    import json

    _write(uow, 4, "cp-j:")
    report, recorded = checkpoint_chain(uow, actor=OPERATOR)
    entry = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "audit.checkpoint").order_by(AuditEntry.id.desc())
    ).first()
    assert (entry.subject, entry.result, entry.actor_id) == ("audit", "ok", OPERATOR.id)
    assert json.loads(entry.details) == {"entries": report.entries, "streams": report.streams, "checkpoints": recorded}
    assert report.streams == len(report.heads) > 0 and recorded == len([h for h in report.intact_heads if h.seq])
    target = _write(uow, 1, "cp-j-broken:")[0]
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(result="denied"))
    uow.session.expire_all()
    broken, _ = checkpoint_chain(uow, actor=OPERATOR)
    assert not broken.ok
    last = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "audit.checkpoint").order_by(AuditEntry.id.desc())
    ).first()
    assert last.result == "broken"


# rule CH-4: a checkpoint is written for each head with entries (none for an empty stream), bound by its MAC
def test_record_checkpoints_counts_and_binds_each(uow) -> None:
    from sscard.audit.checkpoints import record_checkpoints
    from sscard.db.base import utcnow

    a = record_event(uow, actor=CLERK, action="card.activate", subject="cp-k:a")
    b = next(e for e in _write(uow, 8, "cp-k:b") if e.stream != a.stream)
    empty = AuditStreamHead(stream=999, seq=0, last_hash=b"\x00" * 32)
    heads = [AuditStreamHead(stream=e.stream, seq=e.seq, last_hash=e.hash) for e in (a, b)]
    at = utcnow()
    assert record_checkpoints(uow, [empty, *heads], at=at) == 2
    uow.session.expire_all()
    assert uow.session.get(AuditCheckpoint, 999) is None
    for entry in (a, b):
        checkpoint = _checkpoint_of(uow, entry)
        assert (checkpoint.seq, checkpoint.hash) == (entry.seq, entry.hash)
        assert checkpoint.mac == checkpoint_mac(
            stream=entry.stream, seq=entry.seq, hash_=entry.hash, verified_at=checkpoint.verified_at
        )
        assert abs(checkpoint.verified_at.replace(tzinfo=None) - at.replace(tzinfo=None)) < timedelta(seconds=1)


# rule CH-4: a checkpoint with a wrong MAC, or past its stream's head, is never walked from, and says why
def test_checkpoint_fault_says_why(uow) -> None:
    from sscard.audit.checkpoints import checkpoint_fault
    from sscard.db.base import utcnow

    at = utcnow()
    mac = checkpoint_mac(stream=5, seq=10, hash_=b"\x01" * 32, verified_at=at)
    good = AuditCheckpoint(stream=5, seq=10, hash=b"\x01" * 32, verified_at=at, mac=mac)
    assert checkpoint_fault(good, AuditStreamHead(stream=5, seq=10, last_hash=b"\x01" * 32)) is None
    assert checkpoint_fault(good, AuditStreamHead(stream=5, seq=9, last_hash=b"\x01" * 32)) == (
        "stream head records 9 entries, its checkpoint 10 (entries removed from the end)"
    )
    forged = AuditCheckpoint(stream=5, seq=11, hash=b"\x01" * 32, verified_at=at, mac=mac)
    assert checkpoint_fault(forged, AuditStreamHead(stream=5, seq=20, last_hash=b"\x01" * 32)) == (
        "checkpoint does not match its MAC (altered or forged)"
    )


# rule CH-4: a walk from a checkpoint whose entry is gone or has another hash stops there, and says why
def test_a_walk_from_a_checkpoint_whose_entry_changed_stops(uow) -> None:
    from sscard.audit.checkpoints import record_checkpoints
    from sscard.db.base import utcnow

    entries = [record_event(uow, actor=CLERK, action="card.activate", subject="cp-l:x", details={"n": i})
               for i in range(3)]  # fmt: skip
    mid, last = entries[1], entries[2]
    record_checkpoints(uow, [AuditStreamHead(stream=mid.stream, seq=mid.seq, last_hash=mid.hash)], at=utcnow())
    head = AuditStreamHead(stream=last.stream, seq=last.seq, last_hash=last.hash)
    checkpoint = _checkpoint_of(uow, mid)
    count, problem = _verify_stream(uow, head, 5000, checkpoint)
    assert problem is None and count == 2  # the checkpoint's entry, then the last
    reason = "the entry the last full check ended at was changed or removed"
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == mid.id).values(hash=b"\x09" * 32))
    count, problem = _verify_stream(uow, head, 5000, checkpoint)
    assert (count, problem.stream, problem.seq, problem.entry_id, problem.reason) == (
        0,
        mid.stream,
        mid.seq,
        mid.id,
        reason,
    )
    uow.session.delete(uow.session.get(AuditEntry, mid.id))
    uow.session.flush()
    count, problem = _verify_stream(uow, head, 5000, checkpoint)
    assert (count, problem.seq, problem.entry_id, problem.reason) == (0, mid.seq, None, reason)


# rule CH-4: verified from checkpoints, the report says since when (the oldest checkpoint used), and that
# only streams found intact count as such
def test_a_walk_from_checkpoints_says_since_when(uow) -> None:
    _checkpointed(uow, 3, "cp-m:")
    full = verify_chain(uow)
    assert full.checked_since is None and len(full.intact_heads) == full.streams
    since = verify_chain(uow, since_checkpoints=True)
    used = [c.verified_at for c in uow.session.scalars(select(AuditCheckpoint))]
    assert since.ok and since.checked_since == min(used)


# rule CH-4: the full walk reads every entry of every stream, a stream whose checkpoint is forged included (the
# forgery is reported, and what lies behind it too); such a stream is not found intact, so it gets no new checkpoint
def test_the_full_walk_walks_every_stream_even_behind_a_forged_checkpoint(uow) -> None:
    from sscard.audit.service import stream_for

    subject = next(s for s in (f"cp-n:x{i}" for i in range(1000)) if stream_for(s, n_streams()) == 0)
    first = record_event(uow, actor=CLERK, action="card.activate", subject=subject, details={"n": 1})
    second = record_event(uow, actor=CLERK, action="card.activate", subject=subject, details={"n": 2})
    checkpoint_chain(uow, actor=OPERATOR)
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(result="denied"))
    uow.session.execute(update(AuditCheckpoint).where(AuditCheckpoint.stream == first.stream).values(seq=second.seq,
                        hash=second.hash, mac=b"\x00" * 32))  # fmt: skip
    uow.session.expire_all()
    report = verify_chain(uow)
    reasons = {(p.stream, p.seq, p.entry_id): p.reason for p in report.problems}
    assert reasons[(first.stream, second.seq, None)] == "checkpoint does not match its MAC (altered or forged)"
    assert reasons[(first.stream, first.seq, first.id)] == "content does not match its hash (entry modified)"
    assert report.problem.entry_id == first.id  # the written entry first, the checkpoint's fault after it
    assert first.stream not in {h.stream for h in report.intact_heads}
    # the walk from checkpoints goes on to the streams after the one it cannot start: an entry altered there
    # since the checkpoint is found too
    later = next(s for s in (f"cp-n:y{i}" for i in range(1000)) if stream_for(s, n_streams()) > first.stream)
    altered = record_event(uow, actor=CLERK, action="card.activate", subject=later)
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == altered.id).values(result="denied"))
    uow.session.expire_all()
    since = verify_chain(uow, since_checkpoints=True)
    assert [(p.stream, p.reason) for p in since.problems if p.stream == first.stream] == [
        (first.stream, "checkpoint does not match its MAC (altered or forged)")
    ]
    assert (altered.stream, altered.id) in {(p.stream, p.entry_id) for p in since.problems}


# rule CH-4: the report's first problem is the earliest written bad entry; a tail cut off (no entry) comes last
def test_problems_are_reported_earliest_entry_first(uow) -> None:
    entries = _write(uow, 12, "cp-o:")
    # the earlier written of the two in the higher stream: the order is the entries', not the streams'
    a, b = next((x, y) for x, y in itertools.combinations(entries, 2) if x.stream > y.stream)
    tail = next(e for e in reversed(entries) if e.stream not in (a.stream, b.stream))
    uow.session.execute(update(AuditEntry).where(AuditEntry.id.in_([a.id, b.id])).values(result="denied"))
    uow.session.delete(uow.session.get(AuditEntry, tail.id))
    uow.session.flush()
    uow.session.expire_all()
    report = verify_chain(uow)
    assert [(p.entry_id, p.stream) for p in report.problems] == [
        (a.id, a.stream),
        (b.id, b.stream),
        (None, tail.stream),
    ]
    assert report.problem == report.problems[0]


# rule CH-4: what lies past a head as it was read: honest appends since are not faults, but the highest entry past
# the head as it is now is (named with its entry), whatever other streams hold; a walk never starts at a forged
# checkpoint
def test_past_the_head_goes_by_this_stream_and_its_highest_entry(uow) -> None:
    from sscard.audit.checkpoints import record_checkpoints
    from sscard.db.base import utcnow

    entry = record_event(uow, actor=CLERK, action="card.activate", subject="cp-p:x", details={"n": 1})
    as_read = AuditStreamHead(stream=entry.stream, seq=entry.seq, last_hash=entry.hash)
    other = next(k for k in (f"cp-p:{i}" for i in range(1000)) if record_event(
        uow, actor=CLERK, action="card.activate", subject=k).stream != entry.stream)  # fmt: skip
    for _ in range(6):  # another stream, far ahead
        record_event(uow, actor=CLERK, action="card.activate", subject=other)
    honest = record_event(uow, actor=CLERK, action="card.activate", subject="cp-p:x", details={"n": 2})
    assert _verify_stream(uow, as_read, 5000)[1] is None  # an honest append since the head was read
    forged = AuditEntry(stream=entry.stream, seq=honest.seq + 3, at=honest.at, actor_kind="staff", actor_id="mallory",
                        role="x", channel="counter", region="110100", subject="card:forged", action="card.activate",
                        result="ok", details="{}", prev_hash=honest.hash, hash=b"\x01" * 32)  # fmt: skip
    uow.session.add(forged)
    uow.session.flush()
    _count, problem = _verify_stream(uow, as_read, 5000)
    assert (problem.stream, problem.seq, problem.entry_id) == (entry.stream, honest.seq + 3, forged.id)
    assert problem.reason == (
        f"entry with sequence {honest.seq + 3} past the stream head's {honest.seq} (inserted outside the chain)"
    )
    record_checkpoints(uow, [as_read], at=utcnow())
    checkpoint = _checkpoint_of(uow, entry)
    checkpoint.mac = b"\x00" * 32
    count, problem = _verify_stream(uow, as_read, 5000, checkpoint)
    assert (count, problem.seq, problem.entry_id, problem.reason) == (
        0, entry.seq, None, "checkpoint does not match its MAC (altered or forged)"
    )  # fmt: skip


# rule CH-4: a walk reads the checkpoints as stored now, not as this session holds them from before a later walk
# moved them (the checkpoints are written by Core statements, which the session does not see)
def test_a_walk_reads_the_checkpoints_as_last_moved(uow) -> None:
    from sscard.audit.checkpoints import load_checkpoints

    record_event(uow, actor=CLERK, action="card.activate", subject="cp-q:x", details={"n": 1})
    checkpoint_chain(uow, actor=OPERATOR)
    held = load_checkpoints(uow)  # e.g. a report's, still held
    assert held
    record_event(uow, actor=CLERK, action="card.activate", subject="cp-q:x", details={"n": 2})
    checkpoint_chain(uow, actor=OPERATOR)  # moves them
    stored = uow.session.execute(select(AuditCheckpoint.stream, AuditCheckpoint.seq, AuditCheckpoint.verified_at)).all()
    assert {(c.stream, c.seq, c.verified_at) for c in load_checkpoints(uow).values()} == set(map(tuple, stored))
    since = verify_chain(uow, since_checkpoints=True)
    assert since.ok and since.checked_since == min(c.verified_at for c in stored)


# rule CH-4: a stream whose oldest months were archived (docs/partitioning.md) is walked from its horizon: the first
# entry left must link to the horizon's hash, a checkpoint at or behind the horizon is not walked from, the progress
# counts from the horizon, and a horizon not matching its MAC is reported. SQLite has no partitions: the horizons
# PostgreSQL reads from its archive table are handed to the walk here, the archived entries deleted.
def test_a_stream_is_walked_from_its_archive_horizon(uow, monkeypatch) -> None:
    from dataclasses import replace
    from datetime import date

    import sscard.audit.service as service
    from sscard.audit.archive import Horizon, horizon_mac
    from sscard.audit.checkpoints import record_checkpoints
    from sscard.db.base import utcnow

    entries = [record_event(uow, actor=CLERK, action="card.activate", subject="cp-r:x", details={"n": i})
               for i in range(5)]  # fmt: skip
    last_archived, stream = entries[1], entries[1].stream
    head = AuditStreamHead(stream=stream, seq=last_archived.seq, last_hash=last_archived.hash)
    record_checkpoints(uow, [head], at=utcnow())  # a checkpoint exactly at the horizon
    uow.session.execute(delete(AuditEntry).where(AuditEntry.id.in_([e.id for e in entries[:2]])))
    before = date(2026, 1, 1)
    mac = horizon_mac(stream=stream, seq=last_archived.seq, hash_=last_archived.hash, archived_before=before)
    horizons = {stream: Horizon(stream, last_archived.seq, last_archived.hash, before, mac)}
    monkeypatch.setattr(service, "load_horizons", lambda connection: horizons)
    told: list[tuple[int, int]] = []
    report = verify_chain(uow, batch=2, progress=lambda walked, to_walk: told.append((walked, to_walk)))
    assert report.ok, report.problems
    assert report.entries == 3 and told == [(2, 3), (3, 3)]
    since = verify_chain(uow, since_checkpoints=True)
    assert since.ok and since.entries == 3, since.problems
    horizons[stream] = replace(horizons[stream], mac=b"\x00" * 32)
    forged = verify_chain(uow)  # and the checkpoint in the archived months cannot be vouched for by it either
    assert {(p.stream, p.seq, p.entry_id, p.reason) for p in forged.problems} == {
        (stream, last_archived.seq, None, "archive horizon does not match its MAC (altered or forged)"),
        (stream, last_archived.seq, None, "the entry its checkpoint records at this place was changed or removed"),
    }
    # the stream removed with its head since: its horizon still says how long it was
    horizons[stream] = replace(horizons[stream], mac=mac)
    uow.session.execute(delete(AuditEntry).where(AuditEntry.stream == stream))
    uow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream == stream))
    removed = verify_chain(uow)
    reason = f"stream has no head, its archive horizon records {last_archived.seq} entries (stream removed)"
    assert (stream, last_archived.seq, None, reason) in {(p.stream, p.seq, p.entry_id, p.reason)
                                                          for p in removed.problems}  # fmt: skip
